"""The `architecture_changes:` section: a Training candidate with drop-in architecture changes.

The changes themselves are graph surgery on the built model (surgery.py); this
is the config of the *candidate* autofit trains next to the plain Training and
keeps only when ChampionSelection finds it better beyond the noise. A change
the user always wants goes in `training.architecture_changes` instead.
"""

from __future__ import annotations

import dataclasses
from typing import Tuple

from components.training import surgery


@dataclasses.dataclass(frozen=True)
class ArchitectureChangesConfig:
    """Args:
      changes: the drop-in changes tried together in one candidate (any of
        surgery.CHANGES). Empty: autofit picks them from the data
        (pipelines/autofit/plan.py `pick_architecture_changes`).
    """

    changes: Tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "changes", surgery.check_changes(tuple(self.changes)))
