"""Autofit on images that are not digits: 32x32 RGB crops of ten photographs, few labels, many unlabeled.

A probe of how the plan and its decisions behave off MNIST (the evaluation data is other kinds of small images):
each class is one of ten photographs bundled with scikit-image (astronaut, brick, coffee, grass, gravel, the
Hubble deep field, an immunohistochemistry slide, a rocket, a retina, a cat), cropped at random places and scales
(40-95 px squares resized to 32x32). Mirroring keeps these labels, unlike digits. Per class: 20 labeled train,
20 eval and 100 test crops, 400 unlabeled; a `data:`-only config with the budget, and a plain training with the
planned trainer settings beside it (as benchmarks/autofit_benchmark.py does for digits).

    .venv/bin/python benchmarks/autofit_textures.py --seeds 0 --budget quick
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from typing import Dict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import autofit_beside_plain, format_mean_std, mean_std, write_results  # noqa: E402

PHOTOS = ("astronaut", "brick", "coffee", "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "rocket",
          "retina", "chelsea")
PER_CLASS = {"train": 20, "val": 20, "test": 100}
UNLABELED_PER_CLASS = 400


def photo(name: str) -> np.ndarray:
    """The photograph as uint8 RGB (grey ones repeated to three channels)."""
    import skimage.data

    image = getattr(skimage.data, name)()
    return (np.stack([image] * 3, -1) if image.ndim == 2 else image)[..., :3]


def crops(image: np.ndarray, count: int, rng: np.random.Generator, side: int = 32):
    from skimage.transform import resize

    height, width = image.shape[:2]
    for _ in range(count):
        size = int(rng.integers(40, 96))
        top, left = int(rng.integers(0, height - size)), int(rng.integers(0, width - size))
        patch = resize(image[top:top + size, left:left + size], (side, side), anti_aliasing=True, preserve_range=True)
        yield patch.astype(np.uint8)


def write_layout(root: str, seed: int) -> Dict[str, int]:
    """Image folders: train/val/test/<photo>/ and unlabeled/; returns images per split."""
    from components.data_translation.images import encode_png

    rng = np.random.default_rng(seed)
    counts = {split: 0 for split in [*PER_CLASS, "unlabeled"]}
    for name in PHOTOS:
        plan = [(split, count) for split, count in PER_CLASS.items()] + [("unlabeled", UNLABELED_PER_CLASS)]
        patches = crops(photo(name), sum(count for _, count in plan), rng)
        index = 0
        for split, count in plan:
            directory = os.path.join(root, split, name) if split != "unlabeled" else os.path.join(root, split)
            os.makedirs(directory, exist_ok=True)
            for _ in range(count):
                with open(os.path.join(directory, f"{name}_{index:05d}.png"), "wb") as handle:
                    handle.write(encode_png(next(patches)))
                index += 1
            counts[split] += count
    return counts


def run_seed(seed: int, budget, work: str) -> Dict[str, object]:
    root = os.path.join(work, f"seed{seed}")
    counts = write_layout(os.path.join(root, "data"), seed)
    both = autofit_beside_plain(os.path.join(root, "data"), seed, budget, root, "textures")
    auto = both["auto"]
    return {
        "seed": seed, "counts": counts, "champion": auto["champion"],
        "autofit_test_accuracy": auto["evaluation"]["metrics"]["accuracy"],
        "plain_test_accuracy": both["plain"]["evaluation"]["metrics"]["accuracy"],
        "decisions": [(d["candidate"], d["kept"], d["reason"]) for d in (auto["selection"] or {}).get("decisions", [])],
        "data_decisions": auto.get("data_decisions") or [],
        **{key: both[key] for key in ("autofit_seconds", "plain_seconds", "time_ratio")},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--budget", default="quick")
    parser.add_argument("--name", default="autofit_textures")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="autofit-textures-")
    try:
        rows = []
        for seed in args.seeds:
            rows.append(run_seed(seed, args.budget, work))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    auto = mean_std(row["autofit_test_accuracy"] for row in rows)
    plain = mean_std(row["plain_test_accuracy"] for row in rows)
    table = [[args.budget, len(rows), format_mean_std(auto), format_mean_std(plain),
              ", ".join(f"s{row['seed']}: {row['champion']}" for row in rows),
              f"{mean_std(row['time_ratio'] for row in rows)['mean']:.2f}x"]]
    notes = [f"{len(PHOTOS)} classes (scikit-image photographs), per class {PER_CLASS} + {UNLABELED_PER_CLASS} "
             "unlabeled 32x32 crops; test images never used for a decision; CPU, 2 cores",
             "plain = Training alone with autofit's planned trainer settings (autofit: false)"]
    notes += [f"seed {row['seed']}: " + "; ".join(row["data_decisions"] + [
        f"{name} {'kept' if kept else 'dropped'}: {why}" for name, kept, why in row["decisions"]]) for row in rows]
    write_results(args.name, {"budget": args.budget, "runs": rows}, table,
                  ["budget", "seeds", "autofit test acc %", "plain test acc %", "champion", "time vs plain"], notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
