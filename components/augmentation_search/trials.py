"""Pass 2: short training runs, each warm-started from the proxy, scored on held-out data.

Every trial starts from the same proxy weights and a fresh optimizer, trains
`epochs` epochs with one policy (split as Training splits it: label-mixing
ops on images and soft targets, then the image ops; see
components/common/augmentation.py), recalibrates batch norm on clean training
images and is scored on the held-out split. One compiled model is reused for all trials
(weights and optimizer state are reset), so a trial costs its training steps,
not a new graph trace.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import List, Optional

import keras
import numpy as np
import tensorflow as tf

from augment_ops.policy import MAGNITUDE_UNIFORM, SAMPLING_RANDOM_N, Policy
from components.augmentation_search import proxy as proxy_lib
from components.augmentation_search.compiled_ops import CompiledOps
from components.augmentation_search.search_policy import NO_AUGMENTATION_NAME, describe
from components.common import augmentation
from components.training import trainer
from components.training.spec import TrainingConfig

logger = logging.getLogger(__name__)

# Trial kinds.
BASELINE = "baseline"
CLUSTER = "cluster"
COMBINED = "combined"

@dataclasses.dataclass(frozen=True)
class TrialResult:
    """Held-out score of one pass-2 trial.

    Attributes:
      name: the trial's name ("none", a baseline's or a cluster setting's).
      policy: the augment_ops Policy trained with; None for no augmentation.
      kind: "baseline", "cluster" or "combined".
      correct: per held-out example, whether the trial's model got it right [N]
        (for paired comparisons between trials).
      cluster: the cluster of a single-cluster trial.
      magnitude, probability: the setting tried (single-cluster / combined).
      strength: how much augmentation the policy applies (sum over drawn ops
        of magnitude x probability; 0 for none).
    """

    name: str
    policy: Optional[Policy]
    accuracy: float
    loss: float
    seconds: float
    kind: str
    correct: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, bool), repr=False, compare=False)
    cluster: Optional[int] = None
    magnitude: Optional[float] = None
    probability: Optional[float] = None
    strength: float = 0.0

    def to_dict(self) -> dict:
        values = {k: v for k, v in dataclasses.asdict(self).items() if k != "correct"}
        values["policy"] = self.policy.to_dict() if self.policy is not None else None
        return values


class TrialRunner:
    """Runs short warm-started trainings of one proxy under different policies."""

    def __init__(
        self,
        proxy: keras.Model,
        train_images: np.ndarray,
        train_targets: np.ndarray,
        eval_images: np.ndarray,
        eval_targets: np.ndarray,
        config: TrainingConfig,
        task: str,
    ):
        """Args:
        proxy: the briefly trained model every trial starts from.
        train_images, train_targets: [N,H,W,C] in [0,1] and one-hot [N,K].
        eval_images, eval_targets: the held-out split the trials are scored on.
        config: batch size, learning rate, schedule, epochs and seed of a trial.
        """
        self._train = (train_images, train_targets)
        self._eval = (eval_images, eval_targets)
        self._config = config
        self._steps_per_epoch = max(1, math.ceil(len(train_images) / config.batch_size))
        self._model = keras.models.clone_model(proxy)
        self._initial_weights = proxy.get_weights()
        self._model.set_weights(self._initial_weights)
        self._model.compile(
            optimizer=trainer.make_optimizer(config, self._steps_per_epoch * config.epochs),
            loss=trainer.make_loss(task, config.label_smoothing),
            metrics=trainer.make_metrics(task),
        )
        self._recalibrate = proxy_lib.BatchNormRecalibrator(self._model)
        model = self._model
        self._predict = tf.function(lambda images: model(images, training=False), autograph=False)
        self._ops = CompiledOps(tuple(train_images.shape[1:]), int(train_targets.shape[1]))
        self.results: List[TrialResult] = []

    def _reset(self) -> None:
        self._model.set_weights(self._initial_weights)
        for variable in self._model.optimizer.variables:
            variable.assign(np.zeros(variable.shape, variable.dtype))

    def augment(self, parts: augmentation.SplitPolicy, images, targets, step: int):
        """A training batch as Training sees it: the policy's mixing ops on (images, targets) with
        `augmentation.mixing_seed(seed, step)`, then its image ops with seed (step, seed)."""
        seed = self._config.seed
        if parts.mixing is not None:
            images, targets = self._ops.run_policy(parts.mixing, images, targets, augmentation.mixing_seed(seed, step))
        if parts.image is not None:
            images, targets = self._ops.run_policy(parts.image, images, targets, [step, seed])
        return images, targets

    def _train_steps(self, policy: Optional[Policy]) -> None:
        """`epochs` seeded passes over the train split, each batch augmented as `augment` does."""
        images, targets = self._train
        batch_size, seed = self._config.batch_size, self._config.seed
        parts = augmentation.split_policy(policy) if policy is not None else None
        step = 0
        for epoch in range(self._config.epochs):
            order = np.random.default_rng([seed, epoch]).permutation(len(images))
            for start in range(0, len(images), batch_size):
                rows = order[start : start + batch_size]
                batch_images, batch_targets = images[rows], targets[rows]
                if parts is not None:
                    batch_images, batch_targets = self.augment(parts, batch_images, batch_targets, step)
                self._model.train_on_batch(batch_images, batch_targets)
                step += 1

    def _held_out_probabilities(self, batch_size: int = 512) -> np.ndarray:
        images = self._eval[0]
        chunks = [images[start : start + batch_size] for start in range(0, len(images), batch_size)]
        return np.concatenate([np.asarray(self._predict(tf.convert_to_tensor(chunk))) for chunk in chunks])

    def run(self, name: str, policy: Optional[Policy], kind: str, **details) -> TrialResult:
        """Trains from the proxy with `policy` and scores it on the held-out split."""
        start = time.perf_counter()
        keras.utils.set_random_seed(self._config.seed)
        self._reset()
        self._train_steps(policy)
        self._recalibrate(self._train[0][: proxy_lib.RECALIBRATION_IMAGES])
        probabilities = self._held_out_probabilities()
        targets = self._eval[1]
        correct = np.argmax(probabilities, axis=-1) == np.argmax(targets, axis=-1)
        loss = -np.mean(np.sum(targets * np.log(np.clip(probabilities, 1e-12, 1.0)), axis=-1))
        result = TrialResult(
            name=name,
            policy=policy,
            accuracy=float(np.mean(correct)),
            loss=float(loss),
            seconds=time.perf_counter() - start,
            kind=kind,
            correct=correct,
            strength=policy_strength(policy),
            **details,
        )
        self.results.append(result)
        logger.info(
            "pass 2 trial %d: %s -> held-out accuracy %.4f (%.1fs)",
            len(self.results), describe(policy) if policy is not None else name, result.accuracy, result.seconds,
        )
        return result


def policy_strength(policy: Optional[Policy]) -> float:
    """Expected augmentation per sample: ops drawn x mean magnitude x mean probability (0 for none)."""
    if policy is None or policy.name == NO_AUGMENTATION_NAME:
        return 0.0
    drawn = policy.num_ops if policy.sampling == SAMPLING_RANDOM_N else len(policy.ops)
    magnitude = float(np.mean([op.magnitude for op in policy.ops]))
    if policy.magnitude_sampling == MAGNITUDE_UNIFORM:
        magnitude /= 2.0
    return drawn * magnitude * float(np.mean([op.probability for op in policy.ops]))
