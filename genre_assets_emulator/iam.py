"""IAM as AWS applies it to the pipeline: the shipped policy evaluated, and what each call needs.

`load_policy` reads `deploy/iam-policy.json` with its `${...}` placeholders filled in;
`required_permissions` maps one API call to every IAM request AWS makes for it (its own action,
plus the permissions AWS checks beyond it: `elasticmapreduce:AddTags` for a tagged RunJobFlow,
`iam:PassRole` for each role it hands to EMR and EC2, a Glue table's database and catalog; and
the read-only STS, IAM and EC2 calls of `genre-assets doctor`);
`evaluate` decides one request the way IAM does; `authorize` does all three for one call. The
emulator's middleware refuses a pipeline call that `authorize` denies, and the in-process policy
test checks every call of a run with the same code, so the IAM model has one home.

Sources for every rule here: docs/aws-fidelity.md. Evaluation follows AWS's logic for one
identity-based policy: an explicit Deny wins; otherwise some Allow statement must match the
action (case-insensitive, wildcards `*` and `?`), the resource (case-sensitive, same wildcards)
and every condition (all operators and keys ANDed, the values of one key ORed; a key missing
from the request fails a positive operator and satisfies a negated one, but `ForAllValues` holds
for a missing or empty multivalued key, which `Null: false` rejects). An operation this
module does not know is denied with a reason that says so, so a new call cannot slip past.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

ContextValue = str | Sequence[str]
Context = Mapping[str, ContextValue]
Statement = dict[str, Any]
ClusterTagsLookup = Callable[[str], Mapping[str, str] | None]

PLACEHOLDERS = (
    "Bucket",
    "Prefix",
    "Region",
    "Account",
    "Database",
    "ServiceRole",
    "InstanceProfileRole",
)
# deploy/iam-policy-athena.json's: the lake's and the workgroup's, no EMR roles.
ATHENA_PLACEHOLDERS = ("Bucket", "Prefix", "Region", "Account", "Database", "WorkGroup")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_:/-]+)\}")

_STRING_OPERATORS = {
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "ArnEquals",
    "ArnNotEquals",
    "ArnLike",
    "ArnNotLike",
}
_NUMERIC_OPERATORS = {
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
}
OPERATORS = frozenset(_STRING_OPERATORS | _NUMERIC_OPERATORS | {"Bool", "Null"})


@dataclass(frozen=True)
class Request:
    """One IAM authorization AWS makes: an action on resources, with the request's context."""

    action: str
    resource_arns: tuple[str, ...]
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    action: str = ""  # the request that decided (for a denial: the first one denied)
    resource: str = ""
    explicit_deny: bool = False
    statement: str = ""  # the Sid (or #index) of the statement that allowed or denied it


class UnmappedOperation(LookupError):
    """`required_permissions` has no IAM mapping for this call (denied, never guessed)."""


# -- the policy ---------------------------------------------------------------------------------
def load_policy(path: Path | str, values: Mapping[str, str]) -> list[Statement]:
    """The policy's statements with every `${Name}` replaced by `values[Name]`.

    Raises ValueError for a placeholder without a value, a condition operator this module cannot
    evaluate or a statement without Effect/Action/Resource: a policy the emulator cannot judge
    must not be enforced half-way.
    """
    text = Path(path).read_text(encoding="utf-8")
    missing = sorted({m for m in _PLACEHOLDER.findall(text) if m not in values})
    if missing:
        raise ValueError(f"{path}: no value for the placeholder(s) {', '.join(missing)}")
    text = _PLACEHOLDER.sub(lambda m: _json_string_body(values[m.group(1)]), text)
    document = json.loads(text)
    statements = document["Statement"]
    if isinstance(statements, dict):
        statements = [statements]
    for number, statement in enumerate(statements):
        _check_statement(statement, f"{path} statement {statement.get('Sid', number)}")
    return list(statements)


def _json_string_body(value: str) -> str:
    return json.dumps(value)[1:-1]


def _check_statement(statement: Statement, where: str) -> None:
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise ValueError(f"{where}: Effect must be Allow or Deny")
    if ("Action" in statement) == ("NotAction" in statement):
        raise ValueError(f"{where}: exactly one of Action and NotAction")
    if ("Resource" in statement) == ("NotResource" in statement):
        raise ValueError(f"{where}: exactly one of Resource and NotResource")
    for operator in statement.get("Condition", {}):
        base = _split_operator(operator)[1]
        if base not in OPERATORS:
            raise ValueError(f"{where}: the emulator cannot evaluate the operator {operator}")


# -- evaluation ---------------------------------------------------------------------------------
def evaluate(
    statements: Iterable[Statement], action: str, resource: str, context: Context
) -> Decision:
    """IAM's decision for one action on one resource: explicit Deny > some Allow > implicit deny."""
    keyed = {k.lower(): v for k, v in context.items()}  # condition keys are case-insensitive
    allowed_by = ""
    near_misses: list[str] = []
    for number, statement in enumerate(statements):
        sid = statement.get("Sid") or f"#{number}"
        if not (_action_matches(statement, action) and _resource_matches(statement, resource)):
            continue
        failed = _failed_condition(statement.get("Condition", {}), keyed)
        if failed:
            if statement["Effect"] == "Allow":
                near_misses.append(f"{sid}: {failed}")
            continue
        if statement["Effect"] == "Deny":
            return Decision(
                False,
                f"explicitly denied by statement {sid}",
                action,
                resource,
                explicit_deny=True,
                statement=sid,
            )
        allowed_by = allowed_by or sid
    if allowed_by:
        return Decision(
            True, f"allowed by statement {allowed_by}", action, resource, statement=allowed_by
        )
    reason = f"no statement allows {action} on {resource}"
    if near_misses:
        reason += " (conditions not met: " + "; ".join(near_misses) + ")"
    return Decision(False, reason, action, resource)


def authorize(
    statements: Sequence[Statement],
    service: str,
    operation: str,
    params: Mapping[str, Any],
    *,
    account: str,
    region: str,
    cluster_tags_lookup: ClusterTagsLookup,
) -> Decision:
    """The decision for one API call: every request it needs, on every resource, allowed."""
    try:
        requests = required_permissions(
            service,
            operation,
            params,
            account=account,
            region=region,
            cluster_tags_lookup=cluster_tags_lookup,
        )
    except UnmappedOperation as error:
        return Decision(False, str(error), f"{_SERVICE_PREFIX.get(service, service)}:{operation}")
    allowed = Decision(True, f"{service}:{operation} needs no permission")
    for request in requests:
        for resource in request.resource_arns:
            decision = evaluate(statements, request.action, resource, request.context)
            if not decision.allowed:
                return decision
            allowed = decision
    return allowed


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _action_matches(statement: Statement, action: str) -> bool:
    if "Action" in statement:
        return any(
            _wildcard(p, ignore_case=True).match(action) for p in _as_list(statement["Action"])
        )
    return not any(
        _wildcard(p, ignore_case=True).match(action) for p in _as_list(statement["NotAction"])
    )


def _resource_matches(statement: Statement, resource: str) -> bool:
    if "Resource" in statement:
        return any(_wildcard(p).match(resource) for p in _as_list(statement["Resource"]))
    return not any(_wildcard(p).match(resource) for p in _as_list(statement["NotResource"]))


@lru_cache(maxsize=1024)
def _wildcard(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """IAM's wildcards: `*` any run of characters (also none), `?` exactly one; nothing else."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _split_operator(operator: str) -> tuple[str, str, bool]:
    """`ForAnyValue:StringLikeIfExists` -> ("ForAnyValue", "StringLike", True)."""
    qualifier = ""
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists") and operator != "IfExists"
    if if_exists:
        operator = operator[: -len("IfExists")]
    return qualifier, operator, if_exists


def _failed_condition(conditions: Mapping[str, Mapping[str, Any]], context: Context) -> str:
    """'' when every condition holds, else a description of the first one that does not."""
    for operator, keys in conditions.items():
        qualifier, base, if_exists = _split_operator(operator)
        for key, expected in keys.items():
            actual = context.get(key.lower())
            expected_values = [str(e) for e in _as_list(expected)]
            if not _condition_holds(qualifier, base, if_exists, actual, expected_values):
                return f"{operator} {key} {expected_values} (request: {_shown(actual)})"
    return ""


def _shown(value: ContextValue | None) -> str:
    if value is None:
        return "key absent"
    return repr(value if isinstance(value, str) else list(value))


def _condition_holds(
    qualifier: str,
    base: str,
    if_exists: bool,
    actual: ContextValue | None,
    expected: list[str],
) -> bool:
    if base == "Null":
        # "true": the key must be absent; "false": present and "not null". AWS counts a key
        # with an empty value as null here (a multivalued key with no values, such as
        # aws:TagKeys of an AddTags without tags, or ""), which is how `Null: false` keeps
        # `ForAllValues` from holding vacuously (docs/aws-fidelity.md).
        null = actual is None or len(actual) == 0
        return null == (expected[0].lower() == "true")
    values = [] if actual is None else _as_list(actual)
    negated = "Not" in base
    positive = base.replace("Not", "", 1) if negated else base

    def matches(value: str) -> bool:
        return any(_compare(positive, value, e) for e in expected)

    if qualifier == "ForAllValues":
        # Every value in the request matches (vacuously true for an absent or empty key).
        return all((not matches(v)) if negated else matches(v) for v in values)
    if actual is None:
        return if_exists or negated
    if qualifier == "ForAnyValue":
        return any((not matches(v)) if negated else matches(v) for v in values)
    hit = any(matches(v) for v in values)
    return not hit if negated else hit


def _compare(operator: str, actual: str, expected: str) -> bool:
    if operator == "StringEquals":
        return actual == expected
    if operator == "StringEqualsIgnoreCase":
        return actual.lower() == expected.lower()
    if operator in ("StringLike", "ArnLike", "ArnEquals"):
        return bool(_wildcard(expected).match(actual))
    if operator == "Bool":
        return actual.lower() == expected.lower()
    if operator.startswith("Numeric"):
        try:
            a, e = float(actual), float(expected)
        except ValueError:
            return False
        return {
            "NumericEquals": a == e,
            "NumericLessThan": a < e,
            "NumericLessThanEquals": a <= e,
            "NumericGreaterThan": a > e,
            "NumericGreaterThanEquals": a >= e,
        }[operator]
    raise ValueError(f"unsupported condition operator {operator}")


# -- what each API call needs -------------------------------------------------------------------
_SERVICE_PREFIX = {"emr": "elasticmapreduce", "elasticmapreduce": "elasticmapreduce"}

# EMR calls on one existing cluster (resource: the cluster's ARN, with its tags as context).
_EMR_CLUSTER_CALLS = {
    "AddInstanceFleet": "ClusterId",
    "AddJobFlowSteps": "JobFlowId",
    "CancelSteps": "ClusterId",
    "DescribeCluster": "ClusterId",
    "DescribeStep": "ClusterId",
    "GetAutoTerminationPolicy": "ClusterId",
    "ListBootstrapActions": "ClusterId",
    "ListInstanceFleets": "ClusterId",
    "ListInstanceGroups": "ClusterId",
    "ListInstances": "ClusterId",
    "ListSteps": "ClusterId",
    "ModifyCluster": "ClusterId",
    "ModifyInstanceFleet": "ClusterId",
    "PutAutoTerminationPolicy": "ClusterId",
    "RemoveAutoTerminationPolicy": "ClusterId",
    "SetTerminationProtection": "JobFlowIds",
    "TerminateJobFlows": "JobFlowIds",
}
# EMR calls that name no resource: IAM only accepts "*" for them.
_EMR_ACCOUNT_CALLS = {
    "DescribeReleaseLabel",
    "ListClusters",
    "ListReleaseLabels",
    "ListSecurityConfigurations",
}
# The service each role of RunJobFlow is handed to (iam:PassedToService).
_PASSED_ROLES = {
    "ServiceRole": "elasticmapreduce.amazonaws.com",
    "JobFlowRole": "ec2.amazonaws.com",  # an instance profile: its role has the same name
    "AutoScalingRole": "application-autoscaling.amazonaws.com",
}


def required_permissions(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    *,
    account: str,
    region: str,
    cluster_tags_lookup: ClusterTagsLookup,
) -> list[Request]:
    """Every IAM request AWS makes for one call, given the call's (botocore) parameters.

    `service` is the SigV4 name (`s3`, `glue`, `elasticmapreduce`; `emr` is accepted too);
    `cluster_tags_lookup(cluster_id)` gives an existing cluster's tags (None: no such cluster).
    Raises UnmappedOperation for a call this module does not know.
    """
    if service == "s3":
        return _s3(operation, params)
    if service == "glue":
        return _glue(operation, params, account, region)
    if service in _SERVICE_PREFIX:
        return _emr(operation, params, account, region, cluster_tags_lookup)
    if service in ("sts", "iam", "ec2"):
        return _preflight(service, operation, params, account)
    if service == "athena":
        return _athena(operation, params, account, region)
    raise UnmappedOperation(
        f"the emulator has no IAM mapping for {service}:{operation} (genre_assets_emulator/iam.py)"
    )


def _unmapped(prefix: str, operation: str) -> UnmappedOperation:
    return UnmappedOperation(
        f"the emulator has no IAM mapping for {prefix}:{operation}: add what AWS requires for it "
        "to genre_assets_emulator/iam.py (docs/aws-fidelity.md) before the pipeline may call it"
    )


def _emr(
    operation: str,
    params: Mapping[str, Any],
    account: str,
    region: str,
    cluster_tags_lookup: ClusterTagsLookup,
) -> list[Request]:
    action = f"elasticmapreduce:{operation}"
    clusters = f"arn:aws:elasticmapreduce:{region}:{account}:cluster"
    if operation == "RunJobFlow":
        tags = {t["Key"]: t.get("Value", "") for t in params.get("Tags") or []}
        # Tag-on-create: the request's tags are aws:RequestTag/<key> (and EMR's own prefix).
        context: dict[str, ContextValue] = _tag_context(tags, "RequestTag")
        if tags:
            context["aws:TagKeys"] = sorted(tags)
        requests = [Request(action, ("*",), context)]
        if tags:
            # Since 2023-04-24 creating a tagged cluster also needs AddTags (docs/aws-fidelity.md).
            requests.append(Request("elasticmapreduce:AddTags", (f"{clusters}/*",), context))
        for parameter, passed_to in _PASSED_ROLES.items():
            if params.get(parameter):
                requests.append(
                    Request(
                        "iam:PassRole",
                        (_role_arn(str(params[parameter]), account),),
                        {"iam:PassedToService": passed_to},
                    )
                )
        return requests
    if operation in _EMR_ACCOUNT_CALLS:
        return [Request(action, ("*",), {})]
    if operation in ("AddTags", "RemoveTags"):
        cluster_id = str(params.get("ResourceId", ""))
        context = _cluster_context(cluster_id, cluster_tags_lookup)
        if operation == "AddTags":
            tags = {t["Key"]: t.get("Value", "") for t in params.get("Tags") or []}
            context.update(_tag_context(tags, "RequestTag"))
            context["aws:TagKeys"] = sorted(tags)
        else:
            context["aws:TagKeys"] = sorted(params.get("TagKeys") or [])
        return [Request(action, (f"{clusters}/{cluster_id}",), context)]
    if operation in _EMR_CLUSTER_CALLS:
        ids = params.get(_EMR_CLUSTER_CALLS[operation]) or []
        return [
            Request(action, (f"{clusters}/{i}",), _cluster_context(i, cluster_tags_lookup))
            for i in ([ids] if isinstance(ids, str) else ids)
        ]
    raise _unmapped("elasticmapreduce", operation)


def _tag_context(tags: Mapping[str, str], kind: str) -> dict[str, ContextValue]:
    context: dict[str, ContextValue] = {}
    for key, value in tags.items():
        context[f"aws:{kind}/{key}"] = value
        context[f"elasticmapreduce:{kind}/{key}"] = value
    return context


def _cluster_context(
    cluster_id: str, cluster_tags_lookup: ClusterTagsLookup
) -> dict[str, ContextValue]:
    # An unknown cluster has no tags: a tag condition on it fails, as it would for a foreign one.
    return _tag_context(cluster_tags_lookup(cluster_id) or {}, "ResourceTag")


def _role_arn(role: str, account: str) -> str:
    """A role (or instance profile) name or ARN -> the role's ARN (same name as the profile)."""
    if role.startswith("arn:"):
        return role.replace(":instance-profile/", ":role/", 1)
    return f"arn:aws:iam::{account}:role/{role}"


# The read-only calls of `genre-assets doctor` outside S3, Glue and EMR (docs/aws-fidelity.md).
# EC2's Describe actions take no resource-level permissions: IAM only accepts "*" for them.
_EC2_DESCRIBE_CALLS = {"DescribeSubnets", "DescribeVpcs"}


def _preflight(
    service: str, operation: str, params: Mapping[str, Any], account: str
) -> list[Request]:
    if service == "sts" and operation == "GetCallerIdentity":
        # AWS answers it whatever the policy says, even under an explicit Deny.
        return []
    if service == "iam" and operation == "GetRole":
        return [Request("iam:GetRole", (_role_arn(str(params.get("RoleName", "")), account),))]
    if service == "iam" and operation == "GetInstanceProfile":
        # Path "/" as for the role's ARN (`_role_arn`): true for `aws emr create-default-roles`.
        name = str(params.get("InstanceProfileName", ""))
        return [
            Request("iam:GetInstanceProfile", (f"arn:aws:iam::{account}:instance-profile/{name}",))
        ]
    if service == "ec2" and operation in _EC2_DESCRIBE_CALLS:
        return [Request(f"ec2:{operation}", ("*",))]
    raise _unmapped(service, operation)


# Athena calls on one query execution, authorized on the query's workgroup (docs/aws-fidelity.md):
# the emulator resolves the id to the workgroup it ran in (`query_workgroups`).
_ATHENA_QUERY_CALLS = {"GetQueryExecution", "StopQueryExecution", "GetQueryResults"}
# QueryExecutionId -> workgroup, filled by the emulator's Athena (`genre_assets_emulator.athena`).
query_workgroups: dict[str, str] = {}


def _athena(operation: str, params: Mapping[str, Any], account: str, region: str) -> list[Request]:
    workgroups = f"arn:aws:athena:{region}:{account}:workgroup"
    if operation in ("StartQueryExecution", "ListQueryExecutions", "GetWorkGroup"):
        return [
            Request(
                f"athena:{operation}", (f"{workgroups}/{params.get('WorkGroup') or 'primary'}",)
            )
        ]
    if operation in _ATHENA_QUERY_CALLS:
        # An unknown id: Athena answers InvalidRequestException; authorize on any workgroup
        # the caller may use (none: denied).
        workgroup = query_workgroups.get(str(params.get("QueryExecutionId", "")), "*")
        return [Request(f"athena:{operation}", (f"{workgroups}/{workgroup}",))]
    raise _unmapped("athena", operation)


def athena_reads_and_writes(
    kind: str, params: Mapping[str, Any], *, account: str, region: str
) -> list[Request]:
    """What Athena checks against the caller's policy while it runs a query for them: the Glue
    calls of a DDL statement or of reading a table, and the S3 reads and writes of the data and
    the result (`kind`: a Glue operation name, or s3:GetObject / s3:PutObject / s3:ListBucket /
    s3:GetBucketLocation with Bucket, Key, Prefix)."""
    if kind.startswith("s3:"):
        bucket = str(params.get("Bucket", ""))
        if kind == "s3:ListBucket":
            return [
                Request(
                    kind, (f"arn:aws:s3:::{bucket}",), {"s3:prefix": str(params.get("Prefix", ""))}
                )
            ]
        if kind == "s3:GetBucketLocation":
            return [Request(kind, (f"arn:aws:s3:::{bucket}",))]
        return [Request(kind, (f"arn:aws:s3:::{bucket}/{params.get('Key', '')}",))]
    return _glue(kind, params, account, region)


def _glue(operation: str, params: Mapping[str, Any], account: str, region: str) -> list[Request]:
    # Data Catalog ARNs and their rule: an action needs the resource and all its ancestors
    # (table -> database -> catalog) (docs/aws-fidelity.md).
    arn = f"arn:aws:glue:{region}:{params.get('CatalogId') or account}"
    action = f"glue:{operation}"
    catalog = f"{arn}:catalog"
    if operation == "GetDatabase":
        return [Request(action, (catalog, f"{arn}:database/{params.get('Name', '')}"))]
    if operation == "GetDatabases":
        return [Request(action, (catalog, f"{arn}:database/*"))]
    if operation == "CreateDatabase":
        name = (params.get("DatabaseInput") or {}).get("Name", "")
        return [Request(action, (catalog, f"{arn}:database/{name}"))]
    database = str(params.get("DatabaseName", ""))
    if operation == "GetTables":
        return [
            Request(action, (catalog, f"{arn}:database/{database}", f"{arn}:table/{database}/*"))
        ]
    if operation in ("GetTable", "DeleteTable", "GetPartitions", "GetPartition"):
        table = params.get("Name") or params.get("TableName", "")
    elif operation in ("CreateTable", "UpdateTable"):
        table = (params.get("TableInput") or {}).get("Name", "")
    else:
        raise _unmapped("glue", operation)
    return [
        Request(action, (catalog, f"{arn}:database/{database}", f"{arn}:table/{database}/{table}"))
    ]


def _s3(operation: str, params: Mapping[str, Any]) -> list[Request]:
    bucket = str(params.get("Bucket", ""))
    bucket_arn = f"arn:aws:s3:::{bucket}"
    object_arn = f"{bucket_arn}/{params.get('Key', '')}"
    if operation in ("GetObject", "HeadObject"):
        action = "s3:GetObjectVersion" if params.get("VersionId") else "s3:GetObject"
        return [Request(action, (object_arn,))]
    if operation in ("PutObject", "CreateMultipartUpload"):
        # PutObject with tags also needs s3:PutObjectTagging, with an ACL s3:PutObjectAcl.
        requests = [Request("s3:PutObject", (object_arn,))]
        if params.get("Tagging"):
            requests.append(Request("s3:PutObjectTagging", (object_arn,)))
        if params.get("ACL") or any(k.startswith("Grant") for k in params):
            requests.append(Request("s3:PutObjectAcl", (object_arn,)))
        return requests
    if operation in ("UploadPart", "CompleteMultipartUpload"):
        return [Request("s3:PutObject", (object_arn,))]
    if operation == "AbortMultipartUpload":
        return [Request("s3:AbortMultipartUpload", (object_arn,))]
    if operation == "CopyObject":
        source = str(params.get("CopySource", ""))
        source = unquote(source.split("?", 1)[0]).lstrip("/")
        return [
            Request("s3:PutObject", (object_arn,)),
            Request("s3:GetObject", (f"arn:aws:s3:::{source}",)),
        ]
    if operation == "DeleteObject":
        return [Request("s3:DeleteObject", (object_arn,))]
    if operation in ("ListObjects", "ListObjectsV2"):
        context: dict[str, ContextValue] = {}
        for parameter, key in (
            ("Prefix", "s3:prefix"),
            ("Delimiter", "s3:delimiter"),
            ("MaxKeys", "s3:max-keys"),
        ):
            if params.get(parameter) is not None:
                context[key] = str(params[parameter])
        return [Request("s3:ListBucket", (bucket_arn,), context)]
    if operation == "HeadBucket":
        return [Request("s3:ListBucket", (bucket_arn,))]
    if operation == "CreateBucket":
        return [Request("s3:CreateBucket", (bucket_arn,))]
    if operation == "ListBuckets":
        return [Request("s3:ListAllMyBuckets", ("*",))]
    raise _unmapped("s3", operation)
