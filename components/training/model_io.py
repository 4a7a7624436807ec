"""Moved to components.common.model_io; this shim keeps old imports working."""

from components.common.model_io import *  # noqa: F401,F403
from components.common.model_io import read_json, write_json  # noqa: F401
from components.common.mlmd_metrics import record_metrics  # noqa: F401
