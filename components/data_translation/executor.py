"""DataTranslation executor: artifact I/O glue around translation.add_translation."""

from __future__ import annotations

import logging
from typing import Any, Dict, List

from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact, artifact_utils

from components.common import resume
from components.data_translation import progress_report, readers, translation
from components.data_translation.spec import CONFIG_KEY, DATA_SPEC_KEY, EXAMPLES_KEY, TranslationConfig
from components.types.beam_options import effective_beam_args


class Executor(base_beam_executor.BaseBeamExecutor):
    """Runs the translation on the pipeline's Beam runner (beam_pipeline_args apply).

    `Do` runs in its execution scope (like every ComponentExecutor), so the
    translation's progress reaches `<pipeline_root>/_progress/<component>.json`
    and `autofit status`.
    """

    def __init__(self, context=None):
        super().__init__(context)
        # Without a named runner, Beam's DirectRunner would try to download Prism first.
        self._beam_pipeline_args = effective_beam_args(self._beam_pipeline_args)

    @resume.execution_scoped
    def Do(
        self,
        input_dict: Dict[str, List[artifact.Artifact]],
        output_dict: Dict[str, List[artifact.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        config = TranslationConfig.from_json(exec_properties[CONFIG_KEY]).validate()
        examples = artifact_utils.get_single_instance(output_dict[EXAMPLES_KEY])
        data_spec = artifact_utils.get_single_instance(output_dict[DATA_SPEC_KEY])
        target = progress_report.ProgressTarget.from_scope(resume.current_scope())
        reporter = progress_report.reporter(target, None)
        reporter.set(0, detail=f"reading {config.format} from {config.path}", log=False, force_write=True)
        finished = False
        try:
            plan = readers.plan(config)
            logging.info("DataTranslation: %s from %s in %d shards.", config.format, config.path, len(plan.shards))
            with self._make_beam_pipeline() as pipeline:
                translation.add_translation(pipeline, config, plan, examples.uri, data_spec.uri, target)
            content = translation.finalize(config, examples.uri, data_spec.uri)
            reporter.total = content.records_read
            reporter.set(content.records_read, log=False)
            finished = True
        finally:
            reporter.close(finished=finished)
        examples.split_names = artifact_utils.encode_split_names(translation.split_names(content))
        for output in (examples, data_spec):
            translation.record_properties(output, content)
