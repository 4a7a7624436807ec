"""Synthesis components: GAN and style-transfer generators, and the blend-ratio search."""

from __future__ import annotations

from typing import Optional, Sequence, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel_utils, standard_artifacts

from components.synthesis import executor, spec
from components.types import artifacts, config_json


class GanSynthesis(base_component.BaseComponent):
    """Trains a class-conditional GAN on the labeled `train` split and writes generated examples.

    Outputs the generator (`generator`), `images_per_class` synthetic
    examples per class in a `train`-only Examples artifact with synthetic
    provenance, and a report (sample grid, Frechet distance to real images in
    the `classifier_model`'s penultimate-layer space, else a fixed random CNN's).

    Example:
        gan = GanSynthesis(
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            config=GanConfig(steps=2000, images_per_class=200),
        )
    """

    SPEC_CLASS = spec.GanSynthesisSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.GanExecutor)

    def __init__(
        self,
        examples: types.BaseChannel,
        data_spec: types.BaseChannel,
        config: Union[spec.GanConfig, dict, str, None] = None,
        classifier_model: Optional[types.BaseChannel] = None,
    ):
        config = config_json.coerce_config(spec.GanConfig, config)
        super().__init__(
            spec=spec.GanSynthesisSpec(
                examples=examples,
                data_spec=data_spec,
                classifier_model=classifier_model,
                config=config_json.config_to_json(config),
                generator=types.Channel(type=standard_artifacts.Model),
                synthetic_examples=types.Channel(type=standard_artifacts.Examples),
                report=types.Channel(type=artifacts.Report),
            )
        )


class StyleTransferSynthesis(base_component.BaseComponent):
    """Re-renders labeled training images in the styles of style photos, keeping size and label.

    Example:
        styled = StyleTransferSynthesis(
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            config=StyleTransferConfig(style_weight=1.0, steps=100),
        )
    """

    SPEC_CLASS = spec.StyleTransferSynthesisSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.StyleTransferExecutor)

    def __init__(
        self,
        examples: types.BaseChannel,
        data_spec: types.BaseChannel,
        config: Union[spec.StyleTransferConfig, dict, str, None] = None,
    ):
        config = config_json.coerce_config(spec.StyleTransferConfig, config)
        super().__init__(
            spec=spec.StyleTransferSynthesisSpec(
                examples=examples,
                data_spec=data_spec,
                config=config_json.config_to_json(config),
                synthetic_examples=types.Channel(type=standard_artifacts.Examples),
                report=types.Channel(type=artifacts.Report),
            )
        )


class BlendSearch(base_component.BaseComponent):
    """Picks the synthetic/real ratio by short trainings scored on real `eval` data.

    `synthetic_examples` takes one channel or a list (e.g. GAN and style
    transfer outputs), joined into one union channel. The chosen ratio is the
    `synthetic_ratio` custom property of `model` (trained at that ratio) and
    of `report` (curve JSON and PNG).

    Example:
        search = BlendSearch(
            examples=translation.outputs["examples"],
            data_spec=translation.outputs["data_spec"],
            synthetic_examples=[gan.outputs["synthetic_examples"], styled.outputs["synthetic_examples"]],
            config=BlendSearchConfig(training={"architecture": "small_cnn", "epochs": 3}),
        )
    """

    SPEC_CLASS = spec.BlendSearchSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.BlendSearchExecutor)

    def __init__(
        self,
        examples: types.BaseChannel,
        data_spec: types.BaseChannel,
        synthetic_examples: Union[types.BaseChannel, Sequence[types.BaseChannel]],
        config: Union[spec.BlendSearchConfig, dict, str, None] = None,
    ):
        config = config_json.coerce_config(spec.BlendSearchConfig, config)
        if isinstance(synthetic_examples, (list, tuple)):
            if not synthetic_examples:
                raise ValueError("BlendSearch needs at least one synthetic_examples channel.")
            synthetic_examples = (
                synthetic_examples[0] if len(synthetic_examples) == 1 else channel_utils.union(synthetic_examples)
            )
        super().__init__(
            spec=spec.BlendSearchSpec(
                examples=examples,
                data_spec=data_spec,
                synthetic_examples=synthetic_examples,
                config=config_json.config_to_json(config),
                model=types.Channel(type=standard_artifacts.Model),
                report=types.Channel(type=artifacts.Report),
            )
        )
