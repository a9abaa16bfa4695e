"""Every AWS API call the code makes in a full run (and a janitor tick) is allowed by the
least-privilege policy in deploy/iam-policy.json, resources and conditions included."""

import fnmatch
import json

import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource
from moto.emr.models import emr_backends

from genre_assets.assets import ALL_ASSETS
from genre_assets.partitions import range_tags
from genre_assets.resources.aws.clients import AwsClientsResource
from genre_assets.sensors.emr_janitor import emr_janitor
from genre_assets_tests.support.aws import ACCOUNT, REGION, aws_resources
from genre_assets_tests.support.local import REPO_ROOT

POLICY = REPO_ROOT / "deploy" / "iam-policy.json"
VALUES = {
    "Bucket": "genre-lake",
    "Prefix": "data/",
    "Region": REGION,
    "Account": ACCOUNT,
    "Database": "movielens",
    "ServiceRole": "EMR_DefaultRole",
    "InstanceProfileRole": "EMR_EC2_DefaultRole",
}


def _policy() -> list[dict]:
    text = POLICY.read_text()
    for name, value in VALUES.items():
        text = text.replace("${" + name + "}", value)
    assert "${" not in text
    return json.loads(text)["Statement"]


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _allowed(statements, action, resources, context) -> bool:
    def statement_allows(statement, resource):
        if not any(fnmatch.fnmatchcase(action, a) for a in _as_list(statement["Action"])):
            return False
        if not any(fnmatch.fnmatchcase(resource, r) for r in _as_list(statement["Resource"])):
            return False
        for operator, conditions in statement.get("Condition", {}).items():
            for key, expected in conditions.items():
                actual = context.get(key)
                if actual is None:
                    return False
                match = (lambda a, e: a == e) if operator == "StringEquals" else fnmatch.fnmatchcase
                if not any(match(actual, e) for e in _as_list(expected)):
                    return False
        return True

    return all(any(statement_allows(s, r) for s in statements) for r in resources)


def _cluster_tags(cluster_id: str) -> dict:
    return dict(emr_backends[ACCOUNT][REGION].clusters[cluster_id]._tags)


def _iam_requests(service: str, operation: str, params: dict) -> list[tuple[str, list[str], dict]]:
    """(IAM action, resource ARNs, condition context) for one API call."""
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    if service == "s3":
        bucket = params["Bucket"]
        if operation == "ListObjectsV2":
            return [
                (
                    "s3:ListBucket",
                    [f"arn:aws:s3:::{bucket}"],
                    {"s3:prefix": params.get("Prefix", "")},
                )
            ]
        action = {
            "GetObject": "s3:GetObject",
            "HeadObject": "s3:GetObject",
            "PutObject": "s3:PutObject",
        }[operation]
        return [(action, [f"arn:aws:s3:::{bucket}/{params['Key']}"], {})]
    if service == "glue":
        database = params.get("Name") if operation == "GetDatabase" else params["DatabaseName"]
        resources = [f"{glue}:catalog", f"{glue}:database/{database}"]
        if operation == "GetTable":
            resources.append(f"{glue}:table/{database}/{params['Name']}")
        if operation == "GetTables":
            resources.append(f"{glue}:table/{database}/*")
        return [(f"glue:{operation}", resources, {})]
    if service == "emr":
        action = f"elasticmapreduce:{operation}"
        if operation == "RunJobFlow":
            tags = {t["Key"]: t["Value"] for t in params["Tags"]}
            passed = [
                (
                    "iam:PassRole",
                    [f"arn:aws:iam::{ACCOUNT}:role/{params[role]}"],
                    {"iam:PassedToService": "elasticmapreduce.amazonaws.com"},
                )
                for role in ("ServiceRole", "JobFlowRole")
            ]
            return [
                (
                    action,
                    ["*"],
                    {"aws:RequestTag/genre-assets:managed": tags.get("genre-assets:managed")},
                ),
                *passed,
            ]
        if operation == "ListClusters":
            return [(action, ["*"], {})]
        ids = params.get("JobFlowIds") or [params.get("ClusterId") or params.get("JobFlowId")]
        return [
            (
                action,
                [f"arn:aws:elasticmapreduce:{REGION}:{ACCOUNT}:cluster/{i}"],
                {
                    "aws:ResourceTag/genre-assets:managed": _cluster_tags(i).get(
                        "genre-assets:managed"
                    )
                },
            )
            for i in ids
        ]
    raise AssertionError(f"unexpected service {service}")


@pytest.fixture
def recorded_calls(monkeypatch):
    calls: list[tuple[str, str, dict]] = []

    def record(model, params, **_kwargs):
        service = model.service_model.endpoint_prefix
        calls.append(({"elasticmapreduce": "emr"}.get(service, service), model.name, params))

    real_client, real_s3 = AwsClientsResource.client, S3Resource.get_client

    def aws_client(self, service):
        client = real_client(self, service)
        # Clients are cached per resource: hook each one once.
        if not getattr(client, "_genre_assets_recorded", False):
            client.meta.events.register_first("provide-client-params", record_params)
            client._genre_assets_recorded = True
        return client

    def s3_client(self):
        client = real_s3(self)
        client.meta.events.register_first("provide-client-params", record_params)
        return client

    def record_params(params, model, **_kwargs):
        record(model, dict(params))

    monkeypatch.setattr(AwsClientsResource, "client", aws_client)
    monkeypatch.setattr(S3Resource, "get_client", s3_client)
    return calls


def test_the_policy_allows_every_call_of_a_run_and_the_janitor(
    aws_env,
    step_driver,
    recorded_calls,
    instance,
):
    genres = ["Comedy", "Drama", "Children's"]
    instance.add_dynamic_partitions("genre", genres)
    result = dg.materialize(
        ALL_ASSETS,
        resources=aws_resources(),
        instance=instance,
        tags=range_tags(genres[0], genres[-1]),
    )
    assert result.success
    with dg.build_sensor_context(
        instance=instance, resources={"engine": aws_resources()["engine"]}
    ) as context:
        emr_janitor(context)
    statements = _policy()
    operations = sorted({f"{s}:{o}" for s, o, _ in recorded_calls})
    assert {
        "emr:RunJobFlow",
        "emr:TerminateJobFlows",
        "glue:GetTable",
        "s3:PutObject",
        "emr:ListClusters",
    } <= set(operations)
    denied = [
        (service, operation, action, resources)
        for service, operation, params in recorded_calls
        for action, resources, context in _iam_requests(service, operation, params)
        if not _allowed(statements, action, resources, context)
    ]
    assert denied == []


def test_the_policy_refuses_what_the_code_must_not_do():
    statements = _policy()
    assert not _allowed(statements, "s3:PutObject", ["arn:aws:s3:::genre-lake/other/x"], {})
    assert not _allowed(statements, "s3:DeleteObject", ["arn:aws:s3:::genre-lake/data/x"], {})
    assert not _allowed(
        statements, "glue:DeleteTable", [f"arn:aws:glue:{REGION}:{ACCOUNT}:table/movielens/x"], {}
    )
    foreign = f"arn:aws:elasticmapreduce:{REGION}:{ACCOUNT}:cluster/j-OTHER"
    assert not _allowed(
        statements,
        "elasticmapreduce:TerminateJobFlows",
        [foreign],
        {"aws:ResourceTag/genre-assets:managed": None},
    )
    assert not _allowed(
        statements,
        "elasticmapreduce:RunJobFlow",
        ["*"],
        {"aws:RequestTag/genre-assets:managed": None},
    )
    assert not _allowed(
        statements,
        "iam:PassRole",
        [f"arn:aws:iam::{ACCOUNT}:role/Admin"],
        {"iam:PassedToService": "elasticmapreduce.amazonaws.com"},
    )
