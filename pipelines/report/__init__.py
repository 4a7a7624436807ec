"""The run report: one offline HTML page per run (RUN_DIR/report/index.html).

    from pipelines.report import write_report
    path = write_report("runs/demo")   # or: autofit report runs/demo

Modules: collect (MLMD: lineage, timings), data (DataSpec, samples,
rejections), autofit (plan, champion selection), techniques (models and
each component's outputs), validation (ExampleValidator anomalies), plots,
render/template/style (the page), build (write_report), browser (headless
Chromium check and screenshot).
"""

from pipelines.report.build import REPORT_DIR_NAME, REPORT_FILE_NAME, build_context, write_report

__all__ = ["REPORT_DIR_NAME", "REPORT_FILE_NAME", "build_context", "write_report"]
