"""Synthesis executors: artifact I/O around gan, style_transfer and blend_search."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from typing import Any, Dict, List, Tuple

import keras
import numpy as np
import tensorflow as tf
from tfx import types
from tfx.types import artifact_utils

from components.common import model_io
from components.common import synthetic_blend as blend
from components.common.artifact_io import write_bytes, write_json
from components.common.executor_base import ComponentExecutor
from components.common.mlmd_metrics import record_metrics
from components.common.splits import examples_splits
from components.synthesis import blend_search, frechet, gan, spec, style_transfer, synthetic_io
from components.synthesis.feature_networks import StyleFeatures
from components.training import trainer, training
from components.types import examples_io, features
from components.types.data_spec import DataSpecContent

logger = logging.getLogger(__name__)

SUMMARY_FILE_NAME = "summary.json"
SAMPLE_GRID_FILE_NAME = "sample_grid.png"
BEFORE_AFTER_FILE_NAME = "before_after_grid.png"
CURVE_JSON_FILE_NAME = "blend_curve.json"
CURVE_PNG_FILE_NAME = "blend_curve.png"
GAN_CONFIG_FILE_NAME = "gan_config.json"
GRID_COLUMNS = 10


class _SynthesisExecutor(ComponentExecutor):
    """The shared preamble plus the check every synthesis executor needs: single-label classification data."""

    def _inputs(
        self, input_dict, output_dict, exec_properties, config_class
    ) -> Tuple[Any, types.Artifact, DataSpecContent]:
        inputs = self.start(input_dict, output_dict, exec_properties, config_class)
        config, examples, data_spec = inputs.config, inputs.examples, inputs.data_spec
        if data_spec.task != features.TASK_CLASSIFICATION:
            raise ValueError(
                f"Synthesis needs single-label classification data; the DataSpec of {examples.uri} says "
                f"{data_spec.task!r}."
            )
        return config, examples, data_spec


def _image_size(config, data_spec: DataSpecContent) -> Tuple[int, int]:
    if config.image_size:
        return (int(config.image_size[0]), int(config.image_size[1]))
    return examples_io.default_image_size(data_spec)


def _mark_synthetic_output(artifact: types.Artifact, count: int, kind: str) -> None:
    """Only a `train` split exists, so nothing downstream can evaluate on synthetic images."""
    artifact.split_names = artifact_utils.encode_split_names(list(synthetic_io.SYNTHETIC_SPLITS))
    artifact.set_int_custom_property(spec.SYNTHETIC_COUNT_PROPERTY, count)
    artifact.set_string_custom_property("provenance", kind)


def _resize_for(model, images: np.ndarray) -> np.ndarray:
    height, width = model.input_shape[1:3]
    if (height, width) == images.shape[1:3] or height is None:
        return images
    return tf.image.resize(images, (height, width), antialias=True).numpy()


class GanExecutor(_SynthesisExecutor):
    """Trains the GAN, writes generator, synthetic examples and report."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict, exec_properties: Dict[str, Any]) -> None:
        config, examples, data_spec = self._inputs(input_dict, output_dict, exec_properties, spec.GanConfig)
        image_size = _image_size(config, data_spec)
        channels, num_classes = data_spec.channels, data_spec.num_classes
        train_count = data_spec.split_count(features.TRAIN_SPLIT)
        if not (train_count or examples_io.count_records(examples.uri, features.TRAIN_SPLIT)):
            raise ValueError(f"Examples at {examples.uri} have no labeled 'train' records to train the GAN on.")
        keras.utils.set_random_seed(config.seed)
        labeled = examples_io.load_split(
            examples.uri, features.TRAIN_SPLIT, data_spec, config.batch_size, image_size,
            shuffle=True, seed=config.seed, repeat=True,
        )
        unlabeled = None
        if config.use_unlabeled and features.UNLABELED_SPLIT in examples_splits(examples):
            unlabeled = iter(
                examples_io.load_split(
                    examples.uri, features.UNLABELED_SPLIT, data_spec, config.batch_size, image_size,
                    shuffle=True, seed=config.seed + 1, repeat=True,
                )
            )
        generator = gan.build_generator(num_classes, image_size, channels, config.latent_dim, config.width)
        discriminator = gan.build_discriminator(
            num_classes, image_size, channels, config.width, spectral_norm=config.regularization == "spectral_norm"
        )
        gan_trainer = gan.GanTrainer(
            generator, discriminator, num_classes, config.latent_dim,
            config.generator_learning_rate, config.discriminator_learning_rate, config.beta_1, config.beta_2,
            config.gradient_penalty_weight if config.regularization == "gradient_penalty" else 0.0,
            config.unlabeled_weight, config.ema_decay, config.seed,
        )
        start = time.perf_counter()
        history = gan.train_gan(gan_trainer, iter(labeled), config.steps, unlabeled, config.log_every_steps)
        training_seconds = time.perf_counter() - start

        generator_artifact = self.single(output_dict, spec.GENERATOR_KEY)
        images, labels = gan.generate_per_class(
            gan_trainer.ema_generator, num_classes, config.images_per_class, config.latent_dim, config.seed
        )
        synthetic = self.single(output_dict, spec.SYNTHETIC_EXAMPLES_KEY)
        provenance = {"kind": spec.GAN_PROVENANCE, "model": generator_artifact.uri, "confidence": 1.0}
        source_ids = [f"gan/{data_spec.class_names[label]}/{index}" for index, label in enumerate(labels)]
        count = synthetic_io.write_synthetic_examples(synthetic.uri, images, labels, source_ids, provenance)
        _mark_synthetic_output(synthetic, count, spec.GAN_PROVENANCE)

        distances = self._frechet(input_dict, examples, data_spec, image_size, images, config)
        metrics = {"frechet_distance": distances["frechet_distance"], "training_seconds": training_seconds}
        model_io.save_model_artifact(gan_trainer.ema_generator, generator_artifact.uri, history, metrics, export=False)
        write_json(os.path.join(generator_artifact.uri, GAN_CONFIG_FILE_NAME), dataclasses.asdict(config))
        for artifact in (generator_artifact, synthetic):
            record_metrics(artifact, {spec.FRECHET_DISTANCE_PROPERTY: distances["frechet_distance"]})
            artifact.set_string_custom_property(spec.FEATURE_SPACE_PROPERTY, distances["feature_space"])
        generator_artifact.set_string_custom_property("model_kind", "class_conditional_generator")
        generator_artifact.set_float_custom_property("training_seconds", training_seconds)

        report = self.single(output_dict, spec.REPORT_KEY)
        tf.io.gfile.makedirs(report.uri)
        shown = min(GRID_COLUMNS, config.images_per_class)
        rows = [images[labels == label][:shown] for label in range(num_classes)]
        write_bytes(os.path.join(report.uri, SAMPLE_GRID_FILE_NAME), synthetic_io.image_grid_png(rows))
        summary = dict(distances, training_seconds=training_seconds, steps=config.steps, num_synthetic=count,
                       image_size=list(image_size), history=history, used_unlabeled=unlabeled is not None)
        write_json(os.path.join(report.uri, SUMMARY_FILE_NAME), summary)
        record_metrics(report, {spec.FRECHET_DISTANCE_PROPERTY: distances["frechet_distance"]})
        report.set_float_custom_property("training_seconds", training_seconds)
        logger.info("GAN synthesis: %d images, FD %.3f (%s)", count, distances["frechet_distance"],
                    distances["feature_space"])

    def _frechet(self, input_dict, examples, data_spec, image_size, generated, config) -> Dict[str, object]:
        """FD of generated vs real train images; real eval images give the real-vs-real floor."""
        classifier_artifacts = input_dict.get(spec.CLASSIFIER_MODEL_KEY) or []
        classifier = model_io.load_model(classifier_artifacts[0].uri) if classifier_artifacts else None
        limit = config.max_feature_images
        real, _ = synthetic_io.read_split_arrays(examples.uri, features.TRAIN_SPLIT, data_spec, image_size, limit)
        reference = None
        if features.EVAL_SPLIT in examples_splits(examples):
            reference, _ = synthetic_io.read_split_arrays(
                examples.uri, features.EVAL_SPLIT, data_spec, image_size, limit
            )
        order = np.random.default_rng(config.seed).permutation(len(generated))[:limit]
        if classifier is not None:
            generated, real = _resize_for(classifier, generated), _resize_for(classifier, real)
            reference = _resize_for(classifier, reference) if reference is not None else None
        return frechet.image_set_distances(generated[order], real, reference, classifier, seed=config.seed)


class StyleTransferExecutor(_SynthesisExecutor):
    """Re-renders training images in the configured styles; writes examples and report."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict, exec_properties: Dict[str, Any]) -> None:
        config, examples, data_spec = self._inputs(input_dict, output_dict, exec_properties, spec.StyleTransferConfig)
        image_size = _image_size(config, data_spec)
        content, labels, source_ids = synthetic_io.read_split_arrays(
            examples.uri, features.TRAIN_SPLIT, data_spec, image_size, config.max_images, with_source_ids=True
        )
        if config.style_dir:
            paths = style_transfer.style_paths_in(config.style_dir)
        else:
            paths = style_transfer.default_style_paths()
        styles = [style_transfer.load_style_image(path, data_spec.channels) for path in paths]
        network = StyleFeatures(config.feature_network, data_spec.channels, config.seed, config.vgg_weights_path)
        transfer = style_transfer.StyleTransfer(network, styles, image_size, config.style_scale)
        assignment = style_transfer.assign_styles(len(content), len(styles), config.renders_per_image, config.seed)
        repeated = np.repeat(np.arange(len(content)), config.renders_per_image)
        style_ids = assignment.reshape(-1)
        stylized, stats = transfer.stylize(
            content[repeated], style_ids, config.style_weight, config.content_weight, config.steps,
            config.learning_rate, config.batch_size,
        )
        names = [os.path.basename(path) for path in paths]
        synthetic = self.single(output_dict, spec.SYNTHETIC_EXAMPLES_KEY)
        provenance = {"kind": spec.STYLE_PROVENANCE, "model": f"style_transfer/{config.feature_network}",
                      "confidence": 1.0}
        new_ids = [f"{source_ids[i]}#style={names[s]}" for i, s in zip(repeated, style_ids)]
        count = synthetic_io.write_synthetic_examples(synthetic.uri, stylized, labels[repeated], new_ids, provenance)
        _mark_synthetic_output(synthetic, count, spec.STYLE_PROVENANCE)
        synthetic.set_float_custom_property(spec.SECONDS_PROPERTY, stats["seconds"])

        report = self.single(output_dict, spec.REPORT_KEY)
        tf.io.gfile.makedirs(report.uri)
        shown = min(GRID_COLUMNS, len(stylized))
        if shown:
            grid = synthetic_io.image_grid_png([content[repeated][:shown], stylized[:shown]])
            write_bytes(os.path.join(report.uri, BEFORE_AFTER_FILE_NAME), grid)
        summary = dict(stats, num_synthetic=count, styles=paths, feature_network=config.feature_network,
                       image_size=list(image_size), config=dataclasses.asdict(config))
        write_json(os.path.join(report.uri, SUMMARY_FILE_NAME), summary)
        for name in ("seconds", "images_per_second", "final_style_loss", "final_content_loss"):
            report.set_float_custom_property(name, stats[name])
        logger.info("Style transfer: %d images in %.1fs", count, stats["seconds"])


class BlendSearchExecutor(_SynthesisExecutor):
    """Runs the ratio search; writes the chosen-ratio model and the curve report."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict, exec_properties: Dict[str, Any]) -> None:
        config, examples, data_spec = self._inputs(input_dict, output_dict, exec_properties, spec.BlendSearchConfig)
        synthetic_uris = [artifact.uri for artifact in input_dict.get(spec.SYNTHETIC_EXAMPLES_KEY) or []]
        if examples.uri in synthetic_uris:
            raise ValueError(f"The real examples {examples.uri} are also given as synthetic examples.")
        train_config = config.training_config()
        image_size = training.resolve_image_size(train_config, data_spec)
        build = training.model_builder(train_config, data_spec, image_size)
        eval_dataset = training.labeled_dataset(
            examples.uri, features.EVAL_SPLIT, data_spec, train_config, image_size, training=False
        )

        def train_dataset(ratio: float, seed: int, run_config=train_config):
            dataset, per_epoch = blend.train_dataset_with_synthetic(
                examples.uri, synthetic_uris, data_spec, run_config.batch_size, image_size, ratio, seed,
                repeat=run_config.steps_per_epoch is not None,
            )
            return trainer.one_hot_labels(dataset, data_spec.task, data_spec.num_classes), per_epoch

        result = blend_search.search_blend_ratio(
            build, train_dataset, eval_dataset, train_config, config.ratios, config.seeds, config.min_improvement,
            data_spec.task,
        )
        model, history = result.model, result.history
        if config.retrain_epochs:
            final_config = dataclasses.replace(train_config, epochs=config.retrain_epochs, seed=config.seeds[0])
            dataset, per_epoch = train_dataset(result.chosen_ratio, final_config.seed, final_config)
            model, history = trainer.fit(build, dataset, eval_dataset, final_config, data_spec.task, per_epoch,
                                         log_prefix=f"retrain at ratio {result.chosen_ratio:g}")
        metrics = {f"eval_{k}": v for k, v in trainer.evaluate(model, eval_dataset, data_spec.task).items()}
        model_artifact = self.single(output_dict, spec.MODEL_KEY)
        model_io.save_model_artifact(model, model_artifact.uri, history=history, metrics=metrics)
        record_metrics(model_artifact, metrics)
        model_artifact.set_float_custom_property(spec.SYNTHETIC_RATIO_PROPERTY, result.chosen_ratio)
        model_artifact.set_string_custom_property("architecture", train_config.module_file or train_config.architecture)

        report = self.single(output_dict, spec.REPORT_KEY)
        tf.io.gfile.makedirs(report.uri)
        payload = dict(result.to_dict(), synthetic_examples=synthetic_uris, seeds=list(config.seeds),
                       min_improvement=config.min_improvement, selection_split=features.EVAL_SPLIT)
        write_json(os.path.join(report.uri, CURVE_JSON_FILE_NAME), payload)
        curve_png = blend_search.curve_png(result.curve, result.chosen_ratio)
        write_bytes(os.path.join(report.uri, CURVE_PNG_FILE_NAME), curve_png)
        report.set_float_custom_property(spec.SYNTHETIC_RATIO_PROPERTY, result.chosen_ratio)
        baseline = result.point(min(config.ratios))
        chosen = result.point(result.chosen_ratio)
        record_metrics(report, {"chosen_eval_accuracy": chosen.eval_accuracy,
                                "baseline_eval_accuracy": baseline.eval_accuracy})
        report.set_string_custom_property(CURVE_JSON_FILE_NAME, json.dumps(payload["curve"]))
        logger.info("Blend search: ratio %g (eval accuracy %.4f vs %.4f at ratio %g)", result.chosen_ratio,
                    chosen.eval_accuracy, baseline.eval_accuracy, baseline.ratio)
