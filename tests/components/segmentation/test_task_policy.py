"""The AugmentationPolicy artifact as detection and segmentation training read it."""

import pytest

from augment_ops.options import AugmentOptions
from augment_ops.policy import Policy
from components.training import task_training
from tests.components.detection import pipeline_steps as steps


def test_box_prior_comes_from_augment_options_and_xla_is_off(tmp_path):
    written = steps.write_policy(str(tmp_path / "p"), Policy.from_ops([("rotate", 0.3, 1.0)]), AugmentOptions(box_prior="diamond"))
    policy, options = task_training.read_task_policy(written.uri)
    assert policy.op_names == ("rotate",) and options.box_prior == "diamond" and options.xla is False
    plain = steps.write_policy(str(tmp_path / "q"), Policy.from_ops([("rotate", 0.3, 1.0)]))
    assert task_training.read_task_policy(plain.uri)[1].box_prior == "rectangle"


def test_mixing_policies_are_refused(tmp_path):
    policy = steps.write_policy(str(tmp_path / "p"), Policy.from_ops([("mixup", 0.5, 1.0)]))
    with pytest.raises(ValueError, match="mixes images"):
        task_training.read_task_policy(policy.uri)
