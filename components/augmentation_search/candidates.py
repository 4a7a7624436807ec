"""Candidate transforms: (op, magnitude) pairs drawn from the augment_ops registry.

Every registered op is a candidate family. Ops whose output does not depend
on the magnitude's size (flips, invert) give one candidate; `rot90` gives one
per distinct number of quarter turns; every other op gives one candidate per
magnitude of the grid. Identity is kept as the zero-distance reference.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Iterable, List, Optional, Sequence, Tuple

from augment_ops import registry

IDENTITY_OP = "identity"
DEFAULT_MAGNITUDES = (0.1, 0.3, 0.6, 1.0)
QUARTER_TURN_OPS = {"rot90": 3}  # op -> number of distinct settings over (0, 1]


@dataclasses.dataclass(frozen=True, order=True)
class Candidate:
    """One transform of the search space.

    Attributes:
      op: augment_ops registry name.
      magnitude: in [0, 1]; the op's canonical setting (see `canonical_magnitude`).
      family: the op's registry family (geometric, color, ...).
    """

    op: str
    magnitude: float
    family: str = ""

    @property
    def name(self) -> str:
        return f"{self.op}@{self.magnitude:.2f}"

    def to_dict(self) -> dict:
        return {"op": self.op, "magnitude": self.magnitude, "family": self.family}

    @classmethod
    def from_dict(cls, raw: dict) -> "Candidate":
        unknown = set(raw) - {"op", "magnitude", "family"}
        if unknown or "op" not in raw or "magnitude" not in raw:
            raise ValueError(f"A candidate needs keys op and magnitude (and optional family); got {sorted(raw)}.")
        spec = registry.get_op(raw["op"])
        magnitude = float(raw["magnitude"])
        if not 0.0 <= magnitude <= 1.0:
            raise ValueError(f"Candidate {raw['op']!r} has magnitude {magnitude}; it must be in [0, 1].")
        return cls(spec.name, magnitude, spec.family)


def canonical_magnitude(op: str, magnitude: float) -> float:
    """The smallest magnitude with the same effect, so equal effects are one candidate.

    Binary ops act fully at any magnitude > 0 (-> 1.0); rot90 turns
    ceil(3 m) quarter turns (-> k / 3).
    """
    if magnitude <= 0.0 or op == IDENTITY_OP:
        return 0.0
    if registry.get_op(op).binary:
        return 1.0
    if op in QUARTER_TURN_OPS:
        steps = QUARTER_TURN_OPS[op]
        return round(min(math.ceil(steps * magnitude - 1e-4), steps) / steps, 6)
    return round(float(magnitude), 6)


def enumerate_candidates(
    magnitudes: Sequence[float] = DEFAULT_MAGNITUDES,
    ops: Optional[Iterable[str]] = None,
    exclude: Iterable[str] = (),
    include_identity: bool = True,
) -> List[Candidate]:
    """All distinct (op, magnitude) candidates, identity first, then in registry order.

    Args:
      magnitudes: grid in (0, 1].
      ops: restrict to these registry names (default: every registered op).
      exclude: op names to leave out (e.g. ops that need labels the task lacks).

    Raises:
      ValueError: on magnitudes outside (0, 1] or unknown op names.
    """
    bad = [value for value in magnitudes if not 0.0 < float(value) <= 1.0]
    if bad or not magnitudes:
        raise ValueError(f"Candidate magnitudes must be a non-empty grid in (0, 1]; got {list(magnitudes)}.")
    names = list(ops) if ops is not None else registry.op_names()
    for name in list(names) + list(exclude):
        registry.get_op(name)  # A clear error for unknown names.
    excluded = set(exclude)
    candidates: List[Candidate] = []
    if include_identity:
        candidates.append(Candidate(IDENTITY_OP, 0.0, registry.get_op(IDENTITY_OP).family))
    seen = {(IDENTITY_OP, 0.0)}
    for name in names:
        if name == IDENTITY_OP or name in excluded:
            continue
        family = registry.get_op(name).family
        for magnitude in sorted(magnitudes):
            key = (name, canonical_magnitude(name, float(magnitude)))
            if key not in seen:
                seen.add(key)
                candidates.append(Candidate(key[0], key[1], family))
    return candidates


def candidates_to_json(candidates: Sequence[Candidate]) -> str:
    return json.dumps([candidate.to_dict() for candidate in candidates], indent=1)


def candidates_from_json(text: str) -> List[Candidate]:
    """Parses a JSON list of candidates, naming the bad entry on error."""
    raw = json.loads(text)
    if not isinstance(raw, list):
        raise ValueError(f"Candidates JSON must be a list; got {type(raw).__name__}.")
    parsed = []
    for index, entry in enumerate(raw):
        try:
            parsed.append(Candidate.from_dict(entry))
        except (ValueError, TypeError) as error:
            raise ValueError(f"Candidate #{index} ({entry!r}) is invalid: {error}") from None
    return parsed


def ops_of(candidates: Sequence[Candidate]) -> List[str]:
    """Op names in first-seen order."""
    return list(dict.fromkeys(candidate.op for candidate in candidates))


def magnitudes_of(candidates: Sequence[Candidate], op: str) -> Tuple[float, ...]:
    return tuple(sorted(candidate.magnitude for candidate in candidates if candidate.op == op))
