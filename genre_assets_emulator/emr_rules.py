"""What EMR refuses in RunJobFlow and AddJobFlowSteps requests, and moto 5.2 does not.

The middleware answers a request that breaks one of these rules with a `ValidationException`
(HTTP 400) before moto sees it, so an emulated run fails where a real one would. Each rule's
source is a row of docs/aws-fidelity.md; where AWS's exact message is not documented, the
message says what the documented rule is.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
_TAG_SYMBOLS = set("_.:/=+-@")
MIN_IDLE_TIMEOUT, MAX_IDLE_TIMEOUT = 60, 604_800

# The applications each release label offers (EMR Release Guide, "Amazon EMR release 6.15.0").
# Other labels are not checked: the emulator knows no list for them.
RELEASE_APPLICATIONS: dict[str, frozenset[str]] = {
    "emr-6.15.0": frozenset(
        {
            "Delta",
            "Flink",
            "Ganglia",
            "HBase",
            "HCatalog",
            "Hadoop",
            "Hive",
            "Hudi",
            "Hue",
            "Iceberg",
            "JupyterEnterpriseGateway",
            "JupyterHub",
            "Livy",
            "MXNet",
            "Oozie",
            "Phoenix",
            "Pig",
            "Presto",
            "Spark",
            "Sqoop",
            "TensorFlow",
            "Tez",
            "Trino",
            "Zeppelin",
            "ZooKeeper",
        }
    ),
}


# The console each query engine installs on the master node: EMR's Trino guide starts `trino-cli`,
# its Presto guide `presto-cli` (docs/aws-fidelity.md). A cluster has only its own engine's.
QUERY_CLI_APPLICATIONS: dict[str, str] = {"presto-cli": "Presto", "trino-cli": "Trino"}


def query_cli_installed(cli: str, applications: frozenset[str] | None) -> bool:
    """Whether `cli` exists on a master node with these applications; None: the request named
    none (what EMR installs then is not documented), so every console is offered."""
    if applications is None:
        return True
    needed = QUERY_CLI_APPLICATIONS[cli].lower()
    return needed in {a.lower() for a in applications}


class InvalidRequest(Exception):
    """The request breaks an EMR rule; the message is what the client sees."""


def _tag_character_ok(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category[0] in ("L", "N") or category in ("Zs", "Cf") or ch in _TAG_SYMBOLS


def check_tags(tags: list[Mapping[str, Any]]) -> None:
    for tag in tags:
        key, value = str(tag.get("Key", "")), tag.get("Value")
        if value is None:
            raise InvalidRequest(f"Tag {key!r}: a tag value can be empty but not null")
        value = str(value)
        if not 1 <= len(key) <= MAX_TAG_KEY:
            raise InvalidRequest(f"Tag key {key!r} must be 1 to {MAX_TAG_KEY} characters long")
        if len(value) > MAX_TAG_VALUE:
            raise InvalidRequest(f"Tag value of {key!r} is longer than {MAX_TAG_VALUE} characters")
        if key.lower().startswith("aws:") or value.lower().startswith("aws:"):
            raise InvalidRequest(f"Tag {key!r}: the aws: prefix is reserved for AWS use")
        for text, what in ((key, "key"), (value, "value")):
            bad = sorted({ch for ch in text if not _tag_character_ok(ch)})
            if bad:
                raise InvalidRequest(
                    f"Tag {what} {text!r} contains {''.join(bad)!r}: tag keys and values may "
                    "contain letters, digits, white space and _ . : / = + - @ only"
                )


def check_applications(release_label: str, applications: list[Mapping[str, Any]]) -> None:
    names = [str(a.get("Name", "")) for a in applications]
    lowered = {n.lower() for n in names}
    if {"presto", "trino"} <= lowered:
        raise InvalidRequest("Trino and Presto can't run on the same cluster")
    offered = RELEASE_APPLICATIONS.get(release_label)
    if offered is None:
        return
    by_lower = {a.lower(): a for a in offered}
    unknown = [n for n in names if n.lower() not in by_lower]
    if unknown:
        raise InvalidRequest(
            f"The applications {', '.join(unknown)} are not available in {release_label}"
        )


def check_action_on_failure(steps: list[Mapping[str, Any]], step_concurrency_level: int) -> None:
    if step_concurrency_level <= 1:
        return
    for step in steps:
        action = str(step.get("ActionOnFailure", "TERMINATE_CLUSTER"))
        if action != "CONTINUE":
            raise InvalidRequest(
                f"Step {step.get('Name')!r}: you cannot add a step with an ActionOnFailure other "
                f"than CONTINUE ({action}) while the step concurrency level of the cluster is "
                f"greater than 1 ({step_concurrency_level})"
            )


def check_run_job_flow(request: Mapping[str, Any]) -> None:
    check_tags(list(request.get("Tags") or []))
    check_applications(
        str(request.get("ReleaseLabel", "")), list(request.get("Applications") or [])
    )
    level = int(request.get("StepConcurrencyLevel") or 1)
    if not 1 <= level <= 256:
        raise InvalidRequest(f"StepConcurrencyLevel {level} is outside 1 to 256")
    check_action_on_failure(list(request.get("Steps") or []), level)
    policy = request.get("AutoTerminationPolicy") or {}
    if "IdleTimeout" in policy:
        idle = int(policy["IdleTimeout"])
        if not MIN_IDLE_TIMEOUT <= idle <= MAX_IDLE_TIMEOUT:
            raise InvalidRequest(
                f"AutoTerminationPolicy IdleTimeout {idle} is outside "
                f"{MIN_IDLE_TIMEOUT} to {MAX_IDLE_TIMEOUT} seconds"
            )
