"""The report's own plots (matplotlib Figure on the Agg canvas, no pyplot state), as PNG bytes.

Plots that components already write (confusion matrix, reliability
diagrams, search plots) are embedded as they are; these are the ones only
the report can draw because they span the run: class counts per split,
every model's curves, the candidates with their intervals, component
timings, pseudo-label curves.
"""

from __future__ import annotations

import io
import math
from typing import Dict, List, Optional, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

PALETTE = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16", "#64748b")
SPLIT_COLORS = {"train": "#2563eb", "eval": "#f59e0b", "test": "#10b981", "unlabeled": "#94a3b8"}
MAX_BAR_CLASSES = 40
STATE_COLORS = {"COMPLETE": "#10b981", "CACHED": "#06b6d4", "RUNNING": "#f59e0b", "FAILED": "#ef4444"}


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def _style(axes) -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.spines["left"].set_color("#cbd5e1")
    axes.spines["bottom"].set_color("#cbd5e1")
    axes.tick_params(colors="#475569", labelsize=8)
    axes.grid(True, color="#e2e8f0", linewidth=0.8)
    axes.set_axisbelow(True)


def png(figure: Figure, dpi: int = 110) -> bytes:
    # tight_layout + a plain save draws the figure about half as often as bbox_inches="tight" or constrained layout.
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


def class_counts_png(class_names: Sequence[str], rows: List[Dict[str, object]]) -> bytes:
    """Grouped bars: images per class, one bar per split (the first MAX_BAR_CLASSES classes)."""
    names = list(class_names)[:MAX_BAR_CLASSES]
    figure = _figure(max(5.0, min(14.0, 0.45 * len(names) * max(1, len(rows)) / 2 + 3)), 2.8)
    axes = figure.add_subplot(1, 1, 1)
    width = 0.8 / max(1, len(rows))
    for index, row in enumerate(rows):
        positions = [i + (index - (len(rows) - 1) / 2) * width for i in range(len(names))]
        counts = list(row["per_class"])[: len(names)]
        axes.bar(positions, counts, width=width, label=f"{row['split']} ({row['count']})",
                 color=SPLIT_COLORS.get(str(row["split"]), PALETTE[index % len(PALETTE)]))
    axes.set_xticks(range(len(names)))
    axes.set_xticklabels(names, rotation=45 if max((len(n) for n in names), default=0) > 3 else 0, ha="right"
                         if max((len(n) for n in names), default=0) > 3 else "center")
    axes.set_ylabel("images", fontsize=9, color="#475569")
    _style(axes)
    axes.legend(fontsize=8, frameon=False, ncol=min(4, len(rows)))
    return png(figure)


def _panels(history: Dict[str, List[float]]):
    """(title, [series names]) panels: losses in one, every other metric in another."""
    losses = sorted(name for name in history if "loss" in name)
    others = sorted(name for name in history if "loss" not in name and name not in ("lr", "learning_rate"))
    return [(title, names) for title, names in (("loss", losses), ("metrics", others)) if names]


def learning_curves_png(history: Dict[str, List[float]]) -> bytes:
    """One model's curves per epoch: losses left, other metrics right; `val_*` solid, train dashed."""
    panels = _panels(history)
    figure = _figure(3.2 * max(1, len(panels)), 2.4)
    for index, (panel, names) in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), index + 1)
        bases = sorted({name[4:] if name.startswith("val_") else name for name in names})
        for color_index, base in enumerate(bases):
            color = PALETTE[color_index % len(PALETTE)]
            for name, style in ((base, "--"), (f"val_{base}", "-")):
                values = history.get(name)
                if values:
                    epochs = list(range(1, len(values) + 1))
                    axes.plot(epochs, values, style, color=color, marker="o" if len(values) < 12 else None,
                              markersize=3, linewidth=1.5, label=name)
        axes.set_xlabel("epoch", fontsize=8, color="#475569")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_title(panel, fontsize=9, color="#0f172a")
        _style(axes)
        axes.legend(fontsize=7, frameon=False)
    return png(figure)


def overlay_png(metric: str, curves: Dict[str, List[float]]) -> bytes:
    """One metric per epoch for every model that logged it (e.g. val_accuracy), to compare runs side by side."""
    figure = _figure(6.5, 2.8)
    axes = figure.add_subplot(1, 1, 1)
    for index, (label, values) in enumerate(sorted(curves.items())):
        axes.plot(range(1, len(values) + 1), values, color=PALETTE[index % len(PALETTE)], linewidth=1.8,
                  marker="o" if len(values) < 12 else None, markersize=3, label=label)
    axes.set_xlabel("epoch", fontsize=8, color="#475569")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel(metric, fontsize=8, color="#475569")
    _style(axes)
    axes.legend(fontsize=7, frameon=False, loc="best")
    return png(figure)


def candidates_png(metric: str, candidates: List[Dict[str, object]], champion: Optional[str]) -> bytes:
    """Each candidate's metric with its interval (horizontal), the champion highlighted."""
    rows = [c for c in candidates if c.get("metric") is not None]
    figure = _figure(6.5, 0.45 * max(2, len(rows)) + 0.8)
    axes = figure.add_subplot(1, 1, 1)
    for position, candidate in enumerate(reversed(rows)):
        value = float(candidate["metric"])
        color = "#10b981" if candidate["name"] == champion else "#2563eb"
        interval = candidate.get("interval")
        if interval:
            axes.plot(interval, [position, position], color=color, linewidth=3, alpha=0.45, solid_capstyle="round")
        axes.plot([value], [position], "o", color=color, markersize=7)
    axes.set_yticks(range(len(rows)))
    axes.set_yticklabels([str(c["name"]) for c in reversed(rows)], fontsize=8)
    axes.set_xlabel(metric, fontsize=8, color="#475569")
    _style(axes)
    return png(figure)


def timings_png(components) -> bytes:
    """Gantt chart of the components (seconds from the run's first start), coloured by state."""
    timed = [c for c in components if c.started is not None and c.finished is not None]
    start = min((c.started for c in timed), default=0.0)
    figure = _figure(7.0, 0.38 * max(2, len(timed)) + 0.9)
    axes = figure.add_subplot(1, 1, 1)
    for position, component in enumerate(reversed(timed)):
        left, width = component.started - start, max(component.seconds or 0.0, 0.05)
        axes.barh(position, width, left=left, color=STATE_COLORS.get(component.state, "#94a3b8"), height=0.6)
        axes.text(left + width, position, f"  {_duration(component.seconds)}", va="center", fontsize=7, color="#334155")
    axes.set_yticks(range(len(timed)))
    axes.set_yticklabels([c.component for c in reversed(timed)], fontsize=8)
    axes.set_xlabel("seconds since the run started", fontsize=8, color="#475569")
    _style(axes)
    axes.margins(x=0.12)
    return png(figure)


def pseudo_label_png(title: str, series: Dict[str, List[float]]) -> bytes:
    """Pseudo-label counts (bars) and held-out metrics (lines) per iteration or epoch."""
    x_name = "iteration" if "iteration" in series else "epoch"
    xs = series[x_name]
    figure = _figure(6.0, 2.6)
    axes = figure.add_subplot(1, 1, 1)
    metric_names = [name for name in series if name not in (x_name, "pseudo_labels") and "loss" not in name][:4]
    if "pseudo_labels" in series:
        bars = axes.twinx()
        bars.bar(xs, series["pseudo_labels"], color="#cbd5e1", width=0.5, label="pseudo-labels")
        bars.set_ylabel("pseudo-labels", fontsize=8, color="#64748b")
        bars.tick_params(labelsize=7, colors="#64748b")
        axes.set_zorder(bars.get_zorder() + 1)
        axes.patch.set_visible(False)
    for index, name in enumerate(metric_names):
        values = series[name]
        if any(not math.isnan(v) for v in values):
            axes.plot(xs, values, "-o", color=PALETTE[index % len(PALETTE)], markersize=3, linewidth=1.6, label=name)
    axes.set_xlabel(x_name, fontsize=8, color="#475569")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(title, fontsize=9, color="#0f172a")
    _style(axes)
    axes.legend(fontsize=7, frameon=False, loc="lower right")
    return png(figure)


def _duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


duration_text = _duration


def _dag_layers(components, lineage) -> Dict[int, int]:
    """Execution id -> depth (longest path from a source); executions come in run order, so one pass does."""
    producer = {edge.artifact_id: edge.execution_id for edge in lineage.edges if edge.direction == "output"}
    depth: Dict[int, int] = {}
    for component in components:
        parents = [producer[edge.artifact_id] for edge in lineage.inputs_of(component.execution_id)
                   if producer.get(edge.artifact_id) in depth]
        depth[component.execution_id] = 1 + max((depth[parent] for parent in parents), default=-1)
    return depth


def dag_png(components, lineage) -> bytes:
    """The run's DAG by component: columns by dependency depth, box borders coloured by state, an arrow
    wherever a component read another's output."""
    depth = _dag_layers(components, lineage)
    layers: Dict[int, List] = {}
    for component in components:
        layers.setdefault(depth[component.execution_id], []).append(component)
    producer = {edge.artifact_id: edge.execution_id for edge in lineage.edges if edge.direction == "output"}
    position = {}
    for level in sorted(layers):
        members = layers[level]

        def parents_height(component):  # Barycentre ordering: a node sits near its parents (fewer crossings).
            heights = [position[producer[edge.artifact_id]][1] for edge in lineage.inputs_of(component.execution_id)
                       if producer.get(edge.artifact_id) in position]
            return -sum(heights) / len(heights) if heights else 0.0

        members.sort(key=lambda component: (parents_height(component), component.execution_id))
        for index, component in enumerate(members):
            position[component.execution_id] = (level * 3.0, -(index - (len(members) - 1) / 2) * 1.2)
    tallest = max((len(members) for members in layers.values()), default=1)
    figure = _figure(max(5.0, 1.9 * len(layers) + 0.4), max(1.6, 0.8 * tallest + 0.5))
    axes = figure.add_subplot(1, 1, 1)
    boxes = {}
    for component in components:
        x, y = position[component.execution_id]
        color = STATE_COLORS.get(component.state, "#94a3b8")
        boxes[component.execution_id] = axes.text(
            x, y, f"{component.component}\n{component.state.lower()} · {_duration(component.seconds)}",
            ha="center", va="center", fontsize=8, color="#0f172a", zorder=3,
            bbox=dict(boxstyle="round,pad=0.45", facecolor="white", edgecolor=color, linewidth=1.8))
    flows = set()
    for component in components:
        for edge in lineage.inputs_of(component.execution_id):
            source = producer.get(edge.artifact_id)
            if source in position:
                flows.add((source, component.execution_id))
    figure.canvas.draw()  # Lays the boxes out, so arrows can stop at their edges.
    for source, target in sorted(flows):
        axes.annotate("", xy=position[target], xytext=position[source], zorder=2,
                      arrowprops=dict(arrowstyle="-|>", color="#94a3b8", lw=1.0, shrinkA=2, shrinkB=2,
                                      patchA=boxes[source].get_bbox_patch(), patchB=boxes[target].get_bbox_patch(),
                                      connectionstyle="arc3,rad=0.05"))
    xs = [x for x, _ in position.values()] or [0.0]
    ys = [y for _, y in position.values()] or [0.0]
    axes.set_xlim(min(xs) - 1.1, max(xs) + 1.1)
    axes.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    axes.axis("off")
    return png(figure)
