"""The plan: which techniques to try on this data within this budget, each with its reason.

Made when the pipeline is built, from the data profile (the translated
DataSpec) and the config. Rules come from what the data is (labeled images
per class, unlabeled images, eval size, task), never from one dataset:

- semi-supervised techniques are tried when unlabeled images exist; FixMatch-style
  consistency training first (the strongest few-label recipe), noisy student on top
  of the best teacher available, contrastive pretraining on the thorough budget;
- a decision that would be made on held-out data too small to resolve it is not
  made (the augmentation search is skipped when the eval split cannot resolve a
  few points of accuracy);
- the costs are rough multiples of one plain training, added in priority order
  until the budget (quick 3x, standard 8x, thorough 20x one training on all the images) is spent;
- the quick budget tries one candidate beside the plain training (the first that fits, in priority order),
  so a run stays within ~3x one plain training;
- a user section forces a technique (its settings win), `false` forbids it.

The trainer settings (batch size, epochs, early stopping) are planned from the
data size too, so a `data:`-only config trains long enough to settle.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, List, Optional, Tuple, Union

from pipelines.autofit.profile import DataProfile
from pipelines.autofit.techniques import TECHNIQUES

TRY, SKIP, FORCED, FORBIDDEN = "try", "skip", "forced", "forbidden"
BUDGET_MULTIPLES = {"quick": 3.0, "standard": 8.0, "thorough": 20.0}
# Cost model. The unit is one supervised training over every image the run may learn from (labeled and
# unlabeled, the semi-supervised schedule): what training would cost if every image had a label. Costs are
# images processed (forward + backward), computed from the profile and the planned settings; the fixed
# factors are measured ratios (benchmarks/results: optimization 1.5x of the training it tunes, plus its
# candidate training; the augmentation search 1.5x plus its candidate training; GAN training ~2 units).
FIXED_COSTS = {"calibration": 0.02, "ensemble": 0.05, "gan": 2.0, "style_transfer": 2.0, "domain_adaptation": 1.0}
# FixMatch steps per budget (the paper trains ~1M steps; on CPU ~1,500 steps already reach most of its gain). The
# quick budget promises a run within ~3x one plain training: on the `make demo` layout (400 labels, 3,500 unlabeled,
# 3 seeds) 1,000 steps made the run 3.6-5.1x a plain training, FixMatch at 97.7% test accuracy; 500 steps 2.4-3.05x,
# FixMatch at 96.4% (plain: 94.2%): benchmarks/results/consistency_steps.md, autofit_quick_fast.md. Standard is the
# accurate budget.
CONSISTENCY_STEPS = {"quick": 500, "standard": 1500, "thorough": 3000}
# A forward pass without gradients (FixMatch's weak views) against a training pass over the same image.
FORWARD_ONLY_COST = 1.0 / 3.0
# Seconds of one CPU image-epoch of a small CNN on a 28x28x1 image, scaled by pixels (budget in minutes only).
SECONDS_PER_IMAGE_EPOCH = 1.5e-3
# Seconds per training image of the dense tasks' models at 96x96x3 on 2 CPU cores, scaled by pixels (budget in
# minutes only): RetinaNet 13-15 images/s (benchmarks/results/detection_benchmark_cpu.md), the U-Net ~8
# (dense_task_scaling.md; 224 px costs 1.4-6.2x per image for detection, 5.6x for segmentation).
DENSE_SECONDS_PER_IMAGE = {"detection": 1 / 14, "segmentation": 1 / 8}
DENSE_REFERENCE_PIXELS = 96 * 96 * 3
TARGET_STEPS = 1500  # optimizer steps a plain training gets, within the epoch bounds below
MIN_STEPS_PER_EPOCH = 30
EPOCH_BOUNDS = (10, 60)
# Decision setting (not a component option): add a second noisy-student round, run only if the first beat its teacher.
SECOND_ROUND = "second_round_if_better"
# An augmentation policy is only chosen when the eval split resolves differences this small (accuracy points).
SEARCH_RESOLUTION_PP = 3.0
# Refit: which trainers' recipes it reruns (components.common.recipe names), and the plan-internal cost key.
REFIT_SUPERVISED, REFIT_CONSISTENCY = "Training", "ConsistencyTraining"
REFIT_COST = "_cost"
# Tasks whose Training recipes Refit reruns on train + eval (multilabel models are not refitted yet).
REFIT_TASKS = ("classification", "detection", "segmentation")
# Steps that finish the champion rather than compete with it (not candidates).
FINISHING = ("calibration", "refit")
# The quick budget: the plain training plus the first candidate in priority order that fits (one comparison, so
# the run stays within ~3x a plain training; benchmarks/results/autofit_quick_fast.md measures it).
QUICK_CANDIDATES = 1
# Blur pool + GELU: 1.04-1.39x and 1.2-1.3x a small CNN's step time (benchmarks/results/architecture_changes.md).
ARCHITECTURE_CHANGES_COST = 1.5
# The detection search trains its CenterNet proxy once per candidate, and once per box prior for the candidates that
# rotate or shear: 16 runs of 12 epochs over the train scenes with the default candidates
# (augmentation_search.detection_search.detection_candidates, DetectionProxyConfig). Per image a proxy step costs
# ~0.06x a RetinaNet step at 96 px: the search took 219-280 s on 300 scenes (~230 proxy images/s) where the
# detector trains at 13-15 images/s (benchmarks/results/detection_policy.md, detection_benchmark_cpu.md).
DETECTION_PROXY_RUNS = 16
DETECTION_PROXY_EPOCHS = 12
DETECTION_PROXY_IMAGE_COST = 0.06


@dataclasses.dataclass
class Decision:
    name: str
    decision: str
    reason: str
    settings: Dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def included(self) -> bool:
        return self.decision in (TRY, FORCED)


@dataclasses.dataclass
class Plan:
    profile: DataProfile
    budget: str
    budget_multiple: float
    techniques: List[Decision]
    training: Dict[str, Any]
    training_reasons: Dict[str, str]
    estimated_cost: float
    # Epochs and batch size of trainers that learn from labeled + unlabeled images (noisy student, contrastive).
    semi_supervised_training: Dict[str, Any] = dataclasses.field(default_factory=dict)
    # Outside the candidates' budget: the refit of whichever recipe wins (its estimated cost).
    refit_cost: float = 0.0

    def includes(self, name: str) -> bool:
        return any(d.name == name and d.included for d in self.techniques)

    def decision(self, name: str) -> Optional[Decision]:
        return next((d for d in self.techniques if d.name == name), None)

    def settings(self, name: str) -> Dict[str, Any]:
        found = self.decision(name)
        return dict(found.settings) if found else {}

    def to_dict(self) -> Dict[str, Any]:
        return {
            "profile": self.profile.to_dict(),
            "budget": self.budget,
            "budget_multiple": self.budget_multiple,
            "estimated_cost": round(self.estimated_cost, 2),
            "refit_cost": round(self.refit_cost, 2),
            "training": self.training,
            "training_reasons": self.training_reasons,
            "semi_supervised_training": self.semi_supervised_training,
            "techniques": [dataclasses.asdict(d) for d in self.techniques],
        }

    def lines(self) -> List[str]:
        """The plan as people read it: one line per technique."""
        refit = f", then ~{self.refit_cost:.1f} for the refit" if self.refit_cost else ""
        out = [f"autofit plan (budget {self.budget}: ~{self.estimated_cost:.1f} of {self.budget_multiple:g} units{refit}; "
               "a unit = one training on all the images):"]
        optimization = self.decision("optimization")
        learned = ""
        if optimization is not None and optimization.decision == FORCED:
            learned = " (replaced by the batch size, learning rate and epochs OptimizationParams learns)"
        elif optimization is not None and optimization.decision == TRY:
            learned = " (TrainingOptimized, with the learned values, is a candidate against these)"
        planned = ", ".join(f"{k}={v}" for k, v in self.training.items()) or "planned by the task's trainer"
        out.append("  training: " + planned + learned)
        for key, reason in self.training_reasons.items():
            out.append(f"    {key}: {reason}")
        if self.profile.eval_images and self.profile.task in ("detection", "segmentation"):
            if self.profile.task == "detection":
                out.append(f"  held out: {self.profile.eval_images} eval images score every candidate by COCO "
                           "mAP@[.5:.95]; a candidate is kept only when better beyond their noise (paired resampling "
                           "of the images)")
            else:
                out.append(f"  held out: {self.profile.eval_images} eval images score the model by mean IoU (no "
                           "candidate technique applies to segmentation yet)")
        elif self.profile.eval_images:
            resolution = 100 * self.profile.accuracy_resolution()
            advice = ("; hold out more of the labeled images to resolve smaller gains"
                      if resolution > SEARCH_RESOLUTION_PP else "")
            out.append(f"  held out: {self.profile.eval_images} eval images resolve ~±{resolution:.1f} pp: a candidate "
                       f"is kept only when it beats the simpler one beyond that noise{advice}")
        for d in self.techniques:
            out.append(f"  [{d.decision:9s}] {d.name}: {d.reason}")
        return out


def budget_multiple(budget: Union[str, float], profile: DataProfile,
                    training: Optional[Dict[str, Any]] = None) -> Tuple[str, float]:
    """(label, budget in cost units) for a named budget or a number of minutes.

    Minutes are converted with a rough CPU estimate of one unit (a small CNN; for detection and segmentation the
    task's model on its own schedule; bigger models and GPUs differ: the label says what was assumed).
    """
    if isinstance(budget, str):
        return budget, BUDGET_MULTIPLES[budget]
    if profile.task in DENSE_SCHEDULES:
        pixels = max(profile.height * profile.width * profile.channels, 1) / DENSE_REFERENCE_PIXELS
        seconds = dense_training_images(profile, training or {}) * DENSE_SECONDS_PER_IMAGE[profile.task] * pixels
        unit_minutes = seconds / 60
    else:
        semi = semi_supervised_schedule(profile)
        pixels = max(profile.height * profile.width * profile.channels, 1) / 784.0
        unit_minutes = (semi["epochs"] * max(profile.labeled + profile.unlabeled, 1) * pixels
                        * SECONDS_PER_IMAGE_EPOCH / 60)
    multiple = float(budget) / max(unit_minutes, 1e-3)
    return f"{budget:g} min (~{multiple:.1f} units of ~{unit_minutes:.1f} min on a CPU)", multiple


# Detectors and segmenters plan their own batch and step count (components/training/detection_defaults.py,
# segmentation.planned_schedule): a value planned here for a classifier would count as the user's and override
# them (RetinaNet at a classifier's batch of 128, or 47 epochs of 2,000 scenes: ~6,000 steps where ~1,000 do).
DENSE_SCHEDULES = {
    "detection": ("the detector's own schedule: batches of {batch} and at least {steps:,} optimizer steps "
                  "(RetinaNet's small-data recipe)"),
    "segmentation": ("the segmenter's own schedule: batches of {batch} and about {steps:,} optimizer steps "
                     "(at most {max_epochs} epochs)"),
}


def dense_schedule_reason(task: str) -> str:
    """What a detector's or segmenter's trainer plans when the config leaves batch size and epochs alone."""
    if task == "detection":
        from components.training import detection_defaults

        return DENSE_SCHEDULES[task].format(batch=detection_defaults.DEFAULT_BATCH_SIZE,
                                            steps=detection_defaults.MIN_TRAINING_STEPS)
    from components.training import segmentation

    return DENSE_SCHEDULES[task].format(batch=segmentation.DEFAULT_BATCH_SIZE, steps=segmentation.TARGET_TRAINING_STEPS,
                                        max_epochs=segmentation.MAX_PLANNED_EPOCHS)


def plan_training(profile: DataProfile, user_training: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """Batch size, epochs and early stopping from the data size; keys the user set are kept.

    Detection and segmentation leave batch size and epochs to their trainers (DENSE_SCHEDULES).
    """
    planned: Dict[str, Any] = {}
    reasons: Dict[str, str] = {}
    if profile.task in DENSE_SCHEDULES:
        chosen = [key for key in ("batch_size", "epochs") if key in user_training]
        reasons["schedule"] = (", ".join(chosen) + " set in the config" if chosen
                               else dense_schedule_reason(profile.task))
        return planned, reasons
    labeled = max(profile.labeled, 1)
    batch = 128
    while batch > 16 and labeled / batch < MIN_STEPS_PER_EPOCH:
        batch //= 2
    planned["batch_size"] = batch
    reasons["batch_size"] = (f"{labeled} labeled images: the largest of 16-128 giving >= {MIN_STEPS_PER_EPOCH} steps "
                             f"per epoch ({math.ceil(labeled / batch)} at {batch})")
    batch = int(user_training.get("batch_size", batch))
    steps = math.ceil(labeled / batch)
    epochs = min(max(math.ceil(TARGET_STEPS / steps), EPOCH_BOUNDS[0]), EPOCH_BOUNDS[1])
    planned["epochs"] = epochs
    reasons["epochs"] = (f"~{TARGET_STEPS} optimizer steps ({steps} per epoch), within {EPOCH_BOUNDS[0]}-"
                         f"{EPOCH_BOUNDS[1]} epochs; early stopping keeps the best epoch")
    planned["early_stopping_patience"] = max(3, epochs // 5)
    reasons["early_stopping_patience"] = "a fifth of the epochs without eval-loss improvement (best weights restored)"
    if profile.has_target:
        planned["architecture_changes"] = ["input_standardization"]
        reasons["architecture_changes"] = (
            "a target domain was given: each image standardized by its own mean and deviation, so a brightness or "
            "contrast shift does not reach the model (night-camera benchmark: source-only night accuracy "
            "12% -> 45%, daylight unchanged)")
    for key in list(planned):
        if key in user_training:
            planned.pop(key)
            reasons[key] = "set in the config"
    return planned, reasons


def make_plan(
    profile: DataProfile,
    techniques: Dict[str, Any],
    budget: Union[str, float] = "standard",
    user_training: Optional[Dict[str, Any]] = None,
    available: Optional[Tuple[str, ...]] = None,
) -> Plan:
    """The plan for this data.

    Args:
      techniques: the config's technique sections ({section: settings dict | False}).
      available: technique names whose components are installed (None: all).
    """
    user_training = dict(user_training or {})
    training, training_reasons = plan_training(profile, user_training)
    trained_with = dict(training, **user_training)  # what the plain training will run with
    label, multiple = budget_multiple(budget, profile, trained_with)
    semi = semi_supervised_schedule(profile)
    consistency = consistency_schedule(profile, label)
    costs = technique_costs(profile, trained_with, semi, consistency, rounds=1 if label == "quick" else 2)
    decisions: List[Decision] = []
    spent = costs["training"]  # the plain training every plan has: the baseline all candidates are compared with

    def add(name: str, wanted: bool, reason: str, settings: Optional[Dict[str, Any]] = None) -> None:
        nonlocal spent
        technique = TECHNIQUES[name]
        section = techniques.get(name)
        if section is False:
            decisions.append(Decision(name, FORBIDDEN, "forbidden in the config (`false`)"))
            return
        if profile.task not in technique.tasks:
            decisions.append(Decision(name, SKIP, f"does not apply to {profile.task}"))
            return
        if available is not None and name not in available:
            decisions.append(Decision(name, SKIP, "its component is not installed"))
            return
        if isinstance(section, dict):
            spent += costs.get(name, 1.0)
            decisions.append(Decision(name, FORCED, "set in the config" + (f"; {reason}" if wanted else ""),
                                      dict(settings or {}, **section)))
            return
        if not technique.searched:
            decisions.append(Decision(name, SKIP, f"user-chosen: add a `{name}:` section to use it ({reason})"))
            return
        if not wanted:
            decisions.append(Decision(name, SKIP, reason))
            return
        cost = costs.get(name, 1.0)
        if spent + cost > multiple + 1e-9:
            decisions.append(Decision(name, SKIP, f"{reason}; but over the budget (~{cost:.1f} units would make "
                                                  f"{spent + cost:.1f} > {multiple:.1f})"))
            return
        planned = [d.name for d in decisions if d.decision == TRY and d.name not in FINISHING]
        if label == "quick" and name not in FINISHING and len(planned) >= QUICK_CANDIDATES:
            decisions.append(Decision(name, SKIP, f"{reason}; the quick budget tries one candidate beside the plain "
                                                  f"training ({planned[0]})"))
            return
        spent += cost
        decisions.append(Decision(name, TRY, f"{reason} (~{cost:.1f} units)", dict(settings or {})))

    task_ok = profile.task in ("classification", "multilabel")
    has_unlabeled = profile.unlabeled > 0
    ratio = profile.unlabeled_ratio
    unlabeled_reason = (f"{profile.unlabeled:,} unlabeled images, {ratio:.1f}x the {profile.labeled:,} labeled"
                        if has_unlabeled else "no unlabeled images")
    resolution = 100 * profile.accuracy_resolution()
    thorough = label == "thorough" or multiple >= BUDGET_MULTIPLES["thorough"]

    add("domain_adaptation", profile.has_target, "a target domain was given" if profile.has_target
        else "no target domain in the config (`domain_adaptation: {target: {...}}`)")
    add("calibration", profile.task == "classification",
        "probabilities that mean what they say: the temperature minimizing eval NLL (argmax unchanged), kept only "
        "when it lowers NLL out of fold beyond the noise")
    add("consistency_training", has_unlabeled and ratio >= 1.0,
        f"{unlabeled_reason}: FixMatch-style training learns from them" if has_unlabeled else unlabeled_reason,
        consistency)
    add("noisy_student", has_unlabeled and ratio >= 1.0,
        f"{unlabeled_reason}: pseudo-label them with the best teacher" if has_unlabeled else unlabeled_reason,
        {"iterations": 1, SECOND_ROUND: label != "quick"})
    add("optimization", task_ok, "learn learning rate (range test), batch size and epochs (early stopping); "
        "the training with them is a candidate against the planned settings")
    if profile.task == "detection":
        # The search's proxy mAP moves 2-10 points between seeds (benchmarks/results/detection_box_prior.md), so its
        # pick is never taken unchecked: the detector trained with the searched policy and box prior is a candidate
        # against the default box-aware augmentation, compared by COCO mAP on the eval images (paired resampling).
        add("augmentation_search", profile.eval_images > 0,
            (f"the detector trained with the searched policy and box prior is a candidate against the box-aware "
             f"default augmentation, kept only when its COCO mAP on the {profile.eval_images} eval images is "
             "better beyond their noise") if profile.eval_images else
            "no eval split to check a searched policy on; the box-aware default augmentation is used")
    else:
        search_ok = profile.task == "classification" and resolution <= SEARCH_RESOLUTION_PP
        add("augmentation_search", search_ok,
            f"eval split of {profile.eval_images} images resolves ~±{resolution:.1f} pp"
            + ("; the training with the searched policy is a candidate against the plain one" if search_ok else "")
            + ("" if search_ok else f"; policies differ by less than that, so no policy is chosen on it"))
    add("contrastive", has_unlabeled and thorough,
        f"{unlabeled_reason}: self-supervised pretraining" + ("" if thorough else " (thorough budget only)"))
    add("label_smoothing", task_ok and label != "quick" and not has_unlabeled,
        "a regularized variant of the plain training as a candidate"
        + (" (not on the quick budget)" if label == "quick" else "")
        + ("; with unlabeled images the semi-supervised candidates are where the gain is" if has_unlabeled else ""))
    changes, changes_why = pick_architecture_changes()
    add("architecture_changes", task_ok and label != "quick" and not has_unlabeled,
        f"{changes_why}, as a candidate beside the plain training"
        + (" (not on the quick budget)" if label == "quick" else "")
        + ("; with unlabeled images the semi-supervised candidates are where the gain is" if has_unlabeled else ""),
        {"changes": changes})
    add("self_distillation", profile.task == "classification" and thorough,
        "a student learns the best model's soft labels" + ("" if thorough else " (thorough budget only)"))
    add("gan", thorough and profile.task == "classification" and profile.min_per_class >= 20,
        "synthetic images, blended at a searched ratio" + ("" if thorough else " (thorough budget only)"))
    add("blend_search", thorough and profile.task == "classification" and profile.min_per_class >= 20,
        "searches the synthetic/real ratio (0 allowed)" + ("" if thorough else " (thorough budget only)"))
    add("style_transfer", False, "slow, and rarely better than the GAN on small images")
    add("ensemble", False, "several models cost serving hardware")
    add("distillation", False, "the student architecture is a deployment choice")
    # Blend search needs a synthesizer and vice versa.
    gan, blend = next(d for d in decisions if d.name == "gan"), next(d for d in decisions if d.name == "blend_search")
    if gan.included != blend.included:
        lone = gan if gan.included else blend
        if lone.decision == TRY:
            lone.decision, lone.reason = SKIP, f"{lone.reason}; needs both gan and blend_search"
            spent -= costs[lone.name]
    refit = plan_refit(profile, techniques.get("refit"), decisions, costs, spent, multiple, available,
                       quick=label == "quick")
    decisions.append(refit)
    finishing = refit.settings.pop(REFIT_COST, 0.0) if refit.included else 0.0
    return Plan(profile, label, multiple, decisions, training, training_reasons, spent, semi, finishing)


def plan_refit(profile: DataProfile, section, decisions: List[Decision], costs: Dict[str, float], spent: float,
               multiple: float, available: Optional[Tuple[str, ...]], quick: bool = False) -> Decision:
    """Refit the chosen recipe on train + eval: on by default (the issue's `refit_full`), `refit: false` keeps
    a pure held-out score.

    Not a candidate competing for the budget: it finishes whatever wins, at the cost of one supervised training
    on train + eval. A consistency-trained champion is refitted too only when its cost fits what the candidates
    left of the budget (else it is kept as trained, and the plan says so). On the quick budget with
    FixMatch planned there is no refit at all: a plain training, FixMatch and a refit would not fit in ~3x a
    plain training, and FixMatch is where the few-label gain is.
    """
    if section is False:
        return Decision("refit", FORBIDDEN, "forbidden in the config (`false`): the final model keeps a pure "
                                            "held-out score")
    if profile.task not in REFIT_TASKS:
        return Decision("refit", SKIP, f"does not apply to {profile.task} yet")
    if available is not None and "refit" not in available:
        return Decision("refit", SKIP, "its component is not installed")
    if not profile.eval_images:
        return Decision("refit", SKIP, "no eval split to add")
    share = profile.eval_images / max(profile.labeled, 1)
    cost = costs["refit"]
    trainers, note = [REFIT_SUPERVISED], ""
    consistency = any(d.name == "consistency_training" and d.included for d in decisions)
    if quick and consistency and not isinstance(section, dict):
        return Decision("refit", SKIP, (
            "on the quick budget FixMatch takes the time a refit would: refitting a supervised champion on the "
            f"{profile.eval_images:,} eval images too (~{1 + share:.1f} plain trainings) would take the run past ~3x "
            "a plain training; the held-out score is the recipe's (add `refit: {}` to force it)"))
    if consistency:
        extra = costs["consistency_training"] * (1 + share)
        if isinstance(section, dict) or spent + cost + extra <= multiple + 1e-9:
            trainers.append(REFIT_CONSISTENCY)
            cost += extra
        else:
            note = (f"; a ConsistencyTraining champion is kept as trained (its refit, ~{extra:.1f} units, is over "
                    "the budget)")
    reason = (f"the {profile.eval_images:,} eval images ({100 * share:.0f}% of the {profile.labeled:,} labeled) join "
              "the training once the recipe is chosen; "
              + ("the test split scores the refitted model" if profile.test_images else
                 "the held-out score is the recipe's before refit (no test split)")
              + note + f" (~{cost:.1f} units)")
    settings = {"trainers": trainers, REFIT_COST: cost}
    if isinstance(section, dict):
        return Decision("refit", FORCED, "set in the config; " + reason, dict(settings, **section))
    # Outside the candidates' budget (spent is not charged): refit finishes whatever wins.
    return Decision("refit", TRY, reason, settings)


def pick_architecture_changes() -> Tuple[List[str], str]:
    """The drop-in changes the candidate tries, and why.

    The prior comes from benchmarks/results/architecture_changes.md (MNIST-5k, 2-3 seeds, two architectures):
    blur pool (+1.8 / +3.6 pp) and GELU (+1.7 / +0.9 pp) helped on both; GroupNorm (-31 / -14 pp), stochastic
    depth (-1.4 pp) and SiLU (within the spread) did not, so they are left to users. The candidate is kept only
    when it beats the plain training on this data's held-out images beyond the noise.
    """
    return ["blur_pool", "gelu"], "blur pool + GELU (both helped on two architectures in the benchmark)"


def consistency_schedule(profile: DataProfile, budget_label: str) -> Dict[str, Any]:
    """FixMatch settings for a CPU-sized budget.

    Adam at 3e-3 instead of the paper's SGD 0.03: the paper's SGD recipe assumes ~1M steps and, in the
    component's pilot, reached 88% where Adam reached 96% after ~600 steps (benchmarks/results/
    consistency_training.md). mu = 3 unlabeled batches per labeled one (the paper's 7 costs 2.6x per step).
    """
    batch, mu = 32, 3
    pool = max(profile.unlabeled + profile.labeled, 1)
    steps_per_epoch = max(1, math.ceil(pool / (mu * batch)))
    total = CONSISTENCY_STEPS.get(budget_label, CONSISTENCY_STEPS["standard"])
    return {"optimizer": "adam", "learning_rate": 3e-3, "batch_size": batch, "mu": mu,
            "epochs": max(1, math.ceil(total / steps_per_epoch)), "steps_per_epoch": steps_per_epoch}


def fixmatch_step_images(batch_size: int, mu: int) -> float:
    """Supervised images one FixMatch step costs: labeled and strong views train, weak views only predict.

    A forward pass is about a third of a forward + backward (FORWARD_ONLY_COST), so a step of B labeled and
    mu * B unlabeled images costs B * (1 + mu + mu / 3) images, 160 at B = 32, mu = 3: 10x a 16-image step, where
    counting weak views as full images said 14x. Measured on CPU: 7.4x on 28x28x1, 8.8x on 32x32x3 (a small step
    also pays a fixed overhead); fitted per image, this count predicts the FixMatch step within 17%
    (benchmarks/results/step_cost.md).
    """
    return batch_size * (1 + mu + mu * FORWARD_ONLY_COST)


def detection_search_cost(profile: DataProfile, training: Dict[str, Any]) -> float:
    """The detection search's proxy runs as a fraction of the detector training they precede.

    The detector's images come from its own schedule (detection_defaults: batches of 16, at least 1,000 steps)
    unless the config sets epochs or batch size; the proxies pass over every train scene. ~0.2 of a training on
    a few hundred scenes, ~2.3 on 6,000 (the proxies scale with the scenes; the detector's 1,000-step floor does
    not, and above 3,200 scenes its 5 default epochs do).
    """
    proxy_images = DETECTION_PROXY_RUNS * DETECTION_PROXY_EPOCHS * max(profile.labeled, 1) * DETECTION_PROXY_IMAGE_COST
    return proxy_images / dense_training_images(profile, training)


def dense_training_images(profile: DataProfile, training: Dict[str, Any]) -> int:
    """Images a detector's or segmenter's training processes: its own schedule, or the epochs / batch set."""
    from components.training.spec import TrainingConfig

    scenes = max(profile.labeled, 1)
    chosen = {key: training[key] for key in ("epochs", "batch_size") if key in training}
    config = TrainingConfig(**chosen, explicit_fields=tuple(chosen))
    if profile.task == "detection":
        from components.training import detection_defaults

        batch = detection_defaults.planned_batch_size(config)
        steps_per_epoch = math.ceil(scenes / batch)
        return detection_defaults.planned_epochs(config, steps_per_epoch) * steps_per_epoch * batch
    from components.training import segmentation

    epochs, batch, _ = segmentation.planned_schedule(config, scenes)
    return epochs * max(1, scenes // batch) * batch


def technique_costs(profile: DataProfile, training: Dict[str, Any], semi: Dict[str, Any],
                    consistency: Dict[str, Any], rounds: int = 2) -> Dict[str, float]:
    """Each technique's cost in units of one supervised training over all the images (see FIXED_COSTS)."""
    pool = max(profile.labeled + profile.unlabeled, 1)
    unit = float(semi["epochs"] * pool)
    # Dense tasks have no unlabeled images and their trainers plan their own steps: their training is one unit.
    plain = 1.0 if profile.task in DENSE_SCHEDULES else int(training.get("epochs", 10)) * max(profile.labeled, 1) / unit
    steps = consistency["epochs"] * consistency["steps_per_epoch"]
    costs = dict(FIXED_COSTS)
    # The detection search's candidate is one more detector training; classification's search costs ~1.5 trainings.
    search = 1.0 + (detection_search_cost(profile, training) if profile.task == "detection" else 1.5)
    costs.update({
        "training": plain, "label_smoothing": plain,
        # The champion's recipe once more on train + eval: a plain training's cost for the supervised recipes
        # (a consistency-trained champion costs what its candidate cost; that rarely fits a budget twice).
        "refit": plain * (1 + profile.eval_images / max(profile.labeled, 1)), "architecture_changes": ARCHITECTURE_CHANGES_COST * plain,
        "optimization": 2.5 * plain, "augmentation_search": search * plain,
        "self_distillation": 1.2 * plain, "distillation": 1.2 * plain, "blend_search": 1.5 * plain,
        "consistency_training": steps * fixmatch_step_images(consistency["batch_size"], consistency["mu"]) / unit,
        # A round: a student trains on labeled + pseudo-labeled images under strong noise (RandAugment, dropout),
        # measured ~2x a plain epoch on CPU; the second round is gated but budgeted.
        "noisy_student": 2.0 * rounds,
        "contrastive": 2.0 + plain,  # two views of every image, then a warm-started training
    })
    return costs


def semi_supervised_schedule(profile: DataProfile) -> Dict[str, Any]:
    """Batch and epochs for trainers whose epoch covers labeled + unlabeled images: the same step target."""
    pool = max(profile.labeled + profile.unlabeled, 1)
    batch = 64 if pool / 64 >= MIN_STEPS_PER_EPOCH else 32
    steps = math.ceil(pool / batch)
    return {"batch_size": batch, "epochs": min(max(math.ceil(TARGET_STEPS / steps), 5), 30)}


def fixed_plan(config) -> Plan:
    """`autofit: false` (or no data profile): exactly the technique sections the config gives, nothing planned."""
    from pipelines.autofit.techniques import SECTION_TECHNIQUES

    task = config.data.get("task", "classification")
    profile = DataProfile(task, 0, 0, 0, 0.0, 0, 0, 0, 0, 0, 0)
    decisions = []
    for name in SECTION_TECHNIQUES:
        section = config.techniques.get(name)
        if isinstance(section, dict):
            decisions.append(Decision(name, FORCED, "set in the config", dict(section)))
        elif section is False:
            decisions.append(Decision(name, FORBIDDEN, "forbidden in the config (`false`)"))
        else:
            decisions.append(Decision(name, SKIP, "autofit is off: only the sections in the config run"))
    return Plan(profile, "fixed", 0.0, decisions, {}, {}, 0.0, {})
