"""Small fake Kubeflow Pipelines / Vertex AI / GCS JSON APIs on 127.0.0.1 for submission tests.

The real kfp and aiplatform clients talk to these over HTTP; every request is recorded
so tests can check what the clients sent. Servers bind to 127.0.0.1 on a free port,
time out idle reads, and shut themselves down after `lifetime_s` even if a test hangs.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import re
import socket
import threading
import urllib.parse
from typing import Any, Callable, Dict, List, Tuple

Response = Tuple[int, Dict[str, Any]]
Route = Tuple[str, "re.Pattern[str]", Callable[["Request", "re.Match[str]"], Response]]


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query: Dict[str, List[str]]
    headers: Dict[str, str]
    body: bytes

    def json(self) -> Dict[str, Any]:
        return json.loads(self.body or b"{}")


class FakeApiServer:
    """A threaded HTTP server answering `routes` with JSON; unknown routes get 404 and are recorded."""

    def __init__(self, routes: List[Route], lifetime_s: float = 120.0):
        self.routes = routes
        self.requests: List[Request] = []
        self._lifetime_s = lifetime_s
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 10  # Seconds an idle connection may hold a handler thread.

            def _serve(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command, parsed.path, urllib.parse.parse_qs(parsed.query),
                    {key.lower(): value for key, value in self.headers.items()}, self.rfile.read(length),
                )
                server.requests.append(request)
                status, payload = server.answer(request)
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:  # Keep test output quiet.
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def answer(self, request: Request) -> Response:
        for method, pattern, handler in self.routes:
            match = pattern.fullmatch(request.path)
            if method == request.method and match:
                return handler(request, match)
        return 404, {"error": f"fake server has no route {request.method} {request.path}"}

    def calls(self, method: str, path_pattern: str) -> List[Request]:
        return [r for r in self.requests if r.method == method and re.fullmatch(path_pattern, r.path)]

    def __enter__(self) -> "FakeApiServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self._watchdog = threading.Timer(self._lifetime_s, self._httpd.shutdown)
        self._watchdog.daemon = True
        self._watchdog.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._watchdog.cancel()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def kubeflow_api(final_state: str = "SUCCEEDED") -> FakeApiServer:
    """The KFP v2beta1 REST endpoints kfp 2.5's Client uses to create a run from a package."""
    experiments: Dict[str, Dict[str, Any]] = {}
    runs: Dict[str, Dict[str, Any]] = {}

    def list_experiments(request: Request, _: "re.Match[str]") -> Response:
        wanted = json.loads(request.query.get("filter", ["{}"])[0]).get("predicates", [{}])[0].get("stringValue")
        return 200, {"experiments": [e for e in experiments.values() if e["display_name"] == wanted]}

    def create_experiment(request: Request, _: "re.Match[str]") -> Response:
        experiment = dict(request.json(), experiment_id=f"experiment-{len(experiments) + 1}")
        experiments[experiment["experiment_id"]] = experiment
        return 200, experiment

    def create_run(request: Request, _: "re.Match[str]") -> Response:
        run = dict(request.json(), run_id=f"run-{len(runs) + 1}", state="PENDING")
        runs[run["run_id"]] = run
        return 200, run

    def get_run(_: Request, match: "re.Match[str]") -> Response:
        if match.group(1) not in runs:
            return 404, {"error": f"no run {match.group(1)}"}
        return 200, dict(runs[match.group(1)], state=final_state)

    return FakeApiServer([
        ("GET", re.compile(r"/apis/v2beta1/healthz"), lambda *_: (200, {"multi_user": False})),
        ("GET", re.compile(r"/apis/v2beta1/experiments"), list_experiments),
        ("POST", re.compile(r"/apis/v2beta1/experiments"), create_experiment),
        ("POST", re.compile(r"/apis/v2beta1/runs"), create_run),
        ("GET", re.compile(r"/apis/v2beta1/runs/([^/]+)"), get_run),
    ])


def vertex_api(final_state: str = "PIPELINE_STATE_SUCCEEDED", project_number: str = "0") -> FakeApiServer:
    """Vertex AI pipelineJobs create/get (REST v1) plus the GCS bucket lookup aiplatform makes first.

    Buckets report `project_number` as their owner (aiplatform checks it against the project's).
    """
    jobs: Dict[str, Dict[str, Any]] = {}

    def create_job(request: Request, match: "re.Match[str]") -> Response:
        job_id = request.query["pipelineJobId"][0]
        job = dict(request.json(), name=f"{match.group(1)}/pipelineJobs/{job_id}", state="PIPELINE_STATE_PENDING")
        jobs[job["name"]] = job
        return 200, job

    def get_job(_: Request, match: "re.Match[str]") -> Response:
        if match.group(1) not in jobs:
            return 404, {"error": {"code": 404, "message": f"no job {match.group(1)}", "status": "NOT_FOUND"}}
        return 200, dict(jobs[match.group(1)], state=final_state)

    return FakeApiServer([
        ("POST", re.compile(r"/v1/(projects/[^/]+/locations/[^/]+)/pipelineJobs"), create_job),
        ("GET", re.compile(r"/v1/(projects/[^/]+/locations/[^/]+/pipelineJobs/[^/]+)"), get_job),
        ("GET", re.compile(r"/storage/v1/b/([^/]+)"), lambda _, m: (200, {"name": m.group(1), "projectNumber": project_number})),
    ])


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def refuse_non_loopback(monkeypatch: Any) -> List[Any]:
    """Makes any socket connection to a non-loopback address fail (and records the attempt)."""
    attempts: List[Any] = []
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in _LOOPBACK:
            attempts.append(address)
            raise OSError(f"test blocks network access to {address!r}")
        return real_connect(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in _LOOPBACK and host is not None:
            attempts.append(host)
            raise socket.gaierror(f"test blocks name lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return attempts

