"""The search space: enumeration, canonical magnitudes and JSON round trip."""

import json

import pytest

from augment_ops import registry
from components.augmentation_search import candidates


def test_default_space_has_over_100_candidates_covering_every_required_family():
    space = candidates.enumerate_candidates()
    assert len(space) >= 100
    ops = {candidate.op for candidate in space}
    required = {
        "flip_left_right", "rot90",  # mirror, quarter turns
        "brightness", "saturation", "hue",  # colour
        "contrast", "autocontrast",  # contrast
        "gaussian_blur", "sharpness",  # blur / sharpen
        "rotate", "translate_x", "shear_y", "zoom_in", "random_resized_crop",  # spatial
        "cutout", "mixup", "cutmix",
    }
    assert required <= ops
    assert {candidate.family for candidate in space} == set(registry.FAMILIES)
    assert space[0] == candidates.Candidate("identity", 0.0, registry.COLOR)
    assert len(set(space)) == len(space), "candidates must be distinct"


def test_magnitude_free_ops_give_one_candidate_and_rot90_one_per_quarter_turn():
    space = candidates.enumerate_candidates(magnitudes=(0.1, 0.3, 0.6, 1.0))
    assert candidates.magnitudes_of(space, "flip_left_right") == (1.0,)
    assert candidates.magnitudes_of(space, "invert") == (1.0,)
    assert candidates.magnitudes_of(space, "rot90") == pytest.approx((1 / 3, 2 / 3, 1.0), abs=1e-6)
    assert candidates.magnitudes_of(space, "rotate") == (0.1, 0.3, 0.6, 1.0)


def test_canonical_magnitude_merges_equal_effects():
    assert candidates.canonical_magnitude("flip_up_down", 0.2) == 1.0
    assert candidates.canonical_magnitude("rot90", 0.3) == candidates.canonical_magnitude("rot90", 0.1)
    assert candidates.canonical_magnitude("rot90", 0.5) != candidates.canonical_magnitude("rot90", 0.3)
    assert candidates.canonical_magnitude("rotate", 0.0) == 0.0
    assert candidates.canonical_magnitude("rotate", 0.45) == 0.45


def test_restricting_and_excluding_ops():
    space = candidates.enumerate_candidates(ops=["rotate", "mixup"], exclude=["mixup"])
    assert candidates.ops_of(space) == ["identity", "rotate"]
    with pytest.raises(ValueError, match="Unknown augmentation op 'nope'"):
        candidates.enumerate_candidates(ops=["nope"])
    with pytest.raises(ValueError, match=r"grid in \(0, 1\]"):
        candidates.enumerate_candidates(magnitudes=(0.0, 0.5))


def test_json_round_trip_and_errors_name_the_entry():
    space = candidates.enumerate_candidates(ops=["rotate", "flip_left_right", "cutmix"])
    assert candidates.candidates_from_json(candidates.candidates_to_json(space)) == space
    bad = json.dumps([{"op": "rotate", "magnitude": 0.5}, {"op": "rotate", "magnitude": 1.5}])
    with pytest.raises(ValueError, match=r"Candidate #1 .*must be in \[0, 1\]"):
        candidates.candidates_from_json(bad)
    with pytest.raises(ValueError, match="Candidate #0 .*Unknown augmentation op"):
        candidates.candidates_from_json(json.dumps([{"op": "warp_drive", "magnitude": 0.5}]))
    with pytest.raises(ValueError, match="must be a list"):
        candidates.candidates_from_json(json.dumps({"op": "rotate"}))
