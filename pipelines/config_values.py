"""Value checks of a config's sections, after TensorFlow loads and before any data is read.

`pipelines.config.validate_raw` checks keys and types from the schema snapshot without importing TFX; what
only the component configs know (an unknown optimizer, an architecture change that does not exist, a
probability above 1) is checked here by building each section's config dataclass from the user's values,
so such a mistake costs seconds, not a translation and an hour of training.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, Tuple

from pipelines import config_schema
from pipelines.config import ConfigError, RunConfig

# Keys the pipeline builder consumes before the component config sees the section.
BUILDER_KEYS = {"domain_adaptation": ("target",)}


def user_sections(config: RunConfig) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """(section, the user's values) for every section with a config dataclass that the config sets."""
    plain = {"training": config.training, "evaluation": config.evaluation, "selection": config.selection,
             "output": config.output, "transform": config.transform}
    for section, values in plain.items():
        if values:
            yield section, dict(values)
    for section in config.techniques:
        values = config.forced(section)
        if values:
            yield section, {key: value for key, value in values.items() if key not in BUILDER_KEYS.get(section, ())}


def check_section_values(config: RunConfig) -> None:
    """Raises ConfigError naming the section and the problem when a section's values are invalid."""
    from components.types import config_json

    for section, values in user_sections(config):
        if section not in config_schema.SECTION_CLASSES or not values:
            continue
        try:
            config_class = config_schema.config_class(section)
        except (ImportError, AttributeError):
            continue  # Its component is not installed: validate_raw already said so for a used section.
        try:
            config_json.config_from_dict(config_class, values)
        except (ValueError, TypeError) as error:
            raise ConfigError(f"`{section}`: {str(error).splitlines()[0]}") from None
