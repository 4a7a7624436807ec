"""Beam pipeline arguments shared by every Beam-using component and the runners."""

from __future__ import annotations

from typing import List, Optional, Sequence

# Beam 2.74's DirectRunner first tries to download the Prism runner binary from the
# internet; FnApiRunner is the engine DirectRunner uses for batch pipelines, offline.
DEFAULT_LOCAL_BEAM_RUNNER = "--runner=FnApiRunner"


def effective_beam_args(beam_pipeline_args: Optional[Sequence[str]]) -> List[str]:
    """The given Beam args, with the offline local runner unless a runner is named."""
    args = list(beam_pipeline_args or [])
    if any(arg == "--runner" or arg.startswith("--runner=") for arg in args):
        return args
    return [DEFAULT_LOCAL_BEAM_RUNNER, *args]
