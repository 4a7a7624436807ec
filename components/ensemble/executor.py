"""Ensemble executor: artifact I/O around `ensemble.average_models`."""

from __future__ import annotations

import logging
from typing import Any, Dict, List

import numpy as np
from tfx import types

from components.calibration import held_out
from components.common import model_io
from components.common.executor_base import ComponentExecutor
from components.common.mlmd_metrics import record_metrics
from components.ensemble import ensemble
from components.ensemble import spec as keys
from components.evaluation import metrics as metric_names
from components.types import features

logger = logging.getLogger(__name__)


class Executor(ComponentExecutor):
    """Trains or loads the members, scores them and the ensemble on `eval`, writes the ensemble Model."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        inputs = self.start(input_dict, output_dict, exec_properties, keys.EnsembleConfig)
        config, examples, data_spec = inputs.config, inputs.examples, inputs.data_spec
        given = input_dict.get(keys.MODELS_KEY) or []
        histories: Dict[str, list] = {}
        if given:
            sources = [artifact.uri for artifact in given]
            logger.info("ensemble of %d given models (num_members=%d ignored)", len(given), config.num_members)
            members = [held_out.load_model(uri) for uri in sources]
        else:
            seeds = [ensemble.member_config(config.member, index).seed for index in range(config.num_members)]
            sources = [f"trained with seed {seed}" for seed in seeds]
            trained = ensemble.train_members(examples.uri, data_spec, config.member, config.num_members)
            members = [model for model, _, _ in trained]
            for index, (_, history, _) in enumerate(trained):
                prefix = f"{ensemble.MEMBER_NAME_PREFIX}{index}/"
                histories.update({prefix + key: values for key, values in history.items()})
        held_out.single_input_models(members, sources)

        def eval_metrics(model, name):
            return held_out.score(model, examples.uri, features.EVAL_SPLIT, data_spec, config.batch_size, name=name)[
                "metrics"
            ]

        member_metrics = [eval_metrics(member, f"member {index}") for index, member in enumerate(members)]
        combined = ensemble.average_models(members)
        metrics = eval_metrics(combined, "ensemble")

        output = self.single(output_dict, keys.MODEL_KEY)
        model_io.save_model_artifact(
            combined, output.uri, history=histories, metrics={f"eval_{name}": value for name, value in metrics.items()}
        )
        self._record(output, metrics, member_metrics, sources, data_spec.task)
        logger.info("Ensemble of %d written to %s", len(members), output.uri)

    def _record(self, output, metrics, member_metrics, sources, task) -> None:
        classification = task == features.TASK_CLASSIFICATION
        headline_metric = metric_names.ACCURACY if classification else metric_names.SUBSET_ACCURACY
        record_metrics(output, metrics, prefix="eval_")
        for index, member in enumerate(member_metrics):
            record_metrics(output, {headline_metric: member[headline_metric]}, prefix=f"member_{index}_eval_")
        mean_member = float(np.mean([member[headline_metric] for member in member_metrics]))
        best_member = float(np.max([member[headline_metric] for member in member_metrics]))
        gain = metrics[headline_metric] - mean_member
        record_metrics(output, {
            f"members_mean_eval_{headline_metric}": mean_member,
            f"gain_over_mean_member_{headline_metric}": gain,
        })
        output.set_int_custom_property("num_members", len(member_metrics))
        output.set_string_custom_property("architecture", "ensemble")
        summary = {
            "num_members": len(member_metrics),
            "members": [
                {"source": source, "eval": held_out.headline(member)} for source, member in zip(sources, member_metrics)
            ],
            "ensemble_eval": held_out.headline(metrics),
            f"members_mean_eval_{headline_metric}": mean_member,
            f"best_member_eval_{headline_metric}": best_member,
            f"gain_over_mean_member_{headline_metric}": gain,
        }
        rows = {f"member {index}": member for index, member in enumerate(member_metrics)}
        rows["ensemble (mean probabilities)"] = metrics
        columns = held_out.HEADLINE_METRICS if classification else (headline_metric,)
        body = [
            f"- {len(member_metrics)} members; {headline_metric} on `eval`: ensemble {metrics[headline_metric]:.4f}, "
            f"mean member {mean_member:.4f}, best member {best_member:.4f}",
            "",
            *held_out.metrics_table(rows, columns),
            "",
            "Members: " + "; ".join(f"{index}: {source}" for index, source in enumerate(sources)),
        ]
        held_out.write_summary(output.uri, "Ensemble", summary, body)
