"""The report page (Jinja2, autoescaped). Context keys: see pipelines.report.build.build_context."""

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{{ title }} · tfx-autofit run report</title>
<style>{{ css | safe }}</style>
</head>
<body>
{% macro badge(text, tone=None) %}<span class="badge b-{{ (tone or text) | lower }}">{{ text }}</span>{% endmacro %}
{% macro section_error(name) %}{% if errors.get(name) %}<div class="callout bad">This section could not be read: {{ errors[name] }}</div>{% endif %}{% endmacro %}
{% macro kv(pairs, limit=12) %}{% set pairs = pairs | list %}<div class="kv">{% for key, value in pairs[:limit] %}<div><b>{{ key }}</b><span class="{{ 'num' if value is number or (value is string and value | length < 16) }}">{{ value }}</span></div>{% endfor %}</div>{% if pairs | length > limit %}<details><summary>{{ pairs | length - limit }} more</summary><div class="kv">{% for key, value in pairs[limit:] %}<div><b>{{ key }}</b><span class="{{ 'num' if value is number or (value is string and value | length < 16) }}">{{ value }}</span></div>{% endfor %}</div></details>{% endif %}{% endmacro %}
<nav class="side"><div class="inner">
  <div class="brand">tfx-<span>autofit</span></div>
  <div class="sub">{{ title }}</div>
  <a href="#overview">Overview</a>
  {% for key, name in nav %}<a href="#{{ key }}">{{ name }}{% if errors.get(key) %}<span class="dot"></span>{% endif %}</a>{% endfor %}
</div></nav>
<main>
<header class="top" id="overview">
  <h1>{{ title }}</h1>
  <div class="meta">Run <code>{{ run_name or "?" }}</code>{% if earlier_runs %} (the store holds {{ earlier_runs }} earlier run{{ "s" if earlier_runs > 1 }}; this report shows the latest){% endif %}
    · started {{ started or "?" }} · last update {{ finished or "?" }}<br>Run directory <code>{{ run_dir }}</code> · report generated {{ generated }}</div>
</header>
<div class="kpis">
{% for kpi in kpis %}
  <div class="kpi {{ kpi.get('tone', '') }}"><div class="label">{{ kpi.label }}</div><div class="value">{{ kpi.value }}</div><div class="note" title="{{ kpi.note }}">{{ kpi.note }}</div></div>
{% endfor %}
</div>

{% if data or errors.get("data") %}
<section class="card" id="data"><h2>Data</h2>
{{ section_error("data") }}
{% if data %}
{{ kv([("task", data.task), ("source format", data.source_format), ("classes", data.num_classes), ("channels", data.channels),
       ("image size (w x h)", data.size), ("records read", "{:,}".format(data.records_read)),
       ("written", "{:,}".format(data.records_written)), ("rejected", "{:,}".format(data.records_rejected))]) }}
{% if data.warnings %}<div class="callout warn"><b>Data warnings</b><ul>{% for line in data.warnings %}<li>{{ line }}</li>{% endfor %}</ul></div>{% endif %}
<h3>Images per split and class</h3>
<div class="table-wrap"><table>
  <tr><th>split</th><th class="num">total</th>{% for name in data.class_names[:30] %}<th class="num">{{ name }}</th>{% endfor %}{% if data.class_names | length > 30 %}<th>…</th>{% endif %}</tr>
  {% for row in data.split_rows %}<tr><td>{{ row.split }}</td><td class="num"><b>{{ "{:,}".format(row.count) }}</b></td>{% for count in row.per_class[:30] %}<td class="num">{{ count }}</td>{% endfor %}{% if data.class_names | length > 30 %}<td>…</td>{% endif %}</tr>{% endfor %}
</table></div>
{% if data.counts_png %}<figure class="chart"><img src="{{ data.counts_png }}" alt="images per class and split"></figure>{% endif %}
{% if data.samples %}
<h3>Sample images per class <span class="muted">({{ data.sample_split }} split, from the Examples artifact)</span></h3>
<div class="samples">
{% for group in data.samples %}<div class="cls" title="{{ group.class_name }}">{{ group.class_name }}</div><div class="row">{% for image in group.images %}<div class="thumb" title="{{ image.source_id }}"><img src="{{ image.src }}" alt="{{ group.class_name }}">{% for box in image.boxes %}<div class="box" style="top:{{ box.top | fmt('.1f') }}%;left:{{ box.left | fmt('.1f') }}%;height:{{ box.height | fmt('.1f') }}%;width:{{ box.width | fmt('.1f') }}%" title="{{ box.label }}"></div>{% endfor %}</div>{% endfor %}</div>
{% endfor %}
</div>
{% endif %}
<h3>Rejected records</h3>
{% if data.records_rejected %}
{% if data.rejected_reasons %}<table><tr><th>reason</th><th class="num">records</th></tr>{% for reason, count in data.rejected_reasons %}<tr><td>{{ reason }}</td><td class="num">{{ count }}</td></tr>{% endfor %}</table>{% endif %}
{% if data.rejected_rows %}<details><summary>First {{ data.rejected_rows | length }} rejected records</summary><div class="table-wrap"><table><tr><th>stage</th><th>source</th><th>record</th><th>reason</th></tr>
{% for row in data.rejected_rows %}<tr><td>{{ badge(row.stage, 'warn') }}</td><td class="uri">{{ row.source }}</td><td class="uri">{{ row.record }}</td><td>{{ row.reason }}</td></tr>{% endfor %}</table></div></details>{% endif %}
{% else %}<p class="muted">No record was rejected.</p>{% endif %}
<p class="muted">DataSpec <span class="uri">{{ data.data_spec_uri }}</span>{% if data.examples_uri %} · Examples <span class="uri">{{ data.examples_uri }}</span>{% endif %}</p>
{% endif %}
</section>
{% endif %}

{% if validation or errors.get("validation") %}
<section class="card" id="validation"><h2>Data validation <span class="muted" style="font-size:13px;font-weight:400">StatisticsGen → SchemaGen → ExampleValidator</span></h2>
{{ section_error("validation") }}
{% if validation %}
<p class="lead">Splits checked against the inferred schema:
{% for split in validation.splits %}{{ badge(split + (": anomalies" if split in validation.failed_splits else ": passed"), 'bad' if split in validation.failed_splits else 'good') }} {% endfor %}</p>
{% if validation.anomalies %}
<table><tr><th>split</th><th>feature</th><th>severity</th><th>anomaly</th><th>details</th></tr>
{% for a in validation.anomalies %}<tr><td>{{ a.split }}</td><td class="mono">{{ a.feature }}</td><td>{{ badge(a.severity, 'bad' if a.severity == 'ERROR' else 'warn') }}</td><td>{{ a.short_description }}</td><td>{{ a.description }}</td></tr>{% endfor %}
</table>
{% else %}<div class="callout good">No anomalies: every checked split matches the schema.</div>{% endif %}
{% if validation.schema_features %}<details><summary>Inferred schema ({{ validation.schema_features | length }} features)</summary><table><tr><th>feature</th><th>type</th><th>presence</th><th>domain</th></tr>
{% for f in validation.schema_features %}<tr><td class="mono">{{ f.name }}</td><td>{{ f.type }}</td><td>{{ f.presence }}</td><td>{{ f.domain }}</td></tr>{% endfor %}</table></details>{% endif %}
<p class="muted">Anomalies <span class="uri">{{ validation.anomalies_uri }}</span></p>
{% endif %}
</section>
{% endif %}

{% if plan or errors.get("plan") %}
<section class="card" id="plan"><h2>Autofit plan</h2>
{{ section_error("plan") }}
{% if plan %}
{% if plan.budget %}<p class="lead">Budget: <b>{{ plan.budget }}</b></p>{% endif %}
{% if plan.profile %}<h3>Data profile</h3>{{ kv(plan.profile | dictsort) }}{% endif %}
<h3>Techniques</h3>
<table><tr><th>technique</th><th>decision</th><th>reason</th></tr>
{% for t in plan.techniques %}<tr><td><b>{{ t.name }}</b></td><td>{{ badge(t.decision) }}</td><td>{{ t.get('reason', '') }}</td></tr>{% endfor %}
</table>
<p class="muted">Plan <span class="uri">{{ plan.path }}</span></p>
{% endif %}
</section>
{% endif %}

{% if selection or errors.get("selection") %}
<section class="card" id="selection"><h2>Champion selection</h2>
{{ section_error("selection") }}
{% if selection %}
<p class="lead">Candidates compared on <b>{{ selection.metric }}</b> ({{ selection.split }} split){% if selection.champion %}; champion <b>{{ selection.champion }}</b>{% endif %}{% if selection.refit %}; refit: {{ selection.refit }}{% endif %}.</p>
<div class="table-wrap"><table><tr><th>candidate</th><th class="num">{{ selection.metric }}</th><th class="num">interval</th><th>model</th></tr>
{% for c in selection.candidates %}<tr class="{{ 'champion' if c.name == selection.champion }}"><td><b>{{ c.name }}</b> {% if c.name == selection.champion %}{{ badge('champion', 'good') }}{% endif %}</td><td class="num">{{ c.metric | fmt }}</td><td class="num">{% if c.interval %}[{{ c.interval[0] | fmt }}, {{ c.interval[1] | fmt }}]{% endif %}</td><td class="uri">{{ c.get('model_uri', '') }}</td></tr>{% endfor %}
</table></div>
{% if selection.src %}<figure class="chart"><img src="{{ selection.src }}" alt="candidates with intervals"><figcaption>{{ selection.metric }} with its interval; champion in green</figcaption></figure>{% endif %}
{% if selection.decisions %}<h3>Decisions</h3>
<table><tr><th>candidate</th><th>against</th><th class="num">delta</th><th class="num">interval</th><th>kept</th><th>reason</th></tr>
{% for d in selection.decisions %}<tr><td><b>{{ d.candidate }}</b></td><td>{{ d.get('against', '') }}</td><td class="num">{{ d.delta | fmt('+.4f') }}</td><td class="num">{% if d.interval %}[{{ d.interval[0] | fmt('+.4f') }}, {{ d.interval[1] | fmt('+.4f') }}]{% endif %}</td><td>{{ badge('kept', 'good') if d.kept else badge('dropped', 'mute') }}</td><td>{{ d.get('reason', '') }}</td></tr>{% endfor %}
</table>{% endif %}
{% endif %}
{% if run_decisions %}<h3>Decided at run time</h3>
<p>What components decided from the data while the pipeline ran (not in the plan).</p>
<table><tr><th>component</th><th>decision</th></tr>
{% for d in run_decisions %}<tr><td><b>{{ d.component }}</b></td><td>{{ d.text }}</td></tr>{% endfor %}
</table>{% endif %}
</section>
{% endif %}

{% if models or errors.get("models") %}
<section class="card" id="models"><h2>Models</h2>
{{ section_error("models") }}
{% if models %}
<p class="lead">Every Model artifact of the run with the held-out (<code>eval_*</code>) metrics it recorded in ML Metadata{% if models.rows | length > 1 %}; the best value of each column is green{% endif %}.</p>
<div class="table-wrap"><table><tr><th>model</th>{% for c in models.columns %}<th class="num" title="{{ c }}">{{ (c[5:] if c.startswith('eval_') else c) | replace('_', ' ') }}</th>{% endfor %}</tr>
{% for row in models.rows %}<tr><td><b>{{ row.component }}</b><span class="muted">.{{ row.key }}</span>{% if row.other %}<details><summary>{{ row.other | length }} more metrics</summary>{{ kv(row.other, 100) }}</details>{% endif %}</td>{% for v in row.cells %}<td class="num {{ 'best' if v.best }}">{{ v.text }}</td>{% endfor %}</tr>{% endfor %}
</table></div>
{% if models.overlays or models.curves %}<h3>Learning curves</h3>
<div class="figs">
{% for o in models.overlays %}<figure><img src="{{ o.src }}" alt="{{ o.metric }} of every model"><figcaption>{{ o.metric }}, every model</figcaption></figure>{% endfor %}
{% for c in models.curves %}<figure><img src="{{ c.src }}" alt="curves of {{ c.label }}"><figcaption>{{ c.label }}</figcaption></figure>{% endfor %}
</div>{% endif %}
{% endif %}
</section>
{% endif %}

{% if components or errors.get("components") %}
<section class="card" id="components"><h2>Per-technique results</h2>
{{ section_error("components") }}
{% for comp in components %}
<div class="comp"><h3>{{ comp.component }} {{ badge(comp.state) }}</h3>
{% for a in comp.artifacts %}
<div class="artifact"><div class="head"><b>{{ a.key }}</b> · {{ a.type }} #{{ a.id }} · <span class="uri">{{ a.uri }}</span></div>
{% if a.scalars %}{{ kv(a.scalars) }}{% endif %}
{% if a.policy %}<h4>Augmentation policy {% if a.policy.name %}“{{ a.policy.name }}”{% endif %} <span class="muted">({{ a.policy.sampling }}{% if a.policy.sampling == 'random_n' %}, {{ a.policy.num_ops }} per image{% endif %}, magnitudes {{ a.policy.magnitude_sampling }})</span></h4>
<table><tr><th>op</th><th class="num">magnitude</th><th class="num">probability</th></tr>{% for op in a.policy.ops %}<tr><td class="mono">{{ op.name }}</td><td class="num">{{ op.magnitude | fmt('.2f') }}</td><td class="num">{{ op.probability | fmt('.2f') }}</td></tr>{% endfor %}</table>
{% if a.policy_preview %}<figure class="wide"><img src="{{ a.policy_preview }}" alt="policy preview"><figcaption>random draws of the policy on the sample photos (first column: originals)</figcaption></figure>{% endif %}{% endif %}
{% if a.figures or a.pseudo %}<div class="figs">
{% for p in a.pseudo %}<figure><img src="{{ p.src }}" alt="{{ p.name }}"><figcaption>pseudo-labels and held-out metrics ({{ p.name }})</figcaption></figure>{% endfor %}
{% for f in a.figures %}<figure><img src="{{ f.src }}" alt="{{ f.name }}"><figcaption>{{ f.name }}</figcaption></figure>{% endfor %}
</div>{% endif %}
{% for name, text in a.texts %}<details><summary>{{ name }}</summary><pre>{{ text }}</pre></details>{% endfor %}
</div>
{% endfor %}
</div>
{% endfor %}
</section>
{% endif %}

{% if lineage or errors.get("lineage") %}
<section class="card" id="lineage"><h2>Lineage <span class="muted" style="font-size:13px;font-weight:400">from ML Metadata</span></h2>
{{ section_error("lineage") }}
{% if lineage %}<div class="scroll-x dag"><img src="{{ lineage.dag }}" alt="component graph"></div>
<p class="muted">Components by dependency: an arrow wherever a component read another's output; the border colour is the execution state.</p>
<details><summary>Artifact-level graph (every artifact, pipelines.lineage.plot_lineage)</summary><div class="scroll-x"><img src="{{ lineage.src }}" alt="lineage graph" style="width: {{ lineage.width }}px"></div></details>
<details><summary>Lineage as text</summary><pre>{{ lineage.text }}</pre></details>{% endif %}
</section>
{% endif %}

{% if timings or errors.get("timings") %}
<section class="card" id="timings"><h2>Timings</h2>
{{ section_error("timings") }}
{% if timings %}
{% if timings.src %}<figure class="chart"><img src="{{ timings.src }}" alt="component timings"></figure>{% endif %}
<table><tr><th>component</th><th>state</th><th>started</th><th class="num">after start</th><th class="num">duration</th></tr>
{% for row in timings.rows %}<tr><td><b>{{ row.component }}</b>{% if row.type != row.component %} <span class="muted">{{ row.type }}</span>{% endif %}</td><td>{{ badge(row.state) }}</td><td>{{ row.started }}</td><td class="num">{{ row.offset }}</td><td class="num">{{ row.duration }}</td></tr>{% endfor %}
</table>
<p class="muted">From each execution's ML Metadata create and last-update times.</p>
{% endif %}
</section>
{% endif %}

{% if exports or errors.get("exports") %}
<section class="card" id="exports"><h2>Exported models</h2>
{{ section_error("exports") }}
<table><tr><th>model</th><th>Keras</th><th>SavedModel (serving)</th><th>blessed</th><th>location</th></tr>
{% for row in exports %}<tr><td><b>{{ row.label }}</b></td><td>{{ badge('model.keras', 'good') if row.keras else badge('none', 'mute') }}</td><td>{{ badge('Format-Serving', 'good') if row.serving else badge('none', 'mute') }}</td><td>{% if row.blessed is none %}<span class="muted">not evaluated</span>{% else %}{{ badge('blessed', 'good') if row.blessed else badge('not blessed', 'bad') }}{% endif %}</td><td class="uri">{{ row.serving_uri if row.serving else row.uri }}</td></tr>{% endfor %}
</table>
</section>
{% endif %}
<footer>Generated by <code>autofit report</code> from the run's ML Metadata and artifacts; regenerate with <code>autofit report {{ run_dir }}</code>.</footer>
</main>
</body>
</html>
"""
