"""Choosing the batch size: the largest candidate that fits in memory and still trains well on this much data.

The rule, in two parts:
1. Data: an epoch must have at least `min_steps_per_epoch` optimizer steps,
   so `batch_size <= num_train / min_steps_per_epoch`. Few labeled images
   need small batches: 500 images at 30 steps per epoch allow at most 16
   (64 would give 8 steps an epoch, too few updates and batch-norm
   statistics that never settle within a short run). Large splits are not
   limited by this (50,000 images allow 1,666). When no candidate satisfies
   it, the smallest candidate is used.
2. Memory: among the candidates the data allows, from the largest down, the
   first whose forward + backward step on random images of the real input
   shape runs without an out-of-memory error.
Larger batches are preferred within both limits because each step is
cheaper per image on accelerators and gradients are less noisy.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
from typing import Callable, Dict, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

from components.optimization import steps

logger = logging.getLogger(__name__)

# Messages of errors that mean "out of accelerator/host memory" without being ResourceExhaustedError.
_OOM_MARKERS = ("out of memory", "oom", "resource exhausted", "failed to allocate")


@dataclasses.dataclass(frozen=True)
class BatchSizeChoice:
    batch_size: int
    data_cap: int  # Largest batch the data rule allows (the smallest candidate when none does).
    fits: Dict[int, bool]  # Candidates probed for memory, largest first.
    reason: str


def data_cap(num_train: int, candidates: Sequence[int], min_steps_per_epoch: int) -> int:
    """The largest candidate with `num_train / batch >= min_steps_per_epoch`, else the smallest candidate."""
    ladder = sorted({int(size) for size in candidates})
    allowed = [size for size in ladder if num_train / size >= min_steps_per_epoch]
    return allowed[-1] if allowed else ladder[0]


def is_out_of_memory(error: BaseException) -> bool:
    """True for the errors TensorFlow and Python raise when an allocation fails."""
    if isinstance(error, (tf.errors.ResourceExhaustedError, MemoryError)):
        return True
    if isinstance(error, (tf.errors.InternalError, tf.errors.UnknownError)):
        message = str(error).lower()
        return any(marker in message for marker in _OOM_MARKERS)
    return False


def choose_batch_size(
    num_train: int,
    candidates: Sequence[int],
    min_steps_per_epoch: int,
    fits: Callable[[int], bool],
) -> BatchSizeChoice:
    """Applies the rule of this module's docstring; `fits(batch_size)` is the memory probe.

    Raises:
      ValueError: when not even the smallest candidate fits in memory.
    """
    if num_train < 1:
        raise ValueError(f"The train split has {num_train} examples; the batch size needs at least one.")
    cap = data_cap(num_train, candidates, min_steps_per_epoch)
    tried: Dict[int, bool] = {}
    for size in sorted({int(size) for size in candidates if int(size) <= cap}, reverse=True):
        tried[size] = bool(fits(size))
        if tried[size]:
            steps_per_epoch = int(np.ceil(num_train / size))
            if num_train / cap >= min_steps_per_epoch:
                data_part = (
                    f"{num_train} train images with >= {min_steps_per_epoch} steps per epoch allow at most {cap}"
                )
            else:
                data_part = (
                    f"{num_train} train images are too few for {min_steps_per_epoch} steps per epoch at any candidate; "
                    f"using the smallest, {cap}"
                )
            memory_part = "fits in memory" if len(tried) == 1 else (
                f"larger ones ({', '.join(str(s) for s, ok in tried.items() if not ok)}) ran out of memory"
            )
            reason = f"{size}: {data_part}; {size} {memory_part} ({steps_per_epoch} steps per epoch)."
            return BatchSizeChoice(size, cap, tried, reason)
    raise ValueError(
        f"No batch size of {sorted(candidates)} fits in memory for this model and image size "
        f"(tried {sorted(tried, reverse=True)}); use a smaller model or image_size."
    )


def memory_probe(
    build_model: Callable[[], keras.Model],
    input_shape: Tuple[int, int, int],
    make_optimizer: Callable[[], keras.optimizers.Optimizer],
    loss: keras.losses.Loss,
    seed: int = 0,
) -> Callable[[int], bool]:
    """A `fits(batch_size)` probe: one forward + backward step of a fresh model on random images.

    Args:
      build_model: returns the bare model (probabilities `[B, K]` out).
      input_shape: `(H, W, C)` of the training images.
      make_optimizer: a fresh optimizer per probe (its slots count toward memory).
    """

    def fits(batch_size: int) -> bool:
        keras.backend.clear_session()
        try:
            model = build_model()
            generator = np.random.default_rng(seed)
            images = tf.constant(generator.uniform(size=(batch_size, *input_shape)).astype(np.float32))
            num_outputs = int(model.output_shape[-1])
            targets = tf.one_hot(generator.integers(0, num_outputs, size=batch_size), num_outputs)
            steps.make_train_step(model, make_optimizer(), loss)(images, targets)
            return True
        except Exception as error:  # Only out-of-memory errors mean "does not fit"; others propagate.
            if not is_out_of_memory(error):
                raise
            logger.info("batch size %d does not fit in memory: %s", batch_size, str(error).splitlines()[0][:200])
            return False
        finally:
            keras.backend.clear_session()
            gc.collect()

    return fits
