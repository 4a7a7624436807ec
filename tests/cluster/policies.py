"""Security policy checks over rendered Kubernetes objects, mirroring checkov's Kubernetes checks.

Each function returns human-readable violations (empty when compliant), tagged with the
checkov id it mirrors, so a test can assert both "our manifests pass" and "a bad object fails".
docs/cluster.md lists the mirrored checks and the deliberate exceptions.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Tuple

# Service accounts allowed to mount an API token, with the reason.
TOKEN_ALLOWED = {"autofit-pipeline-runner": "Argo's executor and the KFP driver call the Kubernetes API"}
# Verbs that let a role grant itself more than it has.
ESCALATING_VERBS = {"escalate", "bind", "impersonate"}
_POD_TEMPLATE_PATHS = {
    "Pod": ("spec",),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
}


def pod_specs(objects: List[Dict[str, Any]]) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """Yields ('Kind/name', pod spec) for every object that runs pods."""
    for obj in objects:
        path = _POD_TEMPLATE_PATHS.get(obj.get("kind", ""))
        if path is None:
            continue
        spec: Any = obj
        for key in path:
            spec = spec.get(key, {})
        yield f"{obj['kind']}/{obj['metadata']['name']}", spec


def _containers(pod: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    yield from pod.get("initContainers", [])
    yield from pod.get("containers", [])


def _effective(pod: Dict[str, Any], container: Dict[str, Any], key: str) -> Any:
    """A securityContext field as the kubelet sees it: the container's, else the pod's."""
    value = container.get("securityContext", {}).get(key)
    return value if value is not None else pod.get("securityContext", {}).get(key)


def pod_violations(name: str, pod: Dict[str, Any], service_accounts: Dict[str, Dict[str, Any]]) -> List[str]:
    found: List[str] = []
    for key, check in (("hostPID", "CKV_K8S_17"), ("hostIPC", "CKV_K8S_18"), ("hostNetwork", "CKV_K8S_19")):
        if pod.get(key):
            found.append(f"{check} {name}: {key} is true")
    for volume in pod.get("volumes", []):
        if "hostPath" in volume:
            found.append(f"hostPath {name}: volume {volume['name']} mounts a host path")
    account = pod.get("serviceAccountName", "default")
    if account == "default":
        found.append(f"default-sa {name}: runs as the namespace's default service account")
    token = pod.get("automountServiceAccountToken", service_accounts.get(account, {}).get("automountServiceAccountToken", True))
    if token and account not in TOKEN_ALLOWED:
        found.append(f"CKV_K8S_38 {name}: mounts an API token for {account}, which needs none")
    for container in _containers(pod):
        where = f"{name}/{container['name']}"
        context = container.get("securityContext", {})
        if _effective(pod, container, "runAsNonRoot") is not True:
            found.append(f"CKV_K8S_23 {where}: runAsNonRoot is not true")
        if (_effective(pod, container, "runAsUser") or 0) < 10000:
            found.append(f"CKV_K8S_40 {where}: runAsUser is not a high UID (>= 10000)")
        if (_effective(pod, container, "seccompProfile") or {}).get("type") != "RuntimeDefault":
            found.append(f"CKV_K8S_31 {where}: seccompProfile is not RuntimeDefault")
        if context.get("privileged"):
            found.append(f"CKV_K8S_16 {where}: privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"CKV_K8S_20 {where}: allowPrivilegeEscalation is not false")
        capabilities = context.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []):
            found.append(f"CKV_K8S_28/37 {where}: capabilities do not drop ALL")
        if capabilities.get("add"):
            found.append(f"CKV_K8S_37 {where}: adds capabilities {capabilities['add']}")
        if context.get("readOnlyRootFilesystem") is not True:
            found.append(f"CKV_K8S_22 {where}: root filesystem is writable")
        elif "/tmp" not in {mount["mountPath"] for mount in container.get("volumeMounts", [])}:
            found.append(f"CKV_K8S_22 {where}: read-only root without a writable /tmp volume")
        for kind, check_request, check_limit in (("cpu", "CKV_K8S_10", "CKV_K8S_11"), ("memory", "CKV_K8S_12", "CKV_K8S_13")):
            resources = container.get("resources", {})
            if kind not in resources.get("requests", {}):
                found.append(f"{check_request} {where}: no {kind} request")
            if kind not in resources.get("limits", {}):
                found.append(f"{check_limit} {where}: no {kind} limit")
        image = container.get("image", "")
        tag = image.split("@")[0].rsplit("/", 1)[-1].partition(":")[2]  # registry:port/name:tag -> tag
        if "@sha256:" not in image and (not tag or tag == "latest"):
            found.append(f"CKV_K8S_14 {where}: image {image!r} has no version tag")
        for env in container.get("env", []):
            if "secretKeyRef" in env.get("valueFrom", {}):
                found.append(f"CKV_K8S_35 {where}: secret {env['name']} passed as an environment variable")
    return found


def rbac_violations(objects: List[Dict[str, Any]]) -> List[str]:
    found: List[str] = []
    for obj in objects:
        if obj["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            found.append(f"cluster-scope {obj['kind']}/{obj['metadata']['name']}: pipeline runs need only a namespace")
        if obj["kind"] not in ("Role", "ClusterRole"):
            continue
        for rule in obj.get("rules", []):
            where = f"{obj['kind']}/{obj['metadata']['name']}"
            for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                if "*" in rule.get(field, []):
                    found.append(f"CKV_K8S_49 {where}: wildcard in {field}")
            if ESCALATING_VERBS & set(rule.get("verbs", [])):
                found.append(f"escalation {where}: verbs {sorted(ESCALATING_VERBS & set(rule['verbs']))}")
            if "secrets" in rule.get("resources", []) and (
                not rule.get("resourceNames") or set(rule.get("verbs", [])) - {"get"}
            ):
                found.append(f"CKV2_K8S_5 {where}: secrets readable beyond named ones")
    return found


def manifest_violations(objects: List[Dict[str, Any]]) -> List[str]:
    """All policy violations in one rendered overlay."""
    service_accounts = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ServiceAccount"}
    found = rbac_violations(objects)
    for name, pod in pod_specs(objects):
        found.extend(pod_violations(name, pod, service_accounts))
    for obj in objects:
        if obj["kind"] not in ("Namespace",) and obj["metadata"].get("namespace", "default") == "default":
            found.append(f"CKV_K8S_21 {obj['kind']}/{obj['metadata']['name']}: in the default namespace")
        if obj["kind"] == "Secret" and (obj.get("data") or obj.get("stringData")):
            found.append(f"secret-in-manifest Secret/{obj['metadata']['name']}: holds values; reference it instead")
        if obj["kind"] == "ServiceAccount" and "automountServiceAccountToken" not in obj:
            found.append(f"CKV_K8S_38 ServiceAccount/{obj['metadata']['name']}: token mounting not set explicitly")
    if not any(o["kind"] == "NetworkPolicy" and o["spec"].get("podSelector") == {} for o in objects):
        found.append("network-policy: no NetworkPolicy covers every pod in the namespace")
    return found
