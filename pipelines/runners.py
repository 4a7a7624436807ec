"""Runs a pipeline locally: LocalDagRunner, or BeamDagRunner on Beam's DirectRunner."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Optional

from tfx import v1 as tfx

from pipelines.config import RunConfig
from pipelines.metadata import RunMarker, mark_interrupted_executions, metadata_connection_from_env
from components.types.beam_options import effective_beam_args
from pipelines.pipeline import create_pipeline

RUNNERS = ("local", "beam")


def run_pipeline(
    config: RunConfig,
    runner: str = "local",
    pipeline=None,
    environ=os.environ,
    enable_cache: Optional[bool] = None,
    plan=None,
) -> None:
    """Runs the pipeline for `config` (or a given one).

    ML Metadata goes to SQLite under `config.run_dir` unless AUTOFIT_MLMD_*
    in `environ` name a cluster store (pipelines.metadata).

    Args:
      enable_cache: reuse executions whose inputs and config match a finished
        one (a rerun after a kill redoes only the unfinished work); False
        forces every component to run (`autofit run --no-cache`). None: on,
        or a given `pipeline`'s own setting (create_pipeline turns it on for
        local runs).
      plan: the autofit plan the pipeline is built from (None: the fixed chain).

    Before running, executions of this pipeline left unfinished by a killed
    run are marked FAILED and their outputs ABANDONED (unless another live
    process may own them), and a trainer interrupted mid-way resumes from its
    last finished epoch (components.common.resume).
    """
    if runner not in RUNNERS:
        raise ValueError(f"Unknown runner {runner!r}; choose one of {RUNNERS}.")
    local_run_dir = "://" not in config.run_dir
    if local_run_dir:
        os.makedirs(config.run_dir, exist_ok=True)
    logging.getLogger().setLevel(logging.INFO)
    if pipeline is None:
        pipeline = create_pipeline(
            config,
            metadata_connection=metadata_connection_from_env(config.run_dir, environ),
            enable_cache=True if enable_cache is None else enable_cache,
            plan=plan,
        )
    elif enable_cache is not None:
        pipeline.enable_cache = enable_cache
    with RunMarker(config.run_dir) if local_run_dir else contextlib.nullcontext() as marker:
        if marker is not None:
            others = marker.others_alive()
            mark_interrupted_executions(
                pipeline.metadata_connection_config,
                pipeline.pipeline_info.pipeline_name,
                pipeline_root=root if isinstance(root := pipeline.pipeline_info.pipeline_root, str) else None,
                created_before=min(others) if others else None,
            )
        if runner == "beam":
            from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

            # Naming the orchestrator's runner keeps it off Beam's Prism download (see effective_beam_args).
            BeamDagRunner(beam_orchestrator_args=effective_beam_args([])).run(pipeline)
        else:
            tfx.orchestration.LocalDagRunner().run(pipeline)
