"""Object detection training: keras-hub RetinaNet sized from the data's boxes.

Model: `keras_hub.models.RetinaNetObjectDetector` (ResNet basic-block image
encoder, FPN, focal loss, NMS decoder), built with random weights by
default; a backbone saved with keras-hub's `save_to_preset` loads from a
local directory (`backbone_preset`), never from the network.

Anchors come from the training boxes, not from constants: the finest
pyramid level and the anchor size make the smallest anchors match the 5th
percentile of box sizes, the coarsest level reaches the 95th percentile,
and the aspect ratios are the 10/50/90th percentiles of box height/width.
Each ground-truth box is also force-matched to its best anchor, so odd
shapes never end up with no positive anchor.

Boxes enter in the data contract's normalized (ymin, xmin, ymax, xmax),
are augmented with the policy and box prior the augmentation search chose
(augment_ops moves boxes with the same matrix as the pixels), and are
converted through `augment_ops.box_formats` to the pixel xyxy ("voc") the
detector is built with. Without a searched policy the detector trains with
the default box-aware augmentation of `detection_defaults`, which also plans
batch size and epochs when the config leaves them at TrainingConfig's
classifier-sized defaults.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Dict, Optional, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

from augment_ops import box_formats, seeds
from augment_ops.options import AugmentOptions
from augment_ops.policy import Policy, apply_policy
from components.evaluation import detection_metrics
from components.training import task_export, trainer
from components.training.detection_defaults import (
    DEFAULT_BATCH_SIZE, DEFAULT_OPTIONS, DEFAULT_POLICY, MIN_TRAINING_STEPS, planned_batch_size, planned_epochs,
)
from components.training.spec import TrainingConfig
from components.types import examples_io, features
from components.types.data_spec import DataSpecContent

logger = logging.getLogger(__name__)

LIBRARY_BOX_FORMAT = "xyxy"  # keras bounding_box_format of the detector == box_formats.VOC
SIZE_QUANTILES = (0.05, 0.95)
RATIO_QUANTILES = (0.1, 0.5, 0.9)
# Ratios closer than this (as a factor) collapse to one, so round data gets one square anchor.
RATIO_MERGE_FACTOR = 1.25
NUM_SCALES = 3
# Box-coder variances (x, y, w, h): the Faster R-CNN / SSD scale factors 10, 10, 5, 5 of box_formats. keras-hub's
# default of 1 leaves centre errors of ~0.3 anchor widths inside the flat part of the Huber loss, so boxes never
# tighten (measured: train-set mAP@.5 0.09 at loss 0.07 with variance 1).
BOX_VARIANCE = [1.0 / factor for factor in box_formats.DEFAULT_SCALE_FACTORS]
IMAGE_SIDE_MULTIPLE = 32  # the ResNet encoder halves 5 times; FPN levels must align
# Focal-loss prior of the classification logits at initialization (RetinaNet, Lin et al. 2017, section 4.1): every
# anchor starts at p = 0.01 for every class, so the ~10^4 background anchors do not swamp the loss at step 0.
CLASS_PRIOR_PROBABILITY = 0.01
# Moving-average momentum of the FPN's BatchNorm layers (Keras' default; see fix_pyramid_batch_norm_momentum).
FPN_BATCH_NORM_MOMENTUM = 0.99


@dataclasses.dataclass(frozen=True)
class AnchorPlan:
    """Anchor pyramid of a RetinaNet: sizes `anchor_size * 2**level * 2**(s / num_scales)` pixels."""

    min_level: int
    max_level: int
    anchor_size: float
    aspect_ratios: Tuple[float, ...]  # height / width, keras-hub's AnchorGenerator convention
    num_scales: int = NUM_SCALES

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def box_statistics(boxes: np.ndarray, labels: np.ndarray, image_size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """(sizes sqrt(h*w) in pixels, ratios h/w) of the real boxes in `[N,M,4]` normalized yxyx."""
    boxes, labels = np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(labels).reshape(-1)
    heights = (boxes[:, 2] - boxes[:, 0]) * image_size[0]
    widths = (boxes[:, 3] - boxes[:, 1]) * image_size[1]
    real = (labels >= 0) & (heights > 0) & (widths > 0)
    return np.sqrt(heights[real] * widths[real]), heights[real] / widths[real]


def plan_anchors(boxes: np.ndarray, labels: np.ndarray, image_size: Tuple[int, int]) -> AnchorPlan:
    """Anchor levels, size and aspect ratios that cover the training boxes.

    The finest level puts the smallest boxes (5th percentile) at 2-4 strides
    (smaller objects cannot be localized on a coarser grid; finer levels
    cost 4x per level); its anchor size is set so the smallest anchor equals
    that box size. The coarsest level is the first whose largest anchor
    reaches the 95th percentile.

    Raises:
      ValueError: when there is no real box.
    """
    sizes, ratios = box_statistics(boxes, labels, image_size)
    if sizes.size == 0:
        raise ValueError("Detection training needs boxes in the train split; it has none.")
    small, large = (float(np.quantile(sizes, q)) for q in SIZE_QUANTILES)
    top_level = max(2, int(math.floor(math.log2(min(image_size)))) - 1)  # at least a 2x2 grid
    min_level = int(np.clip(math.floor(math.log2(max(small, 1.0) / 2.0)), 2, min(5, top_level)))
    anchor_size = float(np.clip(small / 2**min_level, 1.0, 8.0))
    largest_scale = 2 ** ((NUM_SCALES - 1) / NUM_SCALES)
    needed = math.ceil(math.log2(max(large, 1.0) / (anchor_size * largest_scale)))
    max_level = int(np.clip(needed, min_level, min(7, top_level)))
    quantiles = np.exp(np.quantile(np.log(ratios), RATIO_QUANTILES))
    chosen = [float(quantiles[1])]
    for value in (quantiles[0], quantiles[2]):
        if all(max(value / c, c / value) >= RATIO_MERGE_FACTOR for c in chosen):
            chosen.append(float(value))
    aspect_ratios = tuple(sorted(round(value, 3) for value in chosen))
    return AnchorPlan(min_level, max_level, round(anchor_size, 3), aspect_ratios)


def detector_image_size(image_size: Tuple[int, int]) -> Tuple[int, int]:
    """`image_size` rounded up to a multiple of 32, so every pyramid level lines up."""
    return tuple(int(math.ceil(side / IMAGE_SIDE_MULTIPLE) * IMAGE_SIDE_MULTIPLE) for side in image_size)


def tiny_resnet_encoder(image_shape: Tuple[int, int, int]):
    """A ResNet-10-style keras-hub image encoder (one basic block per stage), pyramid outputs P2..P5."""
    import keras_hub

    return keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 64, 128, 128],
        stackwise_num_blocks=[1, 1, 1, 1],
        stackwise_num_strides=[1, 2, 2, 2],
        block_type="basic_block",
        image_shape=image_shape,
        name="resnet_encoder",
    )


def load_encoder_preset(preset: str, channels: int):
    """A keras-hub image encoder with pyramid outputs from a local preset directory (no download)."""
    import keras_hub

    if "://" in preset and not preset.startswith(("gs://", "file://")):
        raise ValueError(f"backbone_preset {preset!r} must be a local (or gs://) directory; downloads are not allowed.")
    if not tf.io.gfile.isdir(preset):
        raise ValueError(f"backbone_preset {preset!r} is not a directory (save one with backbone.save_to_preset).")
    encoder = keras_hub.models.Backbone.from_preset(preset)
    if not getattr(encoder, "pyramid_outputs", None):
        raise ValueError(f"The backbone in {preset} has no pyramid outputs; RetinaNet needs a feature-pyramid encoder.")
    if encoder.input_shape[-1] not in (None, channels):
        raise ValueError(f"The backbone in {preset} takes {encoder.input_shape[-1]} channels; the data has {channels}.")
    return encoder


def build_detector(
    num_classes: int,
    image_shape: Tuple[int, int, int],
    plan: AnchorPlan,
    seed: int = 0,
    backbone_preset: Optional[str] = None,
    head_conv_layers: int = 2,
    fix_head_init: bool = True,
    normalize_fpn_and_heads: bool = True,
):
    """A keras-hub RetinaNetObjectDetector; boxes in pixel xyxy, sigmoid class scores, NMS decoder.

    `normalize_fpn_and_heads` (default) puts BatchNorm after the FPN's
    convolutions and GroupNorm(32) after the heads' (keras-hub's own
    `use_fpn_batch_norm` / `use_prediction_head_norm`): a detector trained
    from scratch needs normalization in every new layer, not only in the
    encoder (He et al. 2019, "Rethinking ImageNet Pre-training"; GroupNorm
    heads as in FCOS and Detectron2's RetinaNet option). Without it the
    randomly initialized FPN and heads amplify the encoder's batch-normalized
    features to class logits of std ~10 at step 0 and training crawls
    (benchmarks/results/detection_underfit_diagnosis.md: 64 scenes, 300
    steps, own-scene mAP@.5 0.34 without, 0.998 with). `fix_head_init`
    (default) gives the heads RetinaNet's bias initialization
    (`initialize_head_biases`). False for either keeps keras-hub's defaults,
    for comparisons.
    """
    import keras_hub
    from keras_hub.layers import AnchorGenerator
    from keras_hub.src.layers.modeling.non_max_supression import NonMaxSuppression

    from components.training.detection_layers import ForceMatchingLabelEncoder

    keras.utils.set_random_seed(seed)
    encoder = load_encoder_preset(backbone_preset, image_shape[-1]) if backbone_preset else tiny_resnet_encoder(image_shape)
    backbone = keras_hub.models.RetinaNetBackbone(
        image_encoder=encoder,
        min_level=plan.min_level,
        max_level=plan.max_level,
        use_p5=False,
        use_fpn_batch_norm=normalize_fpn_and_heads,
        image_shape=image_shape,
    )
    anchors = AnchorGenerator(
        LIBRARY_BOX_FORMAT,
        min_level=plan.min_level,
        max_level=plan.max_level,
        num_scales=plan.num_scales,
        aspect_ratios=list(plan.aspect_ratios),
        anchor_size=plan.anchor_size,
    )
    label_encoder = ForceMatchingLabelEncoder(
        anchors, bounding_box_format=LIBRARY_BOX_FORMAT, encoding_format="center_xywh", box_variance=BOX_VARIANCE
    )
    decoder = NonMaxSuppression(
        from_logits=True, bounding_box_format=LIBRARY_BOX_FORMAT, iou_threshold=task_export.NMS_IOU_THRESHOLD,
        confidence_threshold=task_export.SCORE_THRESHOLD, max_detections=task_export.MAX_DETECTIONS,
    )
    model = keras_hub.models.RetinaNetObjectDetector(
        backbone=backbone, num_classes=num_classes, bounding_box_format=LIBRARY_BOX_FORMAT,
        anchor_generator=anchors, label_encoder=label_encoder, prediction_decoder=decoder,
        pre_logits_num_conv_layers=head_conv_layers, use_prediction_head_norm=normalize_fpn_and_heads,
        name="retinanet",
    )
    if fix_head_init:
        initialize_head_biases(model)
    if normalize_fpn_and_heads:
        fix_pyramid_batch_norm_momentum(model)
    return model


def fix_pyramid_batch_norm_momentum(model, momentum: float = FPN_BATCH_NORM_MOMENTUM) -> None:
    """Gives the FPN's BatchNorm layers a moving-average momentum.

    keras-hub 0.25.1's FeaturePyramid passes its `batch_norm_epsilon` (0.001) as the momentum, so the
    moving statistics inference uses would be those of the last training batch alone. Keras reads
    `momentum` at each training step, so setting it on the built layers is enough.
    """
    for layer in model.backbone.feature_pyramid._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum


def initialize_head_biases(model, prior_probability: float = CLASS_PRIOR_PROBABILITY) -> None:
    """RetinaNet's head-bias initialization on a keras-hub RetinaNetObjectDetector, in place.

    keras-hub 0.25.1 passes `use_prior_probability=True` to the *box* head
    and not to the classification head (retinanet_object_detector.py), so a
    fresh detector starts with every class logit at 0 (p = 0.5 on each of
    ~6k anchors x classes: keras-hub's loss 30.2 instead of 1.3 on 16 of the
    96 px digit scenes, BatchNorm in inference mode) and every box delta at
    log(0.01 / 0.99) = -4.6 (boxes shifted and shrunk before any training).
    On its own this did not speed training up measurably: in training mode
    the un-normalized FPN and heads scale the logits to std ~10, which swamps
    either bias (see `normalize_fpn_and_heads`). RetinaNet initializes the class
    logits' bias to -log((1 - pi) / pi) with pi = 0.01 and the box
    regression's bias to 0 (Lin et al. 2017, section 4.1); this sets exactly
    those two biases and touches no other weight.
    """
    prior = -math.log((1.0 - prior_probability) / prior_probability)
    for head, value in ((model.classification_head, prior), (model.box_head, 0.0)):
        bias = head.prediction_layer.bias
        bias.assign(np.full(tuple(bias.shape), value, dtype="float32"))


def to_library_boxes(boxes: tf.Tensor, labels: tf.Tensor, image_size: Tuple[int, int]) -> Dict[str, tf.Tensor]:
    """Pivot boxes `[B,M,4]` -> the detector's pixel xyxy through box_formats; padded rows stay -1."""
    real = (labels >= 0) & tf.reduce_all(boxes >= 0.0, axis=-1)
    pixels = tf.cast(box_formats.from_pivot(boxes, box_formats.VOC, image_size=image_size), tf.float32)
    return {
        "boxes": tf.where(real[..., None], pixels, -1.0),
        "labels": tf.where(real, tf.cast(labels, tf.float32), -1.0),
    }


def training_dataset(
    images: np.ndarray, boxes: np.ndarray, labels: np.ndarray, batch_size: int, seed: int,
    policy: Optional[Policy] = None, options: Optional[AugmentOptions] = None, repeat: bool = False,
) -> tf.data.Dataset:
    """Shuffled batches `(images, {boxes, labels})`, augmented per batch (boxes follow the pixels).

    `policy` None trains on the images as they are; `train_detector` passes
    `DEFAULT_POLICY` then. `options` None means `DEFAULT_OPTIONS`.
    """
    image_size = tuple(images.shape[1:3])
    dataset = tf.data.Dataset.from_tensor_slices((images, boxes.astype(np.float32), labels.astype(np.int32)))
    dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=len(images) >= batch_size)
    base_seed = seeds.derive(seeds.as_seed(seed), "detection_augmentation")
    options = options or DEFAULT_OPTIONS

    def augment(step, batch):
        batch_images, batch_boxes, batch_labels = batch
        if policy is not None:
            out = apply_policy(
                policy, {"images": batch_images, "boxes": batch_boxes, "box_labels": batch_labels},
                seeds.fold_in(base_seed, step), options,
            )
            batch_images, batch_boxes, batch_labels = out["images"], out["boxes"], out["box_labels"]
        return batch_images, to_library_boxes(batch_boxes, batch_labels, image_size)

    return dataset.enumerate().map(augment, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def predict_detections(model, images: np.ndarray, batch_size: int = 32) -> Dict[str, np.ndarray]:
    """The serving outputs (task_export.detect) over an in-memory image array."""
    height, width, channels = images.shape[1:]
    infer = tf.function(
        lambda batch: task_export.detect(model, batch),
        input_signature=[tf.TensorSpec([None, height, width, channels], tf.float32)],
    )
    parts = [infer(tf.constant(images[start : start + batch_size])) for start in range(0, len(images), batch_size)]
    return {key: np.concatenate([part[key].numpy() for part in parts]) for key in parts[0]}


def evaluate_detector(model, images, boxes, labels, class_names: Sequence[str], batch_size: int = 32) -> dict:
    """COCO metrics of `model` on in-memory arrays (detection_metrics.coco_detection_metrics' result)."""
    predicted = predict_detections(model, images, batch_size)
    return detection_metrics.coco_detection_metrics(
        boxes, labels, predicted["boxes"], predicted["scores"], predicted["classes"], images.shape[1:3], class_names
    )


def train_detector(
    examples_uri: str,
    data_spec: DataSpecContent,
    config: TrainingConfig,
    policy: Optional[Policy] = None,
    options: Optional[AugmentOptions] = None,
    backbone_preset: Optional[str] = None,
    build_model=None,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
    default_policy: Optional[Policy] = DEFAULT_POLICY,
) -> Tuple[keras.Model, Dict[str, list], Dict[str, float], Dict[str, object]]:
    """Trains on `train`, scores COCO mAP on `eval`.

    Inside a TFX execution every finished epoch is checkpointed, so a rerun
    after a kill resumes from the last one, and TensorBoard scalars go under
    the execution scope (`trainer.standard_callbacks`).

    Args:
      policy, options: augmentation policy and AugmentOptions (box prior)
        from the AugmentationPolicy artifact; without a policy the detector
        trains with `default_policy`.
      backbone_preset: local keras-hub preset directory of an image encoder.
      build_model: optional `(num_classes, image_shape, plan) -> ObjectDetector`
        (a user's module file); default `build_detector`.
      extra_callbacks: appended after the standard ones (resume, progress, TensorBoard).
      default_policy: the policy used when `policy` is None (default
        `DEFAULT_POLICY`); None trains on the images as they are.

    Returns:
      (detector, history, metrics {eval_map, eval_map_50, ...}, details
      {anchor_plan, image_size, eval per-class AP, training_augmentation:
      the policy trained with, as a dict, or None}).
    """
    if data_spec.task != features.TASK_DETECTION:
        raise ValueError(f"train_detector trains detection data; this DataSpec's task is {data_spec.task!r}.")
    keras.backend.clear_session()
    keras.utils.set_random_seed(config.seed)
    requested = tuple(config.image_size) if config.image_size else examples_io.default_image_size(data_spec)
    image_size = detector_image_size(requested)
    if image_size != tuple(requested):
        logger.info("detection image size %s rounded up to %s (multiple of %d)", requested, image_size, IMAGE_SIDE_MULTIPLE)
    train = examples_io.load_detection_split(examples_uri, features.TRAIN_SPLIT, data_spec, image_size)
    held_out = examples_io.load_detection_split(examples_uri, features.EVAL_SPLIT, data_spec, image_size)
    if not np.any(held_out[2] >= 0):
        raise ValueError(f"Split 'eval' of {examples_uri} has no boxes; detection training scores mAP on it.")
    plan = plan_anchors(train[1], train[2], image_size)
    logger.info("anchor plan from %d train boxes: %s", int((train[2] >= 0).sum()), plan)
    image_shape = (*image_size, data_spec.channels)
    if build_model is not None:
        model = build_model(data_spec.num_classes, image_shape, plan)
    else:
        model = build_detector(data_spec.num_classes, image_shape, plan, config.seed, backbone_preset)
    if planned_batch_size(config) != config.batch_size:
        logger.info("detection training: batch size %d instead of TrainingConfig's default %d",
                    DEFAULT_BATCH_SIZE, config.batch_size)
        config = dataclasses.replace(config, batch_size=DEFAULT_BATCH_SIZE)
    steps = config.steps_per_epoch or max(1, len(train[0]) // config.batch_size)
    epochs = planned_epochs(config, steps)
    if epochs != config.epochs:
        logger.info(
            "detection training: %d epochs of %d steps instead of %d (at least %d optimizer steps unless "
            "epochs is set explicitly)", epochs, steps, config.epochs, MIN_TRAINING_STEPS,
        )
        config = dataclasses.replace(config, epochs=epochs)
    model.compile(optimizer=trainer.make_optimizer(config, steps * config.epochs))
    if policy is None and default_policy is not None:
        policy = default_policy
        logger.info("no augmentation policy given; training with %s", default_policy.name or default_policy.op_names)
    dataset = training_dataset(
        *train, config.batch_size, config.seed, policy, options, repeat=config.steps_per_epoch is not None
    )
    # Resume checkpoints and TensorBoard under the execution's scope (none outside a TFX execution).
    callbacks, resumable = trainer.standard_callbacks(
        config.epochs, "detection training", steps, distribution=config.distribution
    )
    fitted = model.fit(
        dataset, epochs=config.epochs, steps_per_epoch=config.steps_per_epoch, verbose=config.verbose,
        callbacks=callbacks + list(extra_callbacks),
    )
    history = trainer.fitted_history(fitted, resumable)
    result = evaluate_detector(model, *held_out, data_spec.class_names, config.batch_size)
    metrics = {f"eval_{name}": value for name, value in result["metrics"].items()}
    logger.info("detection training finished: %s", metrics)
    details = {
        "anchor_plan": plan.to_dict(), "image_size": list(image_size), "eval_per_class": result["per_class"],
        "training_augmentation": policy.to_dict() if policy is not None else None, "epochs": config.epochs,
    }
    return model, history, metrics, details
