"""Evidence for the semi-supervised components on MNIST-5k (issue 5).

Part 1, learning from unlabeled images: 500 labeled training images, the
rest of the training pool (2,500) unlabeled, fixed eval (500, picks noisy
student's best iteration) and test (1,500) sets; per seed:
  supervised-500, supervised-500 with the students' strong augmentation
  (ablation), contrastive-pretrained + fine-tuned, noisy student (teacher =
  supervised-500), both (teacher = the contrastive fine-tuned model), and the
  all-labels model (all 3,000 pool labels) for the gap.
Part 2, domain adaptation: a source model trained on 2,000 MNIST images,
adapted to MNIST with inverted contrast and thicker strokes (3x3 dilation via
tf.nn.max_pool2d): target unlabeled = the shifted 1,000 other pool images,
target validation = shifted eval set, target test = shifted test set.

Every method runs through the components' own code (pretrain_backbone,
train_classifier with warm start, run_noisy_student, adapt) on canonical
Examples written to a temporary directory. The model is `build_model` below,
used as a module file (this file), so it is small enough for 2 CPU cores.

Run: .venv/bin/python benchmarks/semi_supervised_benchmark.py [--seeds 0 1 2] [--parts semi da]
"""

# No `from __future__ import annotations`: this file is also loaded as a module file, which the loader
# executes without registering it in sys.modules, and dataclasses then cannot resolve string annotations.
import argparse
import dataclasses
import logging
import os
import sys
import tempfile
import time
from typing import Dict, List, Optional

import numpy as np

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

MODULE_FILE = os.path.abspath(__file__)
NAME = "semi_supervised"


def build_model(data_spec, image_size):
    """A LeNet-style BN CNN (~420k parameters, ~4M multiply-adds): the benchmark's module-file model."""
    inputs = keras.Input(shape=(*image_size, data_spec.channels), name="image")
    x = inputs
    for filters in (32, 64):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(128, activation="relu", name="embedding")(x)
    x = keras.layers.Dropout(0.3)(x)
    outputs = keras.layers.Dense(data_spec.num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="bench_cnn")


@dataclasses.dataclass(frozen=True)
class Settings:
    batch_size: int = 32
    learning_rate: float = 3e-3
    supervised_epochs: int = 30
    all_labels_epochs: int = 8
    contrastive_method: str = "simclr"
    contrastive_epochs: int = 8
    contrastive_batch: int = 256
    fine_tune_epochs: int = 30
    iterations: int = 2
    student_epochs: int = 3
    student_init_from_teacher: bool = True  # Short CPU budget: students fine-tune from their teacher.
    student_dropout: float = 0.0  # The model already has Dropout(0.3) before its head.
    threshold: float = 0.8
    source_epochs: int = 10
    adaptation_epochs: int = 4


def write_examples(root: str, splits: Dict[str, tuple]):
    """Canonical Examples + DataSpec from float `[N,28,28,1]` arrays; labels None = unlabeled."""
    from components.types import examples_io
    from components.types.data_spec import DataSpecContent, SizeStats, SplitStats, write_data_spec

    class_names = [str(digit) for digit in range(10)]
    stats = {}
    for split, (images, labels) in splits.items():
        directory = examples_io.split_directory(root, split)
        os.makedirs(directory, exist_ok=True)
        pixels = np.clip(np.round(images * 255), 0, 255).astype(np.uint8)
        with tf.io.TFRecordWriter(os.path.join(directory, "data.gz"), options="GZIP") as writer:
            for index, image in enumerate(pixels):
                label = None if labels is None else int(labels[index])
                example = examples_io.make_example(
                    tf.io.encode_png(image).numpy(), 28, 28, 1, f"{split}/{index}", label=label
                )
                writer.write(example.SerializeToString())
        per_class = {} if labels is None else {name: int(np.sum(labels == i)) for i, name in enumerate(class_names)}
        stats[split] = SplitStats(count=len(images), per_class=per_class)
    content = DataSpecContent(
        task="classification", class_names=class_names, channels=1, source_format="mnist_5k",
        height=SizeStats(28, 28, 28.0), width=SizeStats(28, 28, 28.0), splits=stats,
    )
    write_data_spec(content, os.path.join(root, "data_spec"))
    return content


def test_accuracy(model, uri: str, data_spec) -> float:
    from components.domain_adaptation.adaptation import accuracy
    from components.types import examples_io

    return accuracy(model, examples_io.load_split(uri, "test", data_spec, batch_size=500, image_size=(28, 28)))


def train(uri, data_spec, epochs, seed, settings, warm_start=None, augmentation=None):
    from components.contrastive import backbone
    from components.training import training
    from components.training.spec import TrainingConfig

    backbone.reset_layer_names()  # Warm start matches layers by name.
    config = TrainingConfig(module_file=MODULE_FILE, epochs=epochs, batch_size=settings.batch_size,
                            learning_rate=settings.learning_rate, seed=seed, verbose=0)
    model, _, _ = training.train_classifier(uri, data_spec, config, augmentation=augmentation, warm_start=warm_start)
    return model


def semi_supervised_seed(seed: int, settings: Settings, work: str) -> Dict[str, float]:
    from benchmarks.common import mnist_split
    from components.contrastive import backbone, contrastive
    from components.contrastive.spec import ContrastiveConfig
    from components.contrastive.views import STRONG_NOISE_STEPS, OpsAugmentation
    from components.noisy_student import noisy_student
    from components.noisy_student.spec import NoisyStudentConfig

    data = mnist_split(labeled=500, seed=seed)
    uri = os.path.join(work, f"mnist_seed{seed}")
    spec = write_examples(uri, {
        "train": (data["train_x"], data["train_y"]), "eval": (data["eval_x"], data["eval_y"]),
        "test": (data["test_x"], data["test_y"]), "unlabeled": (data["unlabeled_x"], None),
    })
    all_uri = os.path.join(work, f"mnist_all_seed{seed}")
    all_spec = write_examples(all_uri, {
        "train": (np.concatenate([data["train_x"], data["unlabeled_x"]]),
                  np.concatenate([data["train_y"], data["unlabeled_y"]])),
        "eval": (data["eval_x"], data["eval_y"]), "test": (data["test_x"], data["test_y"]),
    })
    row, seconds = {}, {}

    def timed(name, fn):
        started = time.time()
        value = fn()
        seconds[name] = time.time() - started
        logging.info("seed %d %s done in %.0fs", seed, name, seconds[name])
        return value

    supervised = timed("supervised_500", lambda: train(uri, spec, settings.supervised_epochs, seed, settings))
    row["supervised_500"] = test_accuracy(supervised, uri, spec)
    augmented = timed("supervised_500_strong_aug", lambda: train(
        uri, spec, settings.supervised_epochs, seed, settings,
        augmentation=OpsAugmentation(STRONG_NOISE_STEPS, seed=seed)))
    row["supervised_500_strong_aug"] = test_accuracy(augmented, uri, spec)

    backbone.reset_layer_names()
    contrastive_config = ContrastiveConfig(
        method=settings.contrastive_method, module_file=MODULE_FILE, epochs=settings.contrastive_epochs,
        batch_size=settings.contrastive_batch, seed=seed, verbose=0,
    )
    pretrained, _, probe = timed("contrastive_pretrain",
                                 lambda: contrastive.pretrain_backbone(uri, spec, contrastive_config))
    row["linear_probe_eval"] = probe["linear_probe_accuracy"]
    fine_tuned = timed("contrastive_fine_tune",
                       lambda: train(uri, spec, settings.fine_tune_epochs, seed, settings, warm_start=pretrained))
    row["contrastive_fine_tuned"] = test_accuracy(fine_tuned, uri, spec)

    student_config = NoisyStudentConfig(
        module_file=MODULE_FILE, iterations=settings.iterations, epochs=settings.student_epochs,
        batch_size=settings.batch_size, learning_rate=settings.learning_rate, confidence_threshold=settings.threshold,
        init_from_teacher=settings.student_init_from_teacher, dropout=settings.student_dropout, seed=seed, verbose=0,
    )
    for name, teacher in (("noisy_student", supervised), ("contrastive_plus_noisy_student", fine_tuned)):
        run = timed(name, lambda: noisy_student.run_noisy_student(
            uri, spec, student_config, os.path.join(work, f"{name}_{seed}_pseudo"),
            os.path.join(work, f"{name}_{seed}_work"), teacher=teacher, teacher_id=name + "_teacher"))
        row[name] = test_accuracy(run.best_model, uri, spec)
        row[f"{name}_best_iteration"] = float(run.best)
        row[f"{name}_eval_by_iteration"] = [result.metrics["accuracy"] for result in run.results]
    row["all_labels"] = test_accuracy(timed("all_labels", lambda: train(
        all_uri, all_spec, settings.all_labels_epochs, seed, settings)), all_uri, all_spec)
    row.update({f"seconds_{key}": value for key, value in seconds.items()})
    return row


def inverted_thick_mnist(images: np.ndarray) -> np.ndarray:
    """Thicker strokes (3x3 max-pool dilation) and inverted contrast."""
    dilated = tf.nn.max_pool2d(images, ksize=3, strides=1, padding="SAME").numpy()
    return 1.0 - dilated


def sklearn_digits_28() -> tuple:
    """scikit-learn's 1,797 8x8 digits (another set of writers, 17 grey levels) as MNIST-like 28x28 images.

    Upscaled to 20x20 and centered with a 4-pixel border, like MNIST's 20x20 digit box.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype("float32")[..., None] / 16.0
    images = tf.image.resize(images, (20, 20), method="bilinear").numpy().clip(0.0, 1.0)
    return np.pad(images, ((0, 0), (4, 4), (4, 4), (0, 0))), digits.target.astype(np.int64)


def target_domains(data: Dict[str, np.ndarray], seed: int) -> Dict[str, Dict[str, tuple]]:
    """Target splits per shift: unlabeled images to adapt on, labeled eval (picks) and test (reported)."""
    images, labels = sklearn_digits_28()
    order = np.random.default_rng(seed).permutation(len(images))
    unlabeled, validation, test = order[:897], order[897:1197], order[1197:]
    return {
        "sklearn_digits": {
            "unlabeled": (images[unlabeled], None), "eval": (images[validation], labels[validation]),
            "test": (images[test], labels[test]),
        },
        "inverted_thick_mnist": {
            "unlabeled": (inverted_thick_mnist(data["unlabeled_x"]), None),
            "eval": (inverted_thick_mnist(data["eval_x"]), data["eval_y"]),
            "test": (inverted_thick_mnist(data["test_x"]), data["test_y"]),
        },
    }


def domain_adaptation_seed(seed: int, settings: Settings, work: str, targets) -> Dict[str, float]:
    from benchmarks.common import mnist_split
    from components.contrastive import backbone
    from components.domain_adaptation import domain_adaptation
    from components.domain_adaptation.spec import DomainAdaptationConfig

    data = mnist_split(labeled=2000, seed=seed)
    source_uri = os.path.join(work, f"da_source_{seed}")
    spec = write_examples(source_uri, {"train": (data["train_x"], data["train_y"]),
                                       "eval": (data["eval_x"], data["eval_y"]),
                                       "test": (data["test_x"], data["test_y"])})
    source_model = train(source_uri, spec, settings.source_epochs, seed, settings)
    row = {"source_model_mnist_test": test_accuracy(source_model, source_uri, spec)}
    for target_name, splits in target_domains(data, seed).items():
        if target_name not in targets:
            continue
        target_uri = os.path.join(work, f"da_{target_name}_{seed}")
        write_examples(target_uri, splits)
        backbone.reset_layer_names()
        config = DomainAdaptationConfig(
            module_file=MODULE_FILE, epochs=settings.adaptation_epochs, seed=seed, verbose=0,
            batch_size=settings.batch_size,
        )
        started = time.time()
        _, results, picked = domain_adaptation.adapt(source_uri, target_uri, spec, config, source_model)
        for result in results:
            row[f"{target_name}:{result.method}"] = result.test_accuracy
            row[f"{target_name}:seconds_{result.method}"] = result.seconds
        row[f"{target_name}:picked"] = picked
        row[f"{target_name}:picked_method_accuracy"] = row[f"{target_name}:{picked}"]
        logging.info("seed %d %s adaptation done in %.0fs", seed, target_name, time.time() - started)
    return row


def summarize(rows: List[Dict], keys: List[str]) -> Dict[str, Dict]:
    """mean_std of each key over the rows that have it (the inverted-MNIST target runs on fewer seeds)."""
    from benchmarks.common import mean_std

    summary = {}
    for key in keys:
        values = [row[key] for row in rows if key in row]
        if values:
            summary[key] = mean_std(values)
    return summary


SEMI_METHODS = ["supervised_500", "supervised_500_strong_aug", "contrastive_fine_tuned", "noisy_student",
                "contrastive_plus_noisy_student", "all_labels"]
DA_TARGETS = ["sklearn_digits", "inverted_thick_mnist"]
DA_METHODS = ["source_only", "adabn", "self_training", "coral", "dann", "picked_method_accuracy"]


def delta_cells(stats, baseline) -> List[str]:
    delta = [a - b for a, b in zip(stats["values"], baseline["values"])]
    return [f"{np.mean(delta) * 100:+.2f}", f"{np.min(delta) * 100:+.2f} / {np.max(delta) * 100:+.2f}"]


def report(semi_rows, da_rows, settings: Settings, total_seconds: float, seeds) -> str:
    from benchmarks.common import format_mean_std, write_results

    semi = summarize(semi_rows, SEMI_METHODS + ["linear_probe_eval"])
    rows, notes = [], []
    if semi:
        base, full = semi["supervised_500"]["mean"], semi["all_labels"]["mean"]
        for method in SEMI_METHODS:
            gap = (semi[method]["mean"] - base) / (full - base) if full > base else float("nan")
            rows.append([f"semi: {method}", len(semi[method]["values"]), format_mean_std(semi[method]),
                         *delta_cells(semi[method], semi["supervised_500"]), f"{gap:.0%}"])
        notes.append(f"contrastive linear probe accuracy on eval: {format_mean_std(semi['linear_probe_eval'])}")
    da = {}
    for target in DA_TARGETS:
        keys = [f"{target}:{method}" for method in DA_METHODS]
        da[target] = summarize(da_rows, keys)
        if not da[target]:
            continue
        baseline = da[target][f"{target}:source_only"]
        for key in keys:
            rows.append([f"domain {key}", len(da[target][key]["values"]), format_mean_std(da[target][key]),
                         *delta_cells(da[target][key], baseline), ""])
        notes.append(f"{target}: methods picked on the target validation split per seed: "
                     + ", ".join(str(row[f"{target}:picked"]) for row in da_rows if f"{target}:picked" in row))
    notes.append("semi deltas are against supervised_500 of the same seed; domain deltas against source_only; "
                 "gap closed = (method - supervised_500) / (all_labels - supervised_500) of the means")
    load = os.getloadavg()[1] if hasattr(os, "getloadavg") else float("nan")
    notes.append(f"seeds {list(seeds)}; total wall time {total_seconds / 60:.1f} min, process CPU time "
                 f"{time.process_time() / 60:.1f} min, on {os.cpu_count()} CPU cores shared with other jobs "
                 f"(5-minute load average at the end: {load:.1f})")
    payload = {"settings": dataclasses.asdict(settings), "semi_supervised": {"rows": semi_rows, "summary": semi},
               "domain_adaptation": {"rows": da_rows, "summary": da}, "total_seconds": total_seconds,
               "process_cpu_seconds": time.process_time()}
    header = ["method", "seeds", "test accuracy % (mean ± sd)", "Δ pp (mean)", "Δ pp min / max", "gap closed"]
    return write_results(NAME, payload, rows, header, notes)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--parts", nargs="+", default=["semi", "da"], choices=["semi", "da"])
    parser.add_argument("--targets", nargs="+", default=DA_TARGETS, choices=DA_TARGETS)
    parser.add_argument("--inverted-seeds", type=int, nargs="*", default=[0],
                        help="seeds that also adapt to inverted thick MNIST (the shift where adaptation fails)")
    parser.add_argument("--no-write", action="store_true", help="print rows, do not write results")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("absl", "tensorflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings, started = Settings(), time.time()
    semi_rows, da_rows = [], []
    with tempfile.TemporaryDirectory() as work:
        for seed in args.seeds:
            if "semi" in args.parts:
                semi_rows.append(semi_supervised_seed(seed, settings, work))
                logging.info("semi-supervised seed %d: %s", seed, semi_rows[-1])
            if "da" in args.parts:
                targets = [t for t in args.targets if t != "inverted_thick_mnist" or seed in args.inverted_seeds]
                da_rows.append(domain_adaptation_seed(seed, settings, work, targets))
                logging.info("domain adaptation seed %d: %s", seed, da_rows[-1])
    if args.no_write:
        print(semi_rows, da_rows)
    else:
        print(open(report(semi_rows, da_rows, settings, time.time() - started, args.seeds)).read())
    return 0


if __name__ == "__main__":
    sys.exit(main())
