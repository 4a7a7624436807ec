"""Session fixture: canonical Examples, a DataSpec and two saved brightness models."""

import pytest

from components.types import data_spec as data_spec_lib
from tests.components.evaluation.brightness_data import (
    CHANNELS,
    EVAL_RECORDS,
    TEST_RECORDS,
    brightness_model,
    make_data_spec,
    save_model,
    write_split,
)


@pytest.fixture(scope="session")
def canonical_data(tmp_path_factory):
    """Examples with eval and test splits, a DataSpec, and two saved models."""
    root = tmp_path_factory.mktemp("evaluation_data")
    examples_uri = str(root / "examples")
    write_split(examples_uri, "eval", EVAL_RECORDS)
    write_split(examples_uri, "test", TEST_RECORDS)
    data_spec_uri = str(root / "data_spec")
    data_spec_lib.write_data_spec(make_data_spec(), data_spec_uri)
    # The mirror model takes any image size, so the executor falls back to the DataSpec's.
    good_model_uri = save_model(brightness_model(), str(root / "good_model"))
    bad_model_uri = save_model(brightness_model((None, None, CHANNELS), sign=-1.0), str(root / "bad_model"))
    return {
        "root": root,
        "examples_uri": examples_uri,
        "data_spec_uri": data_spec_uri,
        "good_model_uri": good_model_uri,
        "bad_model_uri": bad_model_uri,
    }
