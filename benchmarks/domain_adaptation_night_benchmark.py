"""Domain adaptation through the YAML user path on a night-camera shift of MNIST-5k.

Data (per seed, stratified per digit; MNIST-5k has 500 images per digit):

    source/train/<digit>/   150 labeled daylight images (PNG)
    source/val/<digit>/      50 labeled daylight images: autofit's decisions
    source/test/<digit>/     50 labeled daylight images: the source-domain accuracy
    target/unlabeled/     1,500 night images (150 per digit, labels dropped): the whole target folder, what
                          adaptation learns from (no target label: DomainAdaptation keeps its `default_method`)
    night_test/<digit>/   1,000 labeled night images (100 per digit): the reported target accuracy, read by
                          this script only (outside the target folder: no decision ever sees them)

Why `calibration: false` (both runs; `--calibrate` leaves it to autofit): autofit's Calibration wraps the champion
as `Input -> small_cnn (nested Model) -> temperature layer`, DomainAdaptation looks for BatchNormalization only
among the top-level layers, so AdaBN silently returns the source model and self-training then fails with
"AdaBN needs BatchNormalization layers; model 'small_cnn_calibrated' has none".

Why night_test/ is not `target/test/`: image-folder translation only reads a split layout when a `train/`
split exists (readers/image_folder._split_layout), so `target/{unlabeled,test/<digit>}` is read as one class
named "test" and DomainAdaptation refuses it (classes ['test'] vs the source's digits).

The night camera (`night_camera`, seeded per image): darker (gain 0.25-0.45), compressed contrast with a lifted
black level (0.04-0.12, sensor floor), Gaussian blur (sigma 0.8-1.3 px), Gaussian sensor noise (sigma 0.03-0.06)
and JPEG compression (quality 30-60). Source and target images are different digits (disjoint rows).

Two autofit runs per seed, through `pipelines.autofit.run.run(config_from_dict(...))` as a user's YAML would:
  adapted:      `data:` (source) + `budget:` + `domain_adaptation: {target: {format: image_folder, path: ...}}`
  source_only:  the same with `domain_adaptation: false`
Both champions and the adapted model are then scored on the source test split and on the night test split.

    .venv/bin/python benchmarks/domain_adaptation_night_benchmark.py --seeds 0 1 2 --budget quick
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from typing import Dict, List, Optional

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import format_mean_std, mean_std, write_results  # noqa: E402

SOURCE_SPLITS = {"train": 150, "val": 50, "test": 50}  # labeled daylight images per digit
TARGET_SPLITS = {"unlabeled": 150, "night_test": 100}  # night images per digit (unlabeled: labels dropped)
GOAL_RATIO = 0.90


def night_camera(image: np.ndarray, rng: np.random.Generator) -> bytes:
    """One uint8 `[H,W]` daylight digit -> JPEG bytes of the same digit seen by a night camera."""
    from PIL import Image
    from scipy.ndimage import gaussian_filter

    x = image.astype("float32") / 255.0
    x = gaussian_filter(x, sigma=rng.uniform(0.8, 1.3))
    x = rng.uniform(0.04, 0.12) + rng.uniform(0.25, 0.45) * x  # dark, low contrast, lifted black level
    x = x + rng.normal(0.0, rng.uniform(0.03, 0.06), size=x.shape)  # sensor noise
    pixels = np.clip(np.round(x * 255.0), 0, 255).astype("uint8")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(rng.integers(30, 61)))
    return buffer.getvalue()


def write_domains(root: str, seed: int) -> Dict[str, int]:
    """Writes root/source and root/target (layout in the module docstring); returns images per split."""
    from components.data_translation.images import encode_png
    from components.data_translation.mnist import load_mnist

    images, labels, rows = load_mnist()
    rng = np.random.default_rng(seed)
    camera = np.random.default_rng(10_000 + seed)
    counts: Dict[str, int] = {}

    def write(directory: str, name: str, data: bytes) -> None:
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, name), "wb") as handle:
            handle.write(data)

    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        start = 0
        for domain, splits in (("source", SOURCE_SPLITS), ("target", TARGET_SPLITS)):
            for split, count in splits.items():
                for index in members[start:start + count]:
                    if domain == "source":
                        folder = os.path.join(root, domain, split, str(digit))
                    elif split == "unlabeled":
                        folder = os.path.join(root, domain, split)
                    else:
                        folder = os.path.join(root, split, str(digit))
                    if domain == "source":
                        write(folder, f"mnist_{rows[index]:05d}.png", encode_png(images[index]))
                    else:
                        write(folder, f"night_{rows[index]:05d}.jpg", night_camera(images[index], camera))
                key = f"{domain}/{split}"
                counts[key] = counts.get(key, 0) + len(members[start:start + count])
                start += count
    return counts


def load_folder(folder: str, model) -> tuple:
    """`(images [N,H,W,C] float in [0,1], labels [N])` of `folder/<digit>/*`, decoded as translation decodes."""
    import tensorflow as tf

    from components.types import examples_io

    height, width, channels = (int(side) for side in model.input_shape[1:4])
    images, labels = [], []
    for digit in sorted(os.listdir(folder)):
        for name in sorted(os.listdir(os.path.join(folder, digit))):
            with open(os.path.join(folder, digit, name), "rb") as handle:
                images.append(examples_io.decode_image(tf.constant(handle.read()), channels, (height, width)))
            labels.append(int(digit))
    return np.stack([np.asarray(image) for image in images]), np.asarray(labels)


def accuracy(model, data: tuple) -> float:
    """Top-1 accuracy of a Keras classifier (softmax output) on `(images, labels)`."""
    images, labels = data
    probabilities = np.concatenate([np.asarray(model(images[start:start + 256], training=False))
                                    for start in range(0, len(images), 256)])
    return float(np.mean(np.argmax(probabilities, axis=1) == labels))


def input_artifact(graph, component: str, key: str):
    execution = graph.execution(component)
    for edge in graph.inputs_of(execution.id):
        if edge.key == key:
            return graph.artifacts[edge.artifact_id]
    raise KeyError(f"{component} has no input {key!r}")


def per_method_accuracy(champion, source_uri: str, target_uri: str, data_spec, seed: int,
                        night: tuple) -> Dict[str, Dict[str, float]]:
    """Every DomainAdaptation method from the same champion, scored on the night test images (diagnosis only).

    The component cannot score them itself here (its target has no labeled split, see the module docstring);
    this rebuilds each method with the component's own functions and default config.
    """
    from components.domain_adaptation import adaptation
    from components.domain_adaptation import domain_adaptation as da
    from components.domain_adaptation.spec import METHODS, DomainAdaptationConfig

    config = DomainAdaptationConfig(seed=seed, verbose=0)
    domains = da.load_domains(source_uri, target_uri, data_spec, config, tuple(champion.input_shape[1:3]))
    builders = {
        "source_only": lambda: champion,
        "adabn": lambda: adaptation.adabn(champion, domains.target_images.batch(256)),
        "self_training": lambda: da.self_train(adaptation.adabn(champion, domains.target_images.batch(256)),
                                               domains, config, data_spec.task),
        "coral": lambda: da.align(champion, "coral", domains, config),
        "dann": lambda: da.align(champion, "dann", domains, config),
    }
    out = {}
    for method in METHODS:
        started = time.time()
        out[method] = {"night_test_accuracy": accuracy(builders[method](), night),
                       "seconds": round(time.time() - started, 1)}
        print(f"[per-method] {method}: {out[method]}", flush=True)
    return out


def normalization_probe(data_root: str, seed: int = 0, epochs: int = 20) -> Dict[str, Dict[str, float]]:
    """Diagnosis: the small_cnn layout trained on the source images with and without per-image standardization.

    Trained in-process with Keras (Adam 1e-3, batch 32, early stopping on source val), then scored on daylight
    test and night test, source-only and after AdaBN on the target's unlabeled images (the component's adabn).
    """
    import glob

    import keras
    import tensorflow as tf
    from PIL import Image

    from components.domain_adaptation import adaptation

    def read(path: str) -> np.ndarray:
        return np.asarray(Image.open(path).convert("L"), "float32")[..., None] / 255.0

    def labeled(folder: str) -> tuple:
        pairs = [(read(path), int(digit)) for digit in sorted(os.listdir(folder))
                 for path in sorted(glob.glob(os.path.join(folder, digit, "*")))]
        return np.stack([image for image, _ in pairs]), np.asarray([label for _, label in pairs])

    train, val = labeled(os.path.join(data_root, "source", "train")), labeled(os.path.join(data_root, "source", "val"))
    daylight, night = labeled(os.path.join(data_root, "source", "test")), labeled(os.path.join(data_root, "night_test"))
    target = np.stack([read(path) for path in sorted(glob.glob(os.path.join(data_root, "target", "unlabeled", "*")))])

    class Standardize(keras.layers.Layer):
        def call(self, images):
            mean = keras.ops.mean(images, axis=(1, 2, 3), keepdims=True)
            return (images - mean) / (keras.ops.std(images, axis=(1, 2, 3), keepdims=True) + 1e-3)

    def build(standardize: bool, width: int = 32):
        keras.utils.set_random_seed(seed)
        inputs = keras.Input(train[0].shape[1:])
        x = Standardize()(inputs) if standardize else inputs
        for multiplier in (1, 2):
            for _ in range(2):
                x = keras.layers.Conv2D(width * multiplier, 3, padding="same", use_bias=False)(x)
                x = keras.layers.ReLU()(keras.layers.BatchNormalization(momentum=0.9)(x))
            x = keras.layers.MaxPooling2D()(x)
        x = keras.layers.Dropout(0.3)(keras.layers.Dense(width * 4, activation="relu")(
            keras.layers.GlobalAveragePooling2D()(x)))
        return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))

    out = {}
    for standardize in (False, True):
        model = build(standardize)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
        model.fit(train[0], train[1], batch_size=32, epochs=epochs, validation_data=val, verbose=0,
                  callbacks=[keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)])
        adapted = adaptation.adabn(model, tf.data.Dataset.from_tensor_slices(target).batch(256))
        key = "per_image_standardized_input" if standardize else "raw_input"
        out[key] = {"daylight_test": accuracy(model, daylight), "night_source_only": accuracy(model, night),
                    "night_adabn": accuracy(adapted, night)}
        print(f"[normalization probe] {key}: {out[key]}", flush=True)
    return out


def run_seed(seed: int, budget, work: str, per_method: bool = False, calibrate: bool = False) -> Dict[str, object]:
    import tensorflow as tf

    from components.common import model_io
    from components.common.artifact_io import read_json
    from components.domain_adaptation.spec import SUMMARY_FILE_NAME
    from components.types.data_spec import read_data_spec
    from pipelines import lineage as lineage_lib
    from pipelines.autofit import run as autofit_run
    from pipelines.config import config_from_dict

    root = os.path.join(work, f"seed-{seed}")
    shutil.rmtree(root, ignore_errors=True)
    counts = write_domains(os.path.join(root, "data"), seed)
    source = os.path.join(root, "data", "source")
    target = os.path.join(root, "data", "target")
    base = {"data": {"format": "image_folder", "path": source}, "seed": seed, "budget": budget}
    if not calibrate:
        base["calibration"] = False
    runs = {
        "adapted": dict(base, pipeline_name="night-adapted", run_dir=os.path.join(root, "adapted"),
                        domain_adaptation={"target": {"format": "image_folder", "path": target}}),
        "source_only": dict(base, pipeline_name="night-source-only", run_dir=os.path.join(root, "source_only"),
                            domain_adaptation=False),
    }
    row: Dict[str, object] = {"seed": seed, "counts": counts}
    for name, raw in runs.items():
        started = time.time()
        summary = autofit_run.run(config_from_dict(raw), echo=lambda line, n=name: print(f"[seed {seed} {n}] {line}"))
        seconds = time.time() - started
        graph = lineage_lib.read_lineage(raw["run_dir"])
        champion = model_io.load_model(input_artifact(graph, "Evaluation", "model").uri)
        daylight = load_folder(os.path.join(source, "test"), champion)
        night = load_folder(os.path.join(root, "data", "night_test"), champion)
        row[f"{name}_seconds"] = round(seconds, 1)
        row[f"{name}_champion"] = summary["champion"]
        row[f"{name}_evaluation_accuracy"] = summary["evaluation"]["metrics"].get("accuracy")
        row[f"{name}_plan"] = [(d["name"], d["decision"]) for d in
                               read_json(os.path.join(raw["run_dir"], "autofit", "plan.json"))["techniques"]
                               if d["decision"] in ("try", "forced")]
        row[f"{name}_champion_source_accuracy"] = accuracy(champion, daylight)
        row[f"{name}_champion_target_accuracy"] = accuracy(champion, night)
        if name == "adapted":
            adapted_artifact = lineage_lib.find_output(graph, "DomainAdaptation", "model")
            adapted = model_io.load_model(adapted_artifact.uri)
            report_path = os.path.join(adapted_artifact.uri, SUMMARY_FILE_NAME)
            report = read_json(report_path) if tf.io.gfile.exists(report_path) else {}
            row["method"] = report.get("best_method", adapted_artifact.properties.get("best_method"))
            row["method_seconds"] = {result["method"]: round(result["seconds"], 1)
                                     for result in report.get("results", [])}
            row["adapted_target_accuracy"] = accuracy(adapted, night)
            row["adapted_source_accuracy"] = accuracy(adapted, daylight)
            if per_method:
                data_spec = read_data_spec(lineage_lib.find_output(graph, "DataTranslation", "data_spec").uri)
                row["per_method"] = per_method_accuracy(
                    champion, lineage_lib.find_output(graph, "DataTranslation", "examples").uri,
                    lineage_lib.find_output(graph, "TargetDataTranslation", "examples").uri, data_spec, seed, night)
        print(f"[seed {seed}] {name}: {seconds:.0f} s", flush=True)
    row["source_accuracy"] = row["adapted_champion_source_accuracy"]
    row["source_only_target_accuracy"] = row["source_only_champion_target_accuracy"]
    row["ratio_adapted_to_source"] = row["adapted_target_accuracy"] / max(row["source_accuracy"], 1e-9)
    row["ratio_source_only_to_source"] = (row["source_only_target_accuracy"]
                                          / max(row["source_only_champion_source_accuracy"], 1e-9))
    return row


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", default="quick")
    parser.add_argument("--name", default="domain_adaptation_night")
    parser.add_argument("--work", default=None, help="keep the data and runs here (default: a temporary folder)")
    parser.add_argument("--per-method-seeds", type=int, nargs="*", default=[0],
                        help="seeds on which every adaptation method is rebuilt and scored on the night test")
    parser.add_argument("--calibrate", action="store_true",
                        help="leave calibration to autofit (default: `calibration: false`, see the module docstring)")
    parser.add_argument("--merge", nargs="+", default=None, metavar="RESULTS_JSON",
                        help="run nothing: pool the runs of these results files (seeds run in separate processes)")
    parser.add_argument("--normalization-probe", default=None, metavar="DATA_ROOT",
                        help="run only normalization_probe on a kept data folder (WORK/seed-N/data); "
                             "writes --probe-out")
    parser.add_argument("--probe-out", default=None, help="JSON written by --normalization-probe, read by --merge")
    args = parser.parse_args(argv)
    if args.normalization_probe:
        import json

        result = normalization_probe(args.normalization_probe, seed=args.seeds[0])
        with open(args.probe_out or os.path.join(args.normalization_probe, "normalization_probe.json"), "w") as handle:
            json.dump(result, handle, indent=2)
        return 0
    if args.merge:
        import json

        rows = []
        for path in args.merge:
            with open(path) as handle:
                rows += json.load(handle)["runs"]
        rows.sort(key=lambda row: row["seed"])
        args.seeds = [row["seed"] for row in rows]
        probe = None
        if args.probe_out:
            with open(args.probe_out) as handle:
                probe = json.load(handle)
        report(rows, args, probe)
        return 0
    budget = float(args.budget) if args.budget.replace(".", "", 1).isdigit() else args.budget
    work = args.work or tempfile.mkdtemp(prefix="da-night-bench-")
    rows = []
    for seed in args.seeds:
        rows.append(run_seed(seed, budget, work, per_method=seed in args.per_method_seeds,
                             calibrate=args.calibrate))
        print(rows[-1], flush=True)
    report(rows, args)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def report(rows: List[Dict[str, object]], args, probe: Optional[Dict[str, Dict[str, float]]] = None) -> None:
    """Aggregates per-seed rows into benchmarks/results/<name>.{json,md}."""
    stats = {key: mean_std(row[key] for row in rows) for key in (
        "source_only_target_accuracy", "adapted_target_accuracy", "source_accuracy", "ratio_adapted_to_source",
        "source_only_champion_source_accuracy", "adapted_source_accuracy")}
    probed = [row for row in rows if row.get("per_method")]
    per_method = {method: mean_std(row["per_method"][method]["night_test_accuracy"] for row in probed)
                  for method in (probed[0]["per_method"] if probed else {})}
    time_ratio = mean_std(row["adapted_seconds"] / max(row["source_only_seconds"], 1e-6) for row in rows)
    table = [[
        len(rows), format_mean_std(stats["source_accuracy"]), format_mean_std(stats["source_only_target_accuracy"]),
        format_mean_std(stats["adapted_target_accuracy"]), format_mean_std(stats["ratio_adapted_to_source"]),
        ", ".join(sorted({str(row["method"]) for row in rows})),
        f"{np.mean([row['adapted_seconds'] for row in rows]):.0f} s ({time_ratio['mean']:.2f}x source-only)",
        "yes" if stats["ratio_adapted_to_source"]["mean"] >= GOAL_RATIO else "no",
    ]]
    notes = [
        f"budget {args.budget}; CPU (2 cores shared with other jobs); seeds {args.seeds}; "
        + ("calibration left to autofit" if args.calibrate else "`calibration: false` in both runs (see the script)"),
        "source accuracy: the adapted run's champion (the source model) on 500 daylight test images; target "
        "accuracies on 1,000 night test images that no decision used (the target folder has no labeled val/)",
        f"goal: adapted target accuracy >= {GOAL_RATIO:.0%} of source accuracy (ratio column, x100)",
        f"every DomainAdaptation method rebuilt from the same champion (seeds {[row['seed'] for row in probed]}), "
        "scored on the same night test images (diagnosis, not used to pick): "
        + "; ".join(f"{method} {format_mean_std(stat)}" for method, stat in per_method.items()),
        "source-only run's champion on daylight test: "
        + format_mean_std(stats["source_only_champion_source_accuracy"])
        + "; adapted model back on daylight test: " + format_mean_std(stats["adapted_source_accuracy"]),
    ]
    payload = {"budget": args.budget, "seeds": args.seeds, "runs": rows, "summary": stats, "per_method": per_method,
               "time_ratio_adapted_to_source_only": time_ratio, "source_splits": SOURCE_SPLITS,
               "target_splits": TARGET_SPLITS, "goal_ratio": GOAL_RATIO}
    if probe:
        payload["normalization_probe"] = probe
        notes.append("normalization probe (`--normalization-probe`, seed-0 data, same small_cnn layout trained in "
                     "Keras): " + "; ".join(f"{key}: daylight {100 * value['daylight_test']:.1f}%, night source-only "
                                            f"{100 * value['night_source_only']:.1f}%, night AdaBN "
                                            f"{100 * value['night_adabn']:.1f}%" for key, value in probe.items()))
    write_results(args.name, payload, table, [
        "seeds", "source acc %", "source-only target acc %", "adapted target acc %", "adapted/source x100",
        "method picked", "adapted run wall time", f">= {GOAL_RATIO:.0%} goal"], notes)


if __name__ == "__main__":
    raise SystemExit(main())
