"""The autofit DAG: the plan turned into TFX components, candidates into one champion selection.

    DataTranslation -> AutofitPlan
                    -> [OptimizationParams] -> [AugmentationSearch]
                    -> Training (the plain baseline, always)
                       [TrainingLabelSmoothing] [Contrastive -> TrainingContrastive]
                       [ConsistencyTraining] [NoisyStudent (teacher: the strongest semi-supervised model planned)]
                       [GanSynthesis -> BlendSearch -> TrainingSynthetic] [SelfDistillation] [Ensemble]
                    -> ChampionSelection (simplest first; kept only when better beyond the noise)
                    -> [Calibration] -> [Refit on train + eval -> CalibrationRefit] -> Evaluation (test split when
                       present: the refitted model; else the recipe's held-out score) -> [Export]
                    -> [Distillation -> EvaluationDistilled] [TargetDataTranslation -> DomainAdaptation]

Every node is an ordinary TFX component: the same DAG runs locally and compiles for Kubeflow/Vertex.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from tfx.dsl.components.base import base_node

from pipelines import config_schema
from pipelines.autofit.plan import SECOND_ROUND, Plan, pick_architecture_changes
from pipelines.config import RunConfig, inherited_training, nested_training

MODULE_FILE_KEYS = ("module_file", "student_module_file")


def with_staged_module_files(config: RunConfig) -> RunConfig:
    """The config with every user module file copied into the pipeline root (as TFX Trainer's module_file is).

    Remote runs (Kubeflow, Vertex) read the module from there; a local run reads the same copy, so what ran is
    what lineage points to.
    """
    import dataclasses

    from components.common.module_files import stage_module_file

    def staged(values):
        if not isinstance(values, dict):
            return values
        out = dict(values)
        for key in MODULE_FILE_KEYS:
            if isinstance(out.get(key), str):
                out[key] = stage_module_file(out[key], config.pipeline_root)
        for nested in ("student", "member", "training"):  # the nested models of distillation/ensemble/blend_search
            if isinstance(out.get(nested), dict):
                out[nested] = staged(out[nested])
        return out

    techniques = {name: staged(values) for name, values in config.techniques.items()}
    return dataclasses.replace(config, training=staged(config.training), techniques=techniques)


def config_fields(section: str) -> Tuple[str, ...]:
    """Field names of a section's config dataclass (the code, not the snapshot: this runs after TFX imports)."""
    import dataclasses

    if section not in config_schema.SECTION_CLASSES:
        return ()
    return tuple(field.name for field in dataclasses.fields(config_schema.config_class(section)))


def section_settings(section: str, config: RunConfig, plan: Plan, planned: Dict[str, Any]) -> Dict[str, Any]:
    """A technique's config: planned values, then the user's model choice, then the user's section (wins)."""
    fields = config_fields(section)
    values: Dict[str, Any] = {key: value for key, value in planned.items() if key in fields}
    # Trainer sections start from the top-level training model (pipelines.config.inherited_training).
    values.update({key: value for key, value in inherited_training(section, config.training).items()
                   if key in fields and section in config_schema.TRAINER_SECTIONS})
    if "seed" in fields:
        values["seed"] = config.seed
    values.update(plan.settings(section))
    values.update(config.forced(section) or {})
    nested = config_schema.TRAINER_SECTIONS.get(section)
    if nested in fields:  # distillation `student`, ensemble `member`, blend_search `training`
        default = getattr(config_schema.config_class(section)(), nested, None)
        merged = nested_training(section, config.training, values.get(nested), getattr(default, "architecture", None))
        if merged:
            values[nested] = merged
    return {key: value for key, value in values.items() if key in fields}


def user_set(config: RunConfig, section: str, key: str) -> bool:
    """Whether the user's config sets `key` for `section`'s model (its own section or the top-level training)."""
    return key in config.training or key in (config.forced(section) or {})


def learned_params_override(config: RunConfig, fixed: bool) -> bool:
    """Whether OptimizationParams' output replaces the planned trainer settings (else it is a candidate)."""
    return fixed or config.forced("optimization") is not None


def student_explicit_fields(config: RunConfig) -> List[str]:
    """The distillation student's options the user set (learned optimization params fill only the others)."""
    own = (config.forced("distillation") or {}).get("student") or {}
    return sorted(set(config.training) | set(own))


def training_settings(config: RunConfig, plan: Plan, **overrides) -> Dict[str, Any]:
    raw = dict(plan.training)
    raw.setdefault("seed", config.seed)
    raw.update(config.training)
    if config.distribution_strategy and "distribution" not in raw:
        raw["distribution"] = config.distribution_strategy
    if "explicit_fields" in config_fields("training"):
        raw["explicit_fields"] = sorted(config.training)
    raw.update(overrides)
    return raw


def autofit_components(config: RunConfig, plan: Plan, translation, fixed: bool = False) -> List[base_node.BaseNode]:
    """The components of a run after `translation`, in dependency order.

    With `fixed` (autofit off) there is no plan node, and champion selection
    only joins when the forced sections produce more than one model.
    """
    from components.autofit_plan.component import AutofitPlan
    from components.champion_selection.component import ChampionSelection
    from components.evaluation.component import Evaluation
    from components.evaluation.spec import EvaluationConfig
    from components.training.component import Training
    from components.training.spec import TrainingConfig
    from components.types import config_json

    config = with_staged_module_files(config)
    examples, data_spec = translation.outputs["examples"], translation.outputs["data_spec"]
    nodes: List[base_node.BaseNode] = [] if fixed else [AutofitPlan(data_spec=data_spec, plan=plan.to_dict())]
    if config.data_validation is not None:
        from pipelines.data_validation import data_validation_components

        nodes += data_validation_components(examples, config.data_validation)
    transform_graph = None
    if config.transform is not None:  # tf.Transform: Beam statistics, decode/resize/normalize baked into a graph
        from components.transform.component import ImageTransform

        settings = dict(config.transform)
        if "image_size" in config.training and "image_size" not in settings:
            settings["image_size"] = config.training["image_size"]
        transform = ImageTransform(examples=examples, data_spec=data_spec, config=settings)
        nodes.append(transform)
        transform_graph = transform.outputs["transform_graph"]
    epochs = int(config.training.get("epochs", plan.training.get("epochs", 10)))
    batch = int(config.training.get("batch_size", plan.training.get("batch_size", 64)))
    trainer_plan = {"epochs": epochs, "teacher_epochs": epochs, "batch_size": batch}
    semi_plan = dict(trainer_plan, **plan.semi_supervised_training)

    # Learned optimization params replace the planned trainer settings only when the user asked for them (the
    # fixed chain, or a forced `optimization:` section); planned by autofit they are a candidate like any other
    # technique: `TrainingOptimized` against the plain Training, kept only when better beyond the noise (a range
    # test on a few hundred images can pick a rate that trains worse than the planned default).
    optimization = learned_candidate = None
    if plan.includes("optimization"):
        from components.optimization.component import OptimizationParams

        optimization_node = OptimizationParams(examples=examples, data_spec=data_spec,
                                               config=section_settings("optimization", config, plan, {}))
        nodes.append(optimization_node)
        if learned_params_override(config, fixed):
            optimization = optimization_node.outputs["optimization_params"]
        else:
            learned_candidate = optimization_node.outputs["optimization_params"]
    # The searched policy, like learned optimization params, is a candidate when autofit planned the search: its
    # one-epoch proxy trials screen policies but cannot show a gain that only full trainings show, so the search
    # outputs its best policy (choose_baselines off) and ChampionSelection compares full trainings with and without
    # it (`TrainingAugmented` against the plain Training). Forced (or in the fixed chain) it augments every trainer.
    policy, policy_is_candidate = None, False
    if plan.includes("augmentation_search"):
        from components.augmentation_search.component import AugmentationSearch

        policy_is_candidate = not (fixed or config.forced("augmentation_search") is not None)
        planned_search = {"choose_baselines": False} if policy_is_candidate else {}
        search = AugmentationSearch(examples=examples, data_spec=data_spec,
                                    config=section_settings("augmentation_search", config, plan, planned_search))
        nodes.append(search)
        policy = search.outputs["augmentation_policy"]

    def training_node(component_id: Optional[str], augmented: bool = True, **kwargs):
        overrides = kwargs.pop("overrides", {})
        train_config = config_json.config_from_dict(TrainingConfig, training_settings(config, plan, **overrides))
        inputs = dict(examples=examples, data_spec=data_spec, config=train_config,
                      augmentation_policy=policy if augmented else None, **kwargs)
        if optimization is not None:
            inputs["optimization_params"] = optimization
        if transform_graph is not None and not kwargs.get("synthetic_examples"):  # synthetic blends skip the graph
            inputs["transform_graph"] = transform_graph
        node = Training(**inputs)
        return node.with_id(component_id) if component_id else node

    candidates: List[Tuple[str, Any]] = []
    training = training_node(None, augmented=not policy_is_candidate)
    nodes.append(training)
    candidates.append(("Training", training.outputs["model"]))
    strongest = training.outputs["model"]  # the teacher noisy student starts from
    if policy_is_candidate:
        augmented = training_node("TrainingAugmented")
        nodes.append(augmented)
        candidates.append(("TrainingAugmented", augmented.outputs["model"]))
    if learned_candidate is not None:
        optimized = training_node("TrainingOptimized", optimization_params=learned_candidate)
        nodes.append(optimized)
        candidates.append(("TrainingOptimized", optimized.outputs["model"]))

    if plan.includes("label_smoothing"):
        smoothed = training_node("TrainingLabelSmoothing", overrides={"label_smoothing": 0.1})
        nodes.append(smoothed)
        candidates.append(("TrainingLabelSmoothing", smoothed.outputs["model"]))
    if plan.includes("architecture_changes"):
        changes = tuple(plan.settings("architecture_changes").get("changes") or
                        pick_architecture_changes()[0])
        base = tuple(training_settings(config, plan).get("architecture_changes", ()))  # e.g. input standardization
        changes = base + tuple(change for change in changes if change not in base)
        changed = training_node("TrainingArchitectureChanges", overrides={"architecture_changes": changes})
        nodes.append(changed)
        candidates.append(("TrainingArchitectureChanges", changed.outputs["model"]))
    synthetic_sources = []
    if plan.includes("gan") or plan.includes("blend_search"):
        from components.synthesis.component import GanSynthesis

        gan = GanSynthesis(examples=examples, data_spec=data_spec, config=section_settings("gan", config, plan, {}))
        nodes.append(gan)
        synthetic_sources.append(gan.outputs["synthetic_examples"])
    if plan.includes("style_transfer"):
        from components.synthesis.component import StyleTransferSynthesis

        styled = StyleTransferSynthesis(examples=examples, data_spec=data_spec,
                                        config=section_settings("style_transfer", config, plan, {}))
        nodes.append(styled)
        synthetic_sources.append(styled.outputs["synthetic_examples"])
    if synthetic_sources:
        from tfx.types import channel_utils

        from components.synthesis.component import BlendSearch

        blend = BlendSearch(examples=examples, data_spec=data_spec, synthetic_examples=synthetic_sources,
                            config=section_settings("blend_search", config, plan, {}))
        synthetic = synthetic_sources[0] if len(synthetic_sources) == 1 else channel_utils.union(synthetic_sources)
        trained = training_node("TrainingSynthetic", synthetic_examples=synthetic, blend_report=blend.outputs["report"])
        nodes += [blend, trained]
        candidates.append(("TrainingSynthetic", trained.outputs["model"]))
    if plan.includes("contrastive"):
        from components.contrastive.component import Contrastive

        contrastive = Contrastive(examples=examples, data_spec=data_spec, augmentation_policy=policy,
                                  config=section_settings("contrastive", config, plan, semi_plan))
        warm = training_node("TrainingContrastive", warm_start_model=contrastive.outputs["model"])
        nodes += [contrastive, warm]
        candidates.append(("TrainingContrastive", warm.outputs["model"]))
        strongest = warm.outputs["model"]
    if plan.includes("consistency_training"):
        from components.consistency.component import ConsistencyTraining

        consistency = ConsistencyTraining(examples=examples, data_spec=data_spec, augmentation_policy=policy,
                                          config=section_settings("consistency_training", config, plan, trainer_plan))
        nodes.append(consistency)
        candidates.append(("ConsistencyTraining", consistency.outputs["model"]))
        strongest = consistency.outputs["model"]
    if plan.includes("noisy_student"):
        from components.noisy_student.component import NoisyStudent

        student_settings = section_settings("noisy_student", config, plan, semi_plan)
        # The learned learning rate (scaled to the students' batch) unless the user set one.
        learned_rate = None if user_set(config, "noisy_student", "learning_rate") else optimization
        student = NoisyStudent(examples=examples, data_spec=data_spec, teacher_model=strongest,
                               augmentation_policy=policy, config=student_settings, optimization_params=learned_rate)
        nodes.append(student)
        candidates.append(("NoisyStudent", student.outputs["model"]))
        strongest = student.outputs["model"]
        if plan.settings("noisy_student").get(SECOND_ROUND) and not config.forced("noisy_student"):
            # Known only at run time: a second round is worth its cost only if the first one beat its teacher.
            from tfx import v1 as tfx

            from components.noisy_student.spec import BEAT_TEACHER

            with tfx.dsl.Cond(student.outputs["model"].future()[0].custom_property(BEAT_TEACHER) == 1):
                second = NoisyStudent(examples=examples, data_spec=data_spec, teacher_model=student.outputs["model"],
                                      augmentation_policy=policy, config=dict(student_settings, seed=config.seed + 1),
                                      optimization_params=learned_rate).with_id("NoisyStudentRound2")
            nodes.append(second)
            candidates.append(("NoisyStudentRound2", second.outputs["model"]))
    if plan.includes("self_distillation"):
        from components.distillation.component import Distillation

        settings = section_settings("distillation", config, plan, {})
        settings.update(same_architecture_as_teacher=True,
                        student={"epochs": epochs, "batch_size": batch, "seed": config.seed,
                                 "explicit_fields": student_explicit_fields(config)})
        distilled = Distillation(examples=examples, data_spec=data_spec, teacher_model=strongest,
                                 config=settings, optimization_params=optimization).with_id("SelfDistillation")
        nodes.append(distilled)
        candidates.append(("SelfDistillation", distilled.outputs["model"]))
    if plan.includes("ensemble") and len(candidates) > 1:
        from components.ensemble.component import Ensemble

        ensemble = Ensemble(examples=examples, data_spec=data_spec, models=[channel for _, channel in candidates],
                            config=section_settings("ensemble", config, plan, {}))
        nodes.append(ensemble)
        candidates.append(("Ensemble", ensemble.outputs["model"]))

    if fixed and len(candidates) == 1:
        champion = candidates[0][1]
    else:
        selection = ChampionSelection(examples=examples, data_spec=data_spec, candidates=candidates,
                                      config=dict(config.selection, seed=config.seed))
        nodes.append(selection)
        champion = selection.outputs["model"]
    selected = champion  # before calibration: what domain adaptation adapts (its BatchNorm layers at the top level)
    calibration = None
    if plan.includes("calibration"):
        from components.calibration.component import Calibration

        calibration = Calibration(model=champion, examples=examples, data_spec=data_spec,
                                  config=section_settings("calibration", config, plan, {}))
        nodes.append(calibration)
        champion = calibration.outputs["calibrated_model"]
    evaluated = champion  # what Evaluation scores and blesses
    if plan.includes("refit"):
        refit_nodes, champion, selected, evaluated = refit_champion(config, plan, examples, data_spec, selected,
                                                                    calibration, champion)
        nodes += refit_nodes
    evaluation = Evaluation(examples=examples, data_spec=data_spec, model=evaluated,
                            config=EvaluationConfig.from_dict(config.evaluation))
    nodes.append(evaluation)
    if config.output is not None:
        from components.export.component import Export

        nodes.append(Export(model=champion, examples=examples, data_spec=data_spec, config=config.output))
    nodes += after_champion(config, plan, examples, data_spec, champion, optimization, selected)
    return nodes


def refit_champion(config: RunConfig, plan: Plan, examples, data_spec, selected, calibration, champion):
    """(nodes, final model, final uncalibrated model, model Evaluation scores) of the refit on train + eval.

    The refitted model learned from the eval images, so it cannot be scored on them: with a test split,
    Evaluation scores (and blesses) the refitted model there and `EvaluationBeforeRefit` scores the recipe
    before refit on the same images (the evidence that refitting helped); without one, Evaluation blesses on
    the recipe's held-out score before refit. Calibration parameters are the ones fitted before refit.
    """
    from components.evaluation.component import Evaluation
    from components.evaluation.spec import EvaluationConfig
    from components.refit.component import Refit

    refit = Refit(examples=examples, data_spec=data_spec, champion=selected,
                  config=section_settings("refit", config, plan, {}))
    nodes: List[base_node.BaseNode] = [refit]
    refitted = final = refit.outputs["model"]
    if calibration is not None:
        from components.calibration.component import Calibration

        recalibrated = Calibration(model=refitted, examples=examples, data_spec=data_spec,
                                   config=section_settings("calibration", config, plan, {}),
                                   parameters_from=calibration.outputs["calibrated_model"]).with_id("CalibrationRefit")
        nodes.append(recalibrated)
        final = recalibrated.outputs["calibrated_model"]
    if plan.profile.test_images > 0 and config.evaluation.get("split") in (None, "test"):
        nodes.append(Evaluation(examples=examples, data_spec=data_spec, model=champion,
                                config=EvaluationConfig.from_dict(config.evaluation)).with_id("EvaluationBeforeRefit"))
        return nodes, final, refitted, final
    return nodes, final, refitted, champion


def after_champion(config: RunConfig, plan: Plan, examples, data_spec, champion,
                   optimization=None, uncalibrated=None) -> List[base_node.BaseNode]:
    """What uses the champion: knowledge distillation, domain adaptation.

    `uncalibrated`: the champion before calibration wraps it (Input -> model -> temperature); domain adaptation
    re-estimates the model's own BatchNorm statistics and retrains it, so it starts from that model.
    """
    nodes: List[base_node.BaseNode] = []
    if plan.includes("distillation"):
        from components.distillation.component import Distillation
        from components.evaluation.component import Evaluation
        from components.evaluation.spec import EvaluationConfig

        settings = section_settings("distillation", config, plan, {})
        if isinstance(settings.get("student"), dict):
            settings["student"] = dict(settings["student"], explicit_fields=student_explicit_fields(config))
        distillation = Distillation(examples=examples, data_spec=data_spec, teacher_model=champion,
                                    config=settings, optimization_params=optimization)
        nodes += [distillation, Evaluation(examples=examples, data_spec=data_spec,
                                           model=distillation.outputs["model"],
                                           config=EvaluationConfig.from_dict(config.evaluation)
                                           ).with_id("EvaluationDistilled")]
    if plan.includes("domain_adaptation"):
        nodes += domain_adaptation_nodes(config, plan, examples, data_spec,
                                         uncalibrated if uncalibrated is not None else champion)
    return nodes


def translation_config(data: Dict[str, Any]):
    """The TranslationConfig of a data section, with the source fingerprint that keys the translation's cache."""
    from components.data_translation.fingerprint import source_fingerprint
    from components.data_translation.spec import TranslationConfig

    raw = dict(data)
    class_list = raw.get("class_list") if isinstance(raw.get("class_list"), str) else None
    raw.setdefault("source_fingerprint", source_fingerprint(raw.get("path"), raw.get("annotations"), class_list))
    return TranslationConfig.from_dict(raw)


def target_translation(config: RunConfig):
    """The DataTranslation of the domain-adaptation target (None without one)."""
    section = config.forced("domain_adaptation") or {}
    target = section.get("target")
    if not isinstance(target, dict):
        return None
    from components.data_translation.component import DataTranslation

    raw = dict(target)
    raw.setdefault("task", config.data.get("task", "classification"))
    return DataTranslation(config=translation_config(raw)).with_id("TargetDataTranslation")


def domain_adaptation_nodes(config: RunConfig, plan: Plan, examples, data_spec, champion):
    from components.domain_adaptation.component import DomainAdaptation

    target = target_translation(config)
    if target is None:
        raise ValueError("`domain_adaptation` needs `target:` (a data section: format, path) naming the target domain.")
    settings = section_settings("domain_adaptation", config, plan, {})
    settings.pop("target", None)
    adaptation = DomainAdaptation(source_examples=examples, data_spec=data_spec,
                                  target_examples=target.outputs["examples"], source_model=champion,
                                  target_data_spec=target.outputs["data_spec"], config=settings)
    return [target, adaptation]


# Technique -> the component module it needs (a technique whose module is missing is planned as skipped).
TECHNIQUE_MODULES = {
    "optimization": "components.optimization.component",
    "augmentation_search": "components.augmentation_search.component",
    "consistency_training": "components.consistency.component",
    "contrastive": "components.contrastive.component",
    "noisy_student": "components.noisy_student.component",
    "label_smoothing": "components.training.component",
    "architecture_changes": "components.training.component",
    "self_distillation": "components.distillation.component",
    "calibration": "components.calibration.component",
    "refit": "components.refit.component",
    "domain_adaptation": "components.domain_adaptation.component",
    "ensemble": "components.ensemble.component",
    "distillation": "components.distillation.component",
    "gan": "components.synthesis.component",
    "style_transfer": "components.synthesis.component",
    "blend_search": "components.synthesis.component",
}


def installed_techniques() -> Tuple[str, ...]:
    """Techniques whose component module is present (found without importing it)."""
    import importlib.util

    return tuple(name for name, module in TECHNIQUE_MODULES.items() if importlib.util.find_spec(module) is not None)
