"""Policies: JSON round-trip, validation, sampling rules and fused geometry."""

import json

import numpy as np
import pytest
import tensorflow as tf

from augment_ops import geometric, registry, seeds
from augment_ops import policy as policy_lib
from augment_ops.options import AugmentOptions
from augment_ops.policy import Policy, PolicyOp


def test_json_round_trip_for_ready_and_custom_policies():
    custom = Policy.from_ops([("rotate", 0.5, 0.8), ("cutmix", 0.3), ("equalize", 1.0, 0.1)], name="mine")
    for policy in (custom, policy_lib.rand_augment(2, 0.4), policy_lib.trivial_augment()):
        text = policy.to_json()
        assert Policy.from_json(text) == policy
        assert json.loads(text)["format_version"] == policy_lib.POLICY_FORMAT_VERSION


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"ops": [{"name": "rotat", "magnitude": 0.5}]}', "Unknown augmentation op 'rotat'"),
        ('{"ops": [{"name": "rotate", "magnitude": 1.5}]}', "magnitude must be a number in \\[0,1\\]"),
        ('{"ops": [{"name": "rotate", "magnitude": 0.5, "prob": 1}]}', "Policy op #0"),
        ('{"ops": [], "sampling": "all"}', "at least one op"),
        ('{"ops": [{"name": "rotate", "magnitude": 0.5}], "sampling": "some"}', "sampling must be one of"),
        ('{"ops": [{"name": "rotate", "magnitude": 0.5}], "sampling": "random_n", "num_ops": 2}', "num_ops must be"),
        ('{"ops": [{"name": "rotate", "magnitude": 0.5}], "colour": 1}', "Unknown policy fields"),
        ('{"ops": [{"name": "rotate", "magnitude": 0.5}], "format_version": 9}', "format_version 9"),
        ("[1, 2]", "must be an object"),
        ("{oops", "does not parse"),
    ],
)
def test_bad_policy_json_gets_a_clear_error(text, message):
    with pytest.raises(ValueError, match=message):
        Policy.from_json(text)


def test_ready_policies_use_registered_ops():
    assert set(policy_lib.RAND_AUGMENT_OPS) <= set(registry.op_names())
    rand = policy_lib.rand_augment(3, 0.5)
    assert rand.num_ops == 3 and {op.magnitude for op in rand.ops} == {0.5}
    trivial = policy_lib.trivial_augment()
    assert trivial.num_ops == 1 and trivial.magnitude_sampling == policy_lib.MAGNITUDE_UNIFORM


def test_random_n_draws_exactly_n_distinct_ops_per_sample():
    names = ("rotate", "brightness", "invert", "cutout", "hue")
    policy = Policy.from_ops([(name, 0.5) for name in names], sampling="random_n", num_ops=2)
    magnitudes = np.stack([np.asarray(m) for m in policy_lib.sample_magnitudes(policy, 3, 64)], axis=1)
    np.testing.assert_array_equal((magnitudes > 0).sum(axis=1), 2)
    # Every op gets drawn for some sample.
    assert np.all((magnitudes > 0).any(axis=0))


def test_uniform_magnitudes_lie_below_the_op_magnitude_and_vary():
    policy = policy_lib.trivial_augment(max_magnitude=0.6)
    magnitudes = np.stack([np.asarray(m) for m in policy_lib.sample_magnitudes(policy, 0, 256)], axis=1)
    drawn = magnitudes[magnitudes > 0]
    assert len(drawn) > 200 and drawn.max() <= 0.6 and drawn.std() > 0.1


def test_probabilities_set_how_often_ops_apply():
    policy = Policy.from_ops([("invert", 1.0, 0.25), ("solarize", 1.0, 1.0)])
    magnitudes = np.stack([np.asarray(m) for m in policy_lib.sample_magnitudes(policy, 1, 2000)], axis=1)
    assert abs((magnitudes[:, 0] > 0).mean() - 0.25) < 0.04
    assert np.all(magnitudes[:, 1] == 1.0)


def test_geometric_ops_fuse_into_one_warp_equal_to_the_matrix_product(make_batch):
    batch = make_batch(batch_size=2, size=16)
    policy = Policy.from_ops([("rotate", 0.5), ("translate_x", 0.5), ("zoom_out", 0.4)])
    fused = policy(batch, seed=9, options=AugmentOptions(xla=False))
    # The same composed matrix, applied through the geometric module directly.
    seed = tf.constant([9, 0])
    magnitudes = policy_lib.sample_magnitudes(policy, seed, 2)
    forward = geometric.identity(2)
    for index, op in enumerate(policy.ops):
        op_seed = seeds.derive(seed, "run", index, op.name)
        forward = tf.matmul(registry.get_op(op.name).matrix(magnitudes[index], op_seed, 16, 16), forward)
    direct = geometric.apply_matrices(batch, forward, AugmentOptions(xla=False))
    for key in ("images", "masks", "boxes"):
        np.testing.assert_allclose(np.asarray(fused[key]), np.asarray(direct[key]), atol=1e-6)


def test_policy_is_deterministic_and_identity_at_magnitude_zero(make_batch):
    batch = make_batch(batch_size=4, size=16)
    policy = policy_lib.rand_augment(2, 0.5)
    first, second = policy(batch, seed=5), policy(batch, seed=5)
    for key in first:
        np.testing.assert_array_equal(np.asarray(first[key]), np.asarray(second[key]))
    assert not np.array_equal(np.asarray(policy(batch, seed=6)["images"]), np.asarray(first["images"]))
    zero = policy_lib.rand_augment(3, 0.0)(batch, seed=5)
    for key in batch:
        np.testing.assert_array_equal(np.asarray(zero[key]), np.asarray(batch[key]))


def test_policy_compiled_with_xla_matches_eager_and_graph(make_batch):
    batch = make_batch(batch_size=4, size=16)
    policy = policy_lib.rand_augment(3, 0.7)
    eager_options = AugmentOptions(xla=False)
    assert policy.supports_xla() and not policy.supports_xla(AugmentOptions(warp="projective"))
    eager = policy(batch, seed=2, options=eager_options)
    compiled = policy(batch, seed=2)  # default options: one XLA cluster
    graph = tf.function(lambda b: policy(b, seed=2, options=eager_options))(batch)
    for key in ("images", "boxes", "masks"):
        np.testing.assert_allclose(np.asarray(compiled[key]), np.asarray(eager[key]), atol=2e-5)
        np.testing.assert_allclose(np.asarray(graph[key]), np.asarray(eager[key]), atol=1e-6)


def test_policy_op_validation():
    with pytest.raises(ValueError, match="probability must be"):
        PolicyOp("rotate", 0.5, -0.1)
