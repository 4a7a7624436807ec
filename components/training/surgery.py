"""Drop-in architecture changes applied to a built functional Keras model by graph surgery.

Each change rebuilds the model with `keras.models.clone_model` (nested
functional models such as a `backbone` included), swapping or inserting
built-in Keras layers only, so the result saves and loads as a plain
`.keras` file and converts to TFLite/ONNX. Weights of every layer that keeps
its shape are copied from the original, so a change can be applied to a
pretrained backbone.

    blur_pool         anti-aliased downsampling (Zhang, "Making convolutional
                      networks shift-invariant again", 2019): every strided
                      Conv2D/DepthwiseConv2D/MaxPooling2D runs at stride 1 and
                      is followed by a fixed [1,2,1]x[1,2,1]/16 blur with the
                      original stride (a frozen DepthwiseConv2D). Output shapes
                      are unchanged.
    group_norm        BatchNormalization -> GroupNormalization (Wu & He, 2018):
                      no batch statistics, so small or uneven batches train the
                      same; gamma/beta are copied, moving statistics dropped.
                      Groups: the largest divisor of the channel count <= 32.
    silu / gelu       ReLU activations (ReLU layers, Activation("relu") and
                      layers with activation="relu") -> SiLU / GELU.
    input_standardization
                      each image is standardized by its own mean and standard
                      deviation (over pixels and channels) before the first
                      layer: a parameter-free LayerNormalization(axis=(1,2,3)),
                      so the model sees the same input under any brightness
                      gain or offset (a night camera, another scanner).
    stochastic_depth  residual branches of two-input Add layers are dropped per
                      sample in training (Huang et al., 2016), with the drop
                      rate rising linearly to 0.1 at the last block; built from
                      Dropout with noise_shape (batch, 1, 1, 1), which also
                      rescales by 1/(1-rate) in training and is the identity
                      at inference. The residual branch is the Add input
                      farther (more layers) from the model input.

Models with layers shared between call sites or Sequential submodels are
rebuilt too (Sequential submodels get clone/weight changes, not inserted
layers: Keras cannot insert layers into them).
"""

from __future__ import annotations

import inspect
import logging
from typing import Callable, Dict, List, Sequence, Tuple

import keras

logger = logging.getLogger(__name__)

BLUR_POOL = "blur_pool"
GROUP_NORM = "group_norm"
SILU = "silu"
GELU = "gelu"
STOCHASTIC_DEPTH = "stochastic_depth"
INPUT_STANDARDIZATION = "input_standardization"
CHANGES = (BLUR_POOL, GROUP_NORM, SILU, GELU, STOCHASTIC_DEPTH, INPUT_STANDARDIZATION)

BLUR_SUFFIX = "_blur_pool"
MAX_GROUPS = 32
STOCHASTIC_DEPTH_RATE = 0.1
_BINOMIAL_3 = (1.0, 2.0, 1.0)


def check_changes(changes: Sequence[str]) -> Tuple[str, ...]:
    """Validated tuple of change names (raises ValueError naming the unknown or conflicting ones)."""
    changes = tuple(changes)
    unknown = sorted(set(changes) - set(CHANGES))
    if unknown:
        raise ValueError(f"Unknown architecture_changes {unknown}; known: {list(CHANGES)}.")
    if len(set(changes)) != len(changes):
        raise ValueError(f"architecture_changes lists a change twice: {list(changes)}.")
    if SILU in changes and GELU in changes:
        raise ValueError("architecture_changes: pick one activation swap, silu or gelu, not both.")
    return changes


def _clone(model: keras.Model, clone_layer: Callable, call_layer: Callable = None) -> keras.Model:
    """clone_model over nested functional models; copies weights where a layer keeps its weight shapes."""
    pairs: List[Tuple[keras.layers.Layer, keras.layers.Layer]] = []

    def clone_function(layer):
        if not isinstance(layer, keras.layers.Layer):  # keras.ops operations are stateless: reuse them.
            return layer
        new = clone_layer(layer)
        if new is None:
            new = layer.__class__.from_config(layer.get_config())
        pairs.append((layer, new))
        return new

    rebuilt = keras.models.clone_model(
        model, clone_function=clone_function, call_function=call_layer or _call, recursive=True
    )
    for old, new in pairs:
        old_weights = old.get_weights()
        if not old_weights or new is old:
            continue
        new_shapes = [tuple(w.shape) for w in new.weights]
        if new_shapes == [tuple(w.shape) for w in old_weights]:
            new.set_weights(old_weights)
        elif isinstance(new, keras.layers.DepthwiseConv2D) and type(old) is keras.layers.Conv2D:
            kernel = old_weights[0]  # Grouped [kh, kw, 1, C] -> depthwise [kh, kw, C, 1].
            new.set_weights([kernel.transpose(0, 1, 3, 2), *old_weights[1:]])
        elif isinstance(old, keras.layers.BatchNormalization) and isinstance(new, keras.layers.GroupNormalization):
            new.set_weights([w for w, variable in zip(old_weights, old.weights) if variable.name in ("gamma", "beta")])
    return rebuilt


def _call(layer, *args, **kwargs):
    """Calls `layer` with the keyword arguments its `call` accepts (a swapped-in layer may take fewer, e.g. no mask)."""
    parameters = inspect.signature(layer.call).parameters
    if not any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        kwargs = {key: value for key, value in kwargs.items() if key in parameters}
    return layer(*args, **kwargs)


def _config_with(layer, **changes):
    config = layer.get_config()
    config.update(changes)
    return layer.__class__.from_config(config)


def _is_relu_activation(value) -> bool:
    return value == "relu" or getattr(value, "__name__", None) == "relu"


def swap_activations(model: keras.Model, activation: str) -> keras.Model:
    """ReLU -> `activation` (`silu` or `gelu`) everywhere; bounded/leaky ReLUs (ReLU6, LeakyReLU) stay."""
    if activation not in (SILU, GELU):
        raise ValueError(f"activation must be 'silu' or 'gelu', got {activation!r}.")

    def clone_layer(layer):
        if isinstance(layer, keras.layers.ReLU):
            config = layer.get_config()
            if config.get("max_value") is None and not config.get("negative_slope") and not config.get("threshold"):
                return keras.layers.Activation(activation, name=layer.name)
            return None
        config = layer.get_config()
        if "activation" in config and _is_relu_activation(config["activation"]):
            return _config_with(layer, activation=activation)
        return None

    return _clone(model, clone_layer)


def _groups_for(channels: int) -> int:
    return max(groups for groups in range(1, min(MAX_GROUPS, channels) + 1) if channels % groups == 0)


def batch_norm_to_group_norm(model: keras.Model) -> keras.Model:
    """Every BatchNormalization over the last axis -> GroupNormalization (gamma/beta kept)."""

    def clone_layer(layer):
        if not isinstance(layer, keras.layers.BatchNormalization):
            return None
        axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
        channels = int(layer.gamma.shape[0]) if layer.gamma is not None else None
        if channels is None or axis not in (-1, len(layer.input.shape) - 1):
            logger.warning("group_norm: %s normalizes axis %s, not channels-last; kept as BatchNorm.", layer.name, axis)
            return None
        return keras.layers.GroupNormalization(
            groups=_groups_for(channels), axis=-1, epsilon=layer.epsilon, center=layer.center, scale=layer.scale,
            name=layer.name,
        )

    return _clone(model, clone_layer)


def _strided(layer) -> bool:
    if not isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.MaxPooling2D)):
        return False
    strides = layer.strides if isinstance(layer.strides, (tuple, list)) else (layer.strides, layer.strides)
    return any(int(s) > 1 for s in strides)


def _blur(name: str, strides) -> keras.layers.DepthwiseConv2D:
    kernel = [[[[a * b / 16.0]] for b in _BINOMIAL_3] for a in _BINOMIAL_3]  # [3, 3, 1, 1], broadcast over channels.
    return keras.layers.DepthwiseConv2D(
        3, strides=strides, padding="same", use_bias=False, depthwise_initializer=keras.initializers.Constant(kernel),
        trainable=False, name=name,
    )


def blur_pool(model: keras.Model) -> keras.Model:
    """Strided convs / max-pools run at stride 1, then a fixed binomial blur subsamples (same output shapes)."""
    strides_of: Dict[int, Tuple[int, int]] = {}

    def clone_layer(layer):
        if not _strided(layer):
            return None
        new = _config_with(layer, strides=(1, 1))
        strides_of[id(new)] = tuple(layer.strides) if isinstance(layer.strides, (tuple, list)) else (layer.strides,) * 2
        return new

    def call_layer(layer, *args, **kwargs):
        outputs = _call(layer, *args, **kwargs)
        if id(layer) in strides_of:
            return _blur(f"{layer.name}{BLUR_SUFFIX}", strides_of[id(layer)])(outputs)
        return outputs

    return _clone(model, clone_layer, call_layer)


def _depth(tensor, memo: Dict[int, int]) -> int:
    """Longest chain of operations from a model input to `tensor` (KerasTensor history)."""
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return 0
    operation, node_index, _ = history
    key = (id(operation), node_index)
    if key in memo:
        return memo[key]
    node = operation._inbound_nodes[node_index]
    parents = list(node.input_tensors)
    memo[key] = 1 + max((_depth(parent, memo) for parent in parents), default=0) if parents else 0
    return memo[key]


def _count_residual_adds(model) -> int:
    count = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Add) and len(layer._inbound_nodes[0].input_tensors) == 2:
            count += 1
        if isinstance(layer, keras.Model):
            count += _count_residual_adds(layer)
    return count


def stochastic_depth(model: keras.Model, rate: float = STOCHASTIC_DEPTH_RATE, seed: int = 0) -> keras.Model:
    """Drops the residual branch of each two-input Add per sample; rate rises linearly to `rate` at the last block."""
    if not 0.0 < rate < 1.0:
        raise ValueError(f"stochastic depth rate must be in (0, 1), got {rate}.")
    total = _count_residual_adds(model)
    seen = [0]
    memo: Dict[Tuple[int, int], int] = {}

    def call_layer(layer, *args, **kwargs):
        if isinstance(layer, keras.layers.Add) and args and len(args[0]) == 2:
            first, second = args[0]
            depths = (_depth(first, memo), _depth(second, memo))
            if depths[0] != depths[1]:
                seen[0] += 1
                block_rate = rate * seen[0] / max(total, 1)
                shortcut, branch = (first, second) if depths[0] < depths[1] else (second, first)
                noise_shape = (None,) + (1,) * (len(branch.shape) - 1)
                dropped = keras.layers.Dropout(
                    block_rate, noise_shape=noise_shape, seed=seed + seen[0], name=f"{layer.name}_stochastic_depth"
                )(branch)
                return _call(layer, [shortcut, dropped], **kwargs)
        return _call(layer, *args, **kwargs)

    return _clone(model, lambda layer: None, call_layer)


def _is_depthwise_grouped_conv(layer) -> bool:
    if type(layer) is not keras.layers.Conv2D or int(layer.groups) <= 1:
        return False
    return int(layer.kernel.shape[2]) == 1 and int(layer.filters) == int(layer.groups)


def grouped_conv_to_depthwise(model: keras.Model) -> keras.Model:
    """Conv2D(groups=C) with one input channel per group (ConvNeXt's depthwise convs) -> DepthwiseConv2D.

    The same function, but Keras' TensorFlow backend runs grouped Conv2D on
    the CPU as a nested XLA (`jit_compile`) function, which tf2onnx cannot
    convert and TF Serving may not compile; DepthwiseConv2D is a plain op for
    TFLite, ONNX and serving. Returns `model` itself when it has no such layer.
    """
    if not any(_is_depthwise_grouped_conv(layer) for layer in _layers_recursive(model)):
        return model

    def clone_layer(layer):
        if not _is_depthwise_grouped_conv(layer):
            return None
        config = layer.get_config()
        return keras.layers.DepthwiseConv2D(
            config["kernel_size"], strides=config["strides"], padding=config["padding"],
            dilation_rate=config["dilation_rate"], use_bias=config["use_bias"], activation=config["activation"],
            name=layer.name,
        )

    return _clone(model, clone_layer)


def _layers_recursive(model) -> List[keras.layers.Layer]:
    found = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        found.extend(_layers_recursive(layer))
    return found


def input_standardization(model: keras.Model) -> keras.Model:
    """Standardizes each image by its own statistics before the first layer that reads the model's input."""
    standardized: Dict[int, keras.KerasTensor] = {}

    def call_layer(layer, *args, **kwargs):
        first = args[0] if args else None
        history = getattr(first, "_keras_history", None)
        if history is not None and isinstance(history[0], keras.layers.InputLayer):
            if not standardized:  # the top-level input only (nested models' inputs come after it)
                standardized[id(first)] = keras.layers.LayerNormalization(
                    axis=(1, 2, 3), center=False, scale=False, name=INPUT_STANDARDIZATION)(first)
            if id(first) in standardized:
                args = (standardized[id(first)],) + tuple(args[1:])
        return _call(layer, *args, **kwargs)

    return _clone(model, lambda layer: None, call_layer)


def apply_changes(model: keras.Model, changes: Sequence[str], seed: int = 0) -> keras.Model:
    """Applies the named changes in a fixed order (input, norm, activation, blur pool, stochastic depth)."""
    changes = check_changes(changes)
    if INPUT_STANDARDIZATION in changes:
        model = input_standardization(model)
    if GROUP_NORM in changes:
        model = batch_norm_to_group_norm(model)
    for activation in (SILU, GELU):
        if activation in changes:
            model = swap_activations(model, activation)
    if BLUR_POOL in changes:
        model = blur_pool(model)
    if STOCHASTIC_DEPTH in changes:
        model = stochastic_depth(model, seed=seed)
    if changes:
        logger.info("architecture_changes %s applied to %s", list(changes), model.name)
    return model
