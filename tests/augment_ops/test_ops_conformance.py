"""One conformance test per registered op: the contract every op promises."""

import numpy as np
import pytest
import tensorflow as tf

from augment_ops import registry
from augment_ops.batch import BOXES, IMAGES, LABELS, MASKS
from augment_ops.options import AugmentOptions

ALL_OPS = registry.op_names()
MAGNITUDES = np.array([0.0, 0.25, 0.6, 1.0], np.float32)
SEED = (7, 11)
EAGER = AugmentOptions(xla=False)
PROJECTIVE = AugmentOptions(xla=False, warp="projective")


def _numpy(batch):
    return {key: np.asarray(value) for key, value in batch.items()}


def _assert_batches_equal(actual, expected, atol=0.0):
    assert actual.keys() == expected.keys()
    for key in expected:
        np.testing.assert_allclose(actual[key], expected[key], atol=atol, rtol=0, err_msg=key)


def _rows(batch, index):
    return {key: value[index : index + 1] for key, value in batch.items()}


@pytest.mark.parametrize("name", ALL_OPS)
def test_op_conformance(name, make_batch):
    spec = registry.get_op(name)
    batch = make_batch(batch_size=4, size=16)
    inputs = _numpy(batch)
    num_boxes = inputs[BOXES].shape[1]
    # Without XLA here (fast to trace); test_op_xla_support_matches_registry covers the compiled path.
    graph = tf.function(lambda b, m, p, s: registry.apply_op(name, b, m, p, s, EAGER), reduce_retracing=True)

    def run(batch, magnitude, probability=1.0, seed=SEED):
        magnitude, probability = tf.constant(magnitude, tf.float32), tf.constant(probability, tf.float32)
        return _numpy(graph(batch, magnitude, probability, tf.constant(seed)))

    # Graph mode agrees with eager.
    eager = _numpy(registry.apply_op(name, batch, MAGNITUDES, 1.0, SEED, EAGER))
    out = run(batch, MAGNITUDES)
    # 1e-5: graph optimizations may reassociate the float arithmetic of bilinear sampling.
    _assert_batches_equal(out, eager, atol=1e-5)

    # Shape, dtype and range.
    assert out[IMAGES].shape == inputs[IMAGES].shape and out[IMAGES].dtype == np.float32
    assert out[IMAGES].min() >= 0.0 and out[IMAGES].max() <= 1.0 + 1e-6
    assert out[MASKS].dtype == np.int32 and out[MASKS].shape == inputs[MASKS].shape
    expected_boxes = 2 * num_boxes if spec.family == registry.MIXING else num_boxes
    assert out[BOXES].shape == (4, expected_boxes, 4)
    np.testing.assert_allclose(out[LABELS].sum(axis=1), 1.0, atol=1e-6)
    kept = out[BOXES][..., 0] >= 0
    assert np.all(out[BOXES][kept] <= 1.0) and np.all(out["box_labels"][~kept] == -1)

    # Identity at magnitude 0 (row 0), bit for bit; mixing pads partner rows with -1.
    row0 = _rows(out, 0)
    if spec.family == registry.MIXING:
        assert np.all(row0[BOXES][:, num_boxes:] == -1)
        row0[BOXES] = row0[BOXES][:, :num_boxes]
        row0["box_labels"] = row0["box_labels"][:, :num_boxes]
    _assert_batches_equal(row0, _rows(inputs, 0))
    np.testing.assert_array_equal(run(batch, [0.0] * 4)[IMAGES], inputs[IMAGES])

    # Magnitude 1 changes every image (except the no-op).
    full = run(batch, [1.0] * 4)
    if name != "identity":
        assert np.all(np.abs(full[IMAGES] - inputs[IMAGES]).max(axis=(1, 2, 3)) > 1e-3)

    # Same seed, same output; another seed changes stochastic ops.
    _assert_batches_equal(run(batch, MAGNITUDES), out)
    if spec.stochastic:
        wide = make_batch(8)
        assert not np.array_equal(run(wide, [1.0] * 8, seed=(3, 5))[IMAGES], run(wide, [1.0] * 8, seed=(4, 5))[IMAGES])

    # Per-sample independence: row i equals row i of a batch that used m_i everywhere,
    # and for ops without random draws, the sample processed alone.
    for index, magnitude in enumerate(MAGNITUDES):
        # 1e-6: transcendental kernels may round the last bit differently by position in the buffer.
        _assert_batches_equal(_rows(out, index), _rows(run(batch, [magnitude] * 4), index), atol=1e-6)
        if not spec.stochastic:
            alone = run(_rows(batch, index), [magnitude])
            _assert_batches_equal(alone, _rows(out, index), atol=1e-6)

    # Per-sample apply probability: probability 0 rows are untouched, others as with probability 1.
    partial = run(batch, [1.0] * 4, [1.0, 0.0, 1.0, 0.0])
    for index in (1, 3):
        np.testing.assert_array_equal(partial[IMAGES][index], inputs[IMAGES][index])
    for index in (0, 2):
        np.testing.assert_allclose(partial[IMAGES][index], full[IMAGES][index], atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ALL_OPS)
@pytest.mark.parametrize("options", [EAGER, PROJECTIVE], ids=["gather", "projective"])
def test_op_xla_support_matches_registry(name, options, make_batch):
    batch = make_batch(batch_size=2, size=16)
    compiled = tf.function(lambda b, m: registry.apply_op(name, b, m, 1.0, SEED, options), jit_compile=True)
    magnitudes = tf.constant([0.0, 1.0])
    if registry.supports_xla(name, options):
        eager = _numpy(registry.apply_op(name, batch, magnitudes, 1.0, SEED, options))
        out = _numpy(compiled(batch, magnitudes))
        # 2e-5: XLA fuses and reorders float arithmetic (and its transcendental functions differ in the last bits).
        _assert_batches_equal(out, eager, atol=2e-5)
        # Identity at magnitude 0 stays bit-exact when compiled.
        np.testing.assert_array_equal(out[IMAGES][0], np.asarray(batch[IMAGES])[0])
    else:
        assert name in registry.XLA_UNSUPPORTED_REASONS
        with pytest.raises((tf.errors.InvalidArgumentError, tf.errors.UnimplementedError)):
            compiled(batch, magnitudes)


@pytest.mark.parametrize("name", registry.op_names(registry.GEOMETRIC))
def test_gather_and_projective_warps_agree(name, make_batch):
    batch = make_batch(batch_size=4, size=16)
    gather = _numpy(registry.apply_op(name, batch, MAGNITUDES, 1.0, SEED, EAGER))
    projective = _numpy(registry.apply_op(name, batch, MAGNITUDES, 1.0, SEED, PROJECTIVE))
    _assert_batches_equal(gather, projective, atol=1e-5)


def test_xla_unsupported_ops_are_the_geometric_ops_with_the_projective_warp():
    assert registry.XLA_UNSUPPORTED_OPS == frozenset()  # default options: everything compiles
    assert registry.xla_unsupported_ops(PROJECTIVE) == frozenset(registry.op_names(registry.GEOMETRIC))


def test_registry_lists_every_family_and_rejects_unknown_names(make_batch):
    assert {registry.get_op(name).family for name in ALL_OPS} == set(registry.FAMILIES)
    with pytest.raises(ValueError, match="Unknown augmentation op 'nope'"):
        registry.apply_op("nope", make_batch()[IMAGES], 1.0)
    with pytest.raises(ValueError, match="Unknown op family"):
        registry.op_names("colour")


def test_images_alone_in_images_alone_out(make_batch):
    images = make_batch()[IMAGES]
    out = registry.apply_op("rotate", images, 0.5, 1.0, SEED)
    assert isinstance(out, tf.Tensor) and out.shape == images.shape


def test_bad_inputs_get_clear_errors(make_batch):
    batch = make_batch()
    with pytest.raises(ValueError, match="must be float in"):
        registry.apply_op("invert", tf.zeros([1, 4, 4, 3], tf.uint8), 1.0)
    with pytest.raises(ValueError, match="Unknown batch keys"):
        registry.apply_op("invert", {**batch, "bbox": batch[BOXES]}, 1.0)
    with pytest.raises(ValueError, match="labels must be float"):
        registry.apply_op("mixup", {**batch, LABELS: tf.constant([0, 1, 2, 0])}, 1.0)
    with pytest.raises(ValueError, match="explicit seed"):
        registry.apply_op("invert", batch, 1.0, 1.0, None)
