"""What sets the accuracy drop of full-integer TFLite (tflite_int8) for one architecture (issue #15).

The architecture is trained as in `backbones_benchmark.py --part export`
(MNIST-5k, 28 px, random init, `--epochs`), then converted to int8 under
several calibration / converter settings; every file runs on the same 1,000
held-out test images as the Keras model. Trained models are cached under
`--cache` so settings can be added without retraining.

    python benchmarks/export_int8_study.py --seeds 0 1 2 --epochs 2 5
    python benchmarks/export_int8_study.py --seeds 0 1 2 --epochs 2 5 --margins
        # -> results/export_int8.{json,md}

Settings (all full-integer: int8 weights, activations, input and output,
except `float_io`):
    first200      the first 200 training images, one per calibration step (as the platform does)
    first500      the first 500 training images
    first1000     the first 1,000 training images
    balanced200   20 images of each class
    batch32       the 200 images of first200 in batches of 32 per step
    old_quant     first200 with the converter's old quantizer
    per_tensor    first200, per-tensor weight scales (per-channel off)
    float_io      first200 with float32 input and output (int8 inside)
    float_hswish_mul  diagnostic, not full-integer: first200 with every
                  HARD_SWISH and MUL (the squeeze-excite gates) left in float
                  (QuantizationDebugger denylist), float I/O

(16-bit activations with int8 weights cannot be tried on MobileNetV3 in
TF 2.16: "Quantization to 16x8-bit not yet supported for op: 'HARD_SWISH'".)

`--margins`: for the first200 file of each model, how the images whose
top-1 class flips under int8 relate to the Keras model's confidence margin
(top-1 minus top-2 probability).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import common  # noqa: E402

SETTINGS = ("first200", "first500", "first1000", "balanced200", "batch32", "old_quant", "per_tensor", "float_io",
            "float_hswish_mul")


def _calibration(setting: str, train_x: np.ndarray, train_y: np.ndarray) -> np.ndarray:
    if setting == "first500":
        return train_x[:500]
    if setting == "first1000":
        return train_x[:1000]
    if setting == "balanced200":
        return np.concatenate([train_x[train_y == label][:20] for label in range(10)])
    return train_x[:200]


def convert(model, setting: str, images: np.ndarray) -> bytes:
    import tensorflow as tf

    from components.export import export

    with tempfile.TemporaryDirectory() as directory:
        export._write_image_saved_model(model, directory)
        converter = tf.lite.TFLiteConverter.from_saved_model(directory)
        step = 32 if setting == "batch32" else 1

        def representative_dataset():
            for start in range(0, len(images), step):
                yield [images[start : start + step].astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_dataset
        if setting == "float_hswish_mul":
            debugger = tf.lite.experimental.QuantizationDebugger(
                converter=converter, debug_dataset=lambda: ([image[None]] for image in images[:8]),
                debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=["HARD_SWISH", "MUL"]),
            )
            return debugger.get_nondebug_quantized_model()
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if setting != "float_io":
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        if setting == "old_quant":
            converter.experimental_new_quantizer = False
        if setting == "per_tensor":
            converter._experimental_disable_per_channel = True
        return converter.convert()


def trained_model(name: str, seed: int, epochs: int, data, cache: str):
    import keras
    import tensorflow as tf

    from benchmarks.backbones_benchmark import _data_spec
    from components.training import models, trainer
    from components.training.spec import TrainingConfig

    path = os.path.join(cache, f"{name}_seed{seed}_epochs{epochs}.keras")
    if os.path.exists(path):
        return keras.models.load_model(path, compile=False)
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    config = TrainingConfig(architecture=name, epochs=epochs, batch_size=64, learning_rate=1e-3, seed=seed, verbose=0)
    train = (data["train_x"], np.eye(10, dtype="float32")[data["train_y"]])
    dataset = tf.data.Dataset.from_tensor_slices(train).shuffle(4096, seed=seed).batch(64)
    model, _ = trainer.fit(lambda: models.build_architecture(name, _data_spec(), (28, 28)), dataset, None,
                           config, "classification", len(train[0]))
    os.makedirs(cache, exist_ok=True)
    model.save(path)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--architecture", default="mobilenet_v3_small")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, nargs="+", default=[2])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS)
    parser.add_argument("--train-size", type=int, default=3000)
    parser.add_argument("--margins", action="store_true", help="only the margin analysis of first200")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "export_int8_study"))
    args = parser.parse_args()

    import keras

    from components.export import export

    results_path = os.path.join(common.RESULTS_DIR, "export_int8.json")
    runs, margins = [], []
    if os.path.exists(results_path):
        with open(results_path) as handle:
            previous = json.load(handle)
        runs, margins = previous["runs"], previous.get("margins", [])
    done = {(run["architecture"], run["seed"], run["epochs"], run["setting"]) for run in runs}
    for epochs in args.epochs:
        for seed in args.seeds:
            data = common.mnist_split(labeled=args.train_size, seed=seed)
            model = trained_model(args.architecture, seed, epochs, data, args.cache)
            test_x, test_y = data["test_x"][:1000], data["test_y"][:1000]
            reference = export.predict_batches(
                lambda batch: keras.ops.convert_to_numpy(model(batch, training=False)), test_x, 100)
            if args.margins:
                flatbuffer = convert(model, "first200", _calibration("first200", data["train_x"], data["train_y"]))
                candidate = export.predict_batches(export.TFLiteRunner(flatbuffer), test_x, 100)
                entry = {"architecture": args.architecture, "seed": seed, "epochs": epochs,
                         **margin_analysis(reference, candidate, test_y)}
                margins = [m for m in margins if (m["architecture"], m["seed"], m["epochs"]) !=
                           (args.architecture, seed, epochs)] + [entry]
                print(json.dumps(entry), flush=True)
                _write(runs, margins)
                continue
            for setting in args.settings:
                if (args.architecture, seed, epochs, setting) in done:
                    continue
                start = time.time()
                flatbuffer = convert(model, setting, _calibration(setting, data["train_x"], data["train_y"]))
                seconds = time.time() - start
                result = export.parity(reference, export.predict_batches(export.TFLiteRunner(flatbuffer), test_x, 100),
                                       test_y, "classification")
                run = {"architecture": args.architecture, "seed": seed, "epochs": epochs, "setting": setting,
                       "convert_seconds": seconds, **result}
                runs = [r for r in runs if (r["architecture"], r["seed"], r["epochs"], r["setting"]) !=
                        (args.architecture, seed, epochs, setting)] + [run]
                print(json.dumps(run), flush=True)
                _write(runs, margins)
    _write(runs, margins)


def margin_analysis(reference: np.ndarray, candidate: np.ndarray, labels: np.ndarray, low: float = 0.2):
    """Flips of the top-1 class under int8 against the Keras top-1 minus top-2 probability margin."""
    ordered = np.sort(reference, axis=-1)
    margin = ordered[:, -1] - ordered[:, -2]
    flipped = np.argmax(candidate, -1) != np.argmax(reference, -1)
    keras_right = np.argmax(reference, -1) == labels
    int8_right = np.argmax(candidate, -1) == labels
    return {
        "median_margin": float(np.median(margin)),
        "low_margin_share": float(np.mean(margin < low)),
        "flips": int(flipped.sum()),
        "flips_low_margin": int((flipped & (margin < low)).sum()),
        "flips_right_to_wrong": int((flipped & keras_right & ~int8_right).sum()),
        "flips_wrong_to_right": int((flipped & ~keras_right & int8_right).sum()),
        "low_margin": low,
    }


def _write(runs, margins=()) -> None:
    runs = sorted(runs, key=lambda r: (r["architecture"], r["epochs"], SETTINGS.index(r["setting"]), r["seed"]))
    rows = []
    groups = {}
    for run in runs:
        groups.setdefault((run["architecture"], run["epochs"], run["setting"]), []).append(run)
    for (architecture, epochs, setting), group in groups.items():
        group = sorted(group, key=lambda r: r["seed"])
        deltas = [r["accuracy_delta"] * 100 for r in group]
        rows.append([
            architecture, epochs, setting, " / ".join(str(r["seed"]) for r in group),
            " / ".join(f"{r['keras_accuracy'] * 100:.1f}" for r in group),
            " / ".join(f"{d:+.1f}" for d in deltas), f"{np.mean(deltas):+.2f}", f"{min(deltas):+.1f}",
            " / ".join(f"{r['top1_agreement'] * 100:.1f}" for r in group),
            " / ".join(f"{r['mean_prob_diff']:.4f}" for r in group),
        ])
    margin_lines = [
        f"Margins ({m['architecture']}, {m['epochs']} epochs, seed {m['seed']}, first200): median Keras top-1 margin "
        f"{m['median_margin']:.2f}, {m['low_margin_share'] * 100:.1f}% of images below {m['low_margin']}; "
        f"{m['flips']} top-1 flips, {m['flips_low_margin']} of them below {m['low_margin']}; "
        f"right->wrong {m['flips_right_to_wrong']}, wrong->right {m['flips_wrong_to_right']}."
        for m in sorted(margins, key=lambda m: (m["architecture"], m["epochs"], m["seed"]))
    ]
    common.write_results(
        "export_int8", {"runs": runs, "margins": list(margins)}, rows,
        ["architecture", "epochs", "setting", "seeds", "Keras acc %", "int8 acc delta pp", "mean delta pp",
         "worst delta pp", "top-1 agreement %", "mean |p diff|"],
        notes=[
            "MNIST-5k (3,000 training images, 28 px, random init) as in backbones_benchmark --part export; "
            "int8 vs Keras on the same 1,000 held-out test images.",
            "Settings: see benchmarks/export_int8_study.py docstring. Every seed of every setting is listed.",
            "Reading: no calibration or converter setting moves the int8 drop beyond seed noise (a flip is 0.1 pp); "
            "training does. 2-epoch models lose 1.1-1.7 pp on their worst seed under every setting, 5-epoch "
            "models stay within 1 pp under every setting. Int8 top-1 flips fall almost only on images whose "
            "Keras top-1 margin is below 0.2, and a 2-epoch model has about 3 times as many of those. Keeping "
            "hard-swish and the squeeze-excite multiplies in float does not reduce the flips: the error is not "
            "concentrated there.",
            *margin_lines,
        ],
    )


if __name__ == "__main__":
    main()
