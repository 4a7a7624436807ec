"""`autofit`: run, compile, submit and inspect pipelines from a YAML config."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from typing import List, Optional


def _run(args) -> int:
    """Exit codes: 0 the champion was blessed, 3 the run finished but it was not, 2 config errors."""
    from pipelines.config import load_config

    config = load_config(args.config)  # every config mistake is reported here, before TFX is imported
    from pipelines.autofit import run as autofit_run

    summary = autofit_run.run(config, runner=args.runner, enable_cache=False if args.no_cache else None)
    if not summary["evaluation"]["blessed"]:
        print("autofit: the champion was NOT blessed (see the evaluation's reasons above); exit code 3",
              file=sys.stderr)
        return autofit_run.EXIT_NOT_BLESSED
    return autofit_run.EXIT_BLESSED


def _compile(args) -> int:
    from pipelines.compile import compile_pipeline
    from pipelines.config import load_config

    from pipelines.autofit.run import plan_for_compile
    from pipelines.config_values import check_section_values

    config = load_config(args.config)
    check_section_values(config)
    output = args.output or os.path.join(config.run_dir, f"{config.pipeline_name}-{args.target}.json")
    compile_pipeline(config, output, target=args.target, plan=plan_for_compile(config))
    print(f"Compiled pipeline for {args.target}: {output} (image {config.image})")
    return 0


def _status(args) -> int:
    from pipelines import status

    print(status.format_status(status.read_status(args.run_dir)))
    return 0


def _lineage(args) -> int:
    from pipelines import lineage

    graph = lineage.read_lineage(args.run_dir)
    print(lineage.format_lineage(graph))
    plot = args.plot or os.path.join(args.run_dir if os.path.isdir(args.run_dir) else ".", "lineage.png")
    lineage.plot_lineage(graph, plot)
    print(f"Lineage plot: {plot}")
    return 0


def _report(args) -> int:
    from pipelines.report import write_report

    print(f"Report: {write_report(args.run_dir)}")
    return 0


def _demo(args) -> int:
    from pipelines import demo

    demo.main(["--run-dir", args.run_dir])
    return 0


def _preview(args) -> int:
    """Writes a PNG grid of one op across magnitudes, or of random draws of a policy, on the sample photos."""
    from augment_ops import preview
    from augment_ops.policy import Policy
    from components.types.artifacts import POLICY_FILE_NAME

    if bool(args.op) == bool(args.policy):
        raise ValueError("preview needs exactly one of --op NAME or --policy PATH (a policy.json).")
    if args.op:
        output = args.output or f"preview_{args.op}.png"
        magnitudes = [float(value) for value in args.magnitudes.split(",")] if args.magnitudes else None
        kwargs = {"magnitudes": magnitudes} if magnitudes else {}
        preview.write_op_preview(args.op, output, seed=args.seed, size=args.size, **kwargs)
    else:
        path = os.path.join(args.policy, POLICY_FILE_NAME) if os.path.isdir(args.policy) else args.policy
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No policy file at {path}.")
        with open(path) as handle:
            text = handle.read()
        try:
            policy = Policy.from_json(text)
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path} is not an augment_ops policy: {error}") from error
        output = args.output or "preview_policy.png"
        preview.write_policy_preview(policy, output, num_draws=args.draws, seed=args.seed, size=args.size)
    print(f"Preview: {output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autofit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a pipeline locally (SQLite MLMD under run_dir)")
    run.add_argument("--config", required=True)
    run.add_argument("--runner", choices=("local", "beam"), default="local")
    run.add_argument("--no-cache", action="store_true", help="rerun every component instead of reusing finished ones")
    run.set_defaults(handler=_run)

    compile_ = commands.add_parser("compile", help="compile to KFP IR JSON for Kubeflow or Vertex AI")
    compile_.add_argument("--config", required=True)
    compile_.add_argument("--target", choices=("kubeflow", "vertex"), default="kubeflow")
    compile_.add_argument("--output", help="output JSON path (default: RUN_DIR/NAME-TARGET.json)")
    compile_.set_defaults(handler=_compile)

    lineage = commands.add_parser("lineage", help="print a run's DAG from ML Metadata and plot it")
    lineage.add_argument("run_dir", help="run directory (or path to metadata.sqlite)")
    lineage.add_argument("--plot", help="PNG path (default: RUN_DIR/lineage.png)")
    lineage.set_defaults(handler=_lineage)

    report = commands.add_parser("report", help="write a run's offline HTML report (RUN_DIR/report/index.html)")
    report.add_argument("run_dir", help="run directory (holding metadata.sqlite)")
    report.set_defaults(handler=_report)

    status_parser = commands.add_parser("status", help="which components finished, which runs, its progress and ETA")
    status_parser.add_argument("run_dir", help="run directory")
    status_parser.set_defaults(handler=_status)

    demo = commands.add_parser("demo", help="the MNIST-5k demo pipeline")
    demo.add_argument("--run-dir", default="runs/demo")
    demo.set_defaults(handler=_demo)

    preview = commands.add_parser(
        "preview", help="PNG grid of an augmentation op across magnitudes, or draws of a policy, on sample photos"
    )
    preview.add_argument("--op", help="augment_ops op name (see augment_ops.op_names())")
    preview.add_argument("--policy", help="policy.json, or an AugmentationPolicy artifact folder holding one")
    preview.add_argument("--magnitudes", help="comma-separated magnitudes in [0,1] for --op (default 0,0.25,0.5,0.75,1)")
    preview.add_argument("--draws", type=int, default=5, help="random draws of --policy (default 5)")
    preview.add_argument("--seed", type=int, default=0)
    preview.add_argument("--size", type=int, default=128, help="photo side in pixels (default 128)")
    preview.add_argument("--output", help="PNG path (default preview_<op>.png or preview_policy.png)")
    preview.set_defaults(handler=_preview)

    from pipelines import submit

    submit_parser = commands.add_parser("submit", help="submit to Kubeflow Pipelines or Vertex AI Pipelines")
    submit.add_submit_arguments(submit_parser)
    submit_parser.set_defaults(handler=submit.run_submit)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    # google-api-core warns on every import that Python 3.10 support is ending; TFX 1.16 needs 3.10.
    warnings.filterwarnings("ignore", message="You are using a non-supported Python version", category=FutureWarning)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (FileNotFoundError, ValueError) as error:
        print(f"autofit: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
