"""tiny_cnn variants on MNIST-5k: why the old one stayed at chance at the default rate, and the fix.

The old `tiny_cnn` (two strided ReLU convs, 8 and 16 channels, global
average pooling, softmax head; 1.4k parameters) sat at the class prior after
5 epochs at the default Adam learning rate 1e-3 (train loss 2.29 -> 2.27),
38% at 1e-2. Its pooled features are averages of small ReLU activations over
a mostly black digit image, so the head's logits start near zero and Adam's
fixed-size steps (about lr per step, whatever the gradient's scale) move them
slowly. A BatchNorm after each conv puts the features at unit scale, as in
`small_cnn` and `small_resnet`; a third strided conv widens the receptive
field before pooling from 7 to 15 pixels. This benchmark separates the two.

Every variant trains through the library's own path,
`training.train_classifier`, with `TrainingConfig` defaults (batch 64, Adam,
cosine schedule) except the learning rate and `image_size=(32, 32)` (as in
backbones_accuracy), on canonical Examples of the benchmarks' MNIST-5k split
(4,000 labeled train images per seed, 500 eval, 1,500 fixed test). The other
variants run from module files.

    python -m benchmarks.tiny_cnn_benchmark [--seeds 0 1 2] [--epochs 5] [--learning-rates 0.001 0.01]

Results: results/tiny_cnn.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from typing import Dict, List, Optional, Sequence

from benchmarks import common

NAME = "tiny_cnn"
IMAGE_SIZE = (32, 32)
# Variants run from module files: (conv channels, each stride 2; BatchNorm after each conv or a ReLU conv with bias).
# `no_batch_norm_2` is the tiny_cnn of components/training/models.py before this change (commit af797ef);
# `tiny_cnn` is the library's current architecture (the same as batch_norm_3), built by name.
MODULE_VARIANTS = {
    "no_batch_norm_2": ((8, 16), False),
    "batch_norm_2": ((8, 16), True),
    "no_batch_norm_3": ((8, 16, 32), False),
}
MODULE_TEMPLATE = '''
import keras

def build_model(data_spec, image_size):
    inputs = keras.Input(shape=(*image_size, data_spec.channels), name="image")
    x = inputs
    for filters in {filters}:
        if {batch_norm}:
            x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False)(x)
            x = keras.layers.ReLU()(keras.layers.BatchNormalization(momentum=0.9)(x))
        else:
            x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="embedding")(x)
    outputs = keras.layers.Dense(data_spec.num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="{name}")
'''
VARIANTS = (*MODULE_VARIANTS, "tiny_cnn")


def train_one(variant: str, module_file: Optional[str], learning_rate: float, seed: int, uri: str, data_spec,
              epochs: int) -> Dict:
    from components.training import trainer, training
    from components.training.spec import TrainingConfig
    from components.types import features

    config = TrainingConfig(architecture="tiny_cnn", module_file=module_file, image_size=IMAGE_SIZE, epochs=epochs,
                            learning_rate=learning_rate, seed=seed, verbose=0)
    started = time.time()
    model, history, eval_metrics = training.train_classifier(uri, data_spec, config, log_dir="")
    seconds = time.time() - started
    test = training.labeled_dataset(uri, features.TEST_SPLIT, data_spec, config, IMAGE_SIZE, False)
    return {
        "variant": variant, "learning_rate": learning_rate, "seed": seed, "epochs": epochs,
        "parameters": int(model.count_params()),
        "test_accuracy": trainer.evaluate(model, test, data_spec.task)["accuracy"],
        "eval_accuracy": eval_metrics["eval_accuracy"],
        "train_loss": [float(value) for value in history["loss"]],
        "train_wall_seconds": seconds,
    }


def write(runs: Sequence[Dict], seeds: Sequence[int], epochs: int, learning_rates: Sequence[float]) -> str:
    rows, summary = [], {}
    for variant in VARIANTS:
        for rate in learning_rates:
            mine = [run for run in runs if run["variant"] == variant and run["learning_rate"] == rate]
            if not mine:
                continue
            accuracy = common.mean_std(run["test_accuracy"] for run in mine)
            summary[f"{variant}@{rate:g}"] = {"test_accuracy": accuracy, "seeds": [run["seed"] for run in mine]}
            first_loss = common.mean_std(run["train_loss"][0] for run in mine)
            last_loss = common.mean_std(run["train_loss"][-1] for run in mine)
            rows.append([
                variant, f"{mine[0]['parameters']:,}", f"{rate:g}", ",".join(str(run["seed"]) for run in mine),
                common.format_mean_std(accuracy),
                f"{first_loss['mean']:.3f} -> {last_loss['mean']:.3f}",
                f"{common.mean_std(run['train_wall_seconds'] for run in mine)['mean']:.0f}",
            ])
    payload = {
        "runs": list(runs), "summary": summary,
        "setup": {"dataset": "MNIST-5k", "train_size": 4000, "eval_size": 500, "test_size": 1500,
                  "image_size": list(IMAGE_SIZE), "epochs": epochs, "seeds": list(seeds),
                  "training_path": "components.training.training.train_classifier"},
    }
    return common.write_results(
        NAME, payload, rows,
        ["variant", "parameters (10 classes)", "learning rate", "seeds", "MNIST-5k test accuracy % (mean ± sd)",
         "train loss epoch 1 -> last (mean)", "train wall s per run"],
        notes=[
            "no_batch_norm_2: the old tiny_cnn (strided ReLU convs of 8 and 16 channels, global average pooling), "
            "from a module file; batch_norm_2: the same with BatchNorm after each conv; no_batch_norm_3: a third "
            "conv (32 channels) without BatchNorm; tiny_cnn: the library's current architecture (three convs, "
            "8/16/32 channels, each followed by BatchNorm), built by name.",
            f"training.train_classifier with TrainingConfig defaults (batch 64, Adam, cosine schedule, {epochs} "
            "epochs) except the learning rate; 28 -> 32 px by the Examples loader. MNIST-5k: 4,000 labeled train "
            "images drawn per seed, 500 eval, accuracy on 1,500 held-out test images (the same for every seed).",
            "Mean ± sd (sample sd) over the seeds. Wall seconds on a 2-core CPU shared with other jobs.",
        ],
    )


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(common.DEFAULT_SEEDS))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[1e-3, 1e-2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = parser.parse_args(argv)

    from benchmarks.backbones_accuracy import write_mnist

    runs: List[Dict] = []
    work = tempfile.mkdtemp(prefix="tiny_cnn_benchmark_")
    try:
        module_files = {}
        for variant, (filters, batch_norm) in MODULE_VARIANTS.items():
            module_files[variant] = os.path.join(work, f"{variant}.py")
            with open(module_files[variant], "w") as handle:
                handle.write(MODULE_TEMPLATE.format(filters=filters, batch_norm=batch_norm, name=variant))
        for seed in args.seeds:
            uri = os.path.join(work, f"mnist_{seed}")
            data_spec = write_mnist(uri, seed)
            for variant in args.variants:
                for rate in args.learning_rates:
                    run = train_one(variant, module_files.get(variant), rate, seed, uri, data_spec, args.epochs)
                    runs.append(run)
                    print(f"{variant} lr={rate:g} seed={seed}: test accuracy {run['test_accuracy']:.4f} "
                          f"({run['train_wall_seconds']:.0f} s)", flush=True)
                    write(runs, args.seeds, args.epochs, args.learning_rates)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(write(runs, args.seeds, args.epochs, args.learning_rates))


if __name__ == "__main__":
    main()
