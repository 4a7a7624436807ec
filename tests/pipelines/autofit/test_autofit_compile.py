"""An autofit plan compiles for Kubeflow/Vertex like any pipeline, its run-time gate included."""

import json

from pipelines.autofit.plan import make_plan
from pipelines.autofit.profile import DataProfile
from pipelines.compile import compile_pipeline, read_compiled
from pipelines.config import config_from_dict
from pipelines.pipeline import create_components


def semi_supervised_plan(config, budget="standard"):
    profile = DataProfile("classification", 10, 500, 50, 50.0, 100, 1000, 4500, 28, 28, 1)
    return make_plan(profile, config.techniques, budget, config.training)


def config_for(tmp_path, **extra):
    (tmp_path / "data" / "a").mkdir(parents=True, exist_ok=True)
    raw = {"pipeline_name": "autofit-compiled", "run_dir": str(tmp_path / "run"),
           "image": "registry.example/tfx-autofit:0.1.0", "data": {"format": "image_folder",
                                                                    "path": str(tmp_path / "data")}}
    raw.update(extra)
    return config_from_dict(raw)


def test_planned_dag_has_candidates_selection_and_a_gated_second_round(tmp_path):
    config = config_for(tmp_path)
    plan = semi_supervised_plan(config)
    ids = [node.id for node in create_components(config, plan)]
    assert ids[:2] == ["DataTranslation", "AutofitPlan"]
    assert ids.index("Training") < ids.index("ChampionSelection") < ids.index("Evaluation")
    assert "NoisyStudent" in ids and "NoisyStudentRound2" in ids


def test_forbidden_sections_leave_their_components_out(tmp_path):
    config = config_for(tmp_path, noisy_student=False, calibration=False, consistency_training=False)
    ids = [node.id for node in create_components(config, semi_supervised_plan(config))]
    assert not {"NoisyStudent", "NoisyStudentRound2", "Calibration", "ConsistencyTraining"} & set(ids)


def test_autofit_pipeline_compiles_for_kubeflow_with_the_condition(tmp_path):
    config = config_for(tmp_path)
    output = compile_pipeline(config, str(tmp_path / "out.json"), target="kubeflow",
                              plan=semi_supervised_plan(config))
    spec = read_compiled(output)
    spec = spec.get("pipelineSpec", spec)
    tasks = spec["root"]["dag"]["tasks"]
    assert {"DataTranslation", "AutofitPlan", "Training", "NoisyStudent", "ChampionSelection", "Evaluation"} <= set(tasks)
    gated = json.dumps(tasks["NoisyStudentRound2"])
    assert "beat_teacher" in gated and "triggerPolicy" in gated


def test_every_technique_section_reaches_the_pipeline(tmp_path):
    (tmp_path / "night" / "unlabeled").mkdir(parents=True)
    config = config_for(tmp_path, autofit=False, optimization={}, label_smoothing=True, gan={},
                        architecture_changes={"changes": ["silu"]}, style_transfer={},
                        contrastive={}, consistency_training={}, noisy_student={}, self_distillation=True,
                        ensemble={}, calibration={}, distillation={}, output={"formats": ["saved_model"]},
                        data_validation={},
                        domain_adaptation={"target": {"format": "image_folder", "path": str(tmp_path / "night")}})
    ids = [node.id for node in create_components(config)]
    for component in ("OptimizationParams", "TrainingLabelSmoothing", "TrainingArchitectureChanges", "GanSynthesis", "StyleTransferSynthesis",
                      "BlendSearch", "TrainingSynthetic", "Contrastive", "TrainingContrastive", "ConsistencyTraining",
                      "NoisyStudent", "SelfDistillation", "Ensemble", "ChampionSelection", "Calibration", "Evaluation",
                      "Export", "Distillation", "EvaluationDistilled", "TargetDataTranslation", "DomainAdaptation",
                      "StatisticsGen", "ExampleValidator"):
        assert component in ids, component


def test_learned_optimization_params_are_a_candidate_unless_the_user_forces_them(tmp_path):
    config = config_for(tmp_path, budget="thorough")
    nodes = {node.id: node for node in create_components(config, semi_supervised_plan(config, "thorough"))}
    learned = nodes["OptimizationParams"].outputs["optimization_params"]
    assert nodes["TrainingOptimized"].inputs["optimization_params"] is learned
    for plain in ("Training", "NoisyStudent", "SelfDistillation"):
        assert "optimization_params" not in nodes[plain].inputs, plain
    forced = config_for(tmp_path, budget="thorough", optimization={})
    nodes = {node.id: node for node in create_components(forced, semi_supervised_plan(forced, "thorough"))}
    learned = nodes["OptimizationParams"].outputs["optimization_params"]
    assert "TrainingOptimized" not in nodes
    for trainer in ("Training", "NoisyStudent", "SelfDistillation"):
        assert nodes[trainer].inputs["optimization_params"] is learned, trainer
    student = json.loads(nodes["SelfDistillation"].exec_properties["config"])["student"]
    assert student["explicit_fields"] == []  # the builder's epochs/batch are plans, not user choices
    own_rate = config_for(tmp_path, budget="thorough", optimization={}, training={"learning_rate": 0.01})
    nodes = {node.id: node for node in create_components(own_rate, semi_supervised_plan(own_rate, "thorough"))}
    assert "optimization_params" not in nodes["NoisyStudent"].inputs  # the user's learning rate stays
    student = json.loads(nodes["SelfDistillation"].exec_properties["config"])["student"]
    assert student["explicit_fields"] == ["learning_rate"]


def test_a_planned_policy_is_a_candidate_and_a_forced_one_augments_every_training(tmp_path):
    profile = DataProfile("classification", 10, 20000, 2000, 2000.0, 5000, 1000, 0, 28, 28, 1)
    config = config_for(tmp_path)
    nodes = {node.id: node for node in create_components(config, make_plan(profile, {}, "thorough"))}
    policy = nodes["AugmentationSearch"].outputs["augmentation_policy"]
    assert json.loads(nodes["AugmentationSearch"].exec_properties["config"])["choose_baselines"] is False
    assert "augmentation_policy" not in nodes["Training"].inputs
    assert nodes["TrainingAugmented"].inputs["augmentation_policy"] is policy
    forced = config_for(tmp_path, augmentation_search={})
    nodes = {node.id: node for node in create_components(forced, make_plan(profile, forced.techniques, "thorough"))}
    assert "TrainingAugmented" not in nodes
    assert nodes["Training"].inputs["augmentation_policy"] is nodes["AugmentationSearch"].outputs["augmentation_policy"]
    assert json.loads(nodes["AugmentationSearch"].exec_properties["config"])["choose_baselines"] is True


def test_a_detection_plan_compares_the_searched_policy_by_map_in_champion_selection(tmp_path):
    profile = DataProfile("detection", 5, 1500, 100, 300.0, 400, 0, 0, 96, 96, 3)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "coco.json").write_text("{}")  # read at run time, not when the DAG is built
    config = config_for(tmp_path, data={"format": "coco", "path": str(tmp_path / "data"), "task": "detection",
                                                     "annotations": str(tmp_path / "data" / "coco.json")})
    plan = make_plan(profile, config.techniques, "standard")
    nodes = {node.id: node for node in create_components(config, plan)}
    assert json.loads(nodes["AugmentationSearch"].exec_properties["config"])["choose_baselines"] is False
    assert "augmentation_policy" not in nodes["Training"].inputs
    selection = nodes["ChampionSelection"]
    assert selection.inputs["candidate_1"] is nodes["TrainingAugmented"].outputs["model"]
    assert json.loads(selection.exec_properties["config"])["candidate_names"] == ["Training", "TrainingAugmented"]
    assert nodes["Evaluation"].inputs["model"] is selection.outputs["model"]


def test_refit_follows_selection_and_the_test_split_scores_it(tmp_path):
    config = config_for(tmp_path)
    nodes = {node.id: node for node in create_components(config, semi_supervised_plan(config))}
    refit, selection = nodes["Refit"], nodes["ChampionSelection"]
    assert refit.inputs["champion"] is selection.outputs["model"]  # the uncalibrated champion
    # Calibration parameters fitted before refit are reused on the refitted model.
    assert nodes["CalibrationRefit"].inputs["parameters_from"] is nodes["Calibration"].outputs["calibrated_model"]
    assert nodes["CalibrationRefit"].inputs["model"] is refit.outputs["model"]
    final = nodes["CalibrationRefit"].outputs["calibrated_model"]
    assert nodes["Evaluation"].inputs["model"] is final  # the profile has a test split: it scores the refit
    assert nodes["EvaluationBeforeRefit"].inputs["model"] is nodes["Calibration"].outputs["calibrated_model"]


def test_without_a_test_split_evaluation_blesses_the_recipe_before_refit(tmp_path):
    config = config_for(tmp_path, output={"formats": ["saved_model"]})
    profile = DataProfile("classification", 10, 500, 50, 50.0, 100, 0, 4500, 28, 28, 1)
    nodes = {node.id: node for node in create_components(config, make_plan(profile, config.techniques, "standard"))}
    assert "EvaluationBeforeRefit" not in nodes
    assert nodes["Evaluation"].inputs["model"] is nodes["Calibration"].outputs["calibrated_model"]
    assert nodes["Export"].inputs["model"] is nodes["CalibrationRefit"].outputs["calibrated_model"]


def test_refit_false_keeps_the_held_out_champion(tmp_path):
    config = config_for(tmp_path, refit=False)
    ids = [node.id for node in create_components(config, semi_supervised_plan(config))]
    assert "Refit" not in ids and "CalibrationRefit" not in ids and "EvaluationBeforeRefit" not in ids
