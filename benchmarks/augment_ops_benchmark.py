"""augment_ops speed, side by side with its peers in one run (not a test).

Sections (ratios > 1 mean augment_ops is faster, except the training-step
overhead, where lower is better):
  1. map_fn: each op batched with per-sample magnitudes vs the same op per
     image through tf.map_fn in a plain graph (target >= 2x); tf.map_fn
     compiled whole with XLA is reported beside it.
  2. albumentations: each op vs its albumentations 2.0.8 counterpart on the
     same CPU, uint8 images one by one as albumentations is used. Targets:
     >= 0.6 for pointwise colour ops, >= 0.5 for geometric ops.
  3. RandAugment: rand_augment(2, 0.5) vs keras.layers.RandAugment. Target >= 2x.
  4. Training step of a small CNN with the augmentation in the graph vs
     without. Target <= 1.5x.

Every candidate of a comparison runs in the same rounds, interleaved, after
a warm-up call (compilation excluded); a time is the best of the rounds,
which is the least disturbed by other processes on a shared machine.

    python -m benchmarks.augment_ops_benchmark --quick            # CPU, 2 configs
    python -m benchmarks.augment_ops_benchmark --device-tag gpu   # on a GPU machine

Writes benchmarks/results/augment_ops_<device-tag>.json and .md.
"""

import argparse
import json
import os
import platform
import resource
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from augment_ops import layers, registry  # noqa: E402
from augment_ops.options import AugmentOptions  # noqa: E402
from augment_ops.policy import rand_augment  # noqa: E402

FULL_CONFIGS = [(32, 32), (32, 128), (224, 32), (224, 128)]  # (image size, batch size)
QUICK_CONFIGS = [(32, 32), (224, 32)]
POINTWISE_COLOUR = ("brightness", "contrast", "saturation", "hue", "grayscale", "gamma", "invert", "solarize", "posterize")
TARGETS = {"map_fn": 2.0, "pointwise_colour": 0.6, "geometric": 0.5, "rand_augment": 2.0, "train_step_overhead": 1.5}
SHEAR_DEGREES = float(np.degrees(np.arctan(0.3)))  # MAX_SHEAR 0.3 as an angle


def log(message):
    print(f"[augment_ops_benchmark {time.strftime('%H:%M:%S')}] {message}", flush=True)


def albumentations_peers(size):
    """Albumentations counterparts with ranges matching magnitude in [0,1]; None where there is none."""
    import albumentations as A

    peers = {
        "flip_left_right": A.HorizontalFlip(p=1),
        "flip_up_down": A.VerticalFlip(p=1),
        "rot90": A.RandomRotate90(p=1),
        "rotate": A.Affine(rotate=(-30, 30), p=1),
        "zoom_in": A.Affine(scale=(1.0, 2.0), p=1),
        "zoom_out": A.Affine(scale=(0.5, 1.0), p=1),
        "shear_x": A.Affine(shear={"x": (-SHEAR_DEGREES, SHEAR_DEGREES), "y": (0, 0)}, p=1),
        "shear_y": A.Affine(shear={"x": (0, 0), "y": (-SHEAR_DEGREES, SHEAR_DEGREES)}, p=1),
        "translate_x": A.Affine(translate_percent={"x": (-0.3, 0.3), "y": (0, 0)}, p=1),
        "translate_y": A.Affine(translate_percent={"x": (0, 0), "y": (-0.3, 0.3)}, p=1),
        "random_resized_crop": A.RandomResizedCrop(size=(size, size), scale=(0.08, 1.0), p=1),
        "identity": A.NoOp(p=1),
        "brightness": A.RandomBrightnessContrast(brightness_limit=0.9, contrast_limit=0, p=1),
        "contrast": A.RandomBrightnessContrast(brightness_limit=0, contrast_limit=0.9, p=1),
        "saturation": A.ColorJitter(brightness=0, contrast=0, saturation=0.9, hue=0, p=1),
        "hue": A.ColorJitter(brightness=0, contrast=0, saturation=0, hue=0.5, p=1),
        "grayscale": A.ToGray(num_output_channels=3, p=1),
        "gamma": A.RandomGamma(gamma_limit=(50, 200), p=1),
        "invert": A.InvertImg(p=1),
        "solarize": A.Solarize(threshold_range=(0.0, 1.0), p=1),
        "posterize": A.Posterize(num_bits=(1, 8), p=1),
        "equalize": A.Equalize(p=1),
        "autocontrast": A.AutoContrast(p=1),
        "sharpness": A.Sharpen(p=1),
        "gaussian_blur": A.GaussianBlur(sigma_limit=(0.1, 2.0), p=1),
        "gaussian_noise": A.GaussNoise(std_range=(0.0, 0.2), p=1),
        "cutout": A.CoarseDropout(num_holes_range=(1, 1), hole_height_range=(0.1, 0.5), hole_width_range=(0.1, 0.5), fill=128, p=1),
        "random_erasing": A.Erasing(scale=(0.02, 0.4), p=1),
        "grid_mask": A.GridDropout(ratio=0.5, p=1),
    }
    return peers


def _cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads: TF's pools and OpenCV's
    return usage.ru_utime + usage.ru_stime


def time_interleaved(candidates, rounds, min_window_s=0.05):
    """Per-call seconds for each candidate, measured in interleaved rounds.

    After a warm-up call (tracing and XLA compilation are not timed), each
    candidate gets a repeat count so one timing window lasts >= min_window_s.
    Returns per candidate: best_s (best window / repeats: the least disturbed
    by other processes) and cpu_s (process CPU time per call over all
    windows, which other processes disturb less than wall time).
    """
    repeats = {}
    for name, run in candidates.items():
        run()
        start = time.perf_counter()
        run()
        repeats[name] = max(1, int(np.ceil(min_window_s / max(time.perf_counter() - start, 1e-6))))
    walls = {name: [] for name in candidates}
    cpus = {name: 0.0 for name in candidates}
    for _ in range(rounds):
        for name, run in candidates.items():
            cpu_start, start = _cpu_seconds(), time.perf_counter()
            for _ in range(repeats[name]):
                run()
            walls[name].append((time.perf_counter() - start) / repeats[name])
            cpus[name] += _cpu_seconds() - cpu_start
    return {
        name: {"best_s": min(walls[name]), "median_s": float(np.median(walls[name])), "cpu_s": cpus[name] / (rounds * repeats[name])}
        for name in candidates
    }


def _group(name):
    if name in POINTWISE_COLOUR:
        return "pointwise_colour"
    return registry.get_op(name).family


def bench_ops(size, batch_size, rounds, op_names, rng):
    """Sections 1 and 2 for one (size, batch) config."""
    images_uint8 = rng.integers(0, 256, (batch_size, size, size, 3), dtype=np.uint8)
    images = tf.constant(images_uint8.astype(np.float32) / 255.0)
    magnitudes = tf.constant(rng.random(batch_size), tf.float32)
    labels = tf.one_hot(rng.integers(0, 10, batch_size), 10)
    seed = tf.constant([1, 2], tf.int32)
    peers = albumentations_peers(size)
    eager_options = AugmentOptions(xla=False)
    rows = []
    for name in op_names:
        spec = registry.get_op(name)
        inputs = {"images": images, "labels": labels} if spec.family == registry.MIXING else images
        # As in a Keras train step (jit_compile="auto"): the whole call is one XLA program.
        batched = tf.function(lambda x, m, s, name=name: registry.apply_op(name, x, m, 1.0, s), jit_compile=registry.supports_xla(name))
        candidates = {"batched": lambda: batched(inputs, magnitudes, seed)}
        if spec.family != registry.MIXING:  # mixing needs a partner: no per-image form

            def per_image(x, m, s, name=name):
                return tf.map_fn(
                    lambda args: registry.apply_op(name, args[0][None], args[1], 1.0, s, eager_options)[0],
                    (x, m),
                    fn_output_signature=tf.float32,
                )

            map_graph = tf.function(per_image)
            map_xla = tf.function(per_image, jit_compile=registry.supports_xla(name))
            candidates["map_fn_graph"] = lambda: map_graph(images, magnitudes, seed)
            if registry.supports_xla(name):
                candidates["map_fn_xla"] = lambda: map_xla(images, magnitudes, seed)
        peer = peers.get(name)
        if peer is not None:
            candidates["albumentations"] = lambda peer=peer: [peer(image=image)["image"] for image in images_uint8]
        timed = time_interleaved(candidates, rounds)
        row = {"op": name, "group": _group(name), "size": size, "batch": batch_size}
        ours = timed["batched"]
        row["batched_ms"] = 1e3 * ours["best_s"]
        row["batched_cpu_ms"] = 1e3 * ours["cpu_s"]
        for key in ("map_fn_graph", "map_fn_xla"):
            if key in timed:
                row[f"{key}_ms"] = 1e3 * timed[key]["best_s"]
                row[f"{key}_speedup"] = timed[key]["best_s"] / ours["best_s"]
        map_keys = [key for key in ("map_fn_graph", "map_fn_xla") if key in timed]
        if map_keys:
            row["map_fn_best_speedup"] = min(timed[key]["best_s"] for key in map_keys) / ours["best_s"]
        if "albumentations" in timed:
            peer = timed["albumentations"]
            row["albumentations_ms"] = 1e3 * peer["best_s"]
            row["albumentations_cpu_ms"] = 1e3 * peer["cpu_s"]
            row["albumentations_ratio"] = peer["best_s"] / ours["best_s"]
            row["albumentations_cpu_ratio"] = peer["cpu_s"] / ours["cpu_s"]
        rows.append(row)
        log(
            f"{size}x{size} B={batch_size} {name:20s} batched {row['batched_ms']:8.2f} ms"
            + (f" | map_fn graph x{row['map_fn_graph_speedup']:.2f}" if "map_fn_graph_speedup" in row else "")
            + (f" xla x{row['map_fn_xla_speedup']:.2f}" if "map_fn_xla_speedup" in row else "")
            + (f" | albumentations ratio {row['albumentations_ratio']:.2f}" if "albumentations_ratio" in row else "")
        )
    return rows


def bench_rand_augment(size, batch_size, rounds, rng):
    images = tf.constant(rng.random((batch_size, size, size, 3)), tf.float32)
    ours = rand_augment(2, 0.5)
    peer = keras.layers.RandAugment(value_range=(0, 1), num_ops=2, factor=0.5, seed=0)
    run_ours = tf.function(lambda x, s: ours(x, s), jit_compile=ours.supports_xla())
    run_peer = tf.function(lambda x: peer(x, training=True))
    seed = tf.constant([3, 4], tf.int32)
    timed = time_interleaved({"ours": lambda: run_ours(images, seed), "keras": lambda: run_peer(images)}, rounds)
    row = {
        "size": size,
        "batch": batch_size,
        "ours_ms": 1e3 * timed["ours"]["best_s"],
        "keras_ms": 1e3 * timed["keras"]["best_s"],
        "speedup": timed["keras"]["best_s"] / timed["ours"]["best_s"],
        "cpu_speedup": timed["keras"]["cpu_s"] / timed["ours"]["cpu_s"],
    }
    log(f"{size}x{size} B={batch_size} RandAugment ours {row['ours_ms']:.1f} ms, keras {row['keras_ms']:.1f} ms, x{row['speedup']:.2f}")
    return row


def _small_cnn(size):
    """A CIFAR-style small CNN (~94k parameters): two conv blocks, global pooling, softmax."""
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(128, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x), name="small_cnn")


def bench_train_step(size, batch_size, rounds, rng):
    images = rng.random((batch_size, size, size, 3)).astype(np.float32)
    labels = rng.integers(0, 10, batch_size)
    keras.utils.set_random_seed(0)
    plain = _small_cnn(size)
    plain.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    augmented, _ = layers.scaffold(_small_cnn(size), rand_augment(2, 0.5), seed=0)
    augmented.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    steps = 2
    timed = time_interleaved(
        {
            "without": lambda: [plain.train_on_batch(images, labels) for _ in range(steps)],
            "with": lambda: [augmented.train_on_batch(images, labels) for _ in range(steps)],
        },
        rounds,
    )
    row = {
        "size": size,
        "batch": batch_size,
        "model_parameters": plain.count_params(),
        "without_ms": 1e3 * timed["without"]["best_s"] / steps,
        "with_ms": 1e3 * timed["with"]["best_s"] / steps,
    }
    row["overhead"] = row["with_ms"] / row["without_ms"]
    log(f"{size}x{size} B={batch_size} train step without {row['without_ms']:.1f} ms, with {row['with_ms']:.1f} ms, x{row['overhead']:.2f}")
    return row


def _misses(results):
    misses = []
    for row in results["ops"]:
        # The target is against tf.map_fn as usually written (a plain graph); the
        # XLA-compiled map_fn is reported beside it.
        if row.get("map_fn_graph_speedup", np.inf) < TARGETS["map_fn"]:
            misses.append(
                f"map_fn {row['op']} {row['size']}x{row['size']} B={row['batch']}: x{row['map_fn_graph_speedup']:.2f}"
            )
        target = TARGETS.get(row["group"])
        if target and row.get("albumentations_ratio", np.inf) < target:
            misses.append(
                f"albumentations {row['op']} {row['size']}x{row['size']} B={row['batch']}: "
                f"{row['albumentations_ratio']:.2f} < {target}"
            )
    for row in results["rand_augment"]:
        if row["speedup"] < TARGETS["rand_augment"]:
            misses.append(f"RandAugment {row['size']}x{row['size']} B={row['batch']}: x{row['speedup']:.2f}")
    for row in results["train_step"]:
        if row["overhead"] > TARGETS["train_step_overhead"]:
            misses.append(f"train step {row['size']}x{row['size']} B={row['batch']}: x{row['overhead']:.2f}")
    return misses


def _fmt(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


def write_markdown(results, path):
    lines = [
        f"# augment_ops benchmark ({results['device_tag']}, {results['mode']})",
        "",
        f"{results['machine']}. Threads per library: {results.get('threads', 'all')}. "
        f"Best of {results['rounds']} interleaved rounds; "
        f"load average {results['load_average_start']} at start, {results['load_average_end']} at end.",
        "",
        "Ratios: map_fn = per-image time / batched time (graph: tf.map_fn in a plain graph, as the target is "
        "stated; XLA: the whole map_fn compiled, shown for reference); albumentations = albumentations time / ours "
        "(throughput ratio; CPU-time ratio = the same from process CPU time); RandAugment = keras time / ours; "
        "train step = with / without augmentation (small CNN, Keras jit_compile='auto').",
        "",
        "| op | group | size | B | batched ms | map_fn graph x | map_fn XLA x | albumentations ms | albumentations ratio | CPU-time ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["ops"]:
        lines.append(
            f"| {row['op']} | {row['group']} | {row['size']} | {row['batch']} | {_fmt(row['batched_ms'])} | "
            f"{_fmt(row.get('map_fn_graph_speedup'))} | {_fmt(row.get('map_fn_xla_speedup'))} | "
            f"{_fmt(row.get('albumentations_ms'))} | {_fmt(row.get('albumentations_ratio'))} | "
            f"{_fmt(row.get('albumentations_cpu_ratio'))} |"
        )
    lines += ["", "| RandAugment size | B | ours ms | keras ms | speedup | CPU-time speedup |", "|---|---|---|---|---|---|"]
    for row in results["rand_augment"]:
        lines.append(
            f"| {row['size']} | {row['batch']} | {_fmt(row['ours_ms'])} | {_fmt(row['keras_ms'])} | "
            f"{_fmt(row['speedup'])} | {_fmt(row['cpu_speedup'])} |"
        )
    lines += ["", "| train step size | B | without ms | with ms | overhead |", "|---|---|---|---|---|"]
    for row in results["train_step"]:
        lines.append(f"| {row['size']} | {row['batch']} | {_fmt(row['without_ms'])} | {_fmt(row['with_ms'])} | {_fmt(row['overhead'])} |")
    lines += ["", f"Targets: {json.dumps(TARGETS)}", "", "## Misses", ""]
    lines += [f"- {miss}" for miss in results["misses"]] or ["- none"]
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def render(json_path):
    """Recomputes misses and rewrites the markdown of an existing results JSON."""
    with open(json_path) as handle:
        results = json.load(handle)
    for row in results["ops"]:  # results written before the key was renamed
        if "map_fn_speedup" in row:
            row["map_fn_best_speedup"] = row.pop("map_fn_speedup")
    results["misses"] = _misses(results)
    with open(json_path, "w") as handle:
        json.dump(results, handle, indent=1)
    write_markdown(results, os.path.splitext(json_path)[0] + ".md")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"configs {QUICK_CONFIGS} instead of {FULL_CONFIGS}")
    parser.add_argument("--device-tag", default="cpu", help="names the output files augment_ops_<tag>.json/.md")
    parser.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per comparison (default 5)")
    parser.add_argument("--ops", default="", help="comma-separated op names (default: all)")
    parser.add_argument("--render", default="", help="only re-render misses and markdown of this results JSON")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for TensorFlow and OpenCV (default: 1 for --device-tag cpu, all otherwise)",
    )
    args = parser.parse_args(argv)
    if args.render:
        render(args.render)
        return
    threads = args.threads if args.threads is not None else (1 if args.device_tag == "cpu" else 0)
    if threads:
        # One core each: albumentations runs one image at a time on one core (as in a
        # data-loader worker), so TF gets one core too. On a shared machine this also
        # keeps thread-pool stragglers and spin-waits out of the comparison.
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        import cv2

        cv2.setNumThreads(threads)

    configs = QUICK_CONFIGS if args.quick else FULL_CONFIGS
    rounds = args.rounds or 5
    op_names = [name.strip() for name in args.ops.split(",") if name.strip()] or registry.op_names()
    for name in op_names:
        registry.get_op(name)
    rng = np.random.default_rng(0)
    import albumentations

    devices = [device.device_type for device in tf.config.list_physical_devices()]
    results = {
        "device_tag": args.device_tag,
        "mode": "quick" if args.quick else "full",
        "rounds": rounds,
        "threads": threads or "all",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, TF devices {devices}, "
        f"TF {tf.__version__}, Keras {keras.__version__}, albumentations {albumentations.__version__}",
        "load_average_start": [round(value, 2) for value in os.getloadavg()],
        "targets": TARGETS,
        "ops": [],
        "rand_augment": [],
        "train_step": [],
    }
    started = time.time()
    for size, batch_size in configs:
        log(f"config {size}x{size} B={batch_size}: {len(op_names)} ops")
        results["ops"] += bench_ops(size, batch_size, rounds, op_names, rng)
        results["rand_augment"].append(bench_rand_augment(size, batch_size, rounds, rng))
        results["train_step"].append(bench_train_step(size, batch_size, rounds, rng))
    results["load_average_end"] = [round(value, 2) for value in os.getloadavg()]
    results["seconds"] = round(time.time() - started, 1)
    results["misses"] = _misses(results)
    os.makedirs(args.out_dir, exist_ok=True)
    stem = os.path.join(args.out_dir, f"augment_ops_{args.device_tag}")
    with open(stem + ".json", "w") as handle:
        json.dump(results, handle, indent=1)
    write_markdown(results, stem + ".md")
    log(f"wrote {stem}.json and .md in {results['seconds']} s; {len(results['misses'])} misses")


if __name__ == "__main__":
    main()
