"""Evidence for learned optimization params (issue 12, item 3) on MNIST-5k with 500 labels.

Per seed (a different 500-label subset; fixed eval 500 and test 1,500 sets):
  defaults:  Training's old defaults (5 epochs, batch 64, lr 1e-3, cosine);
  hand_30:   the same with 30 epochs, what a user would try next by hand;
  learned:   OptimizationParams (batch-size rule, LR range test, early
             stopping) and then Training with the learned values (cosine).
Reported: test accuracy per arm (mean, std over seeds), the chosen values and
their reasons, and the OptimizationParams step's time as a ratio to one
training with the learned values and to one default training, measured in
the same process on the same cores.

Run: .venv/bin/python benchmarks/optimization_params_benchmark.py [--seeds 0 1 2] [--architecture small_cnn]
"""

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from typing import Dict

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

NAME = "optimization_params"
# With --earlier: arms copied from an earlier results JSON (same seeds, data and cores) instead of rerun.
EARLIER_ARMS = ("defaults", "hand_30", "learned_constant_lr")
DEFAULTS = dict(epochs=5, batch_size=64, learning_rate=1e-3)


def test_accuracy(model, uri: str, data_spec) -> float:
    from components.training import trainer
    from components.types import examples_io

    dataset = trainer.one_hot_labels(
        examples_io.load_split(uri, "test", data_spec, batch_size=500, image_size=(28, 28)),
        data_spec.task, data_spec.num_classes,
    )
    return trainer.evaluate(model, dataset, data_spec.task)["accuracy"]


def timed_training(uri, data_spec, architecture, seed, **values):
    from components.training import training
    from components.training.spec import TrainingConfig

    config = TrainingConfig(architecture=architecture, seed=seed, verbose=0, **values)
    started = time.time()
    model, history, _ = training.train_classifier(uri, data_spec, config)
    seconds = time.time() - started
    return {"test_accuracy": test_accuracy(model, uri, data_spec), "seconds": seconds,
            "epochs_trained": len(history["loss"]), **values}


def run_seed(seed: int, architecture: str, work: str, plot_path: str = "", earlier: Dict = None) -> Dict:
    from benchmarks.common import mnist_split
    from benchmarks.semi_supervised_benchmark import write_examples
    from components.optimization import optimization, plot
    from components.optimization.spec import OptimizationConfig

    data = mnist_split(labeled=500, seed=seed)
    uri = os.path.join(work, f"mnist_seed{seed}")
    data_spec = write_examples(uri, {
        "train": (data["train_x"], data["train_y"]), "eval": (data["eval_x"], data["eval_y"]),
        "test": (data["test_x"], data["test_y"]),
    })
    if earlier:  # Arms this code does not change, measured in an earlier run of this script.
        row = {arm: dict(earlier[arm], from_earlier_run=True) for arm in EARLIER_ARMS if arm in earlier}
    else:
        row = {"defaults": timed_training(uri, data_spec, architecture, seed, **DEFAULTS)}
        logging.info("seed %d defaults: %s", seed, row["defaults"])
        row["hand_30"] = timed_training(uri, data_spec, architecture, seed, **dict(DEFAULTS, epochs=30))
        logging.info("seed %d hand_30: %s", seed, row["hand_30"])
    started = time.time()
    learned = optimization.learn_optimization_params(
        uri, data_spec, OptimizationConfig(architecture=architecture, seed=seed)
    )
    optimization_seconds = time.time() - started
    if plot_path:
        with open(plot_path, "wb") as handle:
            handle.write(plot.range_test_png(learned.range_test))
    row["learned"] = timed_training(
        uri, data_spec, architecture, seed,
        epochs=learned.epochs, batch_size=learned.batch_size, learning_rate=learned.learning_rate,
    )
    logging.info("seed %d learned: %s", seed, row["learned"])
    payload = learned.to_json()
    row["optimization_params"] = {key: value for key, value in payload.items() if key != "lr_curve"}
    row["optimization_seconds"] = optimization_seconds
    row["time_ratio_to_learned_training"] = optimization_seconds / row["learned"]["seconds"]
    row["time_ratio_to_default_training"] = optimization_seconds / row["defaults"]["seconds"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--architecture", default="small_cnn")
    parser.add_argument("--work", default="")
    parser.add_argument("--earlier", default="",
                        help="results JSON of an earlier run: reuse its defaults and hand_30 arms")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from benchmarks.common import RESULTS_DIR, mean_std, write_results

    work = args.work or tempfile.mkdtemp(prefix="optimization_params_")
    earlier_rows = {}
    if args.earlier:
        with open(args.earlier) as handle:
            earlier_rows = json.load(handle)["per_seed"]
    rows = {}
    try:
        for index, seed in enumerate(args.seeds):
            plot_path = os.path.join(RESULTS_DIR, f"{NAME}.png") if index == 0 else ""
            earlier = earlier_rows.get(str(seed)) if earlier_rows else None
            rows[seed] = run_seed(seed, args.architecture, work, plot_path, earlier)
            logging.info("seed %d: %s", seed, json.dumps(rows[seed], default=str)[:2000])
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    arms = [arm for arm in ("defaults", "hand_30", "learned_constant_lr", "learned") if arm in rows[args.seeds[0]]]
    summary = {arm: mean_std(rows[seed][arm]["test_accuracy"] for seed in rows) for arm in arms}
    seconds = {arm: mean_std(rows[seed][arm]["seconds"] for seed in rows) for arm in arms}
    ratios = {
        "to_learned_training": mean_std(rows[seed]["time_ratio_to_learned_training"] for seed in rows),
        "to_default_training": mean_std(rows[seed]["time_ratio_to_default_training"] for seed in rows),
    }
    chosen = {seed: {key: rows[seed]["optimization_params"][key] for key in
                     ("batch_size", "learning_rate", "epochs", "epochs_trained")} for seed in rows}
    payload = {
        "setup": {"dataset": "MNIST-5k, 500 labeled train (per seed), eval 500, test 1500 (fixed)",
                  "architecture": args.architecture, "seeds": args.seeds, "defaults": DEFAULTS},
        "test_accuracy": summary, "training_seconds": seconds, "optimization_seconds":
            mean_std(rows[seed]["optimization_seconds"] for seed in rows),
        "time_ratio": ratios, "chosen": chosen, "per_seed": rows,
    }
    markdown = [
        [arm, f"{100 * summary[arm]['mean']:.2f} ± {100 * summary[arm]['std']:.2f}",
         " / ".join(f"{100 * v:.1f}" for v in summary[arm]["values"]), f"{seconds[arm]['mean']:.0f}"]
        for arm in arms
    ]
    notes = [
        f"Chosen per seed (batch, lr, epochs / epochs run in the early-stopping run): " + "; ".join(
            f"seed {seed}: {c['batch_size']}, {c['learning_rate']:.3g}, {c['epochs']}/{c['epochs_trained']}"
            for seed, c in chosen.items()),
        f"OptimizationParams time: {payload['optimization_seconds']['mean']:.0f} s = "
        f"{ratios['to_learned_training']['mean']:.2f}x (± {ratios['to_learned_training']['std']:.2f}) one training "
        f"with the learned values, {ratios['to_default_training']['mean']:.1f}x one default (5-epoch) training.",
        "Reasons (seed %d): %s" % (args.seeds[0], json.dumps(rows[args.seeds[0]]["optimization_params"]["reasons"])),
        f"Architecture: {args.architecture} (Training's default); same process and cores for every arm.",
    ]
    if earlier_rows:
        notes.append(f"Arms {[arm for arm in EARLIER_ARMS if arm in arms]} come from an earlier run of this script "
                     "(same seeds, data and machine); learned_constant_lr = the first version, whose early-stopping "
                     "run kept the learning rate constant.")
    path = write_results(NAME, payload, markdown, ["arm", "test accuracy % (mean ± std)", "per seed", "train s"],
                         notes)
    print(open(path).read())


if __name__ == "__main__":
    main()
