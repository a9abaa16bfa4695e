"""WSGI middleware in front of moto: a log of API calls, IAM, and the EMR calls moto lacks.

The log names each request's service, operation and caller (the pipeline, the emulator itself,
the `aws` CLI or the emulated presto-cli, a test's own clients, told apart by User-Agent), so
tests and `emulate-aws` can report how many AWS calls a run made. moto 5.2 does not implement
`ListInstanceFleets` (the engine's cost metadata calls it; an unimplemented call is a 500 that
botocore retries for seconds), and it ignores the fleets of RunJobFlow: the middleware keeps
each cluster's requested fleets and answers ListInstanceFleets from them. Nor does it implement
`DescribeReleaseLabel` (`genre-assets doctor` calls it): the middleware answers it for the
release labels whose applications `emr_rules` knows. Athena's query calls (StartQueryExecution,
GetQueryExecution, StopQueryExecution, ListQueryExecutions) go to `athena.AthenaService`, which
runs the queries over the emulated lake; Athena's reads and writes on the pipeline's behalf are
held to the pipeline's policy too (`statements_used()` tells which statements allowed what).

Given a policy (the shipped `deploy/iam-policy.json`, filled in), every call of the `pipeline`
caller is authorized first (`iam.authorize`: the call's own action and every permission AWS
checks beyond it) and a denied call gets AWS's answer instead of moto's: HTTP 400
`AccessDeniedException` from the JSON services (EMR, Glue), HTTP 403 `AccessDenied` from S3 and,
in the query protocol's XML, from STS and IAM, HTTP 403 `UnauthorizedOperation` from EC2;
`denials()` lists them. The other callers are not checked: on AWS the cluster's own calls (the
`aws` CLI and presto-cli inside steps) run under the EC2 instance profile's role, which the
emulator does not model, and the emulator's and the tests' own calls stand for the operator who
sets the lake up.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from genre_assets_emulator import athena as athena_api
from genre_assets_emulator import emr_rules, iam

_JSON_TARGET = re.compile(r"^[A-Za-z0-9_]+\.([A-Za-z0-9]+)$")
_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/")
# A test's own boto3 clients add this to their User-Agent: they set the lake up (or look at it)
# as its operator, not as the pipeline, so the pipeline's policy is not theirs.
HARNESS_USER_AGENT = "genre-assets-harness"
# Who the pipeline is in AccessDenied messages (AWS names the caller's assumed-role session).
PIPELINE_ROLE = "genre-assets-pipeline"
PIPELINE_SESSION = "emulated-run"
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiCall:
    service: str
    operation: str
    caller: str  # pipeline | emulator | aws-cli | presto-cli | trino-cli | harness


@dataclass(frozen=True)
class Denial:
    """A call the policy refused: what it needed, on what, and why."""

    service: str
    operation: str
    action: str
    resource: str
    reason: str


def caller_of(user_agent: str) -> str:
    for console in ("presto-cli", "trino-cli"):
        if f"genre-assets-emulator/{console}" in user_agent:
            return console
    if "genre-assets-emulator" in user_agent:
        return "emulator"
    if HARNESS_USER_AGENT in user_agent:
        return "harness"
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
        *,
        policy: list[iam.Statement] | None = None,
        account: str = "123456789012",
        cluster_tags: Callable[[str, str], Mapping[str, str] | None] = lambda region, cid: None,
        step_concurrency: Callable[[str, str], int] = lambda region, cid: 1,
        athena: athena_api.AthenaService | None = None,
    ) -> None:
        """`policy`: the statements to enforce on the pipeline's calls (None: no IAM check);
        `cluster_tags(region, cluster_id)`: an existing cluster's tags (None if there is none)."""
        self._app = app
        self._on_new_cluster = on_new_cluster
        self._on_steps_added = on_steps_added
        self._policy = policy
        self._account = account
        self._cluster_tags = cluster_tags
        self._step_concurrency = step_concurrency
        self._lock = threading.Lock()
        self._calls: list[ApiCall] = []
        self._denials: list[Denial] = []
        self._invalid: list[str] = []
        self._fleets: dict[str, list[dict[str, Any]]] = {}
        self._athena = athena
        # Sid (or #index) of each policy statement that allowed one of the pipeline's requests,
        # Athena's reads and writes on its behalf included: a statement never here is unused.
        self._allowed_by: Counter[str] = Counter()

    @property
    def enforces_iam(self) -> bool:
        return self._policy is not None

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

    def denials(self) -> list[Denial]:
        """The pipeline's calls the policy refused, oldest first."""
        with self._lock:
            return list(self._denials)

    def invalid_requests(self) -> list[str]:
        """EMR requests refused as EMR would refuse them ("Operation: reason"), oldest first."""
        with self._lock:
            return list(self._invalid)

    def statements_used(self) -> Counter[str]:
        """How often each policy statement allowed one of the pipeline's requests."""
        with self._lock:
            return Counter(self._allowed_by)

    def use_policy(self, policy: list[iam.Statement] | None) -> None:
        """Enforce another policy from now on (None: none), e.g. the Athena engine's."""
        with self._lock:
            self._policy = policy

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._denials.clear()
            self._allowed_by.clear()

    # -- WSGI ------------------------------------------------------------------------------
    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        target = headers.get("x-amz-target", "")
        match = _SCOPE.search(headers.get("authorization", ""))
        region, service = (match.group(1), match.group(2)) if match else ("", "unknown")
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
            operation = query_params(environ).get("Action") or (
                f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"
            )
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            return self._app(environ, start_response)
        caller = caller_of(headers.get("user-agent", ""))
        with self._lock:
            self._calls.append(ApiCall(service, operation, caller))

        if caller == "pipeline" and self._policy is not None:
            denied = self._authorize(environ, headers, service, operation, region)
            if denied is not None:
                return _access_denied(
                    environ,
                    start_response,
                    service,
                    denied,
                    self._account,
                    json_protocol=bool(json_op),
                )
        if service == "athena" and operation in athena_api.OPERATIONS and self._athena:
            return self._athena_call(environ, start_response, operation, region, caller)
        if service == "athena" and operation == "GetWorkGroup" and self._athena:
            try:
                name = json.loads(_read_body(environ) or b"{}").get("WorkGroup", "")
                self._athena.require_workgroup(str(name), region)
            except athena_api.RequestError as error:
                return _json_response(
                    start_response, "400 Bad Request", {"__type": error.kind, "Message": str(error)}
                )
        if service == "elasticmapreduce" and operation == "ListInstanceFleets":
            return self._list_instance_fleets(environ, start_response)
        if service == "elasticmapreduce" and operation == "DescribeReleaseLabel":
            described = _describe_release_label(environ, start_response)
            if described is not None:
                return described
        if service == "elasticmapreduce" and operation in ("RunJobFlow", "AddJobFlowSteps"):
            # EMR validates these requests for every caller; moto does not (emr_rules).
            try:
                request = json.loads(_read_body(environ) or b"{}")
                if operation == "RunJobFlow":
                    emr_rules.check_run_job_flow(request)
                else:
                    level = self._step_concurrency(region, str(request.get("JobFlowId", "")))
                    emr_rules.check_action_on_failure(list(request.get("Steps") or []), level)
            except emr_rules.InvalidRequest as error:
                with self._lock:
                    self._invalid.append(f"{operation}: {error}")
                _log.warning("EMR refused %s: %s", operation, error)
                return _json_response(
                    start_response,
                    "400 Bad Request",
                    {"__type": "ValidationException", "Message": str(error)},
                )
            except ValueError:
                pass  # moto answers a body that is not JSON itself
        if service == "elasticmapreduce" and operation == "RunJobFlow":
            return self._run_job_flow(environ, start_response)
        if service == "elasticmapreduce" and operation == "AddJobFlowSteps":
            return self._add_job_flow_steps(environ, start_response)
        return self._app(environ, start_response)

    # -- IAM -------------------------------------------------------------------------------------
    def _authorize(
        self,
        environ: dict[str, Any],
        headers: dict[str, str],
        service: str,
        operation: str,
        region: str,
    ) -> iam.Decision | None:
        """None when the policy allows the call, else the denying decision (also recorded)."""
        assert self._policy is not None
        if service == "s3":
            params = s3_params(
                environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""), headers
            )
        elif not _JSON_TARGET.match(headers.get("x-amz-target", "")):
            params = query_params(environ)
        else:
            try:
                params = json.loads(_read_body(environ) or b"{}")
            except ValueError:
                params = {}
            if not isinstance(params, dict):
                params = {}
        decision = iam.authorize(
            self._policy,
            service,
            operation,
            params,
            account=self._account,
            region=region,
            cluster_tags_lookup=lambda cluster_id: self._cluster_tags(region, cluster_id),
        )
        if decision.allowed:
            if decision.statement:
                with self._lock:
                    self._allowed_by[decision.statement] += 1
            return None
        denial = Denial(service, operation, decision.action, decision.resource, decision.reason)
        with self._lock:
            self._denials.append(denial)
        _log.warning("IAM denied the pipeline's %s:%s: %s", service, operation, decision.reason)
        return decision

    # -- Athena ----------------------------------------------------------------------------------
    def _athena_call(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        operation: str,
        region: str,
        caller: str,
    ) -> Iterable[bytes]:
        assert self._athena is not None
        try:
            request = json.loads(_read_body(environ) or b"{}")
        except ValueError:
            request = {}
        authorize = (
            self._athena_authorizer(operation)
            if caller == "pipeline" and self._policy is not None
            else None
        )
        try:
            answer = self._athena.handle(operation, request, region, authorize)
        except athena_api.RequestError as error:
            return _json_response(
                start_response, "400 Bad Request", {"__type": error.kind, "Message": str(error)}
            )
        return _json_response(start_response, "200 OK", answer)

    def _athena_authorizer(self, operation: str) -> athena_api.Authorizer:
        """Athena's reads and writes for the pipeline, held to the pipeline's policy (Athena uses
        the caller's permissions); a denial is recorded as the call's."""

        def authorize(requests: list[iam.Request]) -> iam.Decision | None:
            with self._lock:
                policy = self._policy
            if policy is None:
                return None
            for request in requests:
                for resource in request.resource_arns:
                    decision = iam.evaluate(policy, request.action, resource, request.context)
                    with self._lock:
                        if decision.allowed:
                            self._allowed_by[decision.statement] += 1
                            continue
                        self._denials.append(
                            Denial(
                                "athena",
                                f"{operation} (Athena on the caller's behalf)",
                                decision.action,
                                decision.resource,
                                decision.reason,
                            )
                        )
                    return decision
            return None

        return authorize

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


def _describe_release_label(
    environ: dict[str, Any], start_response: Callable[..., Any]
) -> list[bytes] | None:
    """A release's applications from `emr_rules.RELEASE_APPLICATIONS` (names only: the table has
    no versions); None for a label it does not know, which moto then answers (a 500)."""
    try:
        label = str(json.loads(_read_body(environ) or b"{}").get("ReleaseLabel", ""))
    except (ValueError, AttributeError):
        return None
    offered = emr_rules.RELEASE_APPLICATIONS.get(label)
    if offered is None:
        return None
    applications = [{"Name": name} for name in sorted(offered)]
    return _json_response(
        start_response, "200 OK", {"ReleaseLabel": label, "Applications": applications}
    )


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


def s3_params(path: str, query: str, headers: Mapping[str, str]) -> dict[str, Any]:
    """The botocore parameters of a path-style S3 request that IAM looks at."""
    bucket, _, key = path.lstrip("/").partition("/")
    params: dict[str, Any] = {"Bucket": bucket}
    if key:
        params["Key"] = key
    fields = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
    for name, parameter in (
        ("prefix", "Prefix"),
        ("delimiter", "Delimiter"),
        ("max-keys", "MaxKeys"),
        ("versionId", "VersionId"),
    ):
        if name in fields:
            params[parameter] = fields[name]
    for header, parameter in (
        ("x-amz-tagging", "Tagging"),
        ("x-amz-acl", "ACL"),
        ("x-amz-copy-source", "CopySource"),
    ):
        if header in headers:
            params[parameter] = headers[header]
    for header in headers:
        if header.startswith("x-amz-grant-"):
            params["Grant" + header[len("x-amz-grant-") :].title().replace("-", "")] = headers[
                header
            ]
    return params


def query_params(environ: dict[str, Any]) -> dict[str, str]:
    """The parameters of a query-protocol request (STS, IAM, EC2): `Action=GetRole&RoleName=R`
    in the form-encoded body of a POST, or in the query string; the first value of each."""
    fields = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        body = _read_body(environ).decode("utf-8", "replace")
        fields.update(parse_qs(body, keep_blank_values=True))
    return {k: v[0] for k, v in fields.items()}


def _access_denied(
    environ: dict[str, Any],
    start_response: Callable[..., Any],
    service: str,
    decision: iam.Decision,
    account: str,
    *,
    json_protocol: bool = True,
) -> list[bytes]:
    """AWS's answer to a call IAM refused, in the service's protocol (`json_protocol`: a JSON
    service, else the query protocol of STS, IAM and EC2, whose errors are XML)."""
    principal = f"arn:aws:sts::{account}:assumed-role/{PIPELINE_ROLE}/{PIPELINE_SESSION}"
    action = decision.action or f"{service}:*"
    resource = decision.resource or "*"
    because = (
        "with an explicit deny in an identity-based policy"
        if decision.explicit_deny
        else f"because no identity-based policy allows the {action} action"
    )
    request_id = str(uuid.uuid4())
    if service == "s3":
        # S3 quotes the resource; a HEAD answer carries no body.
        message = (
            f'User: {principal} is not authorized to perform: {action} on resource: "{resource}" '
            f"{because}"
        )
        data = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>AccessDenied</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
        ).encode()
        if environ.get("REQUEST_METHOD") == "HEAD":
            data = b""
        start_response(
            "403 Forbidden",
            [
                ("Content-Type", "application/xml"),
                ("Content-Length", str(len(data))),
                ("x-amz-request-id", request_id),
            ],
        )
        return [data]
    if service == "ec2":
        # EC2's own code and envelope; its Describe actions name no resource.
        message = (
            f"You are not authorized to perform this operation. User: {principal} is not "
            f"authorized to perform: {action} {because}"
        )
        return _xml_error(
            start_response,
            request_id,
            f"<Response><Errors><Error><Code>UnauthorizedOperation</Code>"
            f"<Message>{escape(message)}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>",
        )
    message = f"User: {principal} is not authorized to perform: {action} on resource: {resource} {because}"
    if not json_protocol:
        # STS and IAM: the query protocol's ErrorResponse (a JSON body fails botocore's parser).
        return _xml_error(
            start_response,
            request_id,
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>",
        )
    payload = json.dumps({"__type": "AccessDeniedException", "Message": message}).encode()
    start_response(
        "400 Bad Request",
        [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("Content-Length", str(len(payload))),
            ("x-amzn-RequestId", request_id),
        ],
    )
    return [payload]


def _xml_error(start_response: Callable[..., Any], request_id: str, body: str) -> list[bytes]:
    data = f'<?xml version="1.0" encoding="UTF-8"?>\n{body}'.encode()
    start_response(
        "403 Forbidden",
        [
            ("Content-Type", "text/xml"),
            ("Content-Length", str(len(data))),
            ("x-amzn-RequestId", request_id),
        ],
    )
    return [data]


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
