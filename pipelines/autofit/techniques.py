"""The techniques autofit knows: their YAML section, the tasks they support, what they need.

One table, read by config validation (a forced section on a task its
technique does not support is refused when the pipeline is built) and by the
planner (which techniques are candidates for this data).
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Tuple

CLASSIFICATION = "classification"
MULTILABEL = "multilabel"
DETECTION = "detection"
SEGMENTATION = "segmentation"
ALL_TASKS = (CLASSIFICATION, MULTILABEL, DETECTION, SEGMENTATION)


@dataclasses.dataclass(frozen=True)
class Technique:
    """A technique autofit can plan.

    Attributes:
      section: its YAML section.
      tasks: tasks it supports.
      needs_unlabeled: only makes sense with an `unlabeled` split.
      searched: autofit may add it on its own; False = only when the user's section asks
        (ensembles and knowledge distillation cost serving hardware; the user decides).
      summary: what it does, for the plan.
    """

    section: str
    tasks: Tuple[str, ...]
    summary: str
    needs_unlabeled: bool = False
    searched: bool = True


TECHNIQUES: Dict[str, Technique] = {
    technique.section: technique
    for technique in (
        Technique("optimization", ALL_TASKS[:2], "learn batch size, learning rate (LR range test) and epochs"),
        Technique("augmentation_search", (CLASSIFICATION, DETECTION), "search an augmentation policy (two passes)"),
        Technique("consistency_training", (CLASSIFICATION,), "FixMatch-family training on labeled + unlabeled",
                  needs_unlabeled=True),
        Technique("contrastive", (CLASSIFICATION,), "self-supervised pretraining on all images, then training",
                  needs_unlabeled=True),
        Technique("noisy_student", (CLASSIFICATION,), "teacher pseudo-labels unlabeled images; noised student",
                  needs_unlabeled=True),
        Technique("label_smoothing", ALL_TASKS[:2], "training with label smoothing 0.1 as a candidate"),
        Technique("architecture_changes", ALL_TASKS[:2],
                  "training with drop-in architecture changes (e.g. blur pool, GELU) as a candidate"),
        Technique("self_distillation", (CLASSIFICATION,), "a student of the same architecture learns the champion"),
        Technique("calibration", (CLASSIFICATION,), "temperature scaling of the champion's probabilities"),
        Technique("refit", (CLASSIFICATION,), "retrain the chosen recipe on train + eval once the decisions are made"),
        Technique("domain_adaptation", (CLASSIFICATION,), "adapt the model to an unlabeled target domain"),
        Technique("ensemble", ALL_TASKS[:2], "average several trained models", searched=False),
        Technique("distillation", (CLASSIFICATION,), "distill into a given student architecture", searched=False),
        Technique("gan", (CLASSIFICATION,), "class-conditional GAN synthesis"),
        Technique("style_transfer", (CLASSIFICATION,), "style-transfer synthesis", searched=False),
        Technique("blend_search", (CLASSIFICATION,), "search the synthetic/real blend ratio"),
    )
}
# Every technique is a YAML section; these two are planned variants of training / distillation and take no
# options of their own (`true` forces, `false` forbids).
OPTIONLESS_TECHNIQUES = ("label_smoothing", "self_distillation")
SECTION_TECHNIQUES = tuple(TECHNIQUES)
BUDGETS = ("quick", "standard", "thorough")
