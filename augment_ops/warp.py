"""Resampling a batch with one output->input projective transform per sample.

Two backends with the same semantics (constant fill outside the image;
bilinear blends with the fill at the border, like ImageProjectiveTransformV3
in CONSTANT mode):
  * "gather" (default): the transform in plain TensorFlow ops: one gather
    of each output pixel's 2x2 input neighbourhood. It compiles under XLA,
    so geometric ops fuse with the rest of a policy and a Keras train step
    can be jit-compiled; on CPU under XLA it measured ~1.5x less CPU time
    than the kernel below (benchmarks/augment_ops_benchmark.py).
  * "projective": tf.raw_ops.ImageProjectiveTransformV3, TensorFlow's own
    kernel. It has no XLA kernel.

Transforms are [B,8] (a0..a7): the input point of output pixel (x, y) is
((a0 x + a1 y + a2) / k, (a3 x + a4 y + a5) / k) with k = a6 x + a7 y + 1,
in pixel indices (x = column, centers at integers).
"""

import tensorflow as tf

from augment_ops.options import WARPS


def _source_points(transforms, height, width):
    """Input coordinates of every output pixel: x_in, y_in as [B,H,W] float32."""
    ys = tf.reshape(tf.cast(tf.range(height), tf.float32), [1, -1, 1])
    xs = tf.reshape(tf.cast(tf.range(width), tf.float32), [1, 1, -1])
    t = transforms[:, :, None, None]
    k = t[:, 6] * xs + t[:, 7] * ys + 1.0
    x_in = (t[:, 0] * xs + t[:, 1] * ys + t[:, 2]) / k
    y_in = (t[:, 3] * xs + t[:, 4] * ys + t[:, 5]) / k
    return x_in, y_in


def _channels(images):
    """Static channel count, or the dynamic one when tracing with unknown shapes (relaxed retracing)."""
    return images.shape[-1] if images.shape[-1] is not None else tf.shape(images)[-1]


def _gather_bilinear(images, transforms, fill_value):
    shape = tf.shape(images)
    batch_size, height, width = shape[0], shape[1], shape[2]
    channels = _channels(images)
    x_in, y_in = _source_points(transforms, height, width)
    x_floor, y_floor = tf.floor(x_in), tf.floor(y_in)
    frac_x, frac_y = (x_in - x_floor)[..., None], (y_in - y_floor)[..., None]
    # Cell (i, j) of the padded image holds pixels (i-1..i, j-1..j) of the input.
    cell_x = tf.cast(x_floor, tf.int32) + 1
    cell_y = tf.cast(y_floor, tf.int32) + 1
    inside = (cell_x >= 0) & (cell_x <= width) & (cell_y >= 0) & (cell_y <= height)
    fill = tf.cast(fill_value, images.dtype)
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=fill)
    # One [.., 4C] row per cell (top-left, top-right, bottom-left, bottom-right),
    # so each output pixel needs a single gather.
    quads = tf.concat([padded[:, :-1, :-1], padded[:, :-1, 1:], padded[:, 1:, :-1], padded[:, 1:, 1:]], axis=-1)
    cells = (
        tf.reshape(tf.range(batch_size), [-1, 1, 1]) * (height + 1) + tf.clip_by_value(cell_y, 0, height)
    ) * (width + 1) + tf.clip_by_value(cell_x, 0, width)
    corners = tf.gather(tf.reshape(quads, [-1, 4 * channels]), cells)
    c = channels
    top = corners[..., :c] + frac_x * (corners[..., c : 2 * c] - corners[..., :c])
    bottom = corners[..., 2 * c : 3 * c] + frac_x * (corners[..., 3 * c :] - corners[..., 2 * c : 3 * c])
    return tf.where(inside[..., None], top + frac_y * (bottom - top), fill)


def _round_half_away(values):
    """Rounds half away from zero (std::round, as ImageProjectiveTransformV3); tf.round rounds half to even."""
    return tf.cast(tf.where(values >= 0.0, tf.floor(values + 0.5), tf.math.ceil(values - 0.5)), tf.int32)


def _gather_nearest(images, transforms, fill_value):
    shape = tf.shape(images)
    batch_size, height, width = shape[0], shape[1], shape[2]
    x_in, y_in = _source_points(transforms, height, width)
    col = _round_half_away(x_in)
    row = _round_half_away(y_in)
    inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
    index = (tf.reshape(tf.range(batch_size), [-1, 1, 1]) * height + tf.clip_by_value(row, 0, height - 1)) * width
    index += tf.clip_by_value(col, 0, width - 1)
    values = tf.gather(tf.reshape(images, [-1, _channels(images)]), index)
    return tf.where(inside[..., None], values, tf.cast(fill_value, images.dtype))


# Images at least this large (pixels) are warped one by one on CPU under XLA.
PER_IMAGE_MIN_PIXELS = 96 * 96


def per_image_loop_default(xla: bool, image_shape=None) -> bool:
    """Whether the gather warp should loop over images rather than warp the batch at once.

    On CPU under XLA a loop over images keeps each image's intermediates
    (coordinates, the 4x neighbour table) in cache and measured ~1.5-2x less
    CPU time than one batched gather at 224x224; for small images the loop's
    per-iteration cost wins, and on GPUs the batched form keeps the device
    busy. Without XLA the loop is slower (one graph iteration per image).
    """
    if not xla or tf.config.list_logical_devices("GPU"):
        return False
    if image_shape is not None and image_shape[1] is not None and image_shape[2] is not None:
        return image_shape[1] * image_shape[2] >= PER_IMAGE_MIN_PIXELS
    return True


def warp(images, transforms, interpolation="bilinear", fill_value=0.0, backend="gather", per_image=False):
    """Resamples images [B,H,W,C] with [B,8] output->input transforms.

    Args:
      images: [B,H,W,C]; float for bilinear, any numeric dtype for nearest.
      transforms: [B,8] float32, see the module docstring.
      interpolation: "bilinear" or "nearest".
      fill_value: value where the source point lies outside the image.
      backend: "gather" or "projective" (see the module docstring).
      per_image: for "gather", loop over images (see per_image_loop_default);
        the result is the same.

    Returns:
      [B,H,W,C] of the input dtype.
    """
    if backend == "projective":
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=images,
            transforms=transforms,
            output_shape=tf.shape(images)[1:3],
            fill_value=tf.cast(fill_value, tf.float32),
            interpolation=interpolation.upper(),
            fill_mode="CONSTANT",
        )
    if backend != "gather":
        raise ValueError(f"Unknown warp backend {backend!r}; expected one of {WARPS}.")
    sample = _gather_nearest if interpolation == "nearest" else _gather_bilinear
    if not per_image:
        return sample(images, transforms, fill_value)
    return tf.map_fn(
        lambda args: sample(args[0][None], args[1][None], fill_value)[0],
        (images, transforms),
        fn_output_signature=images.dtype,
    )
