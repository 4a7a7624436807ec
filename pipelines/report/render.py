"""Renders the report context (pipelines.report.build) to one HTML page with Jinja2.

Autoescaping is on: every string from artifacts (reasons, file names,
URIs, markdown) is shown as text, never interpreted as HTML. The page
carries its own CSS and no script, so it loads offline with nothing to
fetch (the favicon is an empty data URI, so the browser asks for none).
"""

from __future__ import annotations

from typing import Any, Dict

import jinja2

from pipelines.report.style import CSS
from pipelines.report.template import TEMPLATE

SECTIONS = (
    ("data", "Data"),
    ("validation", "Data validation"),
    ("plan", "Autofit plan"),
    ("selection", "Champion selection"),
    ("models", "Models"),
    ("components", "Per-technique results"),
    ("lineage", "Lineage"),
    ("timings", "Timings"),
    ("exports", "Exported models"),
)


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                                     lstrip_blocks=True)
    environment.filters["pct"] = lambda value: f"{100 * float(value):.1f}%"
    environment.filters["fmt"] = lambda value, spec=".4f": "" if value is None else format(float(value), spec)
    return environment


def render_html(context: Dict[str, Any]) -> str:
    """The report page for a build context; sections without content are left out of page and nav."""
    present = [(key, title) for key, title in SECTIONS if context.get(key) or key in context.get("errors", {})]
    template = _environment().from_string(TEMPLATE)
    return template.render(css=CSS, nav=present, **context)
