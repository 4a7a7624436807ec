"""Report helpers: strict JSON, baseline comparison, markdown summary."""

import json

import pytest

from components.evaluation import blessing, report


def test_json_ready_replaces_non_finite_floats():
    cleaned = report.json_ready({"a": float("nan"), "b": [1.0, float("inf")], "c": {"d": 2}})
    assert cleaned == {"a": None, "b": [1.0, None], "c": {"d": 2}}
    json.dumps(cleaned, allow_nan=False)


def test_compare_signs_improvement_by_direction():
    table = report.compare({"accuracy": 0.8, "nll": 0.3, "macro_f1": 0.5}, {"accuracy": 0.7, "nll": 0.4})
    assert set(table) == {"accuracy", "nll"}
    assert table["accuracy"]["improvement"] == pytest.approx(0.1)
    assert table["nll"]["improvement"] == pytest.approx(0.1)
    assert table["nll"]["higher_is_better"] is False


def test_summary_markdown_lists_verdict_checks_and_classes():
    result = {
        "task": "classification",
        "num_examples": 3,
        "num_unlabeled_skipped": 1,
        "top_k": 2,
        "metrics": {"accuracy": 2 / 3, "nll": float("nan")},
        "per_class": {
            "cat": {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2},
            "dog": {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1},
        },
    }
    decision = blessing.decide_blessing(result["metrics"], {"accuracy": {"min": 0.9}}, {})
    markdown = report.summary_markdown(result, decision, "test", "/models/1")
    assert markdown.startswith("# Evaluation: NOT BLESSED")
    assert "- FAIL: accuracy = 0.6667 FAILS >= 0.9000" in markdown
    assert "| nll | n/a |" in markdown
    assert "| cat | 1.0000 | 0.5000 | 0.6667 | 2 |" in markdown
    assert "1 unlabeled skipped" in markdown
