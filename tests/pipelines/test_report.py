"""The run report's content: what each section reads from MLMD and artifacts, and the page it renders."""

import json
import os
import re

import pytest

from pipelines.report import autofit, build_context, techniques, write_report
from tests.pipelines.test_report_fixture import REJECTIONS, RUN, SPLITS, build_fixture_run


@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory):
    return build_fixture_run(str(tmp_path_factory.mktemp("report") / "run"))


@pytest.fixture(scope="module")
def context(fixture_run):
    return build_context(fixture_run, with_preview=False)


def test_no_section_failed(context):
    assert context["errors"] == {}
    assert context["run_name"] == RUN and context["title"] == "report-fixture"


def test_data_section_counts_samples_and_rejections(context):
    data = context["data"]
    counts = {row["split"]: row["count"] for row in data["split_rows"]}
    assert counts == SPLITS
    train = next(row for row in data["split_rows"] if row["split"] == "train")
    assert sum(train["per_class"]) == SPLITS["train"]
    assert [group["class_name"] for group in data["samples"]] == ["class_0", "class_1", "class_2"]
    assert all(len(group["images"]) == SPLITS["train"] // 3 for group in data["samples"])
    assert all(image["src"].startswith("data:image/png;base64,") for group in data["samples"] for image in group["images"])
    assert data["records_rejected"] == len(REJECTIONS)
    assert data["rejected_reasons"] == [("image could not be decoded: truncated PNG", 2), ("empty file", 1)]
    assert {row["record"] for row in data["rejected_rows"]} == {row["record"] for row in REJECTIONS}


def test_sample_grid_is_capped_at_the_first_classes(fixture_run):
    from components.types.data_spec import read_data_spec
    from pipelines.report.data import read_samples

    root = os.path.join(fixture_run, "pipeline_root", "DataTranslation")
    spec = read_data_spec(os.path.join(root, "data_spec", "1"))
    samples = read_samples(os.path.join(root, "examples", "1"), "eval", spec, per_class=2, max_classes=2)
    assert {name: len(found) for name, found in samples.items()} == {"class_0": 2, "class_1": 2}
    assert all(sample.source_id.startswith("eval/") for found in samples.values() for sample in found)


def test_detection_samples_carry_their_boxes(tmp_path):
    from pipelines.report.data import read_samples
    from tests.support.shapes import write_shape_detection_examples

    examples = str(tmp_path / "examples")
    spec = write_shape_detection_examples(examples, str(tmp_path / "data_spec"), {"train": 6})
    samples = read_samples(examples, "train", spec, per_class=3)
    assert list(samples) == ["disc"] and len(samples["disc"]) == 3
    for sample in samples["disc"]:
        assert sample.boxes and all(label == "disc" for *_, label in sample.boxes)
        assert all(0.0 <= ymin < ymax <= 1.0 and 0.0 <= xmin < xmax <= 1.0 for ymin, xmin, ymax, xmax, _ in sample.boxes)


def test_validation_section_reports_the_failing_split(context):
    validation = context["validation"]
    assert validation.splits == ["eval", "train"]
    assert validation.failed_splits == ["eval"]
    [anomaly] = validation.anomalies
    assert (anomaly.feature, anomaly.severity, anomaly.short_description) == ("label", "ERROR", "Column dropped")
    assert [feature["name"] for feature in validation.schema_features] == ["label", "image/encoded"]


def test_plan_and_selection_sections(context):
    plan, selection = context["plan"], context["selection"]
    assert [t["decision"] for t in plan["techniques"]] == ["try", "forced", "skip", "forbidden"]
    assert plan["budget"] == "10 minutes on CPU" and plan["profile"]["labeled_per_class"] == 8
    assert selection["champion"] == "noisy_student"
    assert selection["candidates"][1]["interval"] == [0.76, 0.94]
    assert selection["decisions"][0]["kept"] is True
    assert selection["src"].startswith("data:image/png;base64,")


def test_models_table_marks_the_best_value_per_metric(context):
    models = context["models"]
    assert models["columns"] == ["eval_accuracy", "eval_loss"]
    rows = {row["component"]: row for row in models["rows"]}
    assert set(rows) == {"Training", "NoisyStudent", "Calibration"}
    accuracy, loss = rows["NoisyStudent"]["cells"]
    assert accuracy == {"text": "0.8600", "best": True} and loss["best"] is True  # loss: lower is better
    assert rows["Training"]["cells"][0]["best"] is False
    assert ("iteration_1_accuracy", "0.8400") in rows["NoisyStudent"]["other"]
    assert len(models["curves"]) == 3 and [o["metric"] for o in models["overlays"]] == ["val_accuracy", "val_loss"]


def test_component_cards_carry_policy_plots_notes_and_pseudo_labels(context):
    cards = {card["component"]: card for card in context["components"]}
    assert "DataTranslation" not in cards and list(cards)[0] == "StatisticsGen"
    [policy, report] = cards["AugmentationSearch"]["artifacts"]
    assert [op["name"] for op in policy["policy"]["ops"]] == ["rotate", "brightness"]
    assert report["texts"][0][0] == "report.md"
    [student] = cards["NoisyStudent"]["artifacts"]
    assert [p["name"] for p in student["pseudo"]] == ["noisy_student_summary.json"]
    figures = {f["name"] for a in cards["Evaluation"]["artifacts"] for f in a["figures"]}
    assert figures == {"confusion_matrix.png", "reliability_diagram.png"}
    calibration = {f["name"] for f in cards["Calibration"]["artifacts"][0]["figures"]}
    assert calibration == {"reliability_after.png", "reliability_before.png"}


def test_policy_preview_is_drawn_from_the_policy_artifact(fixture_run):
    from pipelines.report import collect

    run = collect.read_run(fixture_run)
    [output] = run.outputs("AugmentationSearch", "augmentation_policy")
    details = techniques.artifact_details(output, with_preview=True)
    assert details.policy["name"] == "fixture policy"
    assert details.policy_preview.startswith(b"\x89PNG") and len(details.policy_preview) > 10000


def test_timings_and_exports(context):
    assert [row["component"] for row in context["timings"]["rows"]][:2] == ["DataTranslation", "StatisticsGen"]
    assert all(row["state"] == "COMPLETE" for row in context["timings"]["rows"])
    exports = {row["label"].split(".")[0]: row for row in context["exports"]}
    assert exports["Calibration"]["blessed"] is True and exports["Training"]["blessed"] is None
    assert exports["Training"]["keras"] and exports["Training"]["serving_uri"].endswith("Format-Serving")


def test_write_report_is_one_offline_page(fixture_run):
    path = write_report(fixture_run, with_preview=False)
    assert path == os.path.join(fixture_run, "report", "index.html")
    with open(path) as handle:
        html = handle.read()
    for anchor in ("data", "validation", "plan", "selection", "models", "components", "lineage", "timings", "exports"):
        assert f'id="{anchor}"' in html and f'href="#{anchor}"' in html
    sources = re.findall(r'src="([^"]*)"', html)
    assert sources and all(source.startswith("data:image/") for source in sources)
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert "could not be read" not in html


def test_without_autofit_the_sections_are_left_out_until_a_plan_file_appears(tmp_path):
    run_dir = build_fixture_run(str(tmp_path / "run"), with_autofit=False)
    with open(write_report(run_dir, with_preview=False)) as handle:
        html = handle.read()
    assert 'id="plan"' not in html and 'id="selection"' not in html and 'href="#plan"' not in html
    assert 'id="models"' in html

    os.makedirs(os.path.join(run_dir, "autofit"))  # The planner writes it here when it builds the pipeline.
    with open(os.path.join(run_dir, "autofit", "plan.json"), "w") as handle:
        json.dump({"budget": "1 h", "techniques": [{"name": "calibration", "decision": "skip", "reason": "r"}]}, handle)
    plan = build_context(run_dir, with_preview=False)["plan"]
    assert plan["budget"] == "1 h" and plan["path"].endswith(os.path.join("autofit", "plan.json"))


def test_a_broken_artifact_costs_only_its_section_and_artifact_text_is_escaped(tmp_path):
    run_dir = build_fixture_run(str(tmp_path / "run"))
    selection_path = os.path.join(run_dir, "pipeline_root", "ChampionSelection", "selection", "11", "selection.json")
    with open(selection_path, "w") as handle:
        json.dump({"candidates": [{"name": "x", "interval": [0.1]}]}, handle)
    plan_path = os.path.join(run_dir, "pipeline_root", "AutofitPlan", "plan", "5", "plan.json")
    with open(plan_path, "w") as handle:
        json.dump({"techniques": [{"name": "<img src=x onerror=alert(1)>", "decision": "try", "reason": "<b>r</b>"}]}, handle)

    context = build_context(run_dir, with_preview=False)
    assert "interval must be [lo, hi]" in context["errors"]["selection"]
    assert selection_path in context["errors"]["selection"]
    assert set(context["errors"]) == {"selection"} and context["models"] and context["plan"]
    with open(write_report(run_dir, with_preview=False)) as handle:
        html = handle.read()
    assert "This section could not be read" in html and 'id="models"' in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert "&lt;b&gt;r&lt;/b&gt;" in html


def test_plan_with_an_unknown_decision_is_refused():
    with pytest.raises(ValueError, match=r"plan.json: techniques\[0\] \(mixup\) decision must be one of"):
        autofit.validate_plan({"techniques": [{"name": "mixup", "decision": "maybe"}]}, "plan.json")


def test_pseudo_label_series_reads_both_summary_forms():
    per_iteration = techniques.pseudo_label_series({"iterations": [
        {"iteration": 0, "pseudo_labels": 0, "metrics": {"accuracy": 0.8}},
        {"iteration": 1, "pseudo_labels": 50, "metrics": {"accuracy": 0.85}},
    ]})
    assert per_iteration == {"iteration": [0.0, 1.0], "pseudo_labels": [0.0, 50.0], "accuracy": [0.8, 0.85]}
    per_epoch = techniques.pseudo_label_series({"pseudo_labels": {"rate": [0.2, 0.5], "accuracy": [0.9, 0.8]}})
    assert per_epoch == {"epoch": [1.0, 2.0], "rate": [0.2, 0.5], "accuracy": [0.9, 0.8]}
    consistency = techniques.pseudo_label_series({"epochs": [
        {"loss": 1.0, "pseudo_label_rate": 0.3, "pseudo_label_accuracy": 0.9, "mask_rate": 0.3, "eval_accuracy": 0.7},
        {"loss": 0.8, "pseudo_label_rate": 0.6, "pseudo_label_accuracy": None, "mask_rate": 0.6, "eval_accuracy": 0.8},
    ]})
    assert consistency["epoch"] == [1.0, 2.0] and consistency["pseudo_label_rate"] == [0.3, 0.6]
    assert consistency["pseudo_label_accuracy"][0] == 0.9 and consistency["pseudo_label_accuracy"][1] != 0.9
    assert "loss" not in consistency
    assert techniques.pseudo_label_series({"best_iteration": 2}) is None


def test_cli_report_prints_the_path(fixture_run, capsys):
    from pipelines.cli import main

    assert main(["report", fixture_run]) == 0
    assert capsys.readouterr().out.strip() == f"Report: {os.path.join(fixture_run, 'report', 'index.html')}"


def test_cli_report_without_a_run(tmp_path, capsys):
    from pipelines.cli import main

    assert main(["report", str(tmp_path)]) == 2
    assert "No ML Metadata database" in capsys.readouterr().err


def test_a_run_in_progress_reports_what_exists(tmp_path):
    import time

    from ml_metadata.proto import metadata_store_pb2

    from tests.pipelines.test_report_fixture import Recorder

    run_dir = str(tmp_path / "run")
    os.makedirs(run_dir)
    recorder = Recorder(run_dir)
    recorder.execute("Profile", {}, {"report": ("tfx_autofit.Report", recorder.uri("Profile", "report", 1), {"images": 3})})
    recorder.execute("Training", {}, {}, state=metadata_store_pb2.Execution.RUNNING)
    time.sleep(0.3)

    context = build_context(run_dir, with_preview=False)
    assert context["errors"] == {} and context["data"] is None and context["models"] is None
    rows = {row["component"]: row for row in context["timings"]["rows"]}
    assert rows["Training"]["state"] == "RUNNING" and rows["Training"]["duration"] != "0.0 s"
    components = next(kpi for kpi in context["kpis"] if kpi["label"] == "components")
    assert components["value"] == "1/2" and components["tone"] == "warn"
    with open(write_report(run_dir, with_preview=False)) as handle:
        html = handle.read()
    assert 'id="data"' not in html and "RUNNING" in html


def test_prediction_overlays_of_a_detection_evaluation_are_figures_of_its_card(tmp_path):
    from types import SimpleNamespace

    from components.evaluation.task_evaluation import OVERLAY_DIR_NAME

    assert OVERLAY_DIR_NAME in techniques.FIGURE_SUBDIRS
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 16
    (tmp_path / OVERLAY_DIR_NAME).mkdir()
    for name in ("pr_curves.png", f"{OVERLAY_DIR_NAME}/0.png", f"{OVERLAY_DIR_NAME}/1.png"):
        (tmp_path / name).write_bytes(png)
    artifact = SimpleNamespace(uri=str(tmp_path), type_name="ModelEvaluation", id=7, properties={})
    details = techniques.artifact_details(SimpleNamespace(key="evaluation", artifact=artifact), with_preview=False)
    assert [name for name, _ in details.figures] == ["pr_curves.png", "overlays/0.png", "overlays/1.png"]
