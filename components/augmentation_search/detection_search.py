"""The search for detection data: family policies and box priors by held-out mAP.

Pass 1's feature distances need a classifier's embedding; detection has none
here, so the detection search is pass 2 alone over a short, fixed list of
family policies (geometric, flips, colour, occlusion, each at two
magnitudes) with the no-augmentation and RandAugment baselines, every
candidate scored by a short detection-proxy training (detection_proxy.py).
A candidate that rotates or shears is trained once per box prior and keeps
its best: scoring it under one fixed prior would judge the policy by that
prior's boxes (the rectangle prior inflates turned boxes and made every
geometric policy lose in our runs). The chosen candidate's best prior is
the box prior the search outputs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from typing import Dict, List, Optional, Sequence

from augment_ops.options import DEFAULT_OPTIONS, AugmentOptions
from augment_ops.policy import Policy
from components.augmentation_search import detection_proxy
from components.augmentation_search.box_prior import BoxPriorChoice, choose_box_prior
from components.augmentation_search.search_policy import IDENTITY_POLICY, cluster_policy, describe, randaugment_baseline

logger = logging.getLogger(__name__)

# Op families for boxes; no mixing ops (their boxes come from two images, and the proxy scores one).
DETECTION_FAMILIES = {
    "geometric": ("rotate", "shear_x", "shear_y", "translate_x", "translate_y", "zoom_in", "zoom_out"),
    "flip": ("flip_left_right",),
    "colour": ("brightness", "contrast", "saturation", "hue", "gamma", "sharpness", "gaussian_blur"),
    "occlusion": ("cutout", "grid_mask"),
}
DETECTION_MAGNITUDES = (0.3, 0.6)
# Flips, quarter turns, zooms, translations and crops map a box to a box exactly;
# only rotation and shear make the assumed object shape inside the box matter.
PRIOR_SENSITIVE_OPS = frozenset({"rotate", "shear_x", "shear_y"})


@dataclasses.dataclass(frozen=True)
class DetectionSearchResult:
    """What the detection search chose and the evidence.

    Attributes:
      policy: the chosen policy (IDENTITY_POLICY when nothing beat it).
      options: AugmentOptions with the chosen box prior.
      box_prior: the chosen prior's name, or None when the policy moves no pixels.
      scores: held-out mAP per candidate policy name (its best prior's, for
        candidates that rotate or shear).
      prior_scores: held-out mAP of the chosen policy per prior (empty when
        it neither rotates nor shears).
      candidate_prior_scores: per candidate that rotates or shears, its mAP per prior.
      seconds: wall time of the policy pass and of the prior pass.
    """

    policy: Policy
    options: AugmentOptions
    box_prior: Optional[str]
    scores: Dict[str, float]
    prior_scores: Dict[str, float]
    seconds: Dict[str, float]
    candidate_prior_scores: Dict[str, Dict[str, float]] = dataclasses.field(default_factory=dict)
    # The best-scoring candidate against no augmentation, paired over the held-out images (noise_check).
    comparison: Optional[Dict[str, object]] = None


def detection_candidates(
    families: Dict[str, Sequence[str]] = DETECTION_FAMILIES, magnitudes: Sequence[float] = DETECTION_MAGNITUDES
) -> List[Policy]:
    """The baselines, then each family at each magnitude (one op per sample, U(0, m), probability 1)."""
    candidates = [IDENTITY_POLICY, randaugment_baseline()]
    for family, ops in families.items():
        for magnitude in magnitudes:
            policy = cluster_policy(ops, magnitude, 1.0, f"{family}_m{magnitude:.2f}")
            candidates.append(dataclasses.replace(policy, magnitude_sampling="uniform"))
    return candidates


def prior_sensitive(policy: Policy) -> bool:
    """Whether the box prior changes this policy's boxes (it rotates or shears)."""
    return any(op in PRIOR_SENSITIVE_OPS for op in policy.op_names)


def search_detection(
    train: detection_proxy.Arrays,
    held_out: detection_proxy.Arrays,
    num_classes: int,
    candidates: Optional[Sequence[Policy]] = None,
    priors: Sequence[str] = ("rectangle", "ellipse", "cross"),
    proxy_config: detection_proxy.DetectionProxyConfig = detection_proxy.DetectionProxyConfig(),
    base_options: AugmentOptions = DEFAULT_OPTIONS,
    keep_simpler_within_noise: bool = False,
    confidence: float = 0.95,
    num_resamples: int = 2000,
) -> DetectionSearchResult:
    """Scores every candidate (rotating/shearing ones under each prior) and keeps the best.

    Ties keep the earlier candidate (and the earlier prior), so no
    augmentation wins unless a policy scores strictly higher. The best is
    then compared with no augmentation, paired over the held-out images
    (`noise_check`); with `keep_simpler_within_noise` (the search's
    `choose_baselines`) no augmentation is output unless the best is better
    beyond that noise: one proxy run's mAP moves 2-10 points between seeds.
    """
    candidates = list(candidates or detection_candidates())
    started = time.time()
    scores: Dict[str, float] = {}
    evidence: Dict[str, object] = {}
    candidate_priors: Dict[str, BoxPriorChoice] = {}
    prior_seconds = 0.0
    for index, policy in enumerate(candidates, start=1):
        if prior_sensitive(policy) and priors:
            prior_started = time.time()
            by_prior: Dict[str, detection_proxy.ProxyResult] = {}

            def scorer(options, policy=policy, by_prior=by_prior):
                by_prior[options.box_prior] = detection_proxy.train_and_evaluate(
                    train, held_out, num_classes, policy, options, proxy_config)
                return by_prior[options.box_prior].map

            choice = choose_box_prior(scorer, priors, base_options)
            candidate_priors[policy.name] = choice
            scores[policy.name] = choice.scores[choice.prior]
            evidence[policy.name] = by_prior[choice.options.box_prior].evidence
            prior_seconds += time.time() - prior_started
        else:
            result = detection_proxy.train_and_evaluate(train, held_out, num_classes, policy, base_options, proxy_config)
            scores[policy.name], evidence[policy.name] = result.map, result.evidence
        logger.info("detection search %d/%d: %s mAP %.4f", index, len(candidates), policy.name, scores[policy.name])
    best = max(candidates, key=lambda policy: (scores[policy.name], -candidates.index(policy)))
    comparison = noise_check(best.name, evidence, scores, confidence, num_resamples, proxy_config.seed)
    if comparison is not None and keep_simpler_within_noise and not comparison["kept"]:
        best = next(policy for policy in candidates if policy.name == IDENTITY_POLICY.name)
    choice = candidate_priors.get(best.name)
    return DetectionSearchResult(
        policy=best,
        options=choice.options if choice else base_options,
        box_prior=choice.prior if choice else None,
        scores=scores,
        prior_scores=dict(choice.scores) if choice else {},
        seconds={"total": time.time() - started, "of_which_priors": prior_seconds},
        candidate_prior_scores={name: dict(choice.scores) for name, choice in candidate_priors.items()},
        comparison=comparison,
    )


def noise_check(best: str, evidence: Dict[str, object], scores: Dict[str, float], confidence: float,
                num_resamples: int, seed: int) -> Optional[Dict[str, object]]:
    """The best candidate's mAP against no augmentation, paired over resamples of the held-out images.

    None when no augmentation was not a candidate, or is itself the best. `kept`: the one-sided `confidence`
    lower bound of the difference is above zero.
    """
    from components.common import paired_stats
    from components.evaluation import resampled_metrics

    baseline = IDENTITY_POLICY.name
    if best == baseline or baseline not in evidence or evidence.get(best) is None or evidence[baseline] is None:
        return None
    counts = resampled_metrics.bootstrap_counts(evidence[baseline].num_images, num_resamples, seed)
    difference = (resampled_metrics.resampled_map(evidence[best], counts)["map"]
                  - resampled_metrics.resampled_map(evidence[baseline], counts)["map"])
    low, high = paired_stats.one_sided_bounds(difference, confidence)
    return {"candidate": best, "against": baseline, "delta": scores[best] - scores[baseline], "low": low,
            "high": high, "kept": low > 0, "confidence": confidence}


DETECTION_PLOT_FILE_NAME = "detection_search.png"
OPTIONS_FILE_NAME = "augment_options.json"  # beside policy.json: the box prior the policy was chosen with


def detection_summary(result: DetectionSearchResult) -> dict:
    return {
        "task": "detection",
        "chosen_policy": result.policy.name,
        "chosen_policy_description": describe(result.policy),
        "box_prior": result.box_prior,
        "augment_options": result.options.to_dict(),
        "held_out_map": result.scores,
        "box_prior_map": result.prior_scores,
        "candidate_box_prior_map": result.candidate_prior_scores,
        "comparison_with_no_augmentation": result.comparison,
        "seconds": result.seconds,
    }


def decision_text(result: DetectionSearchResult) -> str:
    """The search's pick in one line (the run-time decision `autofit run` prints)."""
    prior = f" with the {result.box_prior} box prior" if result.box_prior else ""
    comparison = result.comparison
    if comparison is None:
        return f"policy {result.policy.name}{prior}: no candidate scored above no augmentation on the proxy"
    shown = (f"{comparison['candidate']} vs no augmentation: proxy mAP {100 * comparison['delta']:+.2f} points, "
             f"[{100 * comparison['low']:+.2f}, {100 * comparison['high']:+.2f}] paired over the held-out images")
    if result.policy.name == comparison["candidate"]:
        verdict = "better beyond the noise" if comparison["kept"] else "within the noise, output for a full-training check"
        return f"policy {result.policy.name}{prior} ({shown}: {verdict})"
    return f"no augmentation ({shown}: within the noise, so the simpler option is output)"


def detection_plot_png(result: DetectionSearchResult) -> bytes:
    """Bars of held-out mAP per candidate policy and, when searched, per box prior."""
    from matplotlib.figure import Figure

    from components.evaluation.plots import figure_png

    panels = [("policy (best prior where it matters)", result.scores)] + ([("box prior", result.prior_scores)] if result.prior_scores else [])
    figure = Figure(figsize=(5 + 3 * len(panels), 4))
    widths = [max(len(scores), 2) for _, scores in panels]
    grid = figure.add_gridspec(1, len(panels), width_ratios=widths)
    for column, (title, scores) in enumerate(panels):
        axis = figure.add_subplot(grid[0, column])
        chosen = result.policy.name if column == 0 else result.box_prior
        colours = ["tab:orange" if name == chosen else "tab:blue" for name in scores]
        axis.bar(range(len(scores)), [100 * value for value in scores.values()], color=colours)
        axis.set_xticks(range(len(scores)), list(scores), rotation=60, ha="right", fontsize=8)
        axis.set_ylabel("held-out mAP@[.5:.95] x 100")
        axis.set_title(f"{title}; chosen in orange", fontsize=9)
    return figure_png(figure)


def detection_report_markdown(result: DetectionSearchResult) -> str:
    lines = [
        "# Augmentation search report (detection)",
        "",
        f"Chosen policy: {describe(result.policy)}",
        f"Box prior: {result.box_prior or 'none needed (the chosen policy neither rotates nor shears)'}",
        f"Decision: {decision_text(result)}",
        f"Wall time: {result.seconds['total']:.1f} s, of which {result.seconds['of_which_priors']:.1f} s training "
        "rotating/shearing candidates once per prior.",
        "",
        "| candidate | held-out mAP@[.5:.95] |",
        "|---|---|",
    ]
    lines += [f"| {name} | {100 * value:.2f} |" for name, value in result.scores.items()]
    if result.candidate_prior_scores:
        priors = list(next(iter(result.candidate_prior_scores.values())))
        lines += ["", "| candidate | " + " | ".join(f"{prior} prior" for prior in priors) + " |", "|---|" + "---|" * len(priors)]
        for name, by_prior in result.candidate_prior_scores.items():
            lines.append(f"| {name} | " + " | ".join(f"{100 * by_prior[prior]:.2f}" for prior in priors) + " |")
    lines += ["", f"![scores]({DETECTION_PLOT_FILE_NAME})"]
    return "\n".join(lines) + "\n"


def write_detection_outputs(result: DetectionSearchResult, policy_directory: str, report_directory: str) -> Dict[str, str]:
    """policy.json and augment_options.json into the policy artifact; report.md, summary.json, the plot into the report."""
    import tensorflow as tf

    from components.augmentation_search.report import REPORT_FILE_NAME, SUMMARY_FILE_NAME
    from components.types.artifacts import POLICY_FILE_NAME

    files = {
        os.path.join(policy_directory, POLICY_FILE_NAME): result.policy.to_json().encode("utf-8"),
        os.path.join(policy_directory, OPTIONS_FILE_NAME): json.dumps(result.options.to_dict(), indent=2).encode("utf-8"),
        os.path.join(report_directory, REPORT_FILE_NAME): detection_report_markdown(result).encode("utf-8"),
        os.path.join(report_directory, SUMMARY_FILE_NAME): json.dumps(detection_summary(result), indent=2, sort_keys=True).encode("utf-8"),
        os.path.join(report_directory, DETECTION_PLOT_FILE_NAME): detection_plot_png(result),
    }
    for path, payload in files.items():
        tf.io.gfile.makedirs(os.path.dirname(path))
        with tf.io.gfile.GFile(path, "wb") as handle:
            handle.write(payload)
    return {os.path.basename(path): path for path in files}
