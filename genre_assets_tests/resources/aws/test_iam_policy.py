"""Every AWS API call the code makes in a full run (and a janitor tick) is allowed by the
least-privilege policy in deploy/iam-policy.json, resources and conditions included, with every
permission AWS checks beyond the call's own action. The IAM model (what each call needs, how a
policy decides) is the emulator's, `genre_assets_emulator.iam`, the one the emulator enforces."""

import re
import time

import boto3
import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource
from moto.emr.models import emr_backends

from genre_assets.assets import ALL_ASSETS
from genre_assets.partitions import range_tags
from genre_assets.resources.aws.clients import AwsClientsResource
from genre_assets.sensors.emr_janitor import emr_janitor
from genre_assets_emulator import iam
from genre_assets_tests.support.aws import (
    ACCOUNT,
    IAM_POLICY,
    REGION,
    REPO_ROOT,
    aws_resources,
    start_tagged_cluster,
)

POLICY = IAM_POLICY
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
    return iam.load_policy(POLICY, VALUES)


def _cluster_tags(cluster_id: str) -> dict | None:
    cluster = emr_backends[ACCOUNT][REGION].clusters.get(cluster_id)
    return None if cluster is None else dict(cluster._tags)


def _allowed(statements, action, resources, context) -> bool:
    return all(iam.evaluate(statements, action, r, context).allowed for r in resources)


def _authorize(statements, service: str, operation: str, params: dict) -> iam.Decision:
    return iam.authorize(
        statements,
        service,
        operation,
        params,
        account=ACCOUNT,
        region=REGION,
        cluster_tags_lookup=_cluster_tags,
    )


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

    def wait_for_a_lease_renewal() -> None:
        # A new cluster's lease comes with its tags; the engine's thread renews it every
        # lease/10 s (0.5 s here, at least 1 s). Steps only advance once it has, so the run renews for sure.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(o == "AddTags" for _, o, _ in recorded_calls):
            time.sleep(0.05)

    step_driver.on_poll = wait_for_a_lease_renewal
    result = dg.materialize(
        ALL_ASSETS,
        resources=aws_resources(lease_seconds=5),
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
        (service, operation, decision.action, decision.resource, decision.reason)
        for service, operation, params in recorded_calls
        for decision in [_authorize(statements, service, operation, params)]
        if not decision.allowed
    ]
    assert denied == []
    # The run held its cluster: it renewed the lease (every lease/10 s; at once when it
    # reattaches), with the lease key alone, on a cluster tagged managed.
    renewals = [p for s, o, p in recorded_calls if o == "AddTags"]
    assert renewals
    assert {t["Key"] for p in renewals for t in p["Tags"]} == {"genre-assets:lease-expires"}
    # Every statement of the policy is needed: each allowed some request of the run.
    used = {
        iam.evaluate(statements, request.action, resource, request.context).statement
        for service, operation, params in recorded_calls
        for request in iam.required_permissions(
            service,
            operation,
            params,
            account=ACCOUNT,
            region=REGION,
            cluster_tags_lookup=_cluster_tags,
        )
        for resource in request.resource_arns
    }
    assert {s["Sid"] for s in statements} - used == set()
    # The permissions AWS checks beyond RunJobFlow itself were among those checked.
    (run_job_flow,) = [p for s, o, p in recorded_calls if o == "RunJobFlow"]
    needed = iam.required_permissions(
        "emr",
        "RunJobFlow",
        run_job_flow,
        account=ACCOUNT,
        region=REGION,
        cluster_tags_lookup=_cluster_tags,
    )
    assert [r.action for r in needed] == [
        "elasticmapreduce:RunJobFlow",
        "elasticmapreduce:AddTags",
        "iam:PassRole",
        "iam:PassRole",
    ]


def test_the_policy_refuses_what_the_code_must_not_do():
    statements = _policy()
    assert not _allowed(statements, "s3:PutObject", ["arn:aws:s3:::genre-lake/other/x"], {})
    assert not _allowed(statements, "s3:DeleteObject", ["arn:aws:s3:::genre-lake/data/x"], {})
    assert not _allowed(
        statements, "glue:DeleteTable", [f"arn:aws:glue:{REGION}:{ACCOUNT}:table/movielens/x"], {}
    )
    foreign = f"arn:aws:elasticmapreduce:{REGION}:{ACCOUNT}:cluster/j-OTHER"
    assert not _allowed(statements, "elasticmapreduce:TerminateJobFlows", [foreign], {})
    assert not _allowed(statements, "elasticmapreduce:RunJobFlow", ["*"], {})
    assert not _allowed(
        statements,
        "elasticmapreduce:AddTags",
        [foreign],
        {"aws:RequestTag/genre-assets:managed": "false"},
    )
    # A lease renewal only on a cluster tagged managed, and with the lease key alone.
    cluster = f"arn:aws:elasticmapreduce:{REGION}:{ACCOUNT}:cluster/j-1"
    lease = {
        "aws:RequestTag/genre-assets:lease-expires": "2026-11-26T09:30:00Z",
        "aws:TagKeys": ["genre-assets:lease-expires"],
    }
    ours = {"aws:ResourceTag/genre-assets:managed": "true"}
    assert _allowed(statements, "elasticmapreduce:AddTags", [cluster], {**ours, **lease})
    assert not _allowed(statements, "elasticmapreduce:AddTags", [cluster], lease)
    assert not _allowed(
        statements,
        "elasticmapreduce:AddTags",
        [cluster],
        {
            **ours,
            **lease,
            "aws:RequestTag/genre-assets:deployment": "other",
            "aws:TagKeys": ["genre-assets:lease-expires", "genre-assets:deployment"],
        },
    )
    assert not _allowed(statements, "elasticmapreduce:AddTags", [cluster], ours)
    assert not _allowed(
        statements, "elasticmapreduce:AddTags", [cluster], {**ours, "aws:TagKeys": []}
    )
    assert not _allowed(
        statements,
        "iam:PassRole",
        [f"arn:aws:iam::{ACCOUNT}:role/Admin"],
        {"iam:PassedToService": "elasticmapreduce.amazonaws.com"},
    )
    # Each EMR role goes to its own service only.
    assert not _allowed(
        statements,
        "iam:PassRole",
        [f"arn:aws:iam::{ACCOUNT}:role/EMR_EC2_DefaultRole"],
        {"iam:PassedToService": "elasticmapreduce.amazonaws.com"},
    )
    # A call the policy does not grant is refused, and so is one the emulator cannot map.
    assert not _authorize(statements, "emr", "ListReleaseLabels", {}).allowed
    assert not _authorize(statements, "s3", "DeleteObjects", {"Bucket": "genre-lake"}).allowed


def test_the_instance_profile_policy_lets_the_lease_watchdog_end_only_our_clusters(aws_env):
    """deploy/iam-instance-profile-policy.json grants exactly what the watchdog's `aws` calls
    need (DescribeCluster, TerminateJobFlows), on clusters tagged managed only."""
    template = (REPO_ROOT / "sql" / "shell" / "lease_watchdog.sh.j2").read_text()
    assert set(re.findall(r"\baws emr ([a-z-]+)", template)) == {
        "describe-cluster",
        "terminate-clusters",
    }
    statements = iam.load_policy(
        REPO_ROOT / "deploy" / "iam-instance-profile-policy.json",
        {"Region": REGION, "Account": ACCOUNT},
    )
    emr = boto3.client("emr", region_name=REGION)
    ours = start_tagged_cluster(emr, {"genre-assets:managed": "true"})
    other = start_tagged_cluster(emr, {"team": "analytics"})
    for cluster, allowed in ((ours, True), (other, False)):
        for operation, params in (
            ("DescribeCluster", {"ClusterId": cluster}),
            ("TerminateJobFlows", {"JobFlowIds": [cluster]}),
        ):
            assert _authorize(statements, "emr", operation, params).allowed is allowed
    assert not _allowed(statements, "elasticmapreduce:RunJobFlow", ["*"], {})


# -- the Athena engine's policy (deploy/iam-policy-athena.json) ------------------------------------
ATHENA_POLICY = REPO_ROOT / "deploy" / "iam-policy-athena.json"


def test_the_athena_policy_allows_exactly_the_calls_of_an_emulated_athena_run(
    monkeypatch, tmp_path, instance
):
    """From an empty catalog (every DDL runs), through the emulator's Athena: every call of the
    pipeline, and every read and write Athena makes with the pipeline's permissions, is allowed
    by deploy/iam-policy-athena.json, and each of its statements allows some of them."""
    from genre_assets_tests.emulator.test_e2e import LAKE, run_genres, upload_golden_lake
    from genre_assets_tests.support.aws import emulated_aws, iam_values

    genres = ["Comedy", "Drama", "Children's"]
    values = {**iam_values(LAKE), "Region": REGION, "Account": ACCOUNT, "WorkGroup": "primary"}
    with emulated_aws(monkeypatch, tmp_path, start_seconds=0.2, lake=LAKE, iam_policy=None) as aws:
        statements = iam.load_policy(ATHENA_POLICY, {k: values[k] for k in iam.ATHENA_PLACEHOLDERS})
        aws.api.use_policy(statements)
        for name, value in {
            "GENRE_ASSETS_DEPLOYMENT": "aws",
            "GENRE_ASSETS_LAKE": LAKE,
            "GENRE_ASSETS_AWS_ENGINE": "athena",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("GENRE_ASSETS_DATABASE", raising=False)
        upload_golden_lake(tmp_path)
        instance.add_dynamic_partitions("genre", genres)
        aws.api.clear()
        result = run_genres(instance, genres)
        assert result.success
        assert aws.api.denials() == []
        calls = aws.api.counts("pipeline")
        assert {"athena:StartQueryExecution", "athena:GetQueryExecution", "glue:GetTable"} <= set(
            calls
        )
        assert not any(c.startswith("elasticmapreduce:") for c in calls)
        # DDL ran through Athena: the database and the tables, as Glue calls on our behalf.
        assert len(aws.athena.executions()) >= 1 + 2 * 2 + 1 + 2 * len(genres)
        assert {s["Sid"] for s in statements} - set(aws.api.statements_used()) == set()


def test_the_athena_policy_refuses_other_workgroups_and_other_buckets():
    values = {
        "Bucket": "genre-lake",
        "Prefix": "data/",
        "Region": REGION,
        "Account": ACCOUNT,
        "Database": "movielens",
        "WorkGroup": "primary",
    }
    statements = iam.load_policy(ATHENA_POLICY, values)

    def athena(operation: str, params: dict) -> iam.Decision:
        return _authorize(statements, "athena", operation, params)

    assert athena("StartQueryExecution", {"WorkGroup": "primary", "QueryString": "x"}).allowed
    assert not athena("StartQueryExecution", {"WorkGroup": "admin", "QueryString": "x"}).allowed
    assert not athena("GetQueryExecution", {"QueryExecutionId": "unknown"}).allowed
    assert not _authorize(
        statements, "s3", "GetObject", {"Bucket": "other", "Key": "data/x"}
    ).allowed
    assert not _authorize(
        statements, "glue", "DeleteTable", {"DatabaseName": "other", "Name": "t"}
    ).allowed
    assert not _authorize(statements, "emr", "RunJobFlow", {}).allowed
