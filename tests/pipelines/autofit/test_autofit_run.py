"""One tiny end-to-end autofit run: plan from the translated data, candidates, selection, MLMD lineage."""

import html
import json
import os

import pytest

from pipelines import lineage as lineage_lib
from pipelines.autofit import run as autofit_run
from pipelines.config import config_from_dict
from pipelines.demo import write_semi_supervised_mnist


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("autofit")
    data = str(root / "data")
    write_semi_supervised_mnist(data, per_class={"train": 6, "val": 4, "test": 4}, limit=400)
    config = config_from_dict({
        "pipeline_name": "tiny-autofit", "run_dir": str(root / "run"), "budget": "standard",
        "data": {"format": "image_folder", "path": data},
        "training": {"architecture": "tiny_cnn", "epochs": 2, "verbose": 0},
        "optimization": False, "consistency_training": False, "label_smoothing": False,
    })
    lines = []
    summary = autofit_run.run(config, echo=lines.append)
    return config, summary, lines


def test_plan_is_printed_written_and_in_lineage(finished):
    config, _, lines = finished
    assert lines[0].startswith("autofit plan (budget standard")
    assert any("[forbidden] consistency_training" in line for line in lines)
    assert any("[try      ] noisy_student: 260 unlabeled images, 4.3x the 60 labeled" in line for line in lines)
    with open(os.path.join(config.run_dir, "autofit", "plan.json")) as handle:
        plan = json.load(handle)
    assert plan["profile"]["unlabeled"] == 260 and plan["profile"]["labeled"] == 60
    graph = lineage_lib.read_lineage(config.run_dir)
    artifact = lineage_lib.find_output(graph, "AutofitPlan", "plan")
    with open(os.path.join(artifact.uri, "plan.json")) as handle:
        assert json.load(handle)["techniques"] == plan["techniques"]


def test_run_time_decisions_of_every_component_are_printed(finished):
    config, summary, lines = finished
    decided = summary["data_decisions"]
    assert all(f"[decided] {decision}" in lines for decision in decided)
    graph = lineage_lib.read_lineage(config.run_dir)
    student = next(decision for decision in decided if decision.startswith("NoisyStudent: "))
    if lineage_lib.find_output(graph, "NoisyStudent", "model").properties["beat_teacher"] == 1:
        assert "beat its teacher" in student and "no student" not in student
    else:
        assert "no student beat its teacher" in student
    calibrated = next(decision for decision in decided if decision.startswith("Calibration: "))
    assert calibrated.startswith(("Calibration: temperature ", "Calibration: no calibration ("))
    assert "out-of-fold NLL" in calibrated  # kept or not, by the fitted parameters' out-of-fold effect
    assert not any(decision.startswith("CalibrationRefit") for decision in decided)  # reused, not decided again
    with open(summary["report"]) as handle:  # the run report lists them too
        page = handle.read()
    assert "Decided at run time" in page
    assert html.escape(student.split(": ", 1)[1], quote=False) in page


def test_translation_is_reused_and_every_execution_finished(finished):
    config, _, _ = finished
    graph = lineage_lib.read_lineage(config.run_dir)
    states = {node.component: node.state for node in graph.executions}
    assert states["DataTranslation"] == "CACHED"  # translated once (to plan), then a cache hit in the full run
    for component in ("AutofitPlan", "Training", "NoisyStudent", "ChampionSelection", "Calibration", "Evaluation"):
        assert states[component] == "COMPLETE", component


def test_selection_compares_candidates_and_records_the_champion(finished):
    config, summary, lines = finished
    graph = lineage_lib.read_lineage(config.run_dir)
    selection = summary["selection"]
    graph_states = {node.component: node.state for node in graph.executions}
    second_round_ran = graph_states.get("NoisyStudentRound2") == "COMPLETE"
    student = lineage_lib.find_output(graph, "NoisyStudent", "model")
    # The run-time gate: a second round only when the first student beat its teacher.
    assert second_round_ran == (student.properties["beat_teacher"] == 1)
    expected = ["Training", "NoisyStudent"] + (["NoisyStudentRound2"] if second_round_ran else [])
    assert [c["name"] for c in selection["candidates"]] == expected
    assert selection["missing"] == ([] if second_round_ran else ["NoisyStudentRound2"])
    decision = selection["decisions"][0]
    assert decision["candidate"] == "NoisyStudent" and decision["against"] == "Training"
    assert decision["interval"][0] <= decision["delta"] <= decision["interval"][1]
    champion = lineage_lib.find_output(graph, "ChampionSelection", "model")
    assert champion.properties["champion"] == summary["champion"]
    assert os.path.exists(os.path.join(champion.uri, "model.keras"))
    evaluation = lineage_lib.find_output(graph, "Evaluation", "evaluation")
    evaluated = [e.artifact_id for e in graph.edges if e.direction == "input" and e.key == "model"
                 and graph.executions[[n.id for n in graph.executions].index(e.execution_id)].component == "Evaluation"]
    assert evaluated and evaluation is not None
    assert any(line.startswith("champion: ") for line in lines)
    assert any(line.startswith("held-out accuracy (test, 40 images") for line in lines)


def test_the_champion_is_refitted_on_train_plus_eval_and_scored_on_test(finished):
    config, summary, lines = finished
    graph = lineage_lib.read_lineage(config.run_dir)
    states = {node.component: node.state for node in graph.executions}
    assert states["Refit"] == "COMPLETE" and states["EvaluationBeforeRefit"] == "COMPLETE"
    refitted = lineage_lib.find_output(graph, "Refit", "model")
    refit = summary["refit"]
    if summary["champion"] == "Training":  # Training writes a recipe: rerun on its 60 + 40 labeled images
        assert refitted.properties["refit"] == 1 and refitted.properties["refit_images"] == 100
        assert any(line.startswith("held-out accuracy (test, 40 images, the refitted model)") for line in lines)
        assert any(line.startswith("  before refit, same images: ") for line in lines)
    else:  # a noisy student passes through, and says why
        assert refitted.properties["refit"] == 0 and "no rerunnable recipe" in refit["refit_reason"]
    assert any(line == f"refit: {refit['refit_reason']}" for line in lines)
    assert "accuracy" in refit["before"]


def test_a_multilabel_csv_runs_through_autofit_with_sensible_choices(tmp_path):
    from tests.fixtures.classification_formats import write_csv

    root = tmp_path / "data"
    root.mkdir()
    write_csv(str(root), count=120, multilabel=True)
    config = config_from_dict({
        "pipeline_name": "tiny-multilabel", "run_dir": str(tmp_path / "run"), "budget": "quick",
        "data": {"format": "csv", "path": str(root / "labels.csv"), "task": "multilabel", "eval_fraction": 0.25},
        "training": {"architecture": "tiny_cnn", "epochs": 2, "verbose": 0}, "optimization": False,
    })
    lines = []
    summary = autofit_run.run(config, echo=lines.append)
    for skipped in ("calibration", "consistency_training", "noisy_student"):
        assert any(f"] {skipped}: does not apply to multilabel" in line for line in lines), skipped
    selection = summary["selection"]
    assert selection["metric"] == "label_accuracy" and selection["champion"] == "Training"
    assert 0.0 <= selection["candidates"][0]["metric"] <= 1.0
    assert "hamming_loss" in summary["evaluation"]["metrics"]


def test_autofit_false_runs_the_fixed_chain_and_still_summarizes(tmp_path):
    data = str(tmp_path / "data")
    write_semi_supervised_mnist(data, per_class={"train": 6, "val": 4, "test": 4}, limit=400)
    config = config_from_dict({
        "pipeline_name": "tiny-fixed", "run_dir": str(tmp_path / "run"), "autofit": False,
        "data": {"format": "image_folder", "path": data},
        "training": {"architecture": "tiny_cnn", "epochs": 1, "verbose": 0},
    })
    lines = []
    summary = autofit_run.run(config, echo=lines.append)
    assert not any(line.startswith("autofit plan") for line in lines)  # nothing planned
    assert summary["champion"] == "Training" and summary["selection"] is None
    graph = lineage_lib.read_lineage(config.run_dir)
    assert [node.component for node in graph.executions] == ["DataTranslation", "Training", "Evaluation"]
    assert any(line.startswith("held-out accuracy (test, 40 images") for line in lines)


def test_summary_prints_the_decisions_components_made_from_the_data():
    summary = {
        "data_decisions": ["ConsistencyTraining: trained briefly on unmirrored images: 90.0% on 100 eval images, "
                           "40.0% mirrored; no mirroring in the weak view"],
        "selection": {"decisions": [{"kept": False, "candidate": "ConsistencyTraining", "reason": "within the noise"}]},
        "champion": "Training", "refit": None, "seconds": 12.0, "metadata": "m.sqlite", "report": None,
        "evaluation": {"metrics": {"accuracy": 0.9, "split": "test", "num_examples": 10}, "blessed": True},
    }
    lines = autofit_run.summary_lines(summary)
    decided = [line for line in lines if line.startswith("[decided] ConsistencyTraining: ")]
    assert len(decided) == 1 and "no mirroring" in decided[0]
    assert lines.index(decided[0]) < next(i for i, line in enumerate(lines) if line.startswith("[dropped]"))
    assert not [line for line in autofit_run.summary_lines(dict(summary, data_decisions=[])) if "[decided]" in line]


def test_summary_says_what_translation_rejected_and_warned_before_the_decisions():
    data = {"read": 358, "written": 234, "rejected": 124, "rejected_report": "/run/rejected_records.jsonl",
            "warnings": ["channels converted: 73 images ...", "tiny eval split: 16 images ..."]}
    summary = {"data": data, "data_decisions": [], "selection": None, "champion": "Training", "refit": None,
               "seconds": 1.0, "metadata": "m.sqlite", "report": None,
               "evaluation": {"metrics": {"accuracy": 0.9, "split": "test", "num_examples": 10}, "blessed": True}}
    lines = autofit_run.summary_lines(summary)
    shown = [line for line in lines if line.startswith("[data] ")]
    assert shown[0] == ("[data] 124 of 358 records rejected, 234 used; each is named with its reason in "
                        "/run/rejected_records.jsonl")
    assert shown[1:] == ["[data] channels converted: 73 images ...", "[data] tiny eval split: 16 images ..."]
    clean = autofit_run.summary_lines(dict(summary, data=dict(data, rejected=0, written=358, warnings=[])))
    assert not [line for line in clean if line.startswith("[data]")]


def test_the_finished_run_summarizes_its_data(finished):
    _, summary, lines = finished
    data = summary["data"]
    assert data["read"] == data["written"] + data["rejected"] and data["written"] > 0
    assert [f"[data] {warning}" for warning in data["warnings"]] == [line for line in lines if line.startswith(
        "[data] ") and "records rejected" not in line]


def test_summary_headline_of_detection_and_segmentation_runs_is_their_own_metrics():
    base = {"data_decisions": [], "selection": None, "champion": "Training", "refit": None, "seconds": 1.0,
            "metadata": "m.sqlite", "report": None}
    detection = dict(base, evaluation={"blessed": False, "metrics": {
        "map": 0.109, "map_50": 0.213, "map_75": 0.098, "mar_100": 0.536, "split": "test", "num_examples": 200}})
    line = next(line for line in autofit_run.summary_lines(detection) if line.startswith("held-out"))
    assert line.startswith("held-out metrics (test, 200 images): map 0.1090, map_50 0.2130, map_75 0.0980, "
                           "mar_100 0.5360")
    segmentation = dict(base, evaluation={"blessed": True, "metrics": {
        "mean_iou": 0.6, "pixel_accuracy": 0.97, "foreground_iou": 0.8, "split": "eval", "num_examples": 9}})
    line = next(line for line in autofit_run.summary_lines(segmentation) if line.startswith("held-out"))
    assert "mean_iou 0.6000, pixel_accuracy 0.9700, foreground_iou 0.8000" in line and "n/a" not in line
