"""Which ML Metadata store a run records into: SQLite under the run directory by
default, or a cluster's MLMD (Kubeflow's metadata gRPC service, or MySQL).

The runners read the choice from the environment (the Kubernetes manifests set
AUTOFIT_MLMD_* from a ConfigMap); library code gets the resulting config.
"""

from __future__ import annotations

import os
from typing import Mapping

from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

BACKENDS = ("sqlite", "grpc", "mysql")
SQLITE_FILE_NAME = "metadata.sqlite"


def sqlite_connection(run_dir: str):
    return tfx.orchestration.metadata.sqlite_metadata_connection_config(os.path.join(run_dir, SQLITE_FILE_NAME))


def metadata_connection_from_env(run_dir: str, environ: Mapping[str, str] = os.environ):
    """The MLMD connection named by AUTOFIT_MLMD_BACKEND (default sqlite) and its settings."""
    backend = environ.get("AUTOFIT_MLMD_BACKEND") or "sqlite"
    if backend not in BACKENDS:
        raise ValueError(f"AUTOFIT_MLMD_BACKEND={backend!r} is not one of {BACKENDS}.")
    if backend == "sqlite":
        if "://" in run_dir:
            raise ValueError(
                f"SQLite ML Metadata needs a local run_dir, got {run_dir!r}; "
                "set AUTOFIT_MLMD_BACKEND=grpc or mysql for a cloud run directory."
            )
        return sqlite_connection(run_dir)
    host, port = environ.get("AUTOFIT_MLMD_HOST"), environ.get("AUTOFIT_MLMD_PORT")
    if not host or not port:
        raise ValueError(f"AUTOFIT_MLMD_BACKEND={backend} needs AUTOFIT_MLMD_HOST and AUTOFIT_MLMD_PORT.")
    if backend == "grpc":
        return metadata_store_pb2.MetadataStoreClientConfig(host=host, port=int(port))
    credentials = environ.get("AUTOFIT_MLMD_CREDENTIALS_DIR", "")

    def read(name: str) -> str:
        path = os.path.join(credentials, name)
        if not os.path.exists(path):
            raise FileNotFoundError(f"MySQL ML Metadata credential file {path} is missing (AUTOFIT_MLMD_CREDENTIALS_DIR).")
        with open(path) as handle:
            return handle.read().strip()

    return tfx.orchestration.metadata.mysql_metadata_connection_config(
        host, int(port), environ.get("AUTOFIT_MLMD_DATABASE") or "mlmd", read("user"), read("password")
    )
