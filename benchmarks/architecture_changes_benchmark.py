"""Evidence for the drop-in architecture changes (issue 15): accuracy delta with seed spread, step-time ratio.

For each architecture (default: small_cnn, small_resnet) and each change in
components/training/surgery.py (none, blur_pool, group_norm, silu, gelu,
stochastic_depth), train through the users' own path,
`components.training.training.train_classifier` with
`TrainingConfig(architecture=..., architecture_changes=(change,))`, on
MNIST-5k: per seed a 2,000-image labeled train subset (seeded draw), the
fixed 500-image eval split (Training's validation) and the fixed 1,500-image
held-out test split (reported). Same seed = same data, same initial weights
of the unchanged layers and same batch order for every change, so the delta
vs `none` is paired per seed.

Step time: per architecture, every variant is built with
`training.model_builder` (the surgery users get) and compiled as
`trainer.fit` compiles it (Adam, cosine schedule, categorical cross-entropy);
after warm-up, each change's block of timed `train_on_batch` calls on one
fixed batch of 64 real training images runs right next to a block of `none`,
over several rounds; reported: the median over rounds of the paired ratio,
on process CPU time (robust to preemption on a shared CPU) and wall time.

A change that does not alter an architecture (stochastic_depth needs
residual Add layers, which small_cnn lacks) is reported as "n/a" and not
trained.

Run (niced, in the background; 3+3 seeds took ~53 min projected on 2 cores at load average 15-20, so the
committed run stopped small_resnet after 2 seeds, then re-measured step times and marked the results final):
    nice -n 10 .venv/bin/python benchmarks/architecture_changes_benchmark.py > /tmp/arch_changes.log 2>&1 &
    .venv/bin/python benchmarks/architecture_changes_benchmark.py --retime      # step times only, ~5 min
    .venv/bin/python benchmarks/architecture_changes_benchmark.py --finalize "why seeds were cut" --wall-seconds S
Results are rewritten after every seed (marked PARTIAL until the end). Options: --seeds 0 1 2,
--second-seeds 0 1 (fewer seeds for the architectures after the first), --epochs 5, --train-size 2000.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from typing import Dict, List, Sequence

import numpy as np

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

NAME = "architecture_changes"
NONE = "none"
CHANGES = (NONE, "blur_pool", "group_norm", "silu", "gelu", "stochastic_depth")
IMAGE_SIZE = (28, 28)
# Step clocks: process CPU time (all threads; robust to preemption by other jobs) and wall time.
CLOCKS = ("cpu", "wall")


def training_config(architecture: str, change: str, seed: int, epochs: int, batch_size: int):
    from components.training.spec import TrainingConfig

    return TrainingConfig(
        architecture=architecture, epochs=epochs, batch_size=batch_size, seed=seed, verbose=0,
        architecture_changes=() if change == NONE else (change,),
    )


def _fingerprint(model) -> List[str]:
    """Layer classes and configs (names dropped), recursing into nested models: equal iff same structure."""
    rows = []
    for layer in model.layers:
        config = dict(layer.get_config())
        config.pop("name", None)
        rows.append(f"{type(layer).__name__}:{json.dumps(config, sort_keys=True, default=str)}")
        if hasattr(layer, "layers"):
            rows.extend(_fingerprint(layer))
    return rows


def applicable_changes(architecture: str, data_spec, changes: Sequence[str]) -> Dict[str, bool]:
    """Whether each change alters the architecture (else it is reported n/a)."""
    import keras

    from components.training import training

    keras.backend.clear_session()
    base = _fingerprint(training.model_builder(training_config(architecture, NONE, 0, 1, 64), data_spec, IMAGE_SIZE)())
    result = {}
    for change in changes:
        if change == NONE:
            result[change] = True
            continue
        built = training.model_builder(training_config(architecture, change, 0, 1, 64), data_spec, IMAGE_SIZE)()
        result[change] = _fingerprint(built) != base
    return result


def time_steps(architecture: str, data_spec, changes: Sequence[str], images: np.ndarray, labels: np.ndarray,
               batch_size: int, warmup: int, rounds: int, steps_per_round: int) -> Dict[str, Dict]:
    """Train-step time of each variant as a ratio to `none`, measured in adjacent blocks on one batch.

    Every round times, for each change (rotating order), a block of
    `steps_per_round` steps of `none` right next to a block of the change
    (which goes first alternates by round); the pair's ratio of block
    medians cancels load drift slower than a block. Reported: the median of
    the pair ratios and their quartiles, and the median step time.
    """
    import keras

    from components.training import trainer, training

    keras.backend.clear_session()
    batch_x = images[:batch_size]
    batch_y = np.eye(data_spec.num_classes, dtype="float32")[labels[:batch_size]]
    models = {}
    for change in changes:
        config = training_config(architecture, change, 0, 5, batch_size)
        model = training.model_builder(config, data_spec, IMAGE_SIZE)()
        model.compile(optimizer=trainer.make_optimizer(config, 1000), loss=trainer.make_loss(data_spec.task),
                      metrics=trainer.make_metrics(data_spec.task))
        for _ in range(warmup):  # Tracing plus a few steps to settle allocations.
            model.train_on_batch(batch_x, batch_y)
        models[change] = model

    def block(change: str) -> Dict[str, List[float]]:
        times = {"wall": [], "cpu": []}
        for _ in range(steps_per_round):
            wall, cpu = time.perf_counter(), time.process_time()
            models[change].train_on_batch(batch_x, batch_y)
            times["cpu"].append(time.process_time() - cpu)
            times["wall"].append(time.perf_counter() - wall)
        return times

    others = [change for change in changes if change != NONE]
    durations = {clock: {change: [] for change in changes} for clock in CLOCKS}
    pair_ratios = {clock: {change: [] for change in others} for clock in CLOCKS}
    for round_index in range(rounds + 1):  # Round 0 warms every variant up in the same rhythm; not recorded.
        shift = round_index % max(len(others), 1)
        for change in others[shift:] + others[:shift]:
            pair = (change, NONE) if round_index % 2 else (NONE, change)
            times = {name: block(name) for name in pair}
            if round_index == 0:
                continue
            for clock in CLOCKS:
                for name in pair:
                    durations[clock][name].extend(times[name][clock])
                ratio = np.median(times[change][clock]) / max(np.median(times[NONE][clock]), 1e-9)
                pair_ratios[clock][change].append(float(ratio))
    result = {}
    for change in changes:
        row = {"pairs": len(pair_ratios["wall"].get(change, [])), "parameters": int(models[change].count_params()),
               "timed_steps": len(durations["wall"][change])}
        for clock in CLOCKS:
            ratios = np.asarray(pair_ratios[clock].get(change) or [1.0])
            row[f"{clock}_step_s_median"] = float(np.median(durations[clock][change]))
            row[f"{clock}_ratio_vs_none"] = float(np.median(ratios))
            row[f"{clock}_ratio_q25"] = float(np.percentile(ratios, 25))
            row[f"{clock}_ratio_q75"] = float(np.percentile(ratios, 75))
        result[change] = row
        logging.info("%s %s step: cpu %.2fx none (IQR %.2f-%.2f), wall %.2fx (IQR %.2f-%.2f)", architecture, change,
                     row["cpu_ratio_vs_none"], row["cpu_ratio_q25"], row["cpu_ratio_q75"], row["wall_ratio_vs_none"],
                     row["wall_ratio_q25"], row["wall_ratio_q75"])
    return result


def retime(rounds: int, steps_per_round: int, warmup: int) -> None:
    """Re-measures the step times of a finished run's results/<NAME>.json (accuracy rows kept) and rewrites it."""
    from benchmarks.common import RESULTS_DIR, mnist_split
    from components.types.data_spec import DataSpecContent

    with open(os.path.join(RESULTS_DIR, f"{NAME}.json")) as handle:
        payload = json.load(handle)
    setup, results = payload["setup"], payload["results"]
    data = mnist_split(labeled=setup["train_size"], seed=setup["seeds"][0], test_size=setup["test_size"])
    data_spec = DataSpecContent(task="classification", class_names=[str(digit) for digit in range(10)], channels=1,
                                source_format="mnist_5k")
    for architecture, entry in results.items():
        active = [change for change in setup["changes"] if entry["applicable"][change]]
        timing = time_steps(architecture, data_spec, active, data["train_x"], data["train_y"], setup["batch_size"],
                            warmup, rounds, steps_per_round)
        entry.setdefault("step_time_first_measurement", entry["step_time"])
        entry["step_time"] = timing
        for change, row in entry["summary"].items():
            if row.get("applicable"):
                row["step_time"] = timing[change]
    setup.update(timing_warmup=warmup, timing_rounds=rounds, timing_steps_per_round=steps_per_round,
                 timing_remeasured=True)
    path = write(results, setup, complete=payload["complete"])
    print(open(path).read())


def test_accuracy(model, uri: str, data_spec) -> float:
    from components.training import trainer
    from components.types import examples_io

    dataset = trainer.one_hot_labels(
        examples_io.load_split(uri, "test", data_spec, batch_size=500, image_size=IMAGE_SIZE),
        data_spec.task, data_spec.num_classes,
    )
    return trainer.evaluate(model, dataset, data_spec.task)["accuracy"]


def train_one(architecture: str, change: str, seed: int, uri: str, data_spec, epochs: int, batch_size: int) -> Dict:
    from components.training import training

    config = training_config(architecture, change, seed, epochs, batch_size)
    started = time.time()
    model, history, _ = training.train_classifier(uri, data_spec, config, log_dir="")
    seconds = time.time() - started
    return {"test_accuracy": test_accuracy(model, uri, data_spec), "train_seconds": seconds,
            "final_train_accuracy": history["accuracy"][-1], "final_eval_accuracy": history["val_accuracy"][-1]}


def summarize(architecture: str, runs: Dict[str, Dict[int, Dict]], applicable: Dict[str, bool], timing: Dict) -> Dict:
    from benchmarks.common import mean_std

    seeds = sorted(runs.get(NONE, {}))
    summary = {}
    for change, is_applicable in applicable.items():
        if not is_applicable:
            summary[change] = {"applicable": False}
            continue
        done = [seed for seed in seeds if seed in runs.get(change, {})]
        if not done:
            continue
        accuracy = mean_std(runs[change][seed]["test_accuracy"] for seed in done)
        deltas = [runs[change][seed]["test_accuracy"] - runs[NONE][seed]["test_accuracy"] for seed in done]
        delta = mean_std(deltas)
        same_sign = all(d > 0 for d in deltas) or all(d < 0 for d in deltas)
        beyond = change != NONE and len(done) > 1 and same_sign and abs(delta["mean"]) > delta["std"]
        verdict = "-" if change == NONE else (("better" if delta["mean"] > 0 else "worse") if beyond
                                              else "within spread")
        summary[change] = {
            "applicable": True, "seeds": done, "test_accuracy": accuracy, "delta_vs_none": delta,
            "beyond_seed_spread": bool(beyond), "verdict": verdict,
            "train_seconds": mean_std(runs[change][seed]["train_seconds"] for seed in done),
            "step_time": timing.get(change),
        }
    return summary


def _step_cell(step, change: str) -> str:
    """'CPU ratio (quartiles); wall ratio (quartiles)', or the baseline's CPU / wall ms per step."""
    if not step:
        return "-"
    if change == NONE:
        return f"1.00x ({1000 * step['cpu_step_s_median']:.0f} ms CPU, {1000 * step['wall_step_s_median']:.0f} ms wall)"
    return "; ".join(
        f"{clock} {step[f'{clock}_ratio_vs_none']:.2f}x ({step[f'{clock}_ratio_q25']:.2f}-{step[f'{clock}_ratio_q75']:.2f})"
        for clock in CLOCKS
    )


def markdown_rows(results: Dict[str, Dict]) -> List[List[str]]:
    rows = []
    for architecture, entry in results.items():
        summary = entry["summary"]  # Rows in CHANGES order (a JSON reload sorts the keys).
        for change in sorted(summary, key=lambda name: CHANGES.index(name) if name in CHANGES else len(CHANGES)):
            row = summary[change]
            if not row.get("applicable"):
                rows.append([architecture, change, "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"])
                continue
            accuracy, delta, step = row["test_accuracy"], row["delta_vs_none"], row["step_time"]
            rows.append([
                architecture, change, str(len(row["seeds"])),
                f"{100 * accuracy['mean']:.2f} ± {100 * accuracy['std']:.2f}",
                "-" if change == NONE else f"{100 * delta['mean']:+.2f} ± {100 * delta['std']:.2f}",
                " / ".join(f"{100 * v:.1f}" for v in accuracy["values"]),
                _step_cell(step, change),
                row["verdict"],
            ])
    return rows


def write(results: Dict, setup: Dict, complete: bool) -> str:
    from benchmarks.common import write_results

    notes = [
        f"Setup: MNIST-5k, per seed a {setup['train_size']}-image labeled train subset (seeded draw from the pool), "
        f"fixed eval 500 (Training's validation split) and fixed held-out test {setup['test_size']} (reported); "
        f"{setup['epochs']} epochs, batch {setup['batch_size']}, Adam lr 1e-3 with cosine decay (Training's defaults), "
        "random init, no augmentation; trained through training.train_classifier with "
        "TrainingConfig.architecture_changes, i.e. the surgery exactly as users get it.",
        "Delta = paired per seed (same data subset, batch order and seed for every change) minus `none`; "
        "shown as mean ± sd over seeds in accuracy points.",
        "A change is only worth keeping when its delta is beyond the seed spread: here 'better'/'worse' means "
        "every seed's delta has the same sign and |mean delta| > sd of the deltas; otherwise 'within spread'. "
        "With 3 seeds this is a screen, not a significance test, and it holds for this data size and schedule only: "
        "autofit should still try each change on the user's held-out data.",
        f"Step time: per architecture, every variant built and compiled as Training does, warmed up "
        f"({setup['timing_warmup']} steps), then {setup['timing_rounds']} rounds in which each change's block of "
        f"{setup['timing_steps_per_round']} train steps runs right next to a block of `none` (order alternating), "
        f"all on one fixed batch of {setup['batch_size']} images in one process; ratio = median over rounds of "
        "(median step of the change / median step of the adjacent `none` block), in brackets the quartiles of "
        "those ratios. Two clocks: `cpu` = process CPU time per step (all threads; robust to this process being "
        "preempted by other jobs) and `wall` = elapsed time. The CPU was shared with other jobs (2 cores, load "
        "average 15-20, this run niced): wall ratios are dominated by preemption (wide quartiles); read the CPU "
        "ratios, and only as rough costs.",
        "n/a: the change does not alter that architecture (stochastic_depth needs residual Add layers; small_cnn "
        "has none), so it was not trained.",
        "Seeds per architecture: " + "; ".join(
            f"{name}: {entry['seeds_run']}" for name, entry in results.items()) + ".",
    ]
    if setup.get("wall_seconds"):
        notes.append(f"Wall time of the run: {setup['wall_seconds'] / 60:.0f} min (niced, on {os.cpu_count()} cores "
                     "shared with other jobs).")
    if setup.get("reduced_seeds_note"):
        notes.append(setup["reduced_seeds_note"])
    if not complete:
        notes.append("PARTIAL: the run was still going when this file was written; rows list the seeds done.")
    payload = {"setup": setup, "complete": complete, "results": results}
    return write_results(
        NAME, payload, markdown_rows(results),
        ["architecture", "change", "seeds", "test accuracy % (mean ± sd)", "Δ vs none, pp (mean ± sd, paired)",
         "per seed", "train step time vs none: median of paired ratios (quartiles)", "verdict"],
        notes,
    )


def finalize(note: str, wall_seconds: float) -> None:
    """Marks the per-seed results of a run stopped between seeds as final, with `note` saying why."""
    from benchmarks.common import RESULTS_DIR

    with open(os.path.join(RESULTS_DIR, f"{NAME}.json")) as handle:
        payload = json.load(handle)
    setup, results = payload["setup"], payload["results"]
    names = list(results)
    setup["second_seeds"] = results[names[-1]]["seeds_run"] if len(names) > 1 else setup["seeds"]
    setup["reduced_seeds_note"] = note
    if wall_seconds:
        setup["wall_seconds"] = wall_seconds
    path = write(results, setup, complete=True)
    print(open(path).read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architectures", nargs="+", default=["small_cnn", "small_resnet"])
    parser.add_argument("--changes", nargs="+", default=list(CHANGES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--second-seeds", type=int, nargs="+", default=None,
                        help="seeds for the architectures after the first (default: --seeds)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--test-size", type=int, default=1500)
    parser.add_argument("--timing-warmup", type=int, default=3)
    parser.add_argument("--timing-rounds", type=int, default=12)
    parser.add_argument("--timing-steps-per-round", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print the table only (smoke runs)")
    parser.add_argument("--finalize", default="",
                        help="a note: rewrite results/<NAME>.json (written after every seed) as the finished run, "
                             "e.g. after a run was stopped between seeds to fit the time budget")
    parser.add_argument("--wall-seconds", type=float, default=0.0, help="with --finalize: the stopped run's wall time")
    parser.add_argument("--retime", action="store_true",
                        help="only re-measure step times of results/<NAME>.json (with the --timing-* options)")
    args = parser.parse_args()
    if args.retime:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
        retime(args.timing_rounds, args.timing_steps_per_round, args.timing_warmup)
        return
    if args.finalize:
        finalize(args.finalize, args.wall_seconds)
        return
    if NONE not in args.changes:
        raise ValueError("--changes must include 'none' (the baseline every delta and ratio is taken against).")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from benchmarks.common import mnist_split
    from benchmarks.semi_supervised_benchmark import write_examples

    setup = {
        "dataset": "MNIST-5k", "train_size": args.train_size, "eval_size": 500, "test_size": args.test_size,
        "epochs": args.epochs, "batch_size": args.batch_size, "optimizer": "adam", "learning_rate": 1e-3,
        "schedule": "cosine", "architectures": args.architectures, "changes": args.changes,
        "seeds": args.seeds, "second_seeds": args.second_seeds or args.seeds,
        "timing_warmup": args.timing_warmup, "timing_rounds": args.timing_rounds,
        "timing_steps_per_round": args.timing_steps_per_round,
    }
    if args.second_seeds and args.second_seeds != args.seeds:
        setup["reduced_seeds_note"] = (
            f"To fit the time budget, architectures after the first ran seeds {args.second_seeds} "
            f"instead of {args.seeds}.")
    work = tempfile.mkdtemp(prefix="architecture_changes_")
    started = time.time()
    results: Dict[str, Dict] = {}
    try:
        data_uris = {}
        for index, architecture in enumerate(args.architectures):
            seeds = args.seeds if index == 0 or not args.second_seeds else args.second_seeds
            first = None
            for seed in seeds:
                if seed not in data_uris:
                    data = mnist_split(labeled=args.train_size, seed=seed, test_size=args.test_size)
                    uri = os.path.join(work, f"mnist_seed{seed}")
                    spec = write_examples(uri, {
                        "train": (data["train_x"], data["train_y"]), "eval": (data["eval_x"], data["eval_y"]),
                        "test": (data["test_x"], data["test_y"]),
                    })
                    data_uris[seed] = (uri, spec, data["train_x"], data["train_y"])
                first = first or data_uris[seed]
            _, data_spec, train_x, train_y = first
            applicable = applicable_changes(architecture, data_spec, args.changes)
            active = [change for change in args.changes if applicable[change]]
            timing = time_steps(architecture, data_spec, active, train_x, train_y, args.batch_size,
                                args.timing_warmup, args.timing_rounds, args.timing_steps_per_round)
            runs: Dict[str, Dict[int, Dict]] = {change: {} for change in active}
            entry = results[architecture] = {"applicable": applicable, "step_time": timing, "runs": runs,
                                             "seeds_run": []}
            for seed in seeds:
                uri, data_spec, _, _ = data_uris[seed]
                for change in active:
                    runs[change][seed] = train_one(architecture, change, seed, uri, data_spec, args.epochs,
                                                   args.batch_size)
                    logging.info("%s %s seed %d: %s (%.0f s elapsed)", architecture, change, seed,
                                 runs[change][seed], time.time() - started)
                entry["seeds_run"].append(seed)
                entry["summary"] = summarize(architecture, runs, applicable, timing)
                if not args.no_write:
                    write(results, setup, complete=False)
        setup["wall_seconds"] = time.time() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.no_write:
        for row in markdown_rows(results):
            print(" | ".join(row))
        return
    path = write(results, setup, complete=True)
    print(open(path).read())


if __name__ == "__main__":
    main()
