"""Pseudo-label selection (threshold, class balance), resumable prediction and provenance records."""

import os

import numpy as np
import pytest
import tensorflow as tf

from components.pseudo_labels import labeling, selection
from components.types import examples_io, features
from tests.support.canonical import artifact_pair

# Rows: argmax class and confidence.
PROBABILITIES = np.array(
    [
        [0.90, 0.05, 0.05],  # 0: class 0, 0.90
        [0.60, 0.30, 0.10],  # 1: class 0, 0.60 (below 0.7)
        [0.95, 0.03, 0.02],  # 2: class 0, 0.95
        [0.80, 0.10, 0.10],  # 3: class 0, 0.80
        [0.10, 0.75, 0.15],  # 4: class 1, 0.75
        [0.05, 0.05, 0.90],  # 5: class 2, 0.90
        [0.10, 0.10, 0.80],  # 6: class 2, 0.80
    ],
    dtype=np.float32,
)


def test_threshold_without_balance_keeps_confident_rows_by_class_and_confidence():
    chosen = selection.select_pseudo_labels(PROBABILITIES, threshold=0.7, balance=False)
    assert chosen.indices.tolist() == [2, 0, 3, 4, 5, 6]
    assert chosen.labels.tolist() == [0, 0, 0, 1, 2, 2]
    np.testing.assert_allclose(chosen.confidence, [0.95, 0.90, 0.80, 0.75, 0.90, 0.80])
    np.testing.assert_array_equal(chosen.targets, np.eye(3, dtype=np.float32)[[0, 0, 0, 1, 2, 2]])
    assert chosen.per_class_confident.tolist() == [3, 1, 2]


def test_balance_duplicates_rare_classes_and_keeps_most_confident_of_frequent_ones():
    # Mean confident count (3 + 1 + 2) / 3 = 2 per class.
    chosen = selection.select_pseudo_labels(PROBABILITIES, threshold=0.7, balance=True)
    assert chosen.indices.tolist() == [2, 0, 4, 4, 5, 6]
    explicit = selection.select_pseudo_labels(PROBABILITIES, threshold=0.7, balance=True, per_class=3)
    assert explicit.indices.tolist() == [2, 0, 3, 4, 4, 4, 5, 6, 5]
    assert np.bincount(explicit.labels).tolist() == [3, 3, 3]


def test_soft_targets_are_teacher_probabilities():
    chosen = selection.select_pseudo_labels(PROBABILITIES, threshold=0.85, mode="soft", balance=False)
    assert chosen.indices.tolist() == [2, 0, 5]
    np.testing.assert_allclose(chosen.targets, PROBABILITIES[[2, 0, 5]])


def test_nothing_confident_gives_empty_selection_and_bad_input_is_rejected():
    assert len(selection.select_pseudo_labels(PROBABILITIES, threshold=0.99)) == 0
    with pytest.raises(ValueError, match="mode"):
        selection.select_pseudo_labels(PROBABILITIES, mode="fuzzy")
    with pytest.raises(ValueError, match="threshold"):
        selection.select_pseudo_labels(PROBABILITIES, threshold=1.5)
    with pytest.raises(ValueError, match=r"\[N, K\]"):
        selection.select_pseudo_labels(np.ones(3))


class CountingModel:
    """Deterministic fake teacher: probabilities from the image mean (classes vary by image); counts batches."""

    def __init__(self, num_classes=3):
        self.calls = 0
        self.num_classes = num_classes

    def predict_on_batch(self, images):
        self.calls += 1
        means = tf.reduce_mean(images, axis=[1, 2, 3]).numpy()
        logits = np.stack([4.0 * np.cos(means * 300.0 + 2.1 * k) for k in range(self.num_classes)], axis=1)
        return tf.nn.softmax(logits).numpy()


@pytest.fixture
def unlabeled(tmp_path):
    examples, _, data_spec = artifact_pair(tmp_path, {"train": 6, "unlabeled": 10})
    return examples, data_spec


def test_prediction_resumes_after_the_last_complete_chunk(unlabeled, tmp_path):
    examples, data_spec = unlabeled
    progress = str(tmp_path / "progress")
    first = CountingModel()
    full = labeling.predict_split(first, examples.uri, "unlabeled", data_spec, (12, 12), progress, "teacher-a",
                                  batch_size=3, chunk_batches=1)
    assert first.calls == 4 and full.probabilities.shape == (10, 3)
    assert full.source_ids.tolist() == [f"unlabeled/{i}.png" for i in range(10)]
    os.remove(os.path.join(progress, labeling.CHUNK_FILE_PATTERN.format(3)))  # The run "crashed" before chunk 3.
    resumed_model = CountingModel()
    resumed = labeling.predict_split(resumed_model, examples.uri, "unlabeled", data_spec, (12, 12), progress,
                                     "teacher-a", batch_size=3, chunk_batches=1)
    assert resumed_model.calls == 1
    np.testing.assert_array_equal(resumed.probabilities, full.probabilities)
    np.testing.assert_array_equal(resumed.source_ids, full.source_ids)
    other_teacher = CountingModel()
    labeling.predict_split(other_teacher, examples.uri, "unlabeled", data_spec, (12, 12), progress, "teacher-b",
                           batch_size=3, chunk_batches=1)
    assert other_teacher.calls == 4  # Another teacher's progress is not reused.


@pytest.mark.parametrize("mode", ["hard", "soft"])
def test_pseudo_labeled_examples_carry_provenance_and_targets(unlabeled, tmp_path, mode):
    examples, data_spec = unlabeled
    predictions = labeling.predict_split(CountingModel(), examples.uri, "unlabeled", data_spec, (12, 12),
                                         str(tmp_path / "p"), "teacher-uri")
    chosen = selection.select_pseudo_labels(predictions.probabilities, 0.0, mode, balance=True, per_class=4)
    output = str(tmp_path / "pseudo")
    written = labeling.write_pseudo_labels(examples.uri, "unlabeled", predictions, chosen, output, "iteration_1",
                                           "teacher-uri", soft=mode == "soft")
    assert written == len(chosen) == 4 * int(np.sum(chosen.per_class_confident > 0))
    assert len(chosen) >= 8  # The fake teacher spreads the images over at least two classes.
    records = [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(
        examples_io.split_files(output, "iteration_1"), compression_type="GZIP")]
    by_source = {}
    for record in records:
        feature = record.features.feature
        source_id = feature[features.IMAGE_SOURCE_ID].bytes_list.value[0].decode()
        row = predictions.source_ids.tolist().index(source_id)
        assert feature[features.PROVENANCE].bytes_list.value[0] == b"pseudo_label"
        assert feature[features.PROVENANCE_MODEL].bytes_list.value[0] == b"teacher-uri"
        assert feature[features.PROVENANCE_CONFIDENCE].float_list.value[0] == pytest.approx(
            predictions.probabilities[row].max(), rel=1e-6)
        assert feature[features.LABEL].int64_list.value[0] == int(np.argmax(predictions.probabilities[row]))
        assert (labeling.PSEUDO_PROBABILITIES in feature) == (mode == "soft")
        by_source[source_id] = by_source.get(source_id, 0) + 1
    assert sorted(by_source.values()) == sorted(np.bincount(chosen.indices)[np.bincount(chosen.indices) > 0])
    targets = np.stack([t for _, t in labeling.load_targets(output, "iteration_1", data_spec, (12, 12))])
    np.testing.assert_allclose(np.sort(targets, axis=0), np.sort(chosen.targets, axis=0), rtol=1e-6)


def test_changed_split_is_detected(unlabeled, tmp_path):
    examples, data_spec = unlabeled
    predictions = labeling.predict_split(CountingModel(), examples.uri, "unlabeled", data_spec, (12, 12),
                                         str(tmp_path / "p"))
    predictions.source_ids[0] = "someone/else.png"
    chosen = selection.select_pseudo_labels(predictions.probabilities, 0.0, balance=False)
    with pytest.raises(ValueError, match="split changed since pseudo-labelling"):
        labeling.write_pseudo_labels(examples.uri, "unlabeled", predictions, chosen, str(tmp_path / "o"), "s", "t")
