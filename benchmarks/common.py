"""Shared pieces of the evidence benchmarks: MNIST-5k splits, seeds, result tables.

Benchmarks train in-process on numpy arrays through the same training loop
the components use (components.training.trainer), so numbers measure the
techniques, not pipeline overhead.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
DEFAULT_SEEDS = (0, 1, 2)


def mnist_split(
    labeled: int, seed: int = 0, test_size: int = 1500, eval_size: int = 500
) -> Dict[str, np.ndarray]:
    """MNIST-5k as float images `[N,28,28,1]` in [0,1]: fixed test/eval sets, a seeded labeled subset.

    The test set (the first `test_size` of a fixed permutation) is the same for
    every seed; the labeled subset is drawn per seed from the remaining pool,
    and the rest of the pool is returned as `unlabeled_x`.
    """
    from components.data_translation.mnist import load_mnist

    images, labels, _ = load_mnist()
    images = images.astype("float32")[..., None] / 255.0
    order = np.random.default_rng(12345).permutation(len(images))
    test, held, pool = order[:test_size], order[test_size : test_size + eval_size], order[test_size + eval_size :]
    pool = np.random.default_rng(seed).permutation(pool)
    train, unlabeled = pool[:labeled], pool[labeled:]
    return {
        "train_x": images[train], "train_y": labels[train],
        "eval_x": images[held], "eval_y": labels[held],
        "test_x": images[test], "test_y": labels[test],
        "unlabeled_x": images[unlabeled], "unlabeled_y": labels[unlabeled],
    }


def mean_std(values: Iterable[float]) -> Dict[str, float]:
    values = [float(v) for v in values]
    return {
        "mean": float(np.mean(values)),
        "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
        "values": values,
    }


def environment() -> Dict[str, str]:
    import tensorflow as tf

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "cpu_count": str(os.cpu_count()),
        "devices": ",".join(device.device_type for device in tf.config.list_physical_devices()),
    }


def write_results(name: str, payload: Dict, markdown_rows: Sequence[Sequence[str]], header: Sequence[str],
                  notes: Optional[List[str]] = None) -> str:
    """Writes benchmarks/results/<name>.json and <name>.md; returns the markdown path."""
    os.makedirs(RESULTS_DIR, exist_ok=True)
    payload = dict(payload, environment=environment())
    with open(os.path.join(RESULTS_DIR, f"{name}.json"), "w") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True)
    lines = [f"# {name}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in markdown_rows]
    if notes:
        lines += [""] + [f"- {note}" for note in notes]
    path = os.path.join(RESULTS_DIR, f"{name}.md")
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def format_mean_std(stats: Dict[str, float], scale: float = 100.0, digits: int = 2) -> str:
    return f"{stats['mean'] * scale:.{digits}f} ± {stats['std'] * scale:.{digits}f}"


def autofit_beside_plain(data_dir: str, seed: int, budget, root: str, name: str) -> Dict[str, object]:
    """Autofit with a `data:`-only config, then the plain training it is measured against, side by side.

    The plain model is Training alone (`autofit: false`) with the trainer settings autofit planned for this data:
    what a user gets without the techniques. Runs live under `root`/autofit and `root`/plain.

    Returns:
      auto / plain: the two runs' summaries (pipelines.autofit.run.run); auto_dir; autofit_seconds,
      plain_seconds and time_ratio (wall time, the plain run measured right after autofit).
    """
    import time

    from components.types.data_spec import read_data_spec
    from pipelines import lineage as lineage_lib
    from pipelines.autofit import run as autofit_run
    from pipelines.autofit.plan import plan_training
    from pipelines.autofit.profile import profile_from_data_spec
    from pipelines.config import config_from_dict

    base = {"data": {"format": "image_folder", "path": data_dir}, "seed": seed}
    auto_dir = os.path.join(root, "autofit")
    started = time.time()
    auto = autofit_run.run(config_from_dict(dict(base, pipeline_name=f"{name}-autofit", budget=budget,
                                                 run_dir=auto_dir)),
                           echo=lambda line: print(f"[{name} seed {seed}] {line}", flush=True))
    autofit_seconds = time.time() - started
    spec = read_data_spec(lineage_lib.find_output(lineage_lib.read_lineage(auto_dir), "DataTranslation",
                                                  "data_spec").uri)
    planned, _ = plan_training(profile_from_data_spec(spec), {})
    started = time.time()
    plain = autofit_run.run(config_from_dict(dict(base, pipeline_name=f"{name}-plain", autofit=False,
                                                  training=dict(planned, seed=seed),
                                                  run_dir=os.path.join(root, "plain"))),
                            echo=lambda line: None)
    plain_seconds = time.time() - started
    return {"auto": auto, "plain": plain, "auto_dir": auto_dir, "autofit_seconds": round(autofit_seconds, 1),
            "plain_seconds": round(plain_seconds, 1),
            "time_ratio": round(autofit_seconds / max(plain_seconds, 1e-6), 2)}
