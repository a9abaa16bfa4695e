"""EMR mechanics: the job-flow request, steps, bounded waits with logged transitions, cost.

Kept apart from the Dagster resource so each piece can be tested against moto on its own. Every
wait is bounded and checks the cluster too, so a cluster that dies while a step is pending is
reported with its own reason instead of as a step time-out.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from genre_assets.errors import EngineError

MANAGED_TAG = "genre-assets:managed"
RUN_ID_TAG = "dagster/run_id"
LIVE_CLUSTER_STATES = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]
_STEP_DONE = {"COMPLETED"}
_STEP_BAD = {"FAILED", "CANCELLED", "INTERRUPTED", "CANCEL_PENDING"}
_CLUSTER_DEAD = {"TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"}


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` wins; nested dicts merge, lists and scalars are replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    # EMR tag values are limited to 256 characters.
    return [{"Key": k, "Value": str(v)[:256]} for k, v in tags.items()]


def hive_step(name: str, script_uri: str) -> dict[str, Any]:
    return {
        "Name": name,
        # Never CONTINUE (the original's choice): a failed step cancels what is queued behind it.
        "ActionOnFailure": "CANCEL_AND_WAIT",
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": ["hive-script", "--run-hive-script", "--args", "-f", script_uri],
        },
    }


def shell_step(name: str, script_uri: str) -> dict[str, Any]:
    return {
        "Name": name,
        "ActionOnFailure": "CANCEL_AND_WAIT",
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": ["bash", "-c", f"set -o pipefail; aws s3 cp '{script_uri}' - | bash -s"],
        },
    }


@dataclass(frozen=True)
class StepOutcome:
    step_id: str
    name: str
    seconds: float


def wait_for_step(
    emr: Any,
    cluster_id: str,
    step_id: str,
    *,
    poll_seconds: float,
    timeout_seconds: float,
    log: Callable[[str], None],
    log_uri: str,
) -> StepOutcome:
    """Poll until the step completes; raise EngineError with reason and log location otherwise."""
    started = time.monotonic()
    last_state = None
    while True:
        step = emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]
        state = step["Status"]["State"]
        elapsed = time.monotonic() - started
        if state != last_state:
            log(f"EMR step {step['Name']!r} ({step_id}) is {state} after {elapsed:.0f} s")
            last_state = state
        if state in _STEP_DONE:
            return StepOutcome(step_id=step_id, name=step["Name"], seconds=elapsed)
        if state in _STEP_BAD:
            raise EngineError(_step_failure_message(emr, cluster_id, step, log_uri))
        # A dying cluster can leave its steps PENDING or RUNNING for a while: look at it too.
        cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
        if cluster["Status"]["State"] in _CLUSTER_DEAD:
            raise EngineError(cluster_failure_message(cluster))
        if elapsed > timeout_seconds:
            raise EngineError(
                f"EMR step {step['Name']!r} ({step_id}) on cluster {cluster_id} did not finish "
                f"within {timeout_seconds:.0f} s (last state {state}); the cluster is terminated"
            )
        _sleep(poll_seconds)


def _sleep(seconds: float) -> None:
    # Looked up at call time so tests can drive moto's step states between polls.
    time.sleep(seconds)


def _step_failure_message(emr: Any, cluster_id: str, step: dict[str, Any], log_uri: str) -> str:
    status = step["Status"]
    details = status.get("FailureDetails") or {}
    reason = (
        details.get("Reason")
        or status.get("StateChangeReason", {}).get("Message")
        or "no reason given"
    )
    message = details.get("Message")
    logs = details.get("LogFile") or f"{log_uri.rstrip('/')}/{cluster_id}/steps/{step['Id']}/"
    text = f"EMR step {step['Name']!r} ({step['Id']}) on cluster {cluster_id} ended {status['State']}: {reason}"
    if message:
        text += f" ({message})"
    if status["State"] == "CANCELLED":
        cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
        if cluster["Status"]["State"] in _CLUSTER_DEAD:
            text += f"; {cluster_failure_message(cluster)}"
    return f"{text}. Step logs: {logs}"


def cluster_failure_message(cluster: dict[str, Any]) -> str:
    status = cluster["Status"]
    reason = status.get("StateChangeReason", {})
    return (
        f"EMR cluster {cluster['Id']} is {status['State']}: "
        f"{reason.get('Code', 'UNKNOWN')} {reason.get('Message', '')}".rstrip()
    )


def cluster_cost(
    emr: Any, cluster_id: str, price_per_normalized_hour: float, region: str
) -> dict[str, Any]:
    """Metadata on what the cluster costs so far (EMR bills per second from request to end)."""
    cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    hours = int(cluster.get("NormalizedInstanceHours") or 0)
    instance_types: list[str] = []
    try:
        for fleet in emr.list_instance_fleets(ClusterId=cluster_id)["InstanceFleets"]:
            instance_types.extend(
                spec["InstanceType"] for spec in fleet.get("InstanceTypeSpecifications", [])
            )
    except Exception:
        pass
    return {
        "emr_cluster_id": cluster_id,
        "emr_console_url": (
            f"https://{region}.console.aws.amazon.com/emr/home?region={region}"
            f"#/clusterDetails/{cluster_id}"
        ),
        "emr_instance_types": sorted(set(instance_types)),
        "emr_normalized_instance_hours": hours,
        "emr_estimated_cost_usd": round(hours * price_per_normalized_hour, 4),
    }


def managed_live_clusters(emr: Any) -> list[dict[str, Any]]:
    """Live clusters started by genre-assets, with their tags (list_clusters cannot filter tags)."""
    found = []
    paginator = emr.get_paginator("list_clusters")
    for page in paginator.paginate(ClusterStates=LIVE_CLUSTER_STATES):
        for summary in page["Clusters"]:
            try:
                cluster = emr.describe_cluster(ClusterId=summary["Id"])["Cluster"]
            except ClientError as error:
                # The IAM policy (deploy/iam-policy.json) only lets us see clusters we tagged.
                if error.response.get("Error", {}).get("Code") in (
                    "AccessDeniedException",
                    "AccessDenied",
                ):
                    continue
                raise
            tags = {t["Key"]: t["Value"] for t in cluster.get("Tags", [])}
            if tags.get(MANAGED_TAG) == "true":
                found.append(
                    {"id": cluster["Id"], "tags": tags, "state": cluster["Status"]["State"]}
                )
    return found


def parse_overrides(text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise EngineError(f"job_flow_overrides is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise EngineError("job_flow_overrides must be a JSON object")
    return value
