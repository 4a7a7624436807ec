"""The stock TFX Pusher consumes our Model and ModelBlessing as they are, and the report shows where it pushed."""

import os

from tfx.components.pusher import executor as pusher_executor
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from pipelines.report import build_context
from tests.pipelines.test_report_fixture import Recorder, build_fixture_run


def _artifact(kind, uri, **int_properties):
    artifact = kind()
    artifact.uri = uri
    for name, value in int_properties.items():
        artifact.set_int_custom_property(name, value)
    return artifact


def _push(model_uri: str, blessed: int, pushed_uri: str, serving_dir: str):
    model = _artifact(standard_artifacts.Model, model_uri)
    blessing = _artifact(standard_artifacts.ModelBlessing, model_uri + "-blessing", blessed=blessed)
    pushed = _artifact(standard_artifacts.PushedModel, pushed_uri)
    destination = pusher_pb2.PushDestination(filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving_dir))
    pusher_executor.Executor().Do(
        {"model": [model], "model_blessing": [blessing]}, {"pushed_model": [pushed]},
        {"push_destination": proto_utils.proto_to_json(destination), "custom_config": None},
    )
    return pushed


def test_pusher_copies_a_blessed_model_and_skips_an_unblessed_one(tmp_path):
    run_dir = build_fixture_run(str(tmp_path / "run"), with_autofit=False)
    model_uri = os.path.join(run_dir, "pipeline_root", "Calibration", "model", "9")
    with open(os.path.join(model_uri, "Format-Serving", "saved_model.pb"), "wb") as handle:
        handle.write(b"stand-in for the SavedModel Training exports")

    skipped = _push(model_uri, 0, str(tmp_path / "pushed-0"), str(tmp_path / "serving-0"))
    assert skipped.get_int_custom_property("pushed") == 0 and not os.path.exists(tmp_path / "serving-0")

    pushed = _push(model_uri, 1, str(tmp_path / "pushed-1"), str(tmp_path / "serving"))
    destination = pushed.get_string_custom_property("pushed_destination")
    assert pushed.get_int_custom_property("pushed") == 1
    assert os.path.dirname(destination) == str(tmp_path / "serving")
    with open(os.path.join(destination, "saved_model.pb"), "rb") as handle:
        assert handle.read() == b"stand-in for the SavedModel Training exports"

    Recorder(run_dir).execute("Pusher", {}, {"pushed_model": ("PushedModel", pushed.uri,
                                                              {"pushed": 1, "pushed_destination": destination})})
    exports = build_context(run_dir, with_preview=False)["exports"]
    assert exports[-1]["label"].startswith("Pusher.pushed_model") and exports[-1]["serving_uri"] == destination
