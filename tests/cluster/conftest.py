"""Fixtures for the cluster tests: rendered kustomize overlays and a compiled tiny pipeline."""

import json
import os
import shutil
import subprocess
from typing import Any, Dict, List

import pytest
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KUBERNETES_DIR = os.path.join(REPO_ROOT, "kubernetes")
OVERLAYS = ("local", "gke")
PIPELINE_ROOT = "gs://autofit-test-bucket/pipeline-root"


def render(path: str) -> List[Dict[str, Any]]:
    """`kubectl kustomize PATH` parsed into objects."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: kustomize rendering (and the checks on its output) cannot run here.")
    result = subprocess.run([kubectl, "kustomize", path], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"kubectl kustomize {path} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session")
def rendered() -> Dict[str, List[Dict[str, Any]]]:
    """Overlay name -> its rendered objects."""
    return {overlay: render(os.path.join(KUBERNETES_DIR, "overlays", overlay)) for overlay in OVERLAYS}


@pytest.fixture(scope="session")
def compiled_tiny(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    """The tiny pipeline compiled once per session (importing TFX dominates the cost)."""
    from tests.cluster import tiny_pipeline

    output_dir = str(tmp_path_factory.mktemp("compiled"))
    return tiny_pipeline.compile_tiny_pipeline(output_dir, PIPELINE_ROOT)


@pytest.fixture
def write_package(tmp_path):
    """Writes a compiled pipeline dict to a JSON file and returns its path."""

    def write(compiled: Dict[str, Any]) -> str:
        path = tmp_path / "pipeline.json"
        path.write_text(json.dumps(compiled))
        return str(path)

    return write
