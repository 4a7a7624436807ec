"""The fast pass-2 policy runner reproduces augment_ops.policy.apply_policy exactly."""

import numpy as np
import pytest
import tensorflow as tf

from augment_ops import policy as policy_lib
from components.augmentation_search import search_policy
from components.augmentation_search.compiled_ops import CompiledOps

POLICIES = [
    policy_lib.Policy.from_ops(  # TrivialAugment's sampling on a short op list
        [("rotate", 1.0), ("brightness", 1.0), ("cutout", 0.8)], sampling="random_n", num_ops=1,
        magnitude_sampling="uniform", name="trivial",
    ),
    search_policy.cluster_policy(["rotate", "cutout", "brightness", "mixup", "translate_x"], 0.6, 0.7, "cluster"),
    search_policy.combined_policy(
        [
            search_policy.cluster_policy(["shear_x", "gaussian_blur"], 0.3, 0.5, "a"),
            search_policy.cluster_policy(["zoom_in", "cutmix", "posterize"], 0.6, 1.0, "b"),
        ],
        "combined",
        num_ops=2,
    ),
]


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_run_policy_equals_apply_policy(policy):
    rng = np.random.default_rng(0)
    images = rng.random((12, 8, 8, 3)).astype("float32")
    labels = np.eye(4, dtype="float32")[np.arange(12) % 4]
    fast_images, fast_labels = CompiledOps((8, 8, 3), 4).run_policy(policy, images, labels, [3, 4])
    expected = policy_lib.apply_policy(policy, {"images": tf.constant(images), "labels": tf.constant(labels)}, [3, 4])
    np.testing.assert_allclose(fast_images.numpy(), expected["images"].numpy(), atol=1e-6)
    np.testing.assert_allclose(fast_labels.numpy(), expected["labels"].numpy(), atol=1e-6)
    assert not np.allclose(fast_images.numpy(), images), "the policy changed nothing"


def test_cluster_and_combined_policies_round_trip_through_json():
    for policy in POLICIES[1:]:
        assert policy_lib.Policy.from_json(policy.to_json()) == policy
    combined = POLICIES[2]
    assert combined.num_ops == 2 and combined.sampling == policy_lib.SAMPLING_RANDOM_N
    assert search_policy.without_mixing(combined.op_names) == ("shear_x", "gaussian_blur", "zoom_in", "posterize")
