"""pipelines/submit.py: the real kfp and aiplatform clients against fake APIs on 127.0.0.1."""

import argparse
import copy
import json
import socket
import sys
import types

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud.aiplatform import initializer
from google.cloud.aiplatform.utils import resource_manager_utils

from pipelines import submit
from pipelines.config import ComponentResources, RunConfig
from pipelines.resources import apply_component_resources
from tests.cluster import fake_apis
from tests.cluster.conftest import PIPELINE_ROOT

RESOURCES = {"Training": ComponentResources(cpu="4", memory="16G", gpu_type="NVIDIA_TESLA_T4", gpu_count=1)}
PROJECT_NUMBER = "123456789"


@pytest.fixture
def package(compiled_tiny, write_package):
    """The tiny pipeline as the compile step leaves it: with per-component resources."""
    return write_package(apply_component_resources(compiled_tiny, RESOURCES))


@pytest.fixture
def loopback_only(monkeypatch, tmp_path):
    """Blocks non-loopback connections and isolates kfp's ~/.config/kfp context; yields refused attempts."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for variable in ("KF_PIPELINES_ENDPOINT", "KF_PIPELINES_UI_ENDPOINT", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(variable, raising=False)
    attempts = fake_apis.refuse_non_loopback(monkeypatch)
    yield attempts
    assert attempts == [], f"a client tried to leave 127.0.0.1: {attempts}"


@pytest.fixture
def vertex_globals(monkeypatch):
    """Restores aiplatform's process-wide settings (aiplatform.init) after the test."""
    saved = dict(vars(initializer.global_config))
    # aiplatform checks a gs:// root's bucket belongs to the project via Cloud Resource Manager (gRPC, not
    # served by the fake); the fake bucket reports PROJECT_NUMBER, so answer the lookup with it.
    monkeypatch.setattr(resource_manager_utils, "get_project_number", lambda project_id, credentials=None: PROJECT_NUMBER)
    yield
    vars(initializer.global_config).clear()
    vars(initializer.global_config).update(saved)


def _executor(pipeline_spec, component_id):
    label = pipeline_spec["components"][component_id]["executorLabel"]
    return pipeline_spec["deploymentSpec"]["executors"][label]["container"]


def test_kubeflow_run_carries_the_pipeline_parameters_root_account_and_resources(package, loopback_only):
    with fake_apis.kubeflow_api() as api:
        run = submit.submit_kubeflow(
            package, host=api.url, run_name="tiny-run", parameters={"epochs": "3"}, experiment="autofit",
            service_account="autofit-pipeline-runner", wait=True, timeout=30,
        )
    assert run.run_id == "run-1" and run.state == "SUCCEEDED" and run.succeeded
    assert run.url == f"{api.url}/#/runs/details/run-1"
    (experiment,) = api.calls("POST", "/apis/v2beta1/experiments")
    assert experiment.json()["display_name"] == "autofit"
    (created,) = api.calls("POST", "/apis/v2beta1/runs")
    body = created.json()
    assert body["display_name"] == "tiny-run" and body["experiment_id"] == "experiment-1"
    assert body["service_account"] == "autofit-pipeline-runner"
    assert body["runtime_config"] == {"pipeline_root": PIPELINE_ROOT, "parameters": {"epochs": 3}}
    spec = body["pipeline_spec"]
    assert spec["pipelineInfo"]["name"] == "tiny-autofit"
    training = _executor(spec, "Training")
    assert training["image"] == "tfx-autofit:0.1.0"
    assert training["resources"] == {"cpuLimit": 4.0, "memoryLimit": 16.0, "accelerator": {"type": "nvidia.com/gpu", "count": "1"}}
    assert "resources" not in _executor(spec, "ExampleMaker")
    assert len(api.calls("GET", "/apis/v2beta1/runs/run-1")) == 1


def test_kubeflow_reuses_an_existing_experiment_and_reports_a_failed_run(package, loopback_only):
    with fake_apis.kubeflow_api(final_state="FAILED") as api:
        first = submit.submit_kubeflow(package, host=api.url, experiment="autofit")
        second = submit.submit_kubeflow(package, host=api.url, experiment="autofit", wait=True, timeout=30)
    assert first.state is None and first.run_id == "run-1"
    assert second.state == "FAILED" and not second.succeeded
    assert len(api.calls("POST", "/apis/v2beta1/experiments")) == 1
    runs = [call.json() for call in api.calls("POST", "/apis/v2beta1/runs")]
    assert runs[0]["experiment_id"] == runs[1]["experiment_id"] == "experiment-1"
    assert runs[0]["display_name"].startswith("tiny-autofit-") and "service_account" not in runs[0]


def test_vertex_job_carries_the_pipeline_parameters_root_account_labels_and_resources(
    package, loopback_only, vertex_globals, monkeypatch
):
    with fake_apis.vertex_api(project_number=PROJECT_NUMBER) as api:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", api.url)  # aiplatform's bucket check goes to the fake too.
        job = submit.submit_vertex(
            package, project="autofit-project", region="us-central1", pipeline_root="gs://other-bucket/root",
            parameters={"epochs": "3"}, service_account="runner@autofit-project.iam.gserviceaccount.com",
            labels={"team": "vision"}, display_name="tiny-run", wait=True,
            api_endpoint=api.url, api_transport="rest", credentials=AnonymousCredentials(),
        )
    assert job.state == "PIPELINE_STATE_SUCCEEDED" and job.succeeded
    assert job.run_id.startswith("projects/autofit-project/locations/us-central1/pipelineJobs/tiny-autofit-")
    (created,) = api.calls("POST", "/v1/projects/autofit-project/locations/us-central1/pipelineJobs")
    body = created.json()
    assert body["displayName"] == "tiny-run"
    assert body["serviceAccount"] == "runner@autofit-project.iam.gserviceaccount.com"
    assert body["labels"]["team"] == "vision" and body["labels"]["tfx_version"] == "1-16-0"
    assert body["runtimeConfig"] == {"gcsOutputDirectory": "gs://other-bucket/root", "parameters": {"epochs": {"intValue": "3"}}}
    training = _executor(body["pipelineSpec"], "Training")
    assert training["image"] == "tfx-autofit:0.1.0"
    assert training["resources"] == {"cpuLimit": 4.0, "memoryLimit": 16.0, "accelerator": {"type": "NVIDIA_TESLA_T4", "count": "1"}}
    assert api.calls("GET", "/storage/v1/b/other-bucket"), "aiplatform's bucket check should have reached the fake GCS"


def test_unknown_parameter_fails_before_any_request(package, loopback_only):
    with fake_apis.kubeflow_api() as api:
        with pytest.raises(ValueError, match=r"Unknown pipeline parameter\(s\) \['epoch'\].*\['epochs'\]"):
            submit.submit_kubeflow(package, host=api.url, parameters={"epoch": 3})
        with pytest.raises(ValueError, match="'epochs' is declared INT; cannot use 'three'"):
            submit.submit_kubeflow(package, host=api.url, parameters={"epochs": "three"})
    assert api.requests == []


def test_a_local_pipeline_root_is_refused(compiled_tiny, write_package):
    local = copy.deepcopy(compiled_tiny)
    local["runtimeConfig"]["gcsOutputDirectory"] = "runs/default/pipeline_root"
    with pytest.raises(ValueError, match="not a URI the cluster can reach"):
        submit.submit_vertex(write_package(local), project="p", region="us-central1")


def test_missing_or_malformed_package_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.json"):
        submit.load_compiled(str(tmp_path / "nothing.json"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json is not JSON"):
        submit.load_compiled(str(tmp_path / "bad.json"))
    (tmp_path / "spec.json").write_text(json.dumps({"root": {}}))
    with pytest.raises(ValueError, match="spec.json has no 'pipelineSpec'"):
        submit.load_compiled(str(tmp_path / "spec.json"))


def _parse(argv):
    parser = argparse.ArgumentParser(prog="autofit submit")
    submit.add_submit_arguments(parser)
    return parser.parse_args(argv)


def test_cli_submits_to_kubeflow_and_exits_1_when_the_waited_run_fails(package, loopback_only, capsys):
    with fake_apis.kubeflow_api(final_state="FAILED") as api:
        code = submit.run_submit(_parse([
            "--target", "kubeflow", "--package", package, "--host", api.url, "--param", "epochs=7",
            "--service-account", "autofit-pipeline-runner", "--wait", "--timeout", "30",
        ]))
    assert code == 1
    body = api.calls("POST", "/apis/v2beta1/runs")[0].json()
    assert body["runtime_config"]["parameters"] == {"epochs": 7}
    assert "kubeflow run run-1" in capsys.readouterr().out


def test_cli_compiles_the_config_when_no_package_is_given(compiled_tiny, loopback_only, monkeypatch, tmp_path):
    config_path = tmp_path / "pipeline.yaml"
    config_path.write_text("pipeline_name: tiny-autofit\nrun_dir: gs://autofit-test-bucket/run\n"
                           "data: {format: image_folder, path: gs://b/d}\n")
    compiled_with = []

    def compile_pipeline(config, output_path, target, plan=None):
        assert plan is None  # data on gs:// cannot be profiled from the submitting machine: the fixed chain
        compiled_with.append((config, target))
        with open(output_path, "w") as handle:
            json.dump(compiled_tiny, handle)

    monkeypatch.setitem(sys.modules, "pipelines.compile", types.SimpleNamespace(compile_pipeline=compile_pipeline))
    with fake_apis.kubeflow_api() as api:
        code = submit.run_submit(_parse(["--config", str(config_path), "--target", "kubeflow", "--host", api.url]))
    assert code == 0
    (config, target), = compiled_with
    assert isinstance(config, RunConfig) and config.pipeline_name == "tiny-autofit" and target == "kubeflow"
    assert api.calls("POST", "/apis/v2beta1/runs")[0].json()["pipeline_spec"]["pipelineInfo"]["name"] == "tiny-autofit"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--target", "kubeflow", "--package", "{package}", "--project", "p"], "--project apply"),
        (["--target", "vertex", "--package", "{package}", "--host", "http://h", "--project", "p", "--region", "r"],
         "--host apply"),
        (["--target", "vertex", "--package", "{package}", "--project", "p"], "needs --project and --region"),
        (["--target", "kubeflow", "--package", "{package}", "--param", "epochs"], "expected KEY=VALUE"),
        (["--target", "kubeflow"], "needs --config .* or --package"),
        (["--target", "vertex", "--package", "{package}", "--project", "p", "--region", "us-central1",
          "--label", "a=b", "--label", "a=c"], "given twice"),
    ],
)
def test_cli_rejects_inconsistent_options(package, argv, message):
    with pytest.raises(ValueError, match=message):
        submit.run_submit(_parse([arg.format(package=package) for arg in argv]))


def test_autofit_submit_command_reaches_kubeflow(package, loopback_only):
    from pipelines import cli

    with fake_apis.kubeflow_api() as api:
        code = cli.main(["submit", "--target", "kubeflow", "--package", package, "--host", api.url, "--run-name", "cli"])
    assert code == 0
    assert api.calls("POST", "/apis/v2beta1/runs")[0].json()["display_name"] == "cli"


def test_the_loopback_guard_refuses_outside_addresses(monkeypatch):
    attempts = fake_apis.refuse_non_loopback(monkeypatch)
    with pytest.raises(OSError):
        socket.create_connection(("aiplatform.googleapis.com", 443), timeout=1)
    with pytest.raises(OSError, match="blocks network access"):
        socket.socket().connect(("192.0.2.1", 443))
    assert attempts == ["aiplatform.googleapis.com", ("192.0.2.1", 443)]
