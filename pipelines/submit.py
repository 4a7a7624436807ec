"""Submits a compiled pipeline (KubeflowV2DagRunner JSON) to Kubeflow Pipelines or Vertex AI.

`autofit submit --target kubeflow|vertex` lands here. Both targets take the same
compiled PipelineJob JSON: Kubeflow through the kfp 2.5 client (the PipelineSpec
inside the JSON, uploaded inline with the run), Vertex AI through
`google.cloud.aiplatform.PipelineJob`. Runtime parameters are checked against the
pipeline's declared parameters before anything is sent.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import os
import tempfile
from typing import Any, Dict, List, Mapping, Optional

from pipelines import resources as resources_lib

logger = logging.getLogger(__name__)

KUBEFLOW = "kubeflow"
VERTEX = "vertex"
_FINISHED_OK = {"succeeded", "pipeline_state_succeeded"}


@dataclasses.dataclass(frozen=True)
class SubmittedRun:
    """What the orchestrator answered: its run id, the state when we stopped looking, a link."""

    target: str
    run_id: str
    state: Optional[str]
    url: Optional[str] = None

    @property
    def succeeded(self) -> bool:
        return (self.state or "").lower() in _FINISHED_OK


def load_compiled(package_path: str) -> Dict[str, Any]:
    """Reads a KubeflowV2DagRunner output (PipelineJob JSON with a `pipelineSpec`)."""
    if not os.path.exists(package_path):
        raise FileNotFoundError(f"Compiled pipeline {package_path} does not exist; run `autofit compile` first.")
    with open(package_path) as handle:
        try:
            compiled = json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"Compiled pipeline {package_path} is not JSON: {error}") from None
    if not isinstance(compiled, dict) or "pipelineSpec" not in compiled:
        raise ValueError(
            f"Compiled pipeline {package_path} has no 'pipelineSpec'; expected the JSON KubeflowV2DagRunner writes."
        )
    return compiled


def _declared_parameters(pipeline_spec: Mapping[str, Any]) -> Dict[str, str]:
    declared = pipeline_spec["root"].get("inputDefinitions", {}).get("parameters", {})
    return {name: spec.get("parameterType") or spec.get("type", "STRING") for name, spec in declared.items()}


def _coerce(name: str, value: Any, declared_type: str) -> Any:
    if not isinstance(value, str) or declared_type == "STRING":
        return value
    try:
        if declared_type in ("INT", "NUMBER_INTEGER"):
            return int(value)
        if declared_type in ("DOUBLE", "NUMBER_DOUBLE"):
            return float(value)
        if declared_type == "BOOLEAN":
            if value.lower() not in ("true", "false"):
                raise ValueError("expected true or false")
            return value.lower() == "true"
        if declared_type in ("LIST", "STRUCT"):
            return json.loads(value)
    except ValueError as error:
        raise ValueError(f"Parameter {name!r} is declared {declared_type}; cannot use {value!r}: {error}") from None
    return value


def check_parameters(compiled: Dict[str, Any], parameters: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """Parameters converted to their declared types; unknown names raise, listing the declared ones."""
    declared = _declared_parameters(resources_lib.pipeline_spec_of(compiled))
    parameters = dict(parameters or {})
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ValueError(f"Unknown pipeline parameter(s) {unknown}; the pipeline declares {sorted(declared)}.")
    return {name: _coerce(name, value, declared[name]) for name, value in parameters.items()}


def _pipeline_root(compiled: Mapping[str, Any], pipeline_root: Optional[str]) -> str:
    root = pipeline_root or compiled.get("runtimeConfig", {}).get("gcsOutputDirectory", "")
    if "://" not in root:
        raise ValueError(
            f"Pipeline root {root!r} is not a URI the cluster can reach; set run_dir in the config to a "
            "bucket path (gs://bucket/dir) before compiling, or pass --pipeline-root."
        )
    return root


def _default_run_name(compiled: Mapping[str, Any]) -> str:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{compiled['pipelineSpec']['pipelineInfo']['name']}-{stamp}"


def submit_kubeflow(
    package_path: str,
    host: Optional[str] = None,
    run_name: Optional[str] = None,
    parameters: Optional[Mapping[str, Any]] = None,
    experiment: Optional[str] = None,
    namespace: Optional[str] = None,
    service_account: Optional[str] = None,
    wait: bool = False,
    timeout: float = 24 * 3600,
    pipeline_root: Optional[str] = None,
) -> SubmittedRun:
    """Creates a Kubeflow Pipelines run of the compiled pipeline, optionally waiting for its end.

    Args:
        package_path: KubeflowV2DagRunner output JSON.
        host: KFP API endpoint (e.g. http://localhost:8080 through a port-forward); None lets the
            kfp client use KF_PIPELINES_ENDPOINT, the in-cluster service or the kube config.
        run_name: run display name; default `<pipeline>-<UTC timestamp>`.
        parameters: runtime parameter values, converted to their declared types.
        experiment: KFP experiment name (created if missing); None is KFP's `Default`.
        namespace: profile namespace of a multi-user deployment.
        service_account: Kubernetes service account the run's pods use (kubernetes/: autofit-pipeline-runner).
        wait: poll until the run finishes or `timeout` seconds pass.
        pipeline_root: overrides the compiled root; a bucket URI (gs://...) that TFX components can write.
    """
    import kfp  # Imported here: the client pulls in kubernetes and is needed only to submit.

    compiled = resources_lib.kubernetes_accelerators(load_compiled(package_path))
    arguments = check_parameters(compiled, parameters)
    root = _pipeline_root(compiled, pipeline_root)
    client = kfp.Client(host=host, namespace=namespace or "kubeflow")
    with tempfile.TemporaryDirectory(prefix="autofit-submit-") as workdir:
        # The kfp client reads pipeline packages as YAML; JSON is YAML.
        spec_path = os.path.join(workdir, "pipeline.yaml")
        with open(spec_path, "w") as handle:
            json.dump(compiled["pipelineSpec"], handle)
        result = client.create_run_from_pipeline_package(
            spec_path,
            arguments=arguments,
            run_name=run_name or _default_run_name(compiled),
            experiment_name=experiment,
            namespace=namespace,
            pipeline_root=root,
            service_account=service_account,
        )
    run_id = result.run_id
    url = f"{host.rstrip('/')}/#/runs/details/{run_id}" if host else None
    logger.info("Kubeflow run %s created (%s)", run_id, url or "see the KFP UI")
    state = None
    if wait:
        logger.info("Waiting up to %.0f s for run %s", timeout, run_id)
        state = client.wait_for_run_completion(run_id, timeout=timeout).state
        logger.info("Run %s finished: %s", run_id, state)
    return SubmittedRun(KUBEFLOW, run_id, state, url)


def submit_vertex(
    package_path: str,
    project: str,
    region: str,
    pipeline_root: Optional[str] = None,
    parameters: Optional[Mapping[str, Any]] = None,
    service_account: Optional[str] = None,
    labels: Optional[Mapping[str, str]] = None,
    display_name: Optional[str] = None,
    wait: bool = False,
    api_endpoint: Optional[str] = None,
    api_transport: Optional[str] = None,
    credentials: Any = None,
) -> SubmittedRun:
    """Submits the compiled pipeline as a Vertex AI PipelineJob.

    Args:
        package_path: KubeflowV2DagRunner output JSON.
        project, region: Google Cloud project id and Vertex AI region.
        pipeline_root: gs:// root; default the compiled one.
        parameters: runtime parameter values, converted to their declared types.
        service_account: Google service account the job runs as.
        labels: job labels, merged over the compiled ones (tfx_version, ...).
        display_name: default `<pipeline>-<UTC timestamp>`.
        wait: block until the job ends (aiplatform raises if it fails).
        api_endpoint, api_transport: endpoint override (private endpoints, tests) and "grpc"/"rest".
        credentials: google.auth credentials; None uses Application Default Credentials.
    """
    from google.cloud import aiplatform  # Heavy import, needed only to submit.

    compiled = load_compiled(package_path)
    arguments = check_parameters(compiled, parameters)
    root = _pipeline_root(compiled, pipeline_root)
    job_labels = resources_lib.apply_job_labels(compiled, labels or {})["labels"]
    if api_endpoint or api_transport:
        aiplatform.init(api_endpoint=api_endpoint, api_transport=api_transport)
    with tempfile.TemporaryDirectory(prefix="autofit-submit-") as workdir:
        template_path = os.path.join(workdir, "pipeline.json")
        with open(template_path, "w") as handle:
            json.dump(compiled, handle)
        job = aiplatform.PipelineJob(
            display_name=display_name or _default_run_name(compiled),
            template_path=template_path,
            pipeline_root=root,
            parameter_values=arguments,
            labels=job_labels,
            project=project,
            location=region,
            credentials=credentials,
        )
    job.submit(service_account=service_account)
    logger.info("Vertex AI pipeline job %s submitted", job.resource_name)
    state = None
    if wait:
        job.wait()
        state = job.state.name
    return SubmittedRun(VERTEX, job.resource_name, state, None)


def _key_values(pairs: Optional[List[str]], flag: str) -> Dict[str, str]:
    values: Dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} {pair!r}: expected KEY=VALUE.")
        if key in values:
            raise ValueError(f"{flag} {key!r} is given twice.")
        values[key] = value
    return values


def add_submit_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the `autofit submit` options to the CLI's `submit` subcommand."""
    parser.add_argument("--target", choices=[KUBEFLOW, VERTEX], required=True, help="Orchestrator to submit to.")
    parser.add_argument("--config", help="Run configuration YAML, compiled first when no --package is given.")
    parser.add_argument("--package", help="Compiled pipeline JSON (from `autofit compile`) to submit as is.")
    parser.add_argument("--param", action="append", metavar="KEY=VALUE", help="Runtime parameter (repeatable).")
    parser.add_argument("--run-name", help="Run (Kubeflow) or job display (Vertex) name.")
    parser.add_argument("--pipeline-root", help="Override the compiled pipeline root (a gs://... URI).")
    parser.add_argument("--service-account", help="Kubernetes (Kubeflow) or Google (Vertex) service account.")
    parser.add_argument("--wait", action="store_true", help="Wait for the run to finish; exit 1 if it fails.")
    kubeflow = parser.add_argument_group("kubeflow")
    kubeflow.add_argument("--host", help="KFP API endpoint, e.g. http://localhost:8080 (default: kfp's discovery).")
    kubeflow.add_argument("--namespace", help="Profile namespace (multi-user Kubeflow).")
    kubeflow.add_argument("--experiment", help="KFP experiment name.")
    kubeflow.add_argument("--timeout", type=float, help="Seconds --wait waits (default 86400).")
    vertex = parser.add_argument_group("vertex")
    vertex.add_argument("--project", help="Google Cloud project id.")
    vertex.add_argument("--region", help="Vertex AI region, e.g. us-central1.")
    vertex.add_argument("--label", action="append", metavar="KEY=VALUE", help="Job label (repeatable).")
    vertex.add_argument("--api-endpoint", help="Vertex AI API endpoint override.")


_TARGET_ONLY = {KUBEFLOW: ("host", "namespace", "experiment", "timeout"), VERTEX: ("project", "region", "label", "api_endpoint")}


def run_submit(args: argparse.Namespace) -> int:
    """`autofit submit`: compiles if no --package, submits, and returns the exit code."""
    other = VERTEX if args.target == KUBEFLOW else KUBEFLOW
    stray = [name for name in _TARGET_ONLY[other] if getattr(args, name, None)]
    if stray:
        flags = ", ".join("--" + name.replace("_", "-") for name in stray)
        raise ValueError(f"{flags} apply(ies) to --target {other}, not {args.target}.")
    package = args.package
    if not package:
        if not args.config:
            raise ValueError("autofit submit needs --config (to compile) or --package (already compiled).")
        from pipelines.config import load_config

        config = load_config(args.config)
        from pipelines.autofit.run import plan_for_compile  # Imports TFX; only needed without --package.
        from pipelines.compile import compile_pipeline

        package = os.path.join(tempfile.mkdtemp(prefix="autofit-compile-"), f"{config.pipeline_name}.json")
        compile_pipeline(config, package, target=args.target, plan=plan_for_compile(config))
        logger.info("Compiled %s to %s", args.config, package)
    parameters = _key_values(args.param, "--param")
    if args.target == KUBEFLOW:
        run = submit_kubeflow(
            package, host=args.host, run_name=args.run_name, parameters=parameters, experiment=args.experiment,
            namespace=args.namespace, service_account=args.service_account, wait=args.wait,
            timeout=args.timeout or 24 * 3600, pipeline_root=args.pipeline_root,
        )
    else:
        if not args.project or not args.region:
            raise ValueError("--target vertex needs --project and --region.")
        run = submit_vertex(
            package, project=args.project, region=args.region, pipeline_root=args.pipeline_root,
            parameters=parameters, service_account=args.service_account,
            labels=_key_values(args.label, "--label"), display_name=args.run_name, wait=args.wait,
            api_endpoint=args.api_endpoint,
        )
    print(f"{run.target} run {run.run_id}" + (f": {run.url}" if run.url else "") + (f" ({run.state})" if run.state else ""))
    return 0 if not args.wait or run.succeeded else 1
