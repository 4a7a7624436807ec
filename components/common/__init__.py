"""The shared component layer: what several components use.

No component imports another component's executor; shared helpers live here
(as TFX keeps them in tfx/components/util). Among them:

- artifact_io: JSON/text/bytes through tf.io.gfile, the one JSON policy (NaN -> null), single/optional inputs.
- mlmd_metrics: metrics as MLMD custom properties, the one NaN policy.
- executor_base: ComponentExecutor, the repeated Do() preamble (config, Examples, DataSpec).
- model_io: the Model artifact layout, loading (trusted-code marker) and serving export.
- splits: which split to read and at which image size.
- augmentation: the augment_ops layer an AugmentationPolicy artifact describes.
- synthetic_blend: real + synthetic training data at a ratio (Training and BlendSearch).
- module_files: stages the user's module file into the pipeline root.
"""
