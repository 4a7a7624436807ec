"""Pass 1 (inference only): how far each candidate moves the data as the model sees it.

For every candidate the held-out probe images are transformed once and fed
through the model. Three effects are measured against the clean images:
the Frechet distance between the two embedding distributions (the FID
formula on the penultimate layer), the change in mean loss, and the share
of images whose predicted label changes.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Callable, Dict, List, Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from augment_ops import registry, seeds
from components.augmentation_search.candidates import Candidate

logger = logging.getLogger(__name__)

_EPSILON = 1e-12


@dataclasses.dataclass(frozen=True)
class CandidateEffect:
    """Pass-1 measurements of one candidate on the probe set.

    Attributes:
      frechet: Frechet distance of clean vs augmented embeddings.
      relative_frechet: frechet / trace of the clean embedding covariance
        (scale-free, comparable across models).
      loss_change: mean cross-entropy on augmented minus on clean images.
      label_change: share of images whose predicted class changes.
      accuracy: accuracy on augmented images against the (mixed) labels.
    """

    candidate: Candidate
    frechet: float
    relative_frechet: float
    loss_change: float
    label_change: float
    accuracy: float

    def to_dict(self) -> dict:
        return {**self.candidate.to_dict(), **{k: v for k, v in dataclasses.asdict(self).items() if k != "candidate"}}


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def gaussian_stats(embeddings: np.ndarray):
    """Mean [D] and covariance [D,D] of embeddings [N,D] (N >= 2)."""
    embeddings = np.asarray(embeddings, np.float64)
    if embeddings.ndim != 2 or embeddings.shape[0] < 2:
        raise ValueError(f"Embeddings must be [N,D] with N >= 2; got shape {embeddings.shape}.")
    return embeddings.mean(axis=0), np.cov(embeddings, rowvar=False, ddof=1).reshape(embeddings.shape[1], -1)


def frechet_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Frechet distance between Gaussian fits of two embedding sets [N,D] and [M,D].

    ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)). The matrix square root's
    trace is taken as the sum of square roots of the eigenvalues of the
    symmetric PSD matrix S1^(1/2) S2 S1^(1/2) (same spectrum as S1 S2), which
    stays real and stable for the rank-deficient covariances of small probes.
    """
    mean_1, cov_1 = gaussian_stats(first)
    mean_2, cov_2 = gaussian_stats(second)
    if mean_1.shape != mean_2.shape:
        raise ValueError(f"Embedding widths differ: {mean_1.shape[0]} vs {mean_2.shape[0]}.")
    root_1 = _sqrt_psd(cov_1)
    middle = root_1 @ cov_2 @ root_1
    trace_root = float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2.0), 0.0, None))))
    distance = float(np.sum((mean_1 - mean_2) ** 2) + np.trace(cov_1) + np.trace(cov_2) - 2.0 * trace_root)
    return max(distance, 0.0)


def feature_extractor(model: keras.Model) -> keras.Model:
    """A model returning (penultimate embeddings [B,D], probabilities [B,K]).

    The penultimate layer is the input of the model's last layer (the
    classification head), flattened to [B,D].

    Raises:
      ValueError: for models without a functional graph (subclassed models).
    """
    try:
        embedding = model.layers[-1].input
        outputs = model.outputs[0]
    except (AttributeError, ValueError, IndexError) as error:
        raise ValueError(
            f"Model {model.name!r} has no functional graph to read the penultimate layer from "
            f"({error}); build it with the Keras functional API."
        ) from None
    if len(embedding.shape) > 2:
        embedding = keras.layers.Flatten()(embedding)
    return keras.Model(model.inputs, [embedding, outputs], name=f"{model.name}_features")


def op_seed(seed: int, op: str) -> tf.Tensor:
    """A [2] seed depending only on the search seed and the op."""
    return seeds.derive(seeds.as_seed(int(seed)), op)


def augment_probe(op: str, magnitudes: Sequence[float], images: tf.Tensor, labels: tf.Tensor, seed: int):
    """All of one op's candidates in one call: the probe tiled once per magnitude.

    Eager on purpose: each op runs once, too few calls to pay back tracing it.

    Returns:
      (images [M*N,H,W,C], labels [M*N,K]); rows m*N..(m+1)*N-1 are magnitude m.
    """
    count = int(images.shape[0])
    batch = {"images": tf.tile(images, [len(magnitudes), 1, 1, 1]), "labels": tf.tile(labels, [len(magnitudes), 1])}
    per_row = np.repeat(np.asarray(magnitudes, np.float32), count)
    out = registry.apply_op(op, batch, per_row, 1.0, seed=op_seed(seed, op))
    return out["images"], out["labels"]


def _unchanged(images, augmented, labels: np.ndarray, targets: np.ndarray) -> bool:
    return bool(tf.reduce_all(tf.equal(images, augmented))) and np.array_equal(labels, targets)


def _cross_entropy(probabilities: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return -np.sum(targets * np.log(np.clip(probabilities, _EPSILON, 1.0)), axis=-1)


def _compiled(extractor: keras.Model, image_shape) -> Callable:
    """The extractor as one traced graph (eager calls cost more than the math on small probes)."""
    signature = [tf.TensorSpec([None, *image_shape], tf.float32)]
    return tf.function(lambda images: extractor(images, training=False), input_signature=signature)


def _predict(extractor: Callable, images: tf.Tensor, batch_size: int):
    embeddings, probabilities = [], []
    for start in range(0, int(images.shape[0]), batch_size):
        embedding, probability = extractor(images[start : start + batch_size])
        embeddings.append(np.asarray(embedding, np.float64))
        probabilities.append(np.asarray(probability, np.float64))
    return np.concatenate(embeddings), np.concatenate(probabilities)


def measure_candidates(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    candidates: Sequence[Candidate],
    seed: int = 0,
    batch_size: int = 512,
    progress: Optional[Callable[[int, int, CandidateEffect], None]] = None,
) -> List[CandidateEffect]:
    """Pass 1 over all candidates.

    Args:
      model: classifier with probability outputs and a functional graph.
      images: probe images [N,H,W,C] float in [0,1], N >= 2.
      labels: one-hot / soft targets [N,K].
      candidates: the search space.
      seed: same seed, same augmented probes, same table.
      progress: called after each candidate with (count done - 1, total, effect).

    Returns:
      One CandidateEffect per candidate, in order.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    extractor = _compiled(feature_extractor(model), images.shape[1:])
    labels = tf.convert_to_tensor(labels, tf.float32)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"Probe images ({images.shape[0]}) and labels ({labels.shape[0]}) differ in count.")
    clean_embeddings, clean_probabilities = _predict(extractor, images, batch_size)
    clean_labels = np.asarray(labels, np.float64)
    clean_loss = float(np.mean(_cross_entropy(clean_probabilities, clean_labels)))
    clean_predictions = np.argmax(clean_probabilities, axis=-1)
    spread = float(np.trace(gaussian_stats(clean_embeddings)[1]))
    by_op: Dict[str, List[int]] = {}
    for index, candidate in enumerate(candidates):
        by_op.setdefault(candidate.op, []).append(index)
    effects: List[Optional[CandidateEffect]] = [None] * len(candidates)
    done = 0
    count = int(images.shape[0])
    for op, indices in by_op.items():
        all_images, all_targets = augment_probe(op, [candidates[i].magnitude for i in indices], images, labels, seed)
        all_embeddings, all_probabilities = _predict(extractor, all_images, batch_size)
        for position, index in enumerate(indices):
            rows = slice(position * count, (position + 1) * count)
            targets = np.asarray(all_targets[rows], np.float64)
            embeddings, probabilities = all_embeddings[rows], all_probabilities[rows]
            if _unchanged(images, all_images[rows], clean_labels, targets):
                embeddings, probabilities = clean_embeddings, clean_probabilities  # Exactly the clean probe.
            frechet = frechet_distance(clean_embeddings, embeddings)
            predictions = np.argmax(probabilities, axis=-1)
            effects[index] = CandidateEffect(
                candidate=candidates[index],
                frechet=frechet,
                relative_frechet=frechet / max(spread, _EPSILON),
                loss_change=float(np.mean(_cross_entropy(probabilities, targets))) - clean_loss,
                label_change=float(np.mean(predictions != clean_predictions)),
                accuracy=float(np.mean(predictions == np.argmax(targets, axis=-1))),
            )
            done += 1
            if progress is not None:
                progress(done - 1, len(candidates), effects[index])
    return effects


def log_progress(every: int = 10) -> Callable[[int, int, CandidateEffect], None]:
    """A progress callback logging every `every` candidates with the elapsed time."""
    start = time.perf_counter()

    def report(index: int, total: int, effect: CandidateEffect) -> None:
        if (index + 1) % every == 0 or index + 1 == total:
            logger.info(
                "pass 1: %d/%d candidates (%.1fs); last %s: frechet=%.3g label_change=%.2f",
                index + 1, total, time.perf_counter() - start, effect.candidate.name,
                effect.relative_frechet, effect.label_change,
            )

    return report
