"""The Do() preamble every model-producing executor repeats, written once.

Each such executor logs its startup, parses its frozen config dataclass from
the JSON `config` exec property, resolves its Examples artifact and reads the
DataSpec; then it fetches single (required) and optional inputs and single
outputs. `ComponentExecutor.start` does the first part and the static helpers
the rest, with the same error behaviour TFX's artifact_utils gives.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Generic, List, Optional, Type, TypeVar

from tfx import types
from tfx.dsl.components.base import base_executor

from components.common import artifact_io, resume
from components.types import config_json
from components.types.data_spec import DataSpecContent, read_data_spec

ConfigT = TypeVar("ConfigT")

# Keys every component spec in this suite uses for these inputs and the config.
CONFIG_KEY = "config"
EXAMPLES_KEY = "examples"
DATA_SPEC_KEY = "data_spec"


@dataclasses.dataclass(frozen=True)
class ExecutorInputs(Generic[ConfigT]):
    """What the preamble resolved: the parsed config, the Examples artifact (None when not asked) and the DataSpec."""

    config: ConfigT
    examples: Optional[types.Artifact]
    data_spec: DataSpecContent


class ComponentExecutor(resume.ExecutionScopedExecutor, base_executor.BaseExecutor):  # Do() runs in its scope.
    """BaseExecutor plus the shared preamble; subclasses implement Do()."""

    def start(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
        config_class: Type[ConfigT],
        examples_key: Optional[str] = EXAMPLES_KEY,
        data_spec_key: str = DATA_SPEC_KEY,
        config_key: str = CONFIG_KEY,
    ) -> ExecutorInputs[ConfigT]:
        """Logs startup, parses the config, resolves the Examples artifact and reads the DataSpec.

        Raises:
          ValueError: unknown config options or an invalid config (from the dataclass), or a missing
            or multiple Examples/DataSpec artifact.
        """
        self._log_startup(input_dict, output_dict, exec_properties)
        config = config_json.config_from_json(config_class, exec_properties[config_key])
        examples = self.single(input_dict, examples_key) if examples_key else None
        data_spec = read_data_spec(self.single(input_dict, data_spec_key).uri)
        return ExecutorInputs(config=config, examples=examples, data_spec=data_spec)

    @staticmethod
    def single(artifacts: Dict[str, List[types.Artifact]], key: str) -> types.Artifact:
        """The one artifact under `key` (input or output dict); ValueError when there is not exactly one."""
        return artifact_io.single(artifacts, key)

    @staticmethod
    def optional(input_dict: Dict[str, List[types.Artifact]], key: str) -> Optional[types.Artifact]:
        """The first artifact under `key`, or None when that optional input is not wired."""
        return artifact_io.optional_single(input_dict, key)

    @staticmethod
    def uris(input_dict: Dict[str, List[types.Artifact]], key: str) -> List[str]:
        """URIs of every artifact under `key` (empty when not wired)."""
        return [artifact.uri for artifact in input_dict.get(key) or []]

