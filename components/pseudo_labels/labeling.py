"""Batched, resumable teacher predictions and pseudo-labeled examples with provenance.

`predict_split` checkpoints every chunk of batches under a progress
directory, so a rerun after a crash or preemption resumes after the last
complete chunk. `write_pseudo_labels` copies the selected unlabeled records
into canonical examples with a label and provenance (kind, teacher model,
confidence; the original `image/source_id` is kept), so lineage and the
records themselves say where each label came from.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
from typing import Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf

from components.pseudo_labels.selection import Selection
from components.types import examples_io, features
from components.types.data_spec import DataSpecContent

logger = logging.getLogger(__name__)

# Soft pseudo-label targets (teacher probabilities, K floats). Not part of
# make_example's fields yet, so the key lives here.
PSEUDO_PROBABILITIES = features.PSEUDO_PROBABILITIES
PSEUDO_LABEL_KIND = "pseudo_label"
MANIFEST_FILE_NAME = "progress.json"
CHUNK_FILE_PATTERN = "chunk-{:05d}.npz"


@dataclasses.dataclass
class Predictions:
    """Teacher outputs over one split, in record order.

    Attributes:
      source_ids: `[N]` str, each record's `image/source_id`.
      probabilities: `[N, K]` float32.
    """

    source_ids: np.ndarray
    probabilities: np.ndarray


def _write_npz(path: str, **arrays) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    temporary = path + ".tmp"
    with tf.io.gfile.GFile(temporary, "wb") as handle:
        handle.write(buffer.getvalue())
    tf.io.gfile.rename(temporary, path, overwrite=True)  # Atomic: a chunk file is complete or absent.


def _read_npz(path: str) -> Dict[str, np.ndarray]:
    with tf.io.gfile.GFile(path, "rb") as handle:
        with np.load(io.BytesIO(handle.read()), allow_pickle=False) as loaded:
            return {key: loaded[key] for key in loaded.files}


def _completed_chunks(progress_dir: str, manifest: Dict) -> List[Dict[str, np.ndarray]]:
    """Chunks a previous run of the same job finished (contiguous from 0); clears a different job's."""
    manifest_path = os.path.join(progress_dir, MANIFEST_FILE_NAME)
    if tf.io.gfile.exists(manifest_path):
        with tf.io.gfile.GFile(manifest_path) as handle:
            previous = json.load(handle)
        if previous != manifest:
            logger.warning("pseudo-labels: progress in %s is for another job %s; starting over", progress_dir, previous)
            tf.io.gfile.rmtree(progress_dir)
    tf.io.gfile.makedirs(progress_dir)
    with tf.io.gfile.GFile(manifest_path, "w") as handle:
        json.dump(manifest, handle, sort_keys=True)
    chunks = []
    while tf.io.gfile.exists(os.path.join(progress_dir, CHUNK_FILE_PATTERN.format(len(chunks)))):
        chunks.append(_read_npz(os.path.join(progress_dir, CHUNK_FILE_PATTERN.format(len(chunks)))))
    return chunks


def predict_split(
    model,
    examples_uri: str,
    split: str,
    data_spec: DataSpecContent,
    image_size: Tuple[int, int],
    progress_dir: str,
    model_id: str = "",
    batch_size: int = 256,
    chunk_batches: int = 8,
) -> Predictions:
    """Teacher probabilities for every record of `split`, checkpointed per chunk.

    Args:
      model: Keras model, images `[B,H,W,C]` -> probabilities `[B,K]`.
      progress_dir: where chunks and a manifest (model id, split, batching)
        are kept; chunks of a different job there are discarded.
      model_id: names the teacher in the manifest (e.g. its artifact URI).
      chunk_batches: batches per checkpoint.
    """
    manifest = {"model": model_id, "examples": examples_uri, "split": split,
                "batch_size": batch_size, "chunk_batches": chunk_batches, "image_size": list(image_size)}
    chunks = _completed_chunks(progress_dir, manifest)
    if chunks:
        logger.info("pseudo-labels: resuming %s after %d completed chunks", split, len(chunks))
    dataset = examples_io.load_split(
        examples_uri, split, data_spec, batch_size=batch_size, image_size=image_size, with_source_ids=True
    ).skip(len(chunks) * chunk_batches)
    probabilities, source_ids = [], []
    for batch_index, (images, _, ids) in enumerate(dataset, start=len(chunks) * chunk_batches):
        probabilities.append(np.asarray(model.predict_on_batch(images), dtype=np.float32))
        source_ids.append(ids.numpy().astype(str))
        if len(probabilities) == chunk_batches:
            chunks.append(_flush(progress_dir, len(chunks), probabilities, source_ids))
            probabilities, source_ids = [], []
            logger.info("pseudo-labels: %s predicted through batch %d", split, batch_index + 1)
    if probabilities:
        chunks.append(_flush(progress_dir, len(chunks), probabilities, source_ids))
    if not chunks:
        raise ValueError(f"Split {split!r} of {examples_uri} has no records to pseudo-label.")
    return Predictions(
        np.concatenate([chunk["source_ids"] for chunk in chunks]),
        np.concatenate([chunk["probabilities"] for chunk in chunks]),
    )


def _flush(progress_dir: str, index: int, probabilities, source_ids) -> Dict[str, np.ndarray]:
    chunk = {"probabilities": np.concatenate(probabilities), "source_ids": np.concatenate(source_ids)}
    _write_npz(os.path.join(progress_dir, CHUNK_FILE_PATTERN.format(index)), **chunk)
    return chunk


def write_pseudo_labels(
    examples_uri: str,
    split: str,
    predictions: Predictions,
    selection: Selection,
    output_uri: str,
    output_split: str,
    teacher_id: str,
    soft: bool = False,
) -> int:
    """Writes the selected records of `split` (duplicates included) as labeled examples.

    Returns:
      Records written.

    Raises:
      ValueError: when the split's records no longer match the predictions.
    """
    copies = np.bincount(selection.indices, minlength=len(predictions.source_ids))
    positions: Dict[int, List[int]] = {}
    for position, row in enumerate(selection.indices):
        positions.setdefault(int(row), []).append(position)
    directory = examples_io.split_directory(output_uri, output_split)
    tf.io.gfile.makedirs(directory)
    path = os.path.join(directory, "pseudo_labels-00000-of-00001.gz")
    written = 0
    records = tf.data.TFRecordDataset(examples_io.split_files(examples_uri, split), compression_type="GZIP")
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for row, serialized in enumerate(records.as_numpy_iterator()):
            if row >= len(copies) or not copies[row]:
                continue
            source = tf.train.Example.FromString(serialized).features.feature
            source_id = source[features.IMAGE_SOURCE_ID].bytes_list.value[0].decode("utf-8")
            if source_id != predictions.source_ids[row]:
                raise ValueError(
                    f"Record {row} of {examples_uri} split {split!r} is {source_id!r}, but the predictions "
                    f"were made for {predictions.source_ids[row]!r}; the split changed since pseudo-labelling."
                )
            for position in positions[row]:
                writer.write(_pseudo_example(source, source_id, selection, position, teacher_id, soft))
                written += 1
    logger.info("pseudo-labels: wrote %d examples to %s", written, directory)
    return written


def _pseudo_example(source, source_id: str, selection: Selection, position: int, teacher_id: str, soft: bool):
    example = examples_io.make_example(
        source[features.IMAGE_ENCODED].bytes_list.value[0],
        source[features.IMAGE_HEIGHT].int64_list.value[0],
        source[features.IMAGE_WIDTH].int64_list.value[0],
        source[features.IMAGE_CHANNELS].int64_list.value[0],
        source_id,
        label=int(selection.labels[position]),
        provenance={"kind": PSEUDO_LABEL_KIND, "model": teacher_id,
                    "confidence": float(selection.confidence[position])},
    )
    if soft:
        example.features.feature[PSEUDO_PROBABILITIES].float_list.value.extend(
            selection.targets[position].astype(float).tolist()
        )
    return example.SerializeToString()


def load_targets(
    examples_uri: str, split: str, data_spec: DataSpecContent, image_size: Tuple[int, int],
    soft_key: Optional[str] = PSEUDO_PROBABILITIES,
) -> tf.data.Dataset:
    """Unbatched `(image [H,W,C], target [K])`: soft targets when a record has them, else one-hot labels.

    Raises:
      ValueError: (at iteration) for a record without a label.
    """
    num_classes = data_spec.num_classes
    parse_spec = {
        features.IMAGE_ENCODED: tf.io.FixedLenFeature([], tf.string),
        features.LABEL: tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    }
    if soft_key:
        parse_spec[soft_key] = tf.io.VarLenFeature(tf.float32)

    def parse(serialized):
        parsed = tf.io.parse_single_example(serialized, parse_spec)
        image = examples_io.decode_image(parsed[features.IMAGE_ENCODED], data_spec.channels, image_size)
        label = parsed[features.LABEL]
        tf.debugging.assert_non_negative(label, message=f"An example of split {split!r} has no label.")
        target = tf.one_hot(label, num_classes)
        if soft_key:
            soft = tf.sparse.to_dense(parsed[soft_key])
            target = tf.cond(tf.size(soft) == num_classes, lambda: tf.reshape(soft, [num_classes]), lambda: target)
        return image, tf.ensure_shape(target, [num_classes])

    files = examples_io.split_files(examples_uri, split)
    return tf.data.TFRecordDataset(files, compression_type="GZIP").map(
        parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
