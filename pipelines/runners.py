"""Runs a pipeline locally: LocalDagRunner, or BeamDagRunner on Beam's DirectRunner."""

from __future__ import annotations

import logging
import os

from tfx import v1 as tfx

from pipelines.config import RunConfig
from pipelines.metadata import metadata_connection_from_env
from components.types.beam_options import effective_beam_args
from pipelines.pipeline import create_pipeline

RUNNERS = ("local", "beam")


def run_pipeline(config: RunConfig, runner: str = "local", pipeline=None, environ=os.environ) -> None:
    """Runs the pipeline for `config` (or a given one).

    ML Metadata goes to SQLite under `config.run_dir` unless AUTOFIT_MLMD_*
    in `environ` name a cluster store (pipelines.metadata).
    """
    if runner not in RUNNERS:
        raise ValueError(f"Unknown runner {runner!r}; choose one of {RUNNERS}.")
    if "://" not in config.run_dir:
        os.makedirs(config.run_dir, exist_ok=True)
    logging.getLogger().setLevel(logging.INFO)
    if pipeline is None:
        pipeline = create_pipeline(config, metadata_connection=metadata_connection_from_env(config.run_dir, environ))
    if runner == "beam":
        from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

        # Naming the orchestrator's runner keeps it off Beam's Prism download (see effective_beam_args).
        BeamDagRunner(beam_orchestrator_args=effective_beam_args([])).run(pipeline)
    else:
        tfx.orchestration.LocalDagRunner().run(pipeline)
