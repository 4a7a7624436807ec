"""Custom artifact types shared by every component.

Standard TFX types (Examples, Model, ModelEvaluation, ModelBlessing) are used
where they fit; these cover what TFX has no type for.
"""

from tfx.types import artifact


class DataSpec(artifact.Artifact):
    """JSON description of a dataset (`data_spec.json` under the URI)."""

    TYPE_NAME = "tfx_autofit.DataSpec"


# The file an AugmentationPolicy artifact holds (augment_ops Policy JSON) at its URI root.
POLICY_FILE_NAME = "policy.json"
# Custom property of BlendSearch's model and report (and of Training's model): synthetic examples per real one.
SYNTHETIC_RATIO_PROPERTY = "synthetic_ratio"


class AugmentationPolicy(artifact.Artifact):
    """An augment_ops `Policy` serialized as `policy.json` under the URI."""

    TYPE_NAME = "tfx_autofit.AugmentationPolicy"


class Report(artifact.Artifact):
    """Human-readable results of a component: markdown, JSON and PNG plots."""

    TYPE_NAME = "tfx_autofit.Report"


# The file an OptimizationParams artifact holds at its URI root, and its MLMD custom properties.
OPTIMIZATION_PARAMS_FILE_NAME = "optimization_params.json"
LEARNED_PARAM_PROPERTIES = ("batch_size", "learning_rate", "epochs")


class OptimizationParams(artifact.Artifact):
    """Learned batch size, learning rate and epoch count (`optimization_params.json` + LR range plot)."""

    TYPE_NAME = "tfx_autofit.OptimizationParams"
