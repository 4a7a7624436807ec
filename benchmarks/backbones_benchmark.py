"""Backbones and export evidence: parameters and CPU train-step time; export parity on MNIST.

Part `timing`: for each architecture (toy CNNs and library backbones, random
init), parameters and the CPU time of one training step per image at 32 px
(batch 32) and 224 px (batch 8), 1-channel input as for MNIST, 10 classes.
The first step (tracing) is excluded; the median of the timed steps is kept.
Times are wall-clock on a CPU shared with other jobs: compare rows of one
run with each other (ratios), not across machines.

Part `export`: an architecture trained briefly on MNIST-5k (28 px, random
init), exported through components/export (SavedModel, TFLite float,
TFLite full-integer int8, ONNX); each file runs on 1,000 held-out test
images next to the Keras model: max |p diff|, accuracy delta, file size.
The int8 accuracy drop depends on how well the model is trained
(benchmarks/export_int8_study.py): the rows of export.md come from

    python benchmarks/backbones_benchmark.py --part export --architectures small_cnn --epochs 3
    python benchmarks/backbones_benchmark.py --part export --architectures mobilenet_v3_small --epochs 5 --append

    python benchmarks/backbones_benchmark.py --part timing   # -> results/backbones.{json,md}
    python benchmarks/backbones_benchmark.py --part export   # -> results/export.{json,md}
    python benchmarks/backbones_benchmark.py --part transfer # -> results/backbones_transfer.{json,md}
    python benchmarks/backbones_benchmark.py --part convnext_depthwise  # prints ms/image, both variants
    python benchmarks/backbones_benchmark.py --part accuracy --epochs 5  # -> results/backbones_accuracy.{json,md}

Part `transfer`: the fine-tuning schedule from locally saved weights:
pretrain on digits 0-4, fine-tune on 200 labels of digits 5-9, vs scratch.

Part `accuracy` (benchmarks/backbones_accuracy.py): each architecture
trained from random init through training.train_classifier at 32 px on
MNIST-5k; held-out test accuracy, epochs run, wall seconds. The small CNNs
run `--seeds`, the library backbones `--large-seeds`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import common  # noqa: E402

ARCHITECTURES = (
    "tiny_cnn", "small_cnn", "small_resnet", "mobilenet_v3_small", "efficientnet_v2_b0", "resnet50",
    "convnext_tiny", "vit_tiny",
)
SIZES = ((32, 32), (224, 8))  # (pixels, batch size)


def _data_spec(num_classes: int = 10, channels: int = 1):
    from components.types.data_spec import DataSpecContent

    return DataSpecContent(
        task="classification", class_names=[str(k) for k in range(num_classes)], channels=channels,
        source_format="benchmark",
    )


def time_train_step(name: str, size: int, batch: int, steps: int, depthwise: bool = True) -> Dict[str, float]:
    """The architecture as built (grouped convs already rewritten as DepthwiseConv2D, backbones.plain_depthwise);
    `depthwise=False` keeps the library's grouped Conv2D (the pre-rewrite baseline of part convnext_depthwise)."""
    from unittest import mock

    import keras

    from components.training import backbones, models

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    with mock.patch.object(backbones, "plain_depthwise", backbones.plain_depthwise if depthwise else lambda net: net):
        model = models.build_architecture(name, _data_spec(), (size, size))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(batch, size, size, 1)).astype("float32")
    targets = np.eye(10, dtype="float32")[rng.integers(0, 10, batch)]
    started = time.perf_counter()
    model.train_on_batch(images, targets)  # Tracing and first step.
    first = time.perf_counter() - started
    durations: List[float] = []
    for _ in range(steps):
        started = time.perf_counter()
        model.train_on_batch(images, targets)
        durations.append(time.perf_counter() - started)
    return {
        "parameters": int(model.count_params()),
        "batch_size": batch,
        "steps": steps,
        "first_step_s": first,
        "step_s_median": float(np.median(durations)),
        "ms_per_image": float(np.median(durations)) / batch * 1000.0,
    }


def run_timing(architectures, steps: int) -> None:
    payload = {"architectures": {}}
    for name in architectures:
        entry = {}
        for size, batch in SIZES:
            entry[str(size)] = time_train_step(name, size, batch, steps)
            print(name, size, entry[str(size)], flush=True)
        payload["architectures"][name] = entry
    payload["steps"] = steps
    write_timing(payload)


def write_timing(payload) -> None:
    """backbones.{json,md} from `{"architectures": {name: {"32": row, "224": row}}, "steps": n}`."""
    entries = payload["architectures"]
    baseline = entries.get("small_cnn") or next(iter(entries.values()))
    rows = []
    for name, entry in entries.items():
        rows.append([
            name,
            f"{entry['32']['parameters']:,}",
            f"{entry['32']['ms_per_image']:.2f}",
            f"{entry['224']['ms_per_image']:.1f}",
            f"{entry['224']['ms_per_image'] / baseline['224']['ms_per_image']:.2f}x",
        ])
    common.write_results(
        "backbones", payload, rows,
        ["architecture", "parameters (10 classes)", "train ms/image 32 px (batch 32)",
         "train ms/image 224 px (batch 8)", "224 px time vs small_cnn"],
        notes=[
            "Random init, 1-channel input (repeated to RGB inside the backbone models), 10-class head, Adam.",
            "Library backbones run at 32 px minimum: 28-31 px inputs are upsampled inside the model.",
            f"Median of {payload['steps']} timed steps after a first (tracing) step on a 2-core CPU; read the rows "
            "as ratios within this run.",
            "convnext_tiny: Keras' TensorFlow backend runs its depthwise Conv2D(groups=C) on the CPU as nested XLA "
            "functions; the builder rewrites them as plain DepthwiseConv2D (backbones.plain_depthwise, the same "
            "function; part convnext_depthwise times both side by side).",
            *payload.get("extra_notes", []),
        ],
    )


def run_export(architectures, seeds, epochs: int, train_size: int, append: bool) -> None:
    import json

    import keras
    import tensorflow as tf

    from components.export import export
    from components.training import models, trainer
    from components.training.spec import TrainingConfig

    runs = []
    existing = os.path.join(common.RESULTS_DIR, "export.json")
    if append and os.path.exists(existing):
        with open(existing) as handle:
            runs = [run for run in json.load(handle)["runs"] if (run["architecture"], run["seed"]) not in
                    {(name, seed) for name in architectures for seed in seeds}]
    for name in architectures:
        for seed in seeds:
            data = common.mnist_split(labeled=train_size, seed=seed)
            keras.backend.clear_session()
            keras.utils.set_random_seed(seed)
            config = TrainingConfig(architecture=name, epochs=epochs, batch_size=64, learning_rate=1e-3, seed=seed,
                                    verbose=0)
            train = (data["train_x"], np.eye(10, dtype="float32")[data["train_y"]])
            dataset = tf.data.Dataset.from_tensor_slices(train).shuffle(4096, seed=seed).batch(64)
            model, _ = trainer.fit(lambda: models.build_architecture(name, _data_spec(), (28, 28)), dataset, None,
                                   config, "classification", len(train[0]))
            test_x, test_y = data["test_x"][:1000], data["test_y"][:1000]
            with tempfile.TemporaryDirectory() as directory:
                results = export.export_formats(
                    model, export.FORMATS, directory, test_x, test_y, "classification",
                    representative_images=data["train_x"][:200], batch_size=100,
                )
            runs.append({"architecture": name, "seed": seed, "epochs": epochs, "train_size": train_size,
                         "formats": results})
            print(name, seed, {k: (v["max_prob_diff"], v["accuracy_delta"]) for k, v in results.items()}, flush=True)
    write_export(runs, train_size)


def write_export(runs, train_size: int) -> None:
    """results/export.{json,md}: one row per architecture, seed and format (formats in `export.FORMATS` order)."""
    from components.export import export

    rows = []
    for run in sorted(runs, key=lambda run: (run["architecture"], run["seed"])):
        for fmt, result in sorted(run["formats"].items(), key=lambda item: export.FORMATS.index(item[0])):
            rows.append([
                run["architecture"], run["seed"], run["epochs"], fmt, f"{result['keras_accuracy'] * 100:.2f}",
                f"{result['accuracy'] * 100:.2f}", f"{result['accuracy_delta'] * 100:+.2f}",
                f"{result['max_prob_diff']:.2e}", f"{result['size_bytes'] / 1e6:.2f}",
            ])
    common.write_results(
        "export", {"runs": runs}, rows,
        ["architecture", "seed", "epochs", "format", "Keras acc %", "format acc %", "acc delta pp", "max |p diff|",
         "size MB"],
        notes=[
            f"MNIST-5k: {train_size} training images, random init; parity on 1,000 held-out test images.",
            "tflite_int8: full-integer PTQ (int8 weights, activations, input and output) calibrated on 200 training "
            "images (ExportConfig.representative_examples default).",
            "Goals: float formats max |p diff| <= 1e-4; int8 accuracy drop <= 1 pp.",
            "The int8 drop follows how well the model is trained, not the calibration: mobilenet_v3_small at 2 epochs "
            "(78-82% Keras acc) lost 1.1/1.2/0.0 pp (seeds 0/1/2), at 5 epochs (88-90%) +0.2/+0.2/+0.3 pp; 500 or "
            "1,000 calibration images, 20 per class, batches of 32, the old quantizer or per-tensor weights did not "
            "help consistently (results/export_int8.md, benchmarks/export_int8_study.py). mobilenet_v3_small rows "
            "run 5 epochs for that reason.",
        ],
    )


def run_transfer(architecture: str, seeds, source_size: int, target_size: int, source_epochs: int,
                 target_epochs: int, warmup_epochs: int) -> None:
    """Pretrain on digits 0-4, save the backbone weights locally, fine-tune on few labels of digits 5-9 vs scratch."""
    import keras
    import tensorflow as tf

    from components.training import backbones, fine_tuning, models, trainer
    from components.training.spec import TrainingConfig

    def subset(x, y, digits, limit):
        keep = np.isin(y, digits)
        return x[keep][:limit], y[keep][:limit] - min(digits)

    def fit(x, y, config, build, callbacks=()):
        dataset = tf.data.Dataset.from_tensor_slices((x, np.eye(5, dtype="float32")[y])).shuffle(4096, seed=config.seed)
        model, _ = trainer.fit(build, dataset.batch(config.batch_size), None, config, "classification", len(x),
                               extra_callbacks=callbacks)
        return model

    data = common.mnist_split(labeled=4000, seed=0)
    source_x, source_y = subset(data["train_x"], data["train_y"], [0, 1, 2, 3, 4], source_size)
    keras.backend.clear_session()
    source_config = TrainingConfig(architecture=architecture, epochs=source_epochs, batch_size=64, seed=0, verbose=0)
    source = fit(source_x, source_y, source_config, lambda: models.build_architecture(architecture, _data_spec(5), (28, 28)))
    weights_dir = tempfile.mkdtemp()
    weights = os.path.join(weights_dir, f"{architecture}_digits04.weights.h5")
    backbones.save_backbone_weights(source, weights)
    test_x, test_y = subset(data["test_x"], data["test_y"], [5, 6, 7, 8, 9], 10_000)
    arms = {"scratch": [], "pretrained_fine_tune": []}
    for seed in seeds:
        split = common.mnist_split(labeled=4000, seed=seed)
        target_x, target_y = subset(split["train_x"], split["train_y"], [5, 6, 7, 8, 9], target_size)
        for arm in arms:
            keras.backend.clear_session()
            config = TrainingConfig(architecture=architecture, epochs=target_epochs, batch_size=32, seed=seed,
                                    verbose=0, **({"pretrained_weights": weights,
                                                   "fine_tune": {"warmup_epochs": warmup_epochs}}
                                                  if arm != "scratch" else {}))
            build = lambda: models.build_architecture(architecture, _data_spec(5), (28, 28))  # noqa: E731
            if arm != "scratch":
                build = (lambda inner: lambda: backbones.with_pretrained_weights(inner(), weights))(build)
            model = fit(target_x, target_y, config, build,
                        fine_tuning.schedule_callbacks(config.fine_tune, config.epochs))
            probabilities = keras.ops.convert_to_numpy(model.predict(test_x, batch_size=256, verbose=0))
            accuracy = float(np.mean(probabilities.argmax(-1) == test_y))
            arms[arm].append(accuracy)
            print(arm, seed, accuracy, flush=True)
    stats = {arm: common.mean_std(values) for arm, values in arms.items()}
    rows = [[arm, architecture, target_size, target_epochs, common.format_mean_std(value)] for arm, value in stats.items()]
    common.write_results(
        "backbones_transfer",
        {"architecture": architecture, "source_size": source_size, "target_size": target_size,
         "source_epochs": source_epochs, "target_epochs": target_epochs, "warmup_epochs": warmup_epochs,
         "seeds": list(seeds), "accuracy": stats},
        rows, ["arm", "architecture", "target labels", "epochs", "test accuracy % (mean ± std over seeds)"],
        notes=[
            f"Source task: MNIST-5k digits 0-4, {len(source_x)} images, {source_epochs} epochs from random init; "
            "backbone weights saved to a local .weights.h5 file.",
            f"Target task: digits 5-9, {target_size} labeled images per seed; tested on {len(test_x)} held-out "
            "test images of digits 5-9.",
            f"pretrained_fine_tune: pretrained_weights + fine_tune {{warmup_epochs: {warmup_epochs}, "
            "unfreeze_learning_rate_factor: 0.1}; scratch: same architecture and epochs, random init.",
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("timing", "export", "transfer", "convnext_depthwise", "accuracy"),
                        required=True)
    parser.add_argument("--architectures", nargs="*")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=3000)
    parser.add_argument("--large-seeds", type=int, nargs="*", default=[0],
                        help="part accuracy: seeds of the library backbones (the small CNNs run --seeds)")
    parser.add_argument("--append", action="store_true",
                        help="keep other architectures' runs in export.json / backbones_accuracy.json")
    args = parser.parse_args()
    if args.part == "convnext_depthwise":  # Side by side: ConvNeXt as built vs its depthwise rewrite, 32 px.
        for depthwise in (False, True):
            print("depthwise_rewrite" if depthwise else "grouped_conv_xla",
                  time_train_step("convnext_tiny", 32, 32, args.steps, depthwise), flush=True)
    elif args.part == "accuracy":
        from benchmarks.backbones_accuracy import run_accuracy

        run_accuracy(args.architectures or ARCHITECTURES, args.seeds, args.large_seeds, args.epochs, args.append)
    elif args.part == "transfer":
        architecture = (args.architectures or ["mobilenet_v3_small"])[0]
        run_transfer(architecture, args.seeds, 1500, 200, args.epochs + 1, args.epochs * 3, 2)
    elif args.part == "timing":
        run_timing(args.architectures or ARCHITECTURES, args.steps)
    else:
        run_export(args.architectures or ("small_cnn",), args.seeds, args.epochs, args.train_size, args.append)


if __name__ == "__main__":
    main()
