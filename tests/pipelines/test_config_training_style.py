"""One style for the model a section trains: technique keys flat, the model's options under `training:`."""

import glob
import os
import re
import warnings

import pytest
import yaml

from pipelines import config_schema
from pipelines.autofit.techniques import SECTION_TECHNIQUES
from pipelines.config import (OPTIONAL_PLAIN_SECTIONS, PLAIN_SECTIONS, TOP_LEVEL_TYPES, ConfigError, config_from_dict,
                              load_config, validate_raw)
from tests.support.cli_probe import run_config_in_fresh_process

DATA = {"format": "image_folder", "path": "/data/images"}
SCHEMA = config_schema.load_schema()
FLAT = sorted(section for section, nested in config_schema.TRAINER_SECTIONS.items() if nested is None)
NESTED = sorted(section for section, nested in config_schema.TRAINER_SECTIONS.items() if nested is not None)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def error_of(raw):
    with pytest.raises(ConfigError) as caught:
        config_from_dict(raw)
    message = str(caught.value)
    assert "\n" not in message
    return message


def model_keys(section):
    return SCHEMA[section]["training"]["fields"]


@pytest.mark.parametrize("section", sorted(config_schema.TRAINER_SECTIONS))
def test_every_trainer_section_takes_its_model_under_training(section):
    settings = {"training": {"architecture": "tiny_cnn", "seed": 7}}
    if section == "domain_adaptation":
        settings["target"] = {"format": "image_folder", "path": "/data/night"}
    config = config_from_dict({"data": DATA, section: settings})
    nested = config_schema.TRAINER_SECTIONS[section]
    built = config.forced(section)
    if nested is None:  # the component flattens its trainer fields: they land there
        assert built["architecture"] == "tiny_cnn" and built["seed"] == 7 and "training" not in built
    else:
        assert built[nested] == {"architecture": "tiny_cnn", "seed": 7}


@pytest.mark.parametrize("section", FLAT)
def test_flat_model_options_are_pointed_to_training(section):
    for key in ("architecture", "learning_rate", "epochs"):
        if key in model_keys(section):
            message = error_of({"data": DATA, section: {key: 1}})
            assert f"`{section}.{key}` is not an option of `{section}`. Did you mean `{section}.training.{key}`?" \
                in message


def test_a_misspelled_flat_model_option_is_pointed_to_training_too():
    assert "Did you mean `contrastive.training.learning_rate`?" in error_of(
        {"data": DATA, "contrastive": {"learnin_rate": 0.1}})
    # A technique key keeps its own did-you-mean.
    assert "Did you mean `iterations`?" in error_of({"data": DATA, "noisy_student": {"iteratons": 2}})


@pytest.mark.parametrize("section", NESTED)
def test_nested_sections_point_model_options_to_training(section):
    assert f"Did you mean `{section}.training.epochs`?" in error_of({"data": DATA, section: {"epochs": 3}})


@pytest.mark.parametrize("section", sorted(config_schema.TRAINER_SECTIONS))
def test_nested_training_is_checked_like_the_top_level_training(section):
    top = error_of({"data": DATA, "training": {"batch_sise": 8}})
    assert top.startswith("`training.batch_sise` is not an option of `training`. Did you mean `batch_size`?")
    nested = error_of({"data": DATA, section: {"training": {"batch_sise": 8}}})
    if "batch_size" in model_keys(section):
        assert nested.startswith(f"`{section}.training.batch_sise` is not an option of `{section}.training`. "
                                 "Did you mean `batch_size`?")
    top_type = error_of({"data": DATA, "training": {"seed": "one"}})
    nested_type = error_of({"data": DATA, section: {"training": {"seed": "one"}}})
    assert nested_type == top_type.replace("`training.seed`", f"`{section}.training.seed`")
    assert error_of({"data": DATA, section: {"training": [1]}}) == \
        f"`{section}.training` must be a mapping, got [1] (list)."


def test_a_training_option_the_component_lacks_is_named():
    message = error_of({"data": DATA, "noisy_student": {"training": {"label_smoothing": 0.1}}})
    assert message.startswith("`noisy_student.training.label_smoothing` is a training option `noisy_student` "
                              "does not take. Known: architecture, batch_size,")
    flat = error_of({"data": DATA, "noisy_student": {"mixup_alpha": 0.2}})
    assert "a training option `noisy_student` does not take under its `training:` either" in flat


def test_technique_keys_stay_flat_and_nontrainer_sections_keep_theirs():
    config = config_from_dict({"data": DATA, "noisy_student": {"iterations": 3, "teacher_epochs": 4},
                               "gan": {"batch_size": 16, "steps": 10}, "calibration": {"batch_size": 32},
                               "ensemble": {"batch_size": 128, "num_members": 2}})
    assert config.forced("noisy_student") == {"iterations": 3, "teacher_epochs": 4}
    assert config.forced("gan") == {"batch_size": 16, "steps": 10}
    assert config.forced("ensemble") == {"batch_size": 128, "num_members": 2}  # its prediction batch
    assert "training" not in SCHEMA["gan"] and "training" not in SCHEMA["calibration"]


def test_training_null_means_the_defaults():
    config = config_from_dict({"data": DATA, "contrastive": {"training": None, "temperature": 0.5}})
    assert config.forced("contrastive") == {"temperature": 0.5}


@pytest.mark.parametrize("section, old", [("distillation", "student"), ("ensemble", "member")])
def test_old_nested_names_still_work_with_a_warning(section, old):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = config_from_dict({"data": DATA, section: {old: {"epochs": 2}}})
    assert config.forced(section)[old] == {"epochs": 2}
    [warning] = [w for w in caught if issubclass(w.category, FutureWarning)]
    assert str(warning.message) == f"`{section}.{old}` is deprecated: use `{section}.training` (the same " \
                                   "TrainingConfig keys)."
    assert "use `%s.training` only" % section in error_of({"data": DATA, section: {old: {}, "training": {}}})
    with pytest.warns(FutureWarning):
        assert f"`{section}.training.epochs` must be an integer" in error_of(
            {"data": DATA, section: {old: {"epochs": "two"}}})


def test_nested_module_files_resolve_against_the_config_folder(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("data: {format: image_folder, path: imgs}\n"
                    "noisy_student: {student_module_file: s.py, training: {module_file: t.py}}\n"
                    "distillation: {training: {module_file: student.py}}\n"
                    "blend_search: {training: {module_file: b.py}}\n")
    config = load_config(str(path))
    assert config.forced("noisy_student")["module_file"] == str(tmp_path / "t.py")
    assert config.forced("noisy_student")["student_module_file"] == str(tmp_path / "s.py")
    assert config.forced("distillation")["student"]["module_file"] == str(tmp_path / "student.py")
    assert config.forced("blend_search")["training"]["module_file"] == str(tmp_path / "b.py")


def test_flat_sections_take_training_keys_with_training_types():
    """The nested keys of a flattening section mean what they mean in `training:` (same type, same messages)."""
    for section in FLAT:
        keys = model_keys(section)
        assert keys and {"architecture", "module_file"} <= set(keys), section
        for key, kind in keys.items():
            assert SCHEMA["training"][key] == kind, (section, key)
            assert key not in SCHEMA[section], (section, key)  # one place for each option
    for section in NESTED:
        assert model_keys(section) == SCHEMA["training"]


def test_nested_training_errors_come_before_tensorflow_is_imported(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("data: {format: image_folder, path: x}\nnoisy_student: {learning_rate: 0.1}\n")
    result = run_config_in_fresh_process(str(path))
    assert result.returncode == 2
    assert "Did you mean `noisy_student.training.learning_rate`?" in result.stderr
    assert "NO_TF" in result.stdout


def test_top_level_training_applies_to_every_trainer_section_unless_its_own_sets_it():
    from components.distillation.spec import DistillationConfig
    from components.ensemble.spec import EnsembleConfig
    from pipelines.autofit.dag import section_settings
    from pipelines.autofit.plan import fixed_plan

    top = {"architecture": "small_resnet", "learning_rate": 0.002, "optimizer": "sgd"}
    config = config_from_dict({"data": DATA, "autofit": False, "training": top,
                               "noisy_student": {"iterations": 1, "training": {"learning_rate": 0.05}},
                               "distillation": {"temperature": 3.0}, "ensemble": {"training": {"epochs": 2}},
                               "blend_search": {}, "style_transfer": {}})
    plan = fixed_plan(config)
    student = section_settings("noisy_student", config, plan, {})
    assert (student["architecture"], student["optimizer"], student["learning_rate"]) == ("small_resnet", "sgd", 0.05)
    member = section_settings("ensemble", config, plan, {})["member"]
    assert member == dict(top, epochs=2)
    assert EnsembleConfig(**section_settings("ensemble", config, plan, {})).member.architecture == "small_resnet"
    assert section_settings("blend_search", config, plan, {})["training"] == top
    # The distillation student is another model by design: the optimizer is inherited, the architecture is not.
    distilled = DistillationConfig(**section_settings("distillation", config, plan, {}))
    assert (distilled.student.architecture, distilled.student.learning_rate) == ("tiny_cnn", 0.002)
    assert distilled.temperature == 3.0
    # Sections that do not train the user's model keep their own options (style transfer's rate is the pixels').
    assert "learning_rate" not in section_settings("style_transfer", config, plan, {})
    bare = config_from_dict({"data": DATA, "autofit": False, "distillation": {}})
    assert "student" not in section_settings("distillation", bare, fixed_plan(bare), {})  # the component's default


def yaml_examples():
    """Every YAML block of the docs and README that is a run config (or a piece of one), and the sample configs."""
    known = set(TOP_LEVEL_TYPES) | set(PLAIN_SECTIONS) | set(OPTIONAL_PLAIN_SECTIONS) | set(SECTION_TECHNIQUES)
    for path in sorted(glob.glob(os.path.join(REPO, "docs", "*.md"))) + [os.path.join(REPO, "README.md")]:
        with open(path) as handle:
            text = handle.read()
        for index, block in enumerate(re.findall(r"```ya?ml\n(.*?)```", text, re.S)):
            raw = yaml.safe_load(block)
            if isinstance(raw, dict) and raw and set(raw) <= known:
                yield pytest.param(raw, id=f"{os.path.basename(path)}-{index}")
    for path in sorted(glob.glob(os.path.join(REPO, "kubernetes", "*", "pipeline.yaml")) +
                       glob.glob(os.path.join(REPO, "kubernetes", "overlays", "*", "pipeline.yaml"))):
        with open(path) as handle:
            raw = yaml.safe_load(handle)
        if isinstance(raw, dict) and "data" in raw:  # the run configs (not the manifests of the same name)
            yield pytest.param(raw, id=os.path.relpath(path, REPO))


@pytest.mark.parametrize("raw", list(yaml_examples()))
def test_documented_configs_use_the_one_style(raw):
    validate_raw(dict({"data": DATA}, **raw))


def test_top_level_pretrained_weights_reach_the_semi_supervised_trainers_but_not_another_student(tmp_path):
    from pipelines.autofit.dag import section_settings
    from pipelines.autofit.plan import fixed_plan

    weights = str(tmp_path / "backbone.weights.h5")
    top = {"architecture": "mobilenet_v3_small", "pretrained_weights": weights, "fine_tune": {"warmup_epochs": 2}}
    config = config_from_dict({"data": DATA, "autofit": False, "training": top, "consistency_training": {},
                               "contrastive": {}, "distillation": {}})
    plan = fixed_plan(config)
    consistency = section_settings("consistency_training", config, plan, {})
    assert consistency["pretrained_weights"] == weights and consistency["fine_tune"] == {"warmup_epochs": 2}
    assert section_settings("contrastive", config, plan, {})["pretrained_weights"] == weights
    student = section_settings("distillation", config, plan, {}).get("student") or {}
    assert "pretrained_weights" not in student  # the student is another architecture
