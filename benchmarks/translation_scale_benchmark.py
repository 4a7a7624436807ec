"""Translation at scale: images/s and peak memory for 10k, 50k (and 100k) tiny images, side by side.

Generates image folders of N random 8x8 grayscale PNGs in 10 class folders
(random pixels, so no two images are byte-identical), then translates each
folder in a fresh process with Beam's DirectRunner (in-memory, one worker)
and reports wall time, images/s and the process's peak RSS. The peer is
the same translation code at another git revision (default HEAD, i.e.
before the working tree's changes), exported with `git archive` and run on
the same folders in alternating order, so the ratio shows what the working
tree's extra stages (one record per real file, leakage hashes) cost.

Memory is "flat" when peak RSS grows far slower than the data: the
per-image slope between sizes is reported in bytes per image.

    python benchmarks/translation_scale_benchmark.py [--counts 10000 50000] [--peer-revision HEAD]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM_CLASSES = 10
IMAGE_SIDE = 8


def write_folder(root: str, count: int, seed: int = 0) -> None:
    """`root/<class>/img_<i>.png`: `count` random IMAGE_SIDE x IMAGE_SIDE grayscale PNGs."""
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for label in range(NUM_CLASSES):
        os.makedirs(os.path.join(root, f"class_{label}"), exist_ok=True)
    for index in range(count):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)).save(buffer, format="PNG")
        path = os.path.join(root, f"class_{index % NUM_CLASSES}", f"img_{index:07d}.png")
        with open(path, "wb") as handle:
            handle.write(buffer.getvalue())


def _current_rss_mib() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def child(tree: str, data: str, output: str) -> Dict[str, object]:
    """Translates `data` with the code under `tree`; returns time, counts and peak RSS of this process."""
    sys.path.insert(0, tree)
    from components.data_translation import translation
    from components.data_translation.spec import TranslationConfig

    config = TranslationConfig(format="image_folder", path=data, eval_fraction=0.1)
    rss_after_imports = _current_rss_mib()
    started = time.perf_counter()
    content = translation.translate(
        config, os.path.join(output, "examples"), os.path.join(output, "data_spec"),
        beam_pipeline_args=["--runner=DirectRunner", "--direct_num_workers=1"],
    )
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "records_written": content.records_written,
        "records_rejected": content.records_rejected,
        # Linux reports ru_maxrss in KiB; children (none with the in-memory DirectRunner) are listed apart.
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "rss_after_imports_mib": rss_after_imports,
        "children_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0,
    }


def run_child(tree: str, data: str, timeout: Optional[float]) -> Dict[str, object]:
    output = tempfile.mkdtemp(prefix="translation_scale_out_")
    try:
        command = [sys.executable, os.path.abspath(__file__), "--child", "--tree", tree, "--data", data,
                   "--output", output]
        environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=tree)
        completed = subprocess.run(command, check=True, capture_output=True, text=True, timeout=timeout,
                                   cwd=tree, env=environment)
        return json.loads(completed.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(output, ignore_errors=True)


def export_revision(revision: str, directory: str) -> str:
    """The repository at `revision` as plain files (git archive: reads history, changes nothing)."""
    os.makedirs(directory, exist_ok=True)
    archive = subprocess.run(["git", "-C", REPO_ROOT, "archive", revision], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", directory], input=archive, check=True)
    return directory


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--counts", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--peer-revision", default="HEAD", help="git revision of the peer ('' to skip the peer)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per translation")
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--only", choices=("working", "peer"), default=None,
                        help="run one side only (with --merge, to keep each command under the time limit)")
    parser.add_argument("--keep-data", action="store_true", help="keep (and reuse) generated folders in --work-dir")
    parser.add_argument("--report-only", action="store_true", help="rewrite the tables from the saved JSON only")
    parser.add_argument("--merge", action="store_true",
                        help="keep earlier results of other sizes from results/translation_scale.json")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.tree, args.data, args.output)))
        return
    sys.path.insert(0, REPO_ROOT)
    from benchmarks import common

    if args.report_only:
        args.counts, args.merge, args.only = [], True, "none"
    work = args.work_dir or tempfile.mkdtemp(prefix="translation_scale_")
    trees = {} if args.only in ("peer", "none") else {"working tree": REPO_ROOT}
    if args.peer_revision and args.only not in ("working", "none"):
        trees[f"peer ({args.peer_revision})"] = export_revision(args.peer_revision, os.path.join(work, "peer"))
    results: List[Dict[str, object]] = []
    for count in args.counts:
        data = os.path.join(work, f"data_{count}")
        if not (args.keep_data and os.path.isdir(data)):
            started = time.perf_counter()
            write_folder(data, count)
            print(f"wrote {count} images in {time.perf_counter() - started:.1f}s", flush=True)
        for name, tree in trees.items():
            result = dict(run_child(tree, data, args.timeout), code=name, images=count)
            result["images_per_second"] = count / result["seconds"]
            results.append(result)
            print(json.dumps(result), flush=True)
        if not args.keep_data:
            shutil.rmtree(data, ignore_errors=True)
    previous_path = os.path.join(common.RESULTS_DIR, "translation_scale.json")
    if args.merge and os.path.exists(previous_path):
        with open(previous_path) as handle:
            previous = json.load(handle)
        if previous.get("peer_revision") == args.peer_revision:
            fresh = {(result["code"], result["images"]) for result in results}
            results = [r for r in previous["results"] if (r["code"], r["images"]) not in fresh] + results
            results.sort(key=lambda result: (result["images"], result["code"] != "working tree"))
    counts = sorted({result["images"] for result in results})
    rows, notes = [], []
    for result in results:
        rows.append([
            result["code"], result["images"], f"{result['seconds']:.1f}", f"{result['images_per_second']:.0f}",
            f"{result['peak_rss_mib']:.0f}", f"{result['peak_rss_mib'] - result['rss_after_imports_mib']:.0f}",
            result["records_written"],
        ])
    for name in dict.fromkeys(result["code"] for result in results):
        mine = [result for result in results if result["code"] == name]
        if len(mine) >= 2:
            grown = (mine[-1]["peak_rss_mib"] - mine[0]["peak_rss_mib"]) * 2**20
            slope = grown / (mine[-1]["images"] - mine[0]["images"])
            notes.append(f"{name}: peak RSS grows {slope:.0f} bytes per extra image between "
                         f"{mine[0]['images']} and {mine[-1]['images']} images.")
    if args.peer_revision:
        for count in counts:
            pair = {result["code"]: result for result in results if result["images"] == count}
            if len(pair) == 2:
                mine, peer = pair["working tree"], pair[f"peer ({args.peer_revision})"]
                notes.append(
                    f"{count} images: working tree / peer wall time = {mine['seconds'] / peer['seconds']:.2f}x, "
                    f"peak RSS {mine['peak_rss_mib'] / peer['peak_rss_mib']:.2f}x."
                )
    notes.append("Rows of one size ran back to back in one command unless run with --only (then in separate "
                 "commands minutes apart, so machine load differs between them).")
    notes.append(f"{IMAGE_SIDE}x{IMAGE_SIDE} grayscale PNGs in {NUM_CLASSES} class folders; Beam DirectRunner, "
                 "one worker; each translation in a fresh process; machine shared with other jobs (2 cores).")
    common.write_results(
        "translation_scale",
        {"results": results, "counts": counts, "peer_revision": args.peer_revision},
        rows,
        ["code", "images", "seconds", "images/s", "peak RSS MiB", "peak minus RSS after imports, MiB", "written"],
        notes,
    )
    if not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
