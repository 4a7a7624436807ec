"""Autofit on a dataset that is not MNIST: sklearn's 8x8 digits, 10% labeled, the rest unlabeled.

sklearn ships the 1,797 digits (8x8, 17 grey levels) inside its wheel, so nothing is downloaded. They are
written as an image folder at their native 8x8 size (grey PNG, 0-16 scaled to 0-255), the way a user's
small-image data would arrive:

    digits/train/<digit>/   13 labeled images per digit
    digits/val/<digit>/      5 labeled images per digit (autofit's decisions)
    digits/unlabeled/       the rest (~1,200 images, labels dropped)
    digits/test/<digit>/    30 images per digit the run never decides on: the reported accuracy

Per seed: autofit with `data:` + `budget:` only, then one plain `Training` on the same labels with autofit's
planned trainer settings (`autofit: false`), as benchmarks/autofit_benchmark.py does for MNIST. Recorded: the
plan (every technique with its decision and reason), the selection decisions, the champion, test accuracy of
both, and wall times.

    .venv/bin/python benchmarks/autofit_digits_benchmark.py --seeds 0 --budget quick
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from typing import Dict, List, Optional

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import format_mean_std, mean_std, write_results  # noqa: E402

PER_CLASS = {"test": 30, "train": 13, "val": 5}  # the rest of each digit is unlabeled


def write_digits(output_dir: str, seed: int) -> Dict[str, int]:
    """Writes the layout above (seeded, stratified); returns images per split."""
    from sklearn.datasets import load_digits

    from components.data_translation.images import encode_png

    digits = load_digits()
    images = np.clip(np.round(digits.images * (255.0 / 16.0)), 0, 255).astype("uint8")
    labels = digits.target
    rng = np.random.default_rng(seed)
    counts = {split: 0 for split in [*PER_CLASS, "unlabeled"]}

    def write(directory: str, index: int) -> None:
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, f"digit_{index:04d}.png"), "wb") as handle:
            handle.write(encode_png(images[index]))

    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        start = 0
        for split, count in PER_CLASS.items():
            for index in members[start:start + count]:
                write(os.path.join(output_dir, split, str(digit)), int(index))
            counts[split] += len(members[start:start + count])
            start += count
        for index in members[start:]:
            write(os.path.join(output_dir, "unlabeled"), int(index))
            counts["unlabeled"] += 1
    return counts


def candidate_test_accuracies(run_dir: str) -> Dict[str, float]:
    """Test accuracy of every model ChampionSelection compared (diagnosis only: no decision uses the test split)."""
    from components.common import model_io
    from components.types import examples_io
    from components.types.data_spec import read_data_spec
    from pipelines import lineage as lineage_lib

    graph = lineage_lib.read_lineage(run_dir)
    examples = lineage_lib.find_output(graph, "DataTranslation", "examples").uri
    data_spec = read_data_spec(lineage_lib.find_output(graph, "DataTranslation", "data_spec").uri)
    producers = {edge.artifact_id: execution.component for execution in graph.executions
                 for edge in graph.outputs_of(execution.id)}
    try:
        selection = graph.execution("ChampionSelection")
    except KeyError:
        return {}
    out = {}
    for edge in graph.inputs_of(selection.id):
        if not edge.key.startswith("candidate"):
            continue
        model = model_io.load_model(graph.artifacts[edge.artifact_id].uri)
        correct = total = 0
        for images, labels in examples_io.load_split(examples, "test", data_spec, batch_size=256,
                                                     image_size=tuple(model.input_shape[1:3])):
            correct += int(np.sum(np.argmax(np.asarray(model(images, training=False)), 1) == np.asarray(labels)))
            total += len(labels)
        out[producers.get(edge.artifact_id, edge.key)] = correct / max(total, 1)
    return out


def optimization_params(run_dir: str) -> Dict[str, object]:
    """What OptimizationParams learned (learning rate, batch size, epochs), when it ran."""
    from pipelines import lineage as lineage_lib

    try:
        artifact = lineage_lib.find_output(lineage_lib.read_lineage(run_dir), "OptimizationParams",
                                           "optimization_params")
    except KeyError:
        return {}
    keys = ("learning_rate", "batch_size", "epochs", "epochs_trained")
    return {key: artifact.properties.get(key) for key in keys} if artifact is not None else {}


def run_seed(seed: int, budget, work: str) -> Dict[str, object]:
    from benchmarks.common import autofit_beside_plain
    from components.common.artifact_io import read_json

    root = os.path.join(work, f"seed-{seed}")
    shutil.rmtree(root, ignore_errors=True)
    data = os.path.join(root, "digits")
    counts = write_digits(data, seed)
    both = autofit_beside_plain(data, seed, budget, root, "digits")
    auto, plain, auto_dir = both["auto"], both["plain"], both["auto_dir"]
    plan = read_json(os.path.join(auto_dir, "autofit", "plan.json"))
    return {
        "seed": seed, "counts": counts,
        "profile": plan["profile"],
        "plan_training": plan["training"],
        "plan": [{"technique": d["name"], "decision": d["decision"], "reason": d["reason"]}
                 for d in plan["techniques"]],
        "estimated_cost_units": plan["estimated_cost"], "budget_units": plan["budget_multiple"],
        "champion": auto["champion"],
        "optimization_params": optimization_params(auto_dir),
        "candidate_test_accuracy": candidate_test_accuracies(auto_dir),
        "decisions": [{"candidate": d["candidate"], "kept": d["kept"], "reason": d["reason"]}
                      for d in (auto["selection"] or {}).get("decisions", [])],
        "autofit_test_accuracy": auto["evaluation"]["metrics"]["accuracy"],
        "autofit_test_interval": auto["evaluation"]["metrics"].get("accuracy_interval"),
        "evaluation_split": auto["evaluation"]["metrics"].get("split"),
        "plain_test_accuracy": plain["evaluation"]["metrics"]["accuracy"],
        "blessed": auto["evaluation"]["blessed"],
        **{key: both[key] for key in ("autofit_seconds", "plain_seconds", "time_ratio")},
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--budget", default="quick")
    parser.add_argument("--name", default="autofit_digits")
    parser.add_argument("--work", default=None, help="keep the data and runs here (default: a temporary folder)")
    args = parser.parse_args(argv)
    budget = float(args.budget) if args.budget.replace(".", "", 1).isdigit() else args.budget
    work = args.work or tempfile.mkdtemp(prefix="autofit-digits-")
    rows = []
    for seed in args.seeds:
        rows.append(run_seed(seed, budget, work))
        print(rows[-1], flush=True)
    auto = mean_std(row["autofit_test_accuracy"] for row in rows)
    plain = mean_std(row["plain_test_accuracy"] for row in rows)
    delta = mean_std(row["autofit_test_accuracy"] - row["plain_test_accuracy"] for row in rows)
    ratio = mean_std(row["time_ratio"] for row in rows)
    table = [[len(rows), format_mean_std(auto), format_mean_std(plain), format_mean_std(delta),
              ", ".join(sorted({row["champion"] for row in rows})), f"{ratio['mean']:.2f}x",
              ", ".join(sorted({str(row["blessed"]) for row in rows}))]]
    first = rows[0]
    notes = [f"budget {args.budget}; sklearn digits at native 8x8, {first['counts']} images per split (seed "
             f"{first['seed']}); test never used for a decision; CPU, 2 cores shared with other jobs",
             "plain = Training alone with autofit's planned trainer settings (autofit: false)",
             "plan (seed {}): ".format(first["seed"]) + "; ".join(
                 f"{d['technique']} [{d['decision']}] {d['reason']}" for d in first["plan"]),
             "selection (seed {}): ".format(first["seed"]) + ("; ".join(
                 f"{d['candidate']} {'kept' if d['kept'] else 'dropped'}: {d['reason']}" for d in first["decisions"])
                 or "no selection"),
             "learned optimization params per seed: " + "; ".join(
                 f"seed {row['seed']}: {row['optimization_params']}" for row in rows),
             "every candidate's test accuracy (diagnosis; the selection decided on val/): " + "; ".join(
                 f"seed {row['seed']}: " + ", ".join(f"{name} {100 * value:.1f}%" for name, value in
                                                     row["candidate_test_accuracy"].items()) for row in rows)]
    payload = {"budget": args.budget, "seeds": args.seeds, "runs": rows, "autofit": auto, "plain": plain,
               "delta": delta, "time_ratio": ratio}
    write_results(args.name, payload, table, ["seeds", "autofit test acc %", "plain test acc %", "Δ pp",
                                             "champion(s)", "time vs plain", "blessed"], notes)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
