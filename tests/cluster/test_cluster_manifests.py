"""kubernetes/: every overlay renders, validates against the Kubernetes schema offline, and passes the policy checks."""

import copy
import os

import kubernetes_validate
import pytest
import yaml

from components.data_translation.spec import TranslationConfig
from pipelines.config import config_from_dict
from tests.cluster import fake_apis, policies
from tests.cluster.conftest import KUBERNETES_DIR, OVERLAYS, render

# Oldest Kubernetes minor still in GKE's and kind's support windows, and the newest bundled schema.
SCHEMA_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
BEAM_COMMAND = ["autofit", "run", "--config", "/config/pipeline.yaml", "--runner", "beam"]


def _find(objects, kind, name_prefix=""):
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].startswith(name_prefix)]
    assert matches, f"no {kind} named {name_prefix}*"
    return matches


def _job_pod(objects):
    return _find(objects, "Job", "autofit-beam-run")[0]["spec"]["template"]["spec"]


def _run_config(objects, pod):
    """The pipeline.yaml the Job mounts at /config, parsed by the project's own config loader."""
    container = pod["containers"][0]
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/config")
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    config_map = _find(objects, "ConfigMap", volume["configMap"]["name"])[0]
    return config_from_dict(yaml.safe_load(config_map["data"]["pipeline.yaml"]))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_validates_against_the_kubernetes_schema_offline(rendered, overlay, monkeypatch):
    attempts = fake_apis.refuse_non_loopback(monkeypatch)
    kinds = set()
    for obj in rendered[overlay]:
        for version in SCHEMA_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)
        kinds.add(obj["kind"])
    assert attempts == []
    assert {"Namespace", "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Job", "NetworkPolicy"} <= kinds


def test_schema_validation_rejects_a_misspelled_field(rendered):
    job = copy.deepcopy(_find(rendered["local"], "Job")[0])
    job["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="resource"):
        kubernetes_validate.validate(job, SCHEMA_VERSIONS[0], strict=True)


def test_base_renders_on_its_own():
    kinds = {obj["kind"] for obj in render(os.path.join(KUBERNETES_DIR, "base"))}
    assert "Job" in kinds and "PersistentVolumeClaim" not in kinds


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_pass_the_policy_checks(rendered, overlay):
    assert policies.manifest_violations(rendered[overlay]) == []


def test_policy_checks_catch_an_insecure_job(rendered):
    objects = copy.deepcopy(rendered["local"])
    pod = _job_pod(objects)
    pod["hostNetwork"] = True
    pod["automountServiceAccountToken"] = True
    pod["volumes"].append({"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}})
    container = pod["containers"][0]
    container["image"] = "tfx-autofit:latest"
    container["securityContext"] = {"privileged": True, "capabilities": {"add": ["NET_ADMIN"]}}
    del container["resources"]["limits"]
    container["env"].append({"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}})
    found = " ".join(policies.manifest_violations(objects))
    for check in ("CKV_K8S_19", "CKV_K8S_38", "hostPath", "CKV_K8S_14", "CKV_K8S_16", "CKV_K8S_20", "CKV_K8S_22",
                  "CKV_K8S_28/37", "CKV_K8S_37", "CKV_K8S_11", "CKV_K8S_13", "CKV_K8S_35"):
        assert check in found, check


def test_policy_checks_catch_pod_level_root_and_missing_seccomp(rendered):
    objects = copy.deepcopy(rendered["local"])
    pod = _job_pod(objects)
    pod["securityContext"] = {"runAsUser": 0}
    for key in ("runAsNonRoot", "seccompProfile"):
        del pod["containers"][0]["securityContext"][key]
    found = " ".join(policies.manifest_violations(objects))
    assert "CKV_K8S_23" in found and "CKV_K8S_40" in found and "CKV_K8S_31" in found


def test_policy_checks_catch_wildcard_and_escalating_rbac(rendered):
    objects = copy.deepcopy(rendered["local"])
    role = _find(objects, "Role")[0]
    role["rules"].append({"apiGroups": ["*"], "resources": ["secrets"], "verbs": ["list", "bind"]})
    found = " ".join(policies.manifest_violations(objects))
    assert "CKV_K8S_49" in found and "escalation" in found and "CKV2_K8S_5" in found


def test_rbac_is_namespaced_and_bound_only_to_the_pipeline_runner(rendered):
    for objects in rendered.values():
        binding = _find(objects, "RoleBinding")[0]
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "autofit-pipeline-runner"}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "autofit-pipeline-runner", "namespace": "autofit"}]
        beam_account = _find(objects, "ServiceAccount", "autofit-beam-runner")[0]
        assert beam_account["automountServiceAccountToken"] is False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_beam_job_runs_the_cli_on_a_config_the_project_can_load(rendered, overlay):
    objects = rendered[overlay]
    pod = _job_pod(objects)
    container = pod["containers"][0]
    assert container["command"] == BEAM_COMMAND
    job = _find(objects, "Job", "autofit-beam-run")[0]
    assert job["spec"]["suspend"] is True, "applying the manifests must not start a run by itself"
    assert pod["restartPolicy"] == "Never"
    assert {"/config", "/tmp"} <= {m["mountPath"] for m in container["volumeMounts"]}
    config = _run_config(objects, pod)
    assert config.pipeline_name == f"autofit-{overlay}"
    TranslationConfig.from_dict(config.data).validate(check_paths=False)  # The data section is one the pipeline reads.
    assert config.beam_pipeline_args, "the Beam args for the in-cluster run come from the config"
    mlmd = _find(objects, "ConfigMap", "autofit-mlmd")[0]
    assert {"configMapRef": {"name": mlmd["metadata"]["name"]}} in container["envFrom"]


def test_local_overlay_keeps_the_pipeline_root_on_a_claim(rendered):
    objects = rendered["local"]
    pod = _job_pod(objects)
    claim = _find(objects, "PersistentVolumeClaim", "autofit-pipeline-root")[0]
    volume = next(v for v in pod["volumes"] if v.get("persistentVolumeClaim"))
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"])
    config = _run_config(objects, pod)
    assert config.run_dir.startswith(mount["mountPath"] + "/")
    assert config.data["path"].startswith(mount["mountPath"] + "/")
    assert _find(objects, "ConfigMap", "autofit-mlmd")[0]["data"]["AUTOFIT_MLMD_BACKEND"] == "sqlite"
    container = pod["containers"][0]
    assert container["image"] == "tfx-autofit:0.1.0-cpu" and container["imagePullPolicy"] == "IfNotPresent"
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    # The data goes in through the loader pod on the same claim.
    loader = _find(objects, "Pod", "autofit-data-loader")[0]["spec"]
    loader_volume = next(v for v in loader["volumes"] if v.get("persistentVolumeClaim"))
    assert loader_volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert {"name": loader_volume["name"], "mountPath": mount["mountPath"]} in loader["containers"][0]["volumeMounts"]


def test_gke_overlay_uses_a_bucket_workload_identity_and_a_gpu_node(rendered):
    objects = rendered["gke"]
    settings = dict(
        line.split("=", 1)
        for line in open(os.path.join(KUBERNETES_DIR, "overlays", "gke", "settings.env")).read().splitlines()
        if line and not line.startswith("#")
    )
    for account in _find(objects, "ServiceAccount"):
        assert account["metadata"]["annotations"]["iam.gke.io/gcp-service-account"] == settings["GCP_SERVICE_ACCOUNT"]
    assert not [o for o in objects if o["metadata"]["name"] == "autofit-gke-settings"], "settings must not be applied"
    assert not [o for o in objects if o["kind"] == "PersistentVolumeClaim"]
    pod = _job_pod(objects)
    assert _run_config(objects, pod).run_dir.startswith("gs://")
    assert pod["nodeSelector"]["cloud.google.com/gke-accelerator"] == settings["GKE_ACCELERATOR"]
    assert pod["nodeSelector"]["iam.gke.io/gke-metadata-server-enabled"] == "true"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["image"].endswith("/tfx-autofit:0.1.0") and container["imagePullPolicy"] == "Always"
    mlmd = _find(objects, "ConfigMap", "autofit-mlmd")[0]["data"]
    assert mlmd["AUTOFIT_MLMD_BACKEND"] == "grpc" and mlmd["AUTOFIT_MLMD_PORT"] == "8080"
