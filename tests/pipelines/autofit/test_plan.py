"""Plan decisions from synthetic data profiles: what autofit tries, skips, and why."""

import pytest

from pipelines.autofit.plan import FORBIDDEN, FORCED, SKIP, TRY, make_plan, pick_architecture_changes, plan_training
from pipelines.autofit.profile import DataProfile, profile_from_data_spec
from components.types.data_spec import DataSpecContent, SizeStats, SplitStats


def profile(task="classification", labeled=500, unlabeled=4500, eval_images=500, classes=10, size=28, target=False):
    return DataProfile(task, classes, labeled, labeled // classes, labeled / classes, eval_images, 1000, unlabeled,
                       size, size, 1, has_target=target)


def decisions(plan):
    return {d.name: d.decision for d in plan.techniques}


def test_few_labels_and_many_unlabeled_try_semi_supervised_first():
    plan = make_plan(profile(), {}, "standard")
    chosen = decisions(plan)
    assert chosen["consistency_training"] == TRY and chosen["noisy_student"] == TRY
    assert "4,500 unlabeled images, 9.0x the 500 labeled" in plan.decision("noisy_student").reason
    assert chosen["contrastive"] == SKIP and "thorough" in plan.decision("contrastive").reason
    assert chosen["ensemble"] == SKIP and chosen["distillation"] == SKIP  # user-chosen only
    assert plan.estimated_cost <= plan.budget_multiple


def test_without_unlabeled_images_no_semi_supervised_technique():
    plan = make_plan(profile(labeled=4000, unlabeled=0, eval_images=1000), {}, "standard")
    chosen = decisions(plan)
    for name in ("consistency_training", "noisy_student", "contrastive"):
        assert chosen[name] == SKIP and "no unlabeled images" in plan.decision(name).reason
    assert chosen["optimization"] == TRY and chosen["calibration"] == TRY


def test_augmentation_search_needs_an_eval_split_that_resolves_its_decision():
    small = make_plan(profile(eval_images=61), {}, "thorough")
    assert decisions(small)["augmentation_search"] == SKIP
    assert "61 images resolves" in small.decision("augmentation_search").reason
    large = make_plan(profile(labeled=20000, eval_images=5000, unlabeled=0), {}, "thorough")
    assert decisions(large)["augmentation_search"] == TRY


def test_budget_bounds_the_plan():
    quick = make_plan(profile(), {}, "quick")
    thorough = make_plan(profile(), {}, "thorough")
    assert quick.estimated_cost <= 3.0 + 1e-9
    assert sum(d.included for d in quick.techniques) < sum(d.included for d in thorough.techniques)
    assert decisions(thorough)["contrastive"] == TRY
    assert any("over the budget" in d.reason for d in quick.techniques)


def test_budget_in_minutes_is_a_multiple_of_one_estimated_training():
    plan = make_plan(profile(), {}, 0.5)
    assert plan.budget_multiple < 3 and "min" in plan.budget


def test_user_sections_force_and_forbid():
    plan = make_plan(profile(unlabeled=0), {"noisy_student": {"iterations": 3}, "calibration": False}, "quick")
    assert plan.decision("noisy_student").decision == FORCED
    assert plan.settings("noisy_student")["iterations"] == 3
    assert plan.decision("calibration").decision == FORBIDDEN


@pytest.mark.parametrize("task, absent", [
    ("detection", ("consistency_training", "noisy_student", "calibration", "label_smoothing")),
    ("segmentation", ("augmentation_search", "optimization", "calibration")),
    ("multilabel", ("consistency_training", "calibration")),
])
def test_tasks_only_get_techniques_that_support_them(task, absent):
    plan = make_plan(profile(task=task), {}, "thorough")
    for name in absent:
        assert plan.decision(name).decision == SKIP and f"does not apply to {task}" in plan.decision(name).reason


def test_missing_components_are_skipped_with_reason():
    plan = make_plan(profile(), {}, "standard", available=("noisy_student", "calibration"))
    assert plan.decision("consistency_training").reason == "its component is not installed"
    assert plan.includes("noisy_student")


def test_domain_adaptation_when_a_target_is_given():
    assert make_plan(profile(target=True), {}, "standard").includes("domain_adaptation")
    assert not make_plan(profile(), {}, "standard").includes("domain_adaptation")


@pytest.mark.parametrize("labeled, batch", [(100, 16), (500, 16), (2000, 64), (4000, 128), (50000, 128)])
def test_training_gets_enough_steps_per_epoch(labeled, batch):
    planned, reasons = plan_training(profile(labeled=labeled), {})
    assert planned["batch_size"] == batch
    steps = -(-labeled // batch)
    assert 10 <= planned["epochs"] <= 60 and planned["epochs"] * steps >= min(1500, 60 * steps)
    assert planned["early_stopping_patience"] >= 3


def test_training_keys_the_user_set_are_not_planned():
    planned, reasons = plan_training(profile(), {"epochs": 7})
    assert "epochs" not in planned and reasons["epochs"] == "set in the config"


def test_profile_from_data_spec_counts_splits_and_classes():
    spec = DataSpecContent(
        task="classification", class_names=["a", "b"], channels=3, source_format="image_folder",
        height=SizeStats(32, 32, 32.0), width=SizeStats(32, 48, 40.0),
        splits={"train": SplitStats(30, {"a": 10, "b": 20}), "eval": SplitStats(8, {}),
                "unlabeled": SplitStats(300, {})},
    )
    result = profile_from_data_spec(spec)
    assert (result.labeled, result.min_per_class, result.unlabeled, result.eval_images) == (30, 10, 300, 8)
    assert result.unlabeled_ratio == 10.0 and result.width == 48
    assert result.to_dict()["accuracy_resolution_pp"] > 20  # 8 eval images resolve nothing
    spec.image_size = [32, 40]  # translation's choice (the median): what training resizes to
    assert (profile_from_data_spec(spec).height, profile_from_data_spec(spec).width) == (32, 40)


def test_quick_budget_with_fixmatch_has_no_refit_unless_forced():
    """Plain training + FixMatch + a refit would not fit ~3x a plain training: the quick plan drops the refit."""
    quick = make_plan(profile(eval_images=100), {}, "quick")
    assert quick.includes("consistency_training")
    refit = quick.decision("refit")
    assert refit.decision == SKIP and "~1.2 plain trainings" in refit.reason and "`refit: {}`" in refit.reason
    assert quick.refit_cost == 0
    forced = make_plan(profile(eval_images=100), {"refit": {}}, "quick").decision("refit")
    assert forced.decision == FORCED
    without = make_plan(profile(eval_images=100), {"consistency_training": False}, "quick").decision("refit")
    assert without.decision == TRY


def test_consistency_schedule_is_sized_in_steps_from_the_pool_and_budget():
    quick = make_plan(profile(), {}, "quick").settings("consistency_training")
    standard = make_plan(profile(), {}, "standard").settings("consistency_training")
    pool = 500 + 4500
    assert standard["steps_per_epoch"] == -(-pool // (standard["mu"] * standard["batch_size"]))
    assert standard["epochs"] * standard["steps_per_epoch"] >= 1500
    assert quick["epochs"] < standard["epochs"]
    assert standard["optimizer"] == "adam"  # the short-budget choice the component's pilot supports


def test_architecture_changes_candidate_on_labeled_only_data_and_larger_budgets():
    plan = make_plan(profile(labeled=800, unlabeled=0, eval_images=200), {}, "standard")
    assert decisions(plan)["architecture_changes"] == TRY
    assert plan.settings("architecture_changes")["changes"] == pick_architecture_changes()[0]
    assert "blur pool" in plan.decision("architecture_changes").reason
    assert decisions(make_plan(profile(unlabeled=0), {}, "quick"))["architecture_changes"] == SKIP
    assert decisions(make_plan(profile(), {}, "standard"))["architecture_changes"] == SKIP  # unlabeled: semi first
    forced = make_plan(profile(), {"architecture_changes": {"changes": ["silu"]}}, "quick")
    assert forced.decision("architecture_changes").decision == FORCED
    assert forced.settings("architecture_changes")["changes"] == ["silu"]


def test_a_target_domain_plans_input_standardization_unless_the_user_chose_changes():
    planned, reasons = plan_training(profile(target=True), {})
    assert planned["architecture_changes"] == ["input_standardization"] and "target domain" in reasons[
        "architecture_changes"]
    assert "architecture_changes" not in plan_training(profile(), {})[0]
    kept, reasons = plan_training(profile(target=True), {"architecture_changes": ["gelu"]})
    assert "architecture_changes" not in kept and reasons["architecture_changes"] == "set in the config"


def test_the_plan_says_what_the_eval_split_can_resolve():
    small = "\n".join(make_plan(profile(eval_images=100), {}, "quick").lines())
    assert "100 eval images resolve ~±8.3 pp" in small and "hold out more" in small
    large = "\n".join(make_plan(profile(labeled=20000, eval_images=5000), {}, "quick").lines())
    assert "5000 eval images resolve" in large and "hold out more" not in large


def test_refit_is_planned_by_default_outside_the_candidate_budget_and_false_forbids_it():
    standard = make_plan(profile(eval_images=100), {}, "standard")
    refit = standard.decision("refit")
    assert refit.decision == TRY and "100 eval images (20% of the 500 labeled)" in refit.reason
    assert standard.refit_cost > 0 and standard.estimated_cost <= standard.budget_multiple  # not charged
    # A consistency-trained champion's refit (another FixMatch run) does not fit what the candidates left.
    assert standard.includes("consistency_training") and refit.settings["trainers"] == ["Training"]
    assert "ConsistencyTraining champion is kept as trained" in refit.reason
    labeled_only = make_plan(profile(unlabeled=0, eval_images=100), {}, "quick").decision("refit")
    assert labeled_only.decision == TRY and labeled_only.settings["trainers"] == ["Training"]
    roomy = make_plan(profile(eval_images=100), {}, 10_000.0).decision("refit")  # minutes: budget to spare
    assert roomy.settings["trainers"] == ["Training", "ConsistencyTraining"] and "kept as trained" not in roomy.reason
    assert make_plan(profile(), {"refit": False}, "quick").decision("refit").decision == FORBIDDEN
    assert make_plan(profile(eval_images=0), {}, "quick").decision("refit").decision == SKIP
    detection = make_plan(profile(task="detection", unlabeled=0, eval_images=100), {}, "quick").decision("refit")
    assert detection.decision == TRY and "join the training" in detection.reason  # the detector's recipe, rerun
    assert make_plan(profile(task="multilabel"), {}, "quick").decision("refit").decision == SKIP
    forced = make_plan(profile(), {"refit": {"merge_splits": ["eval"]}}, "quick").decision("refit")
    assert forced.decision == FORCED and "ConsistencyTraining" in forced.settings["trainers"]


def test_quick_budget_tries_one_candidate_beside_the_plain_training():
    """Few labels: FixMatch is the one; the learned optimization params (which would fit the units) wait."""
    quick = make_plan(profile(eval_images=100), {}, "quick")
    chosen = decisions(quick)
    assert chosen["consistency_training"] == TRY and chosen["calibration"] == TRY
    assert chosen["optimization"] == SKIP
    assert "the quick budget tries one candidate beside the plain training (consistency_training)" in \
        quick.decision("optimization").reason
    # Labeled-only data: the first candidate in priority order that fits is the one tried.
    labeled_only = make_plan(profile(labeled=400, unlabeled=0, eval_images=100), {}, "quick")
    tried = [d.name for d in labeled_only.techniques if d.decision == TRY and d.name not in ("calibration", "refit")]
    assert len(tried) <= 1
    # A forced section is the user's choice: it runs beside the planned candidate.
    forced = make_plan(profile(eval_images=100), {"optimization": {}}, "quick")
    assert decisions(forced)["optimization"] == FORCED and decisions(forced)["consistency_training"] == TRY
    standard = make_plan(profile(eval_images=100), {}, "standard")
    assert sum(d.decision == TRY and d.name not in ("calibration", "refit") for d in standard.techniques) > 1


def test_a_fixmatch_step_costs_its_trained_images_plus_a_third_for_weak_views_it_only_predicts():
    from pipelines.autofit.plan import (
        consistency_schedule, fixmatch_step_images, semi_supervised_schedule, technique_costs,
    )

    assert fixmatch_step_images(32, 3) == pytest.approx(32 + 96 + 96 / 3)  # 160 images, not 32 * (1 + 2 * 3) = 224
    data = profile(labeled=400, unlabeled=3500, eval_images=100)
    semi, fixmatch = semi_supervised_schedule(data), consistency_schedule(data, "standard")
    costs = technique_costs(data, {"epochs": 20}, semi, fixmatch)
    steps = fixmatch["epochs"] * fixmatch["steps_per_epoch"]
    unit = semi["epochs"] * (400 + 3500)
    assert costs["consistency_training"] == pytest.approx(steps * 160 / unit)


def test_detection_plans_the_searched_policy_as_a_candidate_checked_by_map():
    plan = make_plan(profile(task="detection", labeled=4000, unlabeled=0, eval_images=3000), {}, "thorough")
    search = plan.decision("augmentation_search")
    assert search.decision == TRY and "COCO mAP on the 3000 eval images" in search.reason
    blind = make_plan(profile(task="detection", labeled=4000, unlabeled=0, eval_images=0), {}, "thorough")
    assert blind.decision("augmentation_search").decision == SKIP
    assert "no eval split" in blind.decision("augmentation_search").reason
    forced = make_plan(profile(task="detection", unlabeled=0), {"augmentation_search": {}}, "standard")
    assert forced.decision("augmentation_search").decision == FORCED
    held_out = [line for line in plan.lines() if line.startswith("  held out:")]
    assert held_out == ["  held out: 3000 eval images score every candidate by COCO mAP@[.5:.95]; a candidate is "
                        "kept only when better beyond their noise (paired resampling of the images)"]
    segmentation = make_plan(profile(task="segmentation", unlabeled=0, eval_images=300), {}, "thorough")
    assert [line for line in segmentation.lines() if line.startswith("  held out:")] == [
        "  held out: 300 eval images score the model by mean IoU (no candidate technique applies to segmentation yet)"]


@pytest.mark.parametrize("task", ["detection", "segmentation"])
def test_dense_tasks_leave_batch_and_epochs_to_their_trainer(task):
    """A classifier's planned batch (128 on 4,000 images) or epochs would count as the user's and override the
    detector's / segmenter's own schedule; the plan leaves them out and says whose schedule applies."""
    dense = profile(task=task, labeled=4000, unlabeled=0, eval_images=1000)
    plan = make_plan(dense, {}, "standard")
    assert "batch_size" not in plan.training and "epochs" not in plan.training
    assert "own schedule" in plan.training_reasons["schedule"]
    assert "  training: planned by the task's trainer" in plan.lines()
    chosen = make_plan(dense, {}, "standard", user_training={"epochs": 3})
    assert chosen.training_reasons["schedule"] == "epochs set in the config"
    classifier = make_plan(profile(labeled=4000, unlabeled=0, eval_images=1000), {}, "standard")
    assert classifier.training["batch_size"] == 128  # what the dense trainers must not receive


def test_detection_search_costs_its_proxy_runs_against_the_detector_schedule():
    from components.augmentation_search.detection_search import detection_candidates, prior_sensitive
    from components.augmentation_search.detection_proxy import DetectionProxyConfig
    from pipelines.autofit import plan as plan_module

    candidates = detection_candidates()
    assert plan_module.DETECTION_PROXY_RUNS == len(candidates) + 2 * sum(map(prior_sensitive, candidates))
    assert plan_module.DETECTION_PROXY_EPOCHS == DetectionProxyConfig().epochs
    small, large = (profile(task="detection", labeled=n, unlabeled=0, eval_images=100) for n in (320, 6000))
    # 320 scenes: the detector's 1,000-step floor (50 epochs x 20 steps of 16) dominates; 6,000 scenes: 5 epochs of 6,000.
    proxy = plan_module.DETECTION_PROXY_RUNS * plan_module.DETECTION_PROXY_EPOCHS * plan_module.DETECTION_PROXY_IMAGE_COST
    assert plan_module.detection_search_cost(small, {}) == pytest.approx(proxy * 320 / 16000)
    assert plan_module.detection_search_cost(large, {}) == pytest.approx(proxy * 6000 / 30000)
    assert plan_module.detection_search_cost(small, {"epochs": 20}) == pytest.approx(proxy * 320 / (20 * 320))
    cheap, dear = (make_plan(p, {}, "quick").decision("augmentation_search") for p in (small, large))
    assert cheap.decision == TRY and dear.decision == SKIP and "over the budget" in dear.reason


def test_a_minutes_budget_for_dense_tasks_is_counted_in_their_own_trainings():
    """A small CNN's rate times a classifier's epochs put one detector training on 2,000 scenes at ~53 minutes; a
    detector on its own schedule (16,000 images at 96 px) takes ~19 minutes on 2 CPU cores."""
    import dataclasses

    from pipelines.autofit import plan as plan_module

    scenes = dataclasses.replace(profile(task="detection", labeled=320, unlabeled=0, eval_images=100, size=96),
                                 channels=3)
    label, multiple = plan_module.budget_multiple(60.0, scenes, {})
    minutes = 16000 * plan_module.DENSE_SECONDS_PER_IMAGE["detection"] / 60
    assert multiple == pytest.approx(60.0 / minutes) and f"{minutes:.1f} min" in label
    larger = dataclasses.replace(scenes, height=192, width=192)
    assert plan_module.budget_multiple(60.0, larger, {})[1] == pytest.approx(multiple / 4)
    _, longer = plan_module.budget_multiple(60.0, scenes, {"epochs": 100})  # 100 epochs of 20 steps: 2x the floor
    assert longer == pytest.approx(multiple / 2)
    classifier = dataclasses.replace(scenes, task="classification")
    assert plan_module.budget_multiple(60.0, classifier, {})[1] != pytest.approx(multiple)
