"""Export component: keys, config and ComponentSpec."""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

from tfx.types import component_spec, standard_artifacts

from components.export.export import FORMATS, SAVED_MODEL, TFLITE, TFLITE_INT8
from components.types import artifacts, features
from components.types.config_json import check

# Input keys.
MODEL_KEY = "model"
EXAMPLES_KEY = "examples"
DATA_SPEC_KEY = "data_spec"
# Output keys.
EXPORTED_MODEL_KEY = "exported_model"
# Exec property keys.
CONFIG_KEY = "config"

REPORT_FILE_NAME = "export_report.json"
FORMATS_PROPERTY = "export_formats"
PARITY_OK_PROPERTY = "export_parity_ok"


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """What to export and how to check it (the YAML `output:` section).

    Attributes:
      formats: any of `saved_model`, `tflite`, `tflite_int8`, `onnx`.
      representative_split: split the int8 calibration images come from.
      representative_examples: calibration images (TFLite recommends ~100-500).
        200 is enough: on MobileNetV3-Small 500 or 1,000 images, or 20 per
        class, did not lower the int8 accuracy drop over 3 seeds; the drop
        follows the model's confidence (top-1 flips fall on low-margin
        images), so an under-trained model loses more
        (benchmarks/results/export_int8.md).
      check_split: held-out split the parity check runs on; None picks
        `test` when present, else `eval`.
      check_examples: images of the parity check (0 = the whole split).
      float_tolerance: largest allowed max |p_export - p_keras| for the
        float formats (saved_model, tflite, onnx).
      int8_max_accuracy_drop: largest allowed accuracy drop of tflite_int8,
        as a fraction (0.01 = 1 percentage point).
      fail_on_parity: raise when a check misses its tolerance (otherwise the
        miss is logged and recorded: `export_parity_ok` = 0).
      onnx_opset: ONNX opset for tf2onnx.
      batch_size: images per prediction batch.
      seed: picks the representative and check images.
    """

    formats: Tuple[str, ...] = (SAVED_MODEL, TFLITE)
    representative_split: str = features.TRAIN_SPLIT
    representative_examples: int = 200
    check_split: Optional[str] = None
    check_examples: int = 500
    float_tolerance: float = 1e-4
    int8_max_accuracy_drop: float = 0.01
    fail_on_parity: bool = False
    onnx_opset: int = 17
    batch_size: int = 64
    seed: int = 0

    def __post_init__(self):
        formats = (self.formats,) if isinstance(self.formats, str) else tuple(self.formats)
        object.__setattr__(self, "formats", formats)
        check(len(formats) > 0, f"ExportConfig.formats must name at least one of {list(FORMATS)}.")
        unknown = sorted(set(formats) - set(FORMATS))
        check(not unknown, f"ExportConfig.formats has unknown format(s) {unknown}; known: {list(FORMATS)}.")
        check(len(set(formats)) == len(formats), f"ExportConfig.formats lists a format twice: {list(formats)}.")
        check(
            self.representative_examples >= 1 or TFLITE_INT8 not in formats,
            f"ExportConfig.representative_examples must be >= 1 for tflite_int8, got {self.representative_examples}.",
        )
        check(self.check_examples >= 0, f"ExportConfig.check_examples must be >= 0, got {self.check_examples}.")
        check(self.float_tolerance > 0, f"ExportConfig.float_tolerance must be > 0, got {self.float_tolerance}.")
        check(
            0 <= self.int8_max_accuracy_drop <= 1,
            f"ExportConfig.int8_max_accuracy_drop must be in [0, 1], got {self.int8_max_accuracy_drop}.",
        )
        check(7 <= self.onnx_opset <= 18, f"ExportConfig.onnx_opset must be in [7, 18] (tf2onnx 1.17), got {self.onnx_opset}.")
        check(self.batch_size >= 1, f"ExportConfig.batch_size must be >= 1, got {self.batch_size}.")
        check(
            self.check_split is None or (self.check_split and self.check_split != features.UNLABELED_SPLIT),
            f"ExportConfig.check_split must name a labeled split, got {self.check_split!r}.",
        )
        check(bool(self.representative_split), "ExportConfig.representative_split must name a split.")


class ExportSpec(component_spec.ComponentSpec):
    PARAMETERS = {CONFIG_KEY: component_spec.ExecutionParameter(type=str)}
    INPUTS = {
        MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
        EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        DATA_SPEC_KEY: component_spec.ChannelParameter(type=artifacts.DataSpec),
    }
    OUTPUTS = {EXPORTED_MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model)}
