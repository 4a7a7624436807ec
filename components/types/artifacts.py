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
