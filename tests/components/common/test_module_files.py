"""stage_module_file copies the user's module into the pipeline root; the loader reads it through gfile."""

import os
import uuid

import keras
import pytest
import tensorflow as tf

from components.common.module_files import MODULES_DIR_NAME, stage_module_file
from components.training.module_file import build_model_from_module_file
from components.types.data_spec import DataSpecContent

MODULE = '''
import keras

WIDTH = {width}


def build_model(data_spec):
    inputs = keras.Input((8, 8, data_spec.channels))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(WIDTH, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(data_spec.num_classes, activation="softmax")(x))
'''


def data_spec(num_classes=3):
    class_names = [f"c{index}" for index in range(num_classes)]
    return DataSpecContent(task="classification", class_names=class_names, channels=1, source_format="synthetic")


def write_module(path, width=5):
    path.write_text(MODULE.format(width=width))
    return str(path)


def test_staged_copy_lands_under_modules_named_by_content_hash(tmp_path):
    module = write_module(tmp_path / "my_model.py")
    root = str(tmp_path / "pipeline_root")
    staged = stage_module_file(module, root)
    assert os.path.dirname(staged) == os.path.join(root, MODULES_DIR_NAME)
    prefix, name = os.path.basename(staged).split("_", 1)
    assert name == "my_model.py" and len(prefix) == 16
    assert open(staged).read() == open(module).read()


def test_staging_is_idempotent_and_follows_content(tmp_path):
    module = write_module(tmp_path / "my_model.py", width=5)
    root = str(tmp_path / "root")
    first = stage_module_file(module, root)
    modified_time = os.path.getmtime(first)
    assert stage_module_file(module, root) == first
    assert os.path.getmtime(first) == modified_time  # Not rewritten.
    assert stage_module_file(first, root) == first  # Staging the staged copy is a no-op.
    write_module(tmp_path / "my_model.py", width=7)
    second = stage_module_file(module, root)
    assert second != first
    assert sorted(os.listdir(os.path.join(root, MODULES_DIR_NAME))) == sorted(
        [os.path.basename(first), os.path.basename(second)]
    )


def test_a_module_staged_on_a_non_local_filesystem_builds_the_model(tmp_path):
    module = write_module(tmp_path / "my_model.py", width=6)
    root = f"ram://stage-{uuid.uuid4().hex}"
    staged = stage_module_file(module, root)
    assert staged.startswith(f"{root}/{MODULES_DIR_NAME}/") and tf.io.gfile.exists(staged)
    os.remove(module)  # The cluster cannot see the laptop's copy.
    model = build_model_from_module_file(staged, data_spec(4), (8, 8))
    assert isinstance(model, keras.Model)
    assert model.output_shape == (None, 4)
    assert model.layers[-2].units == 6


def test_bad_module_paths_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.py does not exist"):
        stage_module_file(str(tmp_path / "missing.py"), str(tmp_path / "root"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="notes.txt must be a Python file"):
        stage_module_file(str(tmp_path / "notes.txt"), str(tmp_path / "root"))
    with pytest.raises(FileNotFoundError, match="gone.py does not exist"):
        build_model_from_module_file(f"ram://nowhere-{uuid.uuid4().hex}/gone.py", data_spec(), (8, 8))
