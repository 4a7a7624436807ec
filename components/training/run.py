"""One classifier training from artifact URIs to a written Model artifact: what Training and Refit both run.

Training resolves its config (learned optimization params, BlendSearch's
ratio) and records MLMD properties; Refit reruns a stored recipe on train +
eval. Both need the same middle: load the policy, warm start, transform
graph and synthetic examples the recipe names, train, write the model.
"""

from __future__ import annotations

import functools
from typing import Dict, Optional, Sequence, Tuple

import keras

from components.common import model_io
from components.common.augmentation import load_augmentation
from components.training import training
from components.training.spec import TrainingConfig
from components.types.data_spec import DataSpecContent


def train_and_save(
    examples_uri: str,
    data_spec: DataSpecContent,
    config: TrainingConfig,
    model_uri: str,
    policy_uri: Optional[str] = None,
    warm_start_uri: Optional[str] = None,
    synthetic_uris: Sequence[str] = (),
    transform_uri: Optional[str] = None,
) -> Tuple[keras.Model, Dict[str, list], Dict[str, float]]:
    """Trains a classifier as `config` says and writes it (model.keras + serving signatures) to `model_uri`.

    Returns:
      (model, history, metrics) as `training.train_classifier` returns them.
    """
    augmentation = load_augmentation(policy_uri, config.seed) if policy_uri else None  # image layer + mixing ops
    warm_start = model_io.load_model(warm_start_uri) if warm_start_uri else None
    train = training.train_classifier
    if transform_uri:  # Decode, resize and normalize by the tf.Transform graph (components/transform).
        from components.transform import training_hook

        train = functools.partial(training_hook.train_classifier, transform_graph_uri=transform_uri)
    model, history, metrics = train(
        examples_uri, data_spec, config, augmentation=augmentation and augmentation.layer, warm_start=warm_start,
        mixing_policy=augmentation and augmentation.mixing, synthetic_uris=list(synthetic_uris),
    )
    raw_examples = None
    if transform_uri:  # serve_examples decodes through the same graph; serve_image_bytes takes raw bytes.
        from components.transform import serving

        raw_examples = serving.TransformedExamples(model, transform_uri)
    model_io.save_model_artifact(model, model_uri, history=history, metrics=metrics, examples_signature=raw_examples)
    if config.trust_module_code:
        model_io.mark_trusted_code(model_uri)
    return model, history, metrics
