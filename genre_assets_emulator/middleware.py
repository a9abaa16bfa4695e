"""WSGI middleware in front of moto: a log of API calls and the EMR calls moto lacks.

The log names each request's service, operation and caller (the pipeline, the emulator itself,
the `aws` CLI or the emulated presto-cli, told apart by User-Agent), so tests and
`emulate-aws` can report how many AWS calls a run made. moto 5.2 does not implement
`ListInstanceFleets` (the engine's cost metadata calls it; an unimplemented call is a 500 that
botocore retries for seconds), and it ignores the fleets of RunJobFlow: the middleware keeps
each cluster's requested fleets and answers ListInstanceFleets from them.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

_JSON_TARGET = re.compile(r"^[A-Za-z0-9_]+\.([A-Za-z0-9]+)$")
_SERVICE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")


@dataclass(frozen=True)
class ApiCall:
    service: str
    operation: str
    caller: str  # pipeline | emulator | aws-cli | presto-cli


def caller_of(user_agent: str) -> str:
    if "genre-assets-emulator/presto-cli" in user_agent:
        return "presto-cli"
    if "genre-assets-emulator" in user_agent:
        return "emulator"
    if "aws-cli/" in user_agent:
        return "aws-cli"
    return "pipeline"


def s3_operation(method: str, path: str, query: str, headers: dict[str, str]) -> str:
    """The S3 REST call a path-style request stands for (the ones genre-assets and the CLI use)."""
    parts = path.lstrip("/").split("/", 1)
    has_key = len(parts) == 2 and parts[1] != ""
    params = {p.split("=", 1)[0] for p in query.split("&") if p}
    if "uploads" in params:
        return "CreateMultipartUpload"
    if "uploadId" in params:
        return {
            "PUT": "UploadPart",
            "POST": "CompleteMultipartUpload",
            "DELETE": "AbortMultipartUpload",
        }.get(method, "ListParts")
    if not parts[0]:
        return "ListBuckets"
    if not has_key:
        if method == "GET":
            return "ListObjectsV2" if "list-type" in params else "ListObjects"
        return {
            "PUT": "CreateBucket",
            "HEAD": "HeadBucket",
            "DELETE": "DeleteBucket",
            "POST": "DeleteObjects",
        }.get(method, f"{method} bucket")
    if method == "PUT":
        return "CopyObject" if "x-amz-copy-source" in headers else "PutObject"
    return {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(
        method, f"{method} object"
    )


class EmulatorMiddleware:
    """Wraps moto's WSGI app; thread-safe (moto serves each request on its own thread)."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        on_new_cluster: Callable[[str], None] = lambda cluster_id: None,
        on_steps_added: Callable[[str], None] = lambda cluster_id: None,
    ) -> None:
        self._app = app
        self._on_new_cluster = on_new_cluster
        self._on_steps_added = on_steps_added
        self._lock = threading.Lock()
        self._calls: list[ApiCall] = []
        self._fleets: dict[str, list[dict[str, Any]]] = {}

    # -- the log ---------------------------------------------------------------------------
    def calls(self) -> list[ApiCall]:
        with self._lock:
            return list(self._calls)

    def counts(self, caller: str | None = "pipeline") -> Counter[str]:
        """'service:Operation' -> number of calls, for one caller (None: every caller)."""
        return Counter(
            f"{c.service}:{c.operation}"
            for c in self.calls()
            if caller is None or c.caller == caller
        )

    def fleets(self, cluster_id: str) -> list[dict[str, Any]]:
        """The InstanceFleets RunJobFlow asked for ([] for instance-group clusters)."""
        with self._lock:
            return list(self._fleets.get(cluster_id, []))

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    # -- WSGI ------------------------------------------------------------------------------
    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        target = headers.get("x-amz-target", "")
        match = _SERVICE.search(headers.get("authorization", ""))
        service = match.group(1) if match else "unknown"
        json_op = _JSON_TARGET.match(target)
        if json_op:
            operation = json_op.group(1)
        elif service == "s3":
            operation = s3_operation(
                environ.get("REQUEST_METHOD", ""),
                environ.get("PATH_INFO", ""),
                environ.get("QUERY_STRING", ""),
                headers,
            )
        else:
            operation = f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"
        if not environ.get("PATH_INFO", "").startswith("/moto-api"):
            with self._lock:
                self._calls.append(
                    ApiCall(service, operation, caller_of(headers.get("user-agent", "")))
                )

        if service == "elasticmapreduce" and operation == "ListInstanceFleets":
            return self._list_instance_fleets(environ, start_response)
        if service == "elasticmapreduce" and operation == "RunJobFlow":
            return self._run_job_flow(environ, start_response)
        if service == "elasticmapreduce" and operation == "AddJobFlowSteps":
            return self._add_job_flow_steps(environ, start_response)
        return self._app(environ, start_response)

    def _add_job_flow_steps(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        # moto marks the first step of a WAITING cluster RUNNING at once; the cluster's worker
        # queues it as PENDING before the answer leaves, so no client sees RUNNING -> PENDING.
        body = _read_body(environ)
        response = b"".join(self._app(environ, start_response))
        try:
            cluster_id = json.loads(body).get("JobFlowId", "")
        except ValueError:
            cluster_id = ""
        if cluster_id:
            self._on_steps_added(cluster_id)
        return [response]

    def _run_job_flow(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        body = _read_body(environ)
        status: list[str] = []

        def capture(code: str, response_headers: list[Any], exc_info: Any = None) -> Any:
            status.append(code)
            return start_response(code, response_headers, exc_info)

        response = b"".join(self._app(environ, capture))
        if status and status[0].startswith("200"):
            try:
                fleets = json.loads(body).get("Instances", {}).get("InstanceFleets")
                cluster_id = json.loads(response)["JobFlowId"]
            except (ValueError, KeyError, AttributeError):
                fleets = cluster_id = None
            if fleets and cluster_id:
                with self._lock:
                    self._fleets[cluster_id] = fleets
            if cluster_id:
                self._on_new_cluster(cluster_id)
        return [response]

    def _list_instance_fleets(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        try:
            cluster_id = json.loads(_read_body(environ)).get("ClusterId", "")
        except ValueError:
            cluster_id = ""
        with self._lock:
            fleets = self._fleets.get(cluster_id)
        if fleets is None:
            return _json_response(
                start_response,
                "400 Bad Request",
                {
                    "__type": "InvalidRequestException",
                    "Message": f"Cluster {cluster_id!r} has no instance fleets (or does not exist)",
                },
            )
        listed = [_fleet_description(cluster_id, n, f) for n, f in enumerate(fleets)]
        return _json_response(start_response, "200 OK", {"InstanceFleets": listed})


def _fleet_description(cluster_id: str, number: int, fleet: dict[str, Any]) -> dict[str, Any]:
    on_demand = int(fleet.get("TargetOnDemandCapacity", 0))
    spot = int(fleet.get("TargetSpotCapacity", 0))
    return {
        "Id": f"if-{cluster_id[2:]}{number}",
        "Name": fleet.get("Name", ""),
        "Status": {"State": "RUNNING", "StateChangeReason": {}},
        "InstanceFleetType": fleet.get("InstanceFleetType", "CORE"),
        "TargetOnDemandCapacity": on_demand,
        "TargetSpotCapacity": spot,
        "ProvisionedOnDemandCapacity": on_demand,
        "ProvisionedSpotCapacity": spot,
        "InstanceTypeSpecifications": [
            {
                "InstanceType": c["InstanceType"],
                "WeightedCapacity": int(c.get("WeightedCapacity", 1)),
            }
            for c in fleet.get("InstanceTypeConfigs", [])
        ],
    }


def _read_body(environ: dict[str, Any]) -> bytes:
    # Read the body once and put it back, so moto still sees it.
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _json_response(
    start_response: Callable[..., Any], status: str, payload: dict[str, Any]
) -> list[bytes]:
    data = json.dumps(payload).encode("utf-8")
    start_response(
        status, [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))]
    )
    return [data]
