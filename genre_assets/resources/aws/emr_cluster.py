"""EMR mechanics: the job-flow request, tags, steps, bounded waits with logged transitions, cost.

Kept apart from the Dagster resource (`emr_engine`) so each piece can be tested against moto and
the emulator on its own. Every wait is bounded and checks the cluster too, so a cluster that dies
while a step is pending is reported with its own reason instead of as a step time-out. The AWS
rules each piece follows are listed, with their sources, in docs/aws-fidelity.md.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from genre_assets.errors import ConfigurationError, EngineError
from genre_assets.resources.aws.cluster_ownership import MANAGED_TAG
from genre_assets.settings import SETTINGS

LIVE_CLUSTER_STATES = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]
ENDED_CLUSTER_STATES = ["TERMINATED", "TERMINATED_WITH_ERRORS"]
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


# EMR tags: keys 1-128 characters, values up to 256, letters and digits of any language, white
# space and `_ . : / = + - @` only; the `aws:` prefix is reserved (docs/aws-fidelity.md).
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
_TAG_SYMBOLS = set("_.:/=+-@")


def _tag_character_ok(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category[0] in ("L", "N") or category == "Zs" or ch in _TAG_SYMBOLS


def tag_value(value: object) -> str:
    """`value` as EMR accepts it: other characters become `_`, then cut to 256 characters
    (a genre range such as `(no genres listed)...Children's` is a label, not a key)."""
    text = "".join(ch if _tag_character_ok(ch) else "_" for ch in str(value))
    return text[:MAX_TAG_VALUE]


def check_tag_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_TAG_KEY or not all(_tag_character_ok(ch) for ch in key):
        raise ConfigurationError(
            f"EMR tag key {key!r} is not allowed: 1-{MAX_TAG_KEY} letters, digits, spaces "
            "or _ . : / = + - @"
        )
    if key.lower().startswith("aws:"):
        raise ConfigurationError(f"EMR tag key {key!r}: the aws: prefix is reserved by AWS")
    return key


def tag_list(tags: Mapping[str, object]) -> list[dict[str, str]]:
    return [{"Key": check_tag_key(k), "Value": tag_value(v)} for k, v in tags.items()]


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
class QueryEngine:
    """An EMR application that runs the Presto-dialect scripts (GENRE_ASSETS_EMR_SQL_ENGINE).

    PrestoDB and Trino cannot run on one cluster; each is installed by its application name, is
    configured through its own Hive connector classification and has its own console on the
    master node (docs/aws-fidelity.md, "Presto" and "Trino on EMR").
    """

    name: str  # the setting's value
    application: str  # RunJobFlow application name
    hive_classification: str  # configuration classification of its Hive connector
    cli: str  # the console a step runs on the master node


QUERY_ENGINES: dict[str, QueryEngine] = {
    engine.name: engine
    for engine in (
        QueryEngine("presto", "Presto", "presto-connector-hive", "presto-cli"),
        QueryEngine("trino", "Trino", "trino-connector-hive", "trino-cli"),
    )
}


def query_engine(name: str) -> QueryEngine:
    """The engine GENRE_ASSETS_EMR_SQL_ENGINE names; any other value is a ConfigurationError."""
    return QUERY_ENGINES[SETTINGS["emr_sql_engine"].check(name)]


# Hadoop and Hive besides the query engine are all a run needs (Spark was installed by the
# original and never used).
APPLICATIONS = ["Hadoop", "Hive"]
LEASE_WATCHDOG_ACTION = "genre-assets lease watchdog"
GLUE_HIVE_CLIENT_FACTORY = (
    "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory"
)


def job_flow_request(
    *,
    name: str,
    release_label: str,
    log_uri: str,
    applications: list[str],
    master_instance_types: list[str],
    core_instance_types: list[str],
    core_spot_units: int,
    core_on_demand_units: int,
    spot_timeout_minutes: int,
    ebs_volume_gb: int,
    subnet_ids: list[str],
    idle_timeout_seconds: int,
    service_role: str,
    job_flow_role: str,
    tags: Mapping[str, object],
    engine: QueryEngine,
    writes_external_tables: bool,
    lease_watchdog_uri: str,
    overrides: str,
) -> dict[str, Any]:
    """RunJobFlow for one run: the original DAG's cluster (Glue as metastore, spot fleets with
    on-demand fallback) with `engine` installed beside `applications`, plus two backstops of its
    own, the lease watchdog (a bootstrap action, `sql/shell/lease_watchdog.sh.j2`) and idle
    auto-termination; `overrides` (JSON) merged last."""
    ebs = {
        "EbsBlockDeviceConfigs": [
            {
                "VolumeSpecification": {"VolumeType": "gp3", "SizeInGB": ebs_volume_gb},
                "VolumesPerInstance": 1,
            }
        ]
    }
    watchdog = {
        "Name": LEASE_WATCHDOG_ACTION,
        "ScriptBootstrapAction": {"Path": lease_watchdog_uri, "Args": []},
    }
    glue = {"hive.metastore.client.factory.class": GLUE_HIVE_CLIENT_FACTORY}
    engine_hive = {"hive.metastore": "glue"}
    if writes_external_tables:
        # PrestoDB and Trino insert into an external table only with this set, under the same
        # name in both (docs/aws-fidelity.md).
        engine_hive["hive.non-managed-table-writes-enabled"] = "true"
        if engine.name == "presto":
            # PrestoDB stages an INSERT's files under <bucket>/tmp/presto-<user>/ unless the
            # file system is its own S3 one, and EMRFS is not: off, it writes into the table's
            # folder directly, as Trino does on EMRFS (docs/aws-fidelity.md).
            engine_hive["hive.temporary-staging-directory-enabled"] = "false"
    # The setting alone chooses the engine: another engine's application among `applications`
    # would make a request EMR refuses (the two cannot share a cluster).
    engines = {e.application.lower() for e in QUERY_ENGINES.values()}
    installed = [a for a in applications if a.lower() not in engines]
    request: dict[str, Any] = {
        "Name": name,
        "ReleaseLabel": release_label,
        "LogUri": log_uri,
        "Applications": [{"Name": a} for a in [*installed, engine.application]],
        "Configurations": [
            {"Classification": "hive-site", "Properties": glue},
            {"Classification": engine.hive_classification, "Properties": engine_hive},
        ],
        "Instances": {
            "InstanceFleets": [
                {
                    "Name": "master",
                    "InstanceFleetType": "MASTER",
                    "TargetOnDemandCapacity": 1,
                    "InstanceTypeConfigs": [
                        {"InstanceType": t, "EbsConfiguration": ebs} for t in master_instance_types
                    ],
                },
                {
                    "Name": "core",
                    "InstanceFleetType": "CORE",
                    "TargetSpotCapacity": core_spot_units,
                    "TargetOnDemandCapacity": core_on_demand_units,
                    "InstanceTypeConfigs": [
                        {"InstanceType": t, "EbsConfiguration": ebs} for t in core_instance_types
                    ],
                    "LaunchSpecifications": {
                        "SpotSpecification": {
                            "TimeoutDurationMinutes": spot_timeout_minutes,
                            "TimeoutAction": "SWITCH_TO_ON_DEMAND",
                        }
                    },
                },
            ],
            # Steps are added one asset at a time; the run, not EMR, decides when it ends.
            "KeepJobFlowAliveWhenNoSteps": True,
            "TerminationProtected": False,
            **({"Ec2SubnetIds": subnet_ids} if subnet_ids else {}),
        },
        "BootstrapActions": [watchdog],
        "AutoTerminationPolicy": {"IdleTimeout": idle_timeout_seconds},
        "ServiceRole": service_role,
        "JobFlowRole": job_flow_role,
        "VisibleToAllUsers": True,
        "Tags": tag_list(tags),
    }
    merged = deep_merge(request, parse_overrides(overrides))
    # Overrides replace lists: bootstrap actions of their own must not drop the watchdog.
    actions = merged.setdefault("BootstrapActions", [])
    if not any(a.get("Name") == LEASE_WATCHDOG_ACTION for a in actions):
        actions.append(watchdog)
    return merged


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
    deadline: float | None = None,
) -> StepOutcome:
    """Poll until the step completes; raise EngineError with reason and log location otherwise.

    `deadline` (Unix time) is the run's hard time limit: past it the wait ends with an error
    even if the step's own time-out has not come yet.
    """
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
        if deadline is not None and time.time() > deadline:
            raise EngineError(
                f"the run reached its time limit (GENRE_ASSETS_EMR_MAX_RUN_SECONDS) while EMR "
                f"step {step['Name']!r} ({step_id}) on cluster {cluster_id} was {state}; "
                "the cluster is terminated"
            )
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


@dataclass(frozen=True)
class InstancePrice:
    """USD per instance-hour: EC2 on demand, EC2 spot (None: unknown) and the EMR charge."""

    on_demand: float
    emr: float
    spot: float | None = None


# us-east-1 list prices per hour at the time of writing, for the default instance types only;
# set GENRE_ASSETS_EMR_PRICES for your region, your types and your spot prices. The repository
# holds no price list to cite (docs/aws-fidelity.md), hence a setting.
DEFAULT_PRICES: dict[str, InstancePrice] = {
    "m5.xlarge": InstancePrice(on_demand=0.192, emr=0.048),
    "m5a.xlarge": InstancePrice(on_demand=0.172, emr=0.043),
    "m4.xlarge": InstancePrice(on_demand=0.20, emr=0.06),
}
# EMR and EC2 bill per second with a one-minute minimum (docs/aws-fidelity.md).
MINIMUM_BILLED_SECONDS = 60


def parse_prices(text: str) -> dict[str, InstancePrice]:
    """GENRE_ASSETS_EMR_PRICES: {"m5.xlarge": {"on_demand": 0.192, "spot": 0.08, "emr": 0.048}}
    merged over the defaults; empty text means the defaults."""
    prices = dict(DEFAULT_PRICES)
    if not text.strip():
        return prices
    try:
        raw = json.loads(text)
        for instance_type, price in raw.items():
            prices[instance_type] = InstancePrice(
                on_demand=float(price["on_demand"]),
                emr=float(price["emr"]),
                spot=None if price.get("spot") is None else float(price["spot"]),
            )
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise ConfigurationError(
            "GENRE_ASSETS_EMR_PRICES must be JSON like "
            '{"m5.xlarge": {"on_demand": 0.192, "spot": 0.08, "emr": 0.048}}: '
            f"{type(error).__name__}: {error}"
        ) from None
    return prices


@dataclass(frozen=True)
class CostEstimate:
    cluster_id: str
    console_url: str
    instances: tuple[str, ...]  # "m5.xlarge SPOT 312 s" per instance
    billed_seconds: int
    usd: float
    notes: tuple[str, ...]


def console_url(region: str, cluster_id: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/emr/home?region={region}"
        f"#/clusterDetails/{cluster_id}"
    )


def cluster_cost(
    emr: Any,
    cluster_id: str,
    prices: Mapping[str, InstancePrice],
    region: str,
    now: dt.datetime | None = None,
) -> CostEstimate:
    """What the instances the cluster actually ran cost so far: per second from each instance's
    creation to its end (or now), at least a minute, EC2 (on-demand or spot) plus the EMR charge."""
    now = now or dt.datetime.now(dt.UTC)
    lines: list[str] = []
    notes: set[str] = set()
    total_seconds = 0
    usd = 0.0
    for page in emr.get_paginator("list_instances").paginate(ClusterId=cluster_id):
        for instance in page.get("Instances", []):
            timeline = instance.get("Status", {}).get("Timeline", {})
            started = timeline.get("CreationDateTime")
            if started is None:
                continue  # requested but never created: nothing billed
            ended = timeline.get("EndDateTime") or now
            seconds = max(MINIMUM_BILLED_SECONDS, int((ended - started).total_seconds()))
            kind = instance.get("InstanceType", "?")
            market = instance.get("Market", "ON_DEMAND")
            price = prices.get(kind)
            if price is None:
                notes.add(f"no price for {kind} (GENRE_ASSETS_EMR_PRICES): not counted")
            else:
                ec2 = price.on_demand
                if market == "SPOT":
                    if price.spot is None:
                        notes.add(f"{kind} spot priced at on demand (an upper bound)")
                    else:
                        ec2 = price.spot
                usd += seconds / 3600 * (ec2 + price.emr)
            total_seconds += seconds
            lines.append(f"{kind} {market} {seconds} s")
    if not lines:
        notes.add("EMR reported no instances yet")
    return CostEstimate(
        cluster_id=cluster_id,
        console_url=console_url(region, cluster_id),
        instances=tuple(lines),
        billed_seconds=total_seconds,
        usd=round(usd, 4),
        notes=tuple(sorted(notes)),
    )


def managed_live_clusters(emr: Any) -> list[dict[str, Any]]:
    """Live clusters started by genre-assets, with their tags (list_clusters cannot filter tags)."""
    found = []
    paginator = emr.get_paginator("list_clusters")
    for page in paginator.paginate(ClusterStates=LIVE_CLUSTER_STATES):
        for summary in page["Clusters"]:
            cluster = _managed_cluster(emr, summary["Id"])
            if cluster is not None:
                found.append(cluster)
    return found


def managed_clusters_ended_since(
    emr: Any, *, ended_after: float, created_after: dt.datetime
) -> list[dict[str, Any]]:
    """Clusters started by genre-assets that reached TERMINATED(_WITH_ERRORS) after `ended_after`
    (Unix time), with their tags and end time; only those are described, one call each."""
    found = []
    paginator = emr.get_paginator("list_clusters")
    pages = paginator.paginate(ClusterStates=ENDED_CLUSTER_STATES, CreatedAfter=created_after)
    for page in pages:
        for summary in page["Clusters"]:
            ended = summary["Status"].get("Timeline", {}).get("EndDateTime")
            if ended is None or ended.timestamp() <= ended_after:
                continue
            cluster = _managed_cluster(emr, summary["Id"])
            if cluster is not None:
                found.append({**cluster, "ended": ended.timestamp()})
    return found


def _managed_cluster(emr: Any, cluster_id: str) -> dict[str, Any] | None:
    try:
        cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    except ClientError as error:
        # The IAM policy (deploy/iam-policy.json) only lets us see clusters we tagged.
        if error.response.get("Error", {}).get("Code") in ("AccessDeniedException", "AccessDenied"):
            return None
        raise
    tags = {t["Key"]: t["Value"] for t in cluster.get("Tags", [])}
    if tags.get(MANAGED_TAG) != "true":
        return None
    return {"id": cluster["Id"], "tags": tags, "state": cluster["Status"]["State"]}


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
