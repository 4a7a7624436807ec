"""OptimizationParams executor: artifact I/O around `optimization.learn_optimization_params`."""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Dict, List

import tensorflow as tf
from tfx import types

from components.common import artifact_io
from components.common.mlmd_metrics import record_run_decision
from components.common.executor_base import ComponentExecutor
from components.optimization import optimization, plot, spec

logger = logging.getLogger(__name__)


class Executor(ComponentExecutor):
    """Learns the params and writes the OptimizationParams artifact (JSON, PNG, MLMD properties)."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        inputs = self.start(input_dict, output_dict, exec_properties, spec.OptimizationConfig)
        learned = optimization.learn_optimization_params(inputs.examples.uri, inputs.data_spec, inputs.config)
        output = self.single(output_dict, spec.OPTIMIZATION_PARAMS_KEY)
        tf.io.gfile.makedirs(output.uri)
        payload = dict(learned.to_json(), config=dataclasses.asdict(inputs.config))
        artifact_io.write_json(os.path.join(output.uri, spec.OPTIMIZATION_PARAMS_FILE_NAME), payload)
        artifact_io.write_bytes(
            os.path.join(output.uri, spec.LR_RANGE_PLOT_FILE_NAME), plot.range_test_png(learned.range_test)
        )
        output.set_int_custom_property("batch_size", learned.batch_size)
        output.set_float_custom_property("learning_rate", learned.learning_rate)
        output.set_int_custom_property("epochs", learned.epochs)
        output.set_int_custom_property("epochs_trained", learned.epoch_choice.epochs_trained)
        output.set_float_custom_property("seconds", sum(learned.seconds.values()))
        record_run_decision(output, f"learning rate {learned.learning_rate:.3g}, batch size {learned.batch_size}, "
                                    f"{learned.epochs} epochs ({learned.epoch_choice.reason})")
        logger.info(
            "Optimization params (batch %d, learning rate %.3g, epochs %d) written to %s",
            learned.batch_size, learned.learning_rate, learned.epochs, output.uri,
        )
