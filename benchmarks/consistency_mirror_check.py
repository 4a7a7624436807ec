"""FixMatch's weak-view mirroring on data where a mirror changes the label, and the check that decides it.

Parts:
  check:    the mirror check (components/consistency/mirror_check.py) on the `make demo` layout (40 labeled
            train + 10 eval images per class of MNIST-5k, per seed) and on a control where mirroring keeps labels
            by construction (the same digits, each image mirrored at random when written, labels unchanged).
  fixmatch: ConsistencyTraining as autofit's quick plan runs it (small_cnn, batch 32, mu 3, Adam 3e-3,
            25 epochs x 41 steps, no policy) with mirroring forced on (FixMatch's default before the check)
            and off, test accuracy on the 1,000 held-out test images of the same layout.

Both parts read the translated Examples that `benchmarks/autofit_benchmark.py` leaves in its work dir
(`<work>/few_labels-<seed>/autofit/pipeline_root/DataTranslation`), so the data is exactly autofit's.

    .venv/bin/python benchmarks/autofit_benchmark.py --budget quick --scenarios few_labels   # prints its work dir
    .venv/bin/python benchmarks/consistency_mirror_check.py --autofit-work WORK_DIR --parts check fixmatch
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from typing import Dict, List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import common  # noqa: E402

NAME = "consistency_mirror_check"
STEPS_PER_EPOCH, EPOCHS = 41, 25  # autofit's quick plan for 3,900 unlabeled images: ceil(1000 / 41) epochs


def translated(work: str, seed: int):
    """(examples uri, DataSpecContent) of the autofit benchmark's seed."""
    from components.types.data_spec import read_data_spec

    root = os.path.join(work, f"few_labels-{seed}", "autofit", "pipeline_root", "DataTranslation")
    examples = sorted(glob.glob(os.path.join(root, "examples", "*")))[-1]
    spec = read_data_spec(sorted(glob.glob(os.path.join(root, "data_spec", "*")))[-1])
    return examples, spec


def run_check(examples: str, spec, seed: int, mirror_train: bool) -> Dict[str, object]:
    """The check as ConsistencyTraining runs it; `mirror_train` mirrors half the images (labels kept) first."""
    import numpy as np

    from components.consistency import consistency, mirror_check
    from components.consistency.spec import ConsistencyConfig
    from components.training import training

    config = ConsistencyConfig(architecture="small_cnn", seed=seed)
    size = (28, 28)
    train = consistency.labeled_arrays(examples, spec, size, 256, "train", limit=consistency.MIRROR_CHECK_TRAIN_IMAGES,
                                    seed=seed)
    held_out = consistency.labeled_arrays(examples, spec, size, 256)
    if mirror_train:  # Mirroring keeps labels here by construction: a random half of every split is mirrored.
        rng = np.random.default_rng(seed)
        train = (np.where(rng.uniform(size=len(train[0]))[:, None, None, None] < 0.5,
                          mirror_check.mirrored(train[0]), train[0]), train[1])
        held_out = (np.where(rng.uniform(size=len(held_out[0]))[:, None, None, None] < 0.5,
                             mirror_check.mirrored(held_out[0]), held_out[0]), held_out[1])
    started = time.time()
    check = mirror_check.check_mirroring(
        lambda: training.model_builder(config.training_config(), spec, size)(), *train, *held_out,
        spec.num_classes, seed)
    return dict(check.to_dict(), seconds=round(time.time() - started, 1))


def run_fixmatch(examples: str, spec, seed: int, mirror: bool, work: str) -> Dict[str, object]:
    from benchmarks.semi_supervised_benchmark import test_accuracy
    from components.consistency import consistency
    from components.consistency.spec import ConsistencyConfig

    config = ConsistencyConfig(architecture="small_cnn", batch_size=32, epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH,
                               learning_rate=3e-3, mu=3, optimizer="adam", seed=seed, weak_flip=mirror)
    started = time.time()
    run = consistency.run_consistency_training(examples, spec, config, os.path.join(work, f"fixmatch_{mirror}_{seed}"))
    return {"eval_accuracy": run.metrics["eval_accuracy"], "test_accuracy": test_accuracy(run.model, examples, spec),
            "seconds": round(time.time() - started, 1)}


def write(payload: Dict) -> None:
    rows: List[List[str]] = []
    for label, key in (("demo layout (mirror changes digits)", "digits"), ("control: randomly mirrored digits",
                                                                            "mirrored_control")):
        checks = payload.get("check", {}).get(key, {})
        if checks:
            decisions = ", ".join(f"s{seed}: {'mirror' if c['mirror'] else 'no mirror'}"
                                  for seed, c in sorted(checks.items()))
            accuracy = common.mean_std([c["accuracy"] for c in checks.values()])
            mirrored = common.mean_std([c["mirrored_accuracy"] for c in checks.values()])
            rows.append([f"check: {label}", str(len(checks)), common.format_mean_std(accuracy),
                         common.format_mean_std(mirrored), decisions,
                         f"{sum(c['seconds'] for c in checks.values()) / len(checks):.0f} s"])
    arms = payload.get("fixmatch", {})
    if arms:
        for arm in ("mirror", "no_mirror"):
            runs = arms.get(arm, {})
            if runs:
                test = common.mean_std([r["test_accuracy"] for r in runs.values()])
                per_seed = ", ".join(f"s{seed}: {100 * r['test_accuracy']:.1f}" for seed, r in sorted(runs.items()))
                rows.append([f"FixMatch, weak view {'with' if arm == 'mirror' else 'without'} mirroring",
                             str(len(runs)), "", "", f"test {common.format_mean_std(test)} % ({per_seed})",
                             f"{sum(r['seconds'] for r in runs.values()) / len(runs):.0f} s"])
    common.write_results(
        NAME, payload, rows,
        ["what", "seeds", "check model eval acc % (as is)", "mirrored eval acc %", "decision / result", "time per run"],
        notes=payload.get("notes", []),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--autofit-work", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--parts", nargs="+", default=["check"], choices=["check", "fixmatch"])
    args = parser.parse_args()
    path = os.path.join(common.RESULTS_DIR, f"{NAME}.json")
    payload = json.load(open(path)) if os.path.exists(path) else {}
    payload["environment"] = common.environment()
    for seed in args.seeds:
        examples, spec = translated(args.autofit_work, seed)
        if "check" in args.parts:
            for key, mirror_train in (("digits", False), ("mirrored_control", True)):
                payload.setdefault("check", {}).setdefault(key, {})[str(seed)] = run_check(examples, spec, seed,
                                                                                           mirror_train)
                print(key, seed, payload["check"][key][str(seed)]["reason"], flush=True)
        if "fixmatch" in args.parts:
            for arm, mirror in (("mirror", True), ("no_mirror", False)):
                result = run_fixmatch(examples, spec, seed, mirror, os.path.join(args.autofit_work, "mirror_bench"))
                payload.setdefault("fixmatch", {}).setdefault(arm, {})[str(seed)] = result
                print(arm, seed, result, flush=True)
        write(payload)
    print(open(os.path.join(common.RESULTS_DIR, f"{NAME}.md")).read())


if __name__ == "__main__":
    main()
