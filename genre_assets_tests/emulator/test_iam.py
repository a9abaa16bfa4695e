"""The emulator's IAM: the policy evaluator, what each API call needs, the shipped policy against
those needs, and a running emulator refusing the pipeline what AWS would refuse it."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from genre_assets_emulator import AwsEmulator, iam
from genre_assets_emulator.middleware import HARNESS_USER_AGENT, s3_params
from genre_assets_tests.support.aws import IAM_POLICY, iam_values

ACCOUNT = "123456789012"
REGION = "us-east-1"
VALUES = {
    "Bucket": "lake",
    "Prefix": "data/",
    "Region": REGION,
    "Account": ACCOUNT,
    "Database": "movielens",
    "ServiceRole": "EMR_DefaultRole",
    "InstanceProfileRole": "EMR_EC2_DefaultRole",
}
CLUSTERS = f"arn:aws:elasticmapreduce:{REGION}:{ACCOUNT}:cluster"
MANAGED = {"genre-assets:managed": "true", "dagster/run_id": "r-1"}
LEASE = "genre-assets:lease-expires"


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _run_job_flow(tags: dict[str, str], **roles: str) -> dict:
    """The parts of the pipeline's RunJobFlow request IAM looks at."""
    return {
        "Name": "genre-assets-r-1",
        "ServiceRole": roles.get("ServiceRole", "EMR_DefaultRole"),
        "JobFlowRole": roles.get("JobFlowRole", "EMR_EC2_DefaultRole"),
        "Tags": _tags(tags),
    }


def _authorize(statements, service, operation, params, cluster_tags=None) -> iam.Decision:
    return iam.authorize(
        statements,
        service,
        operation,
        params,
        account=ACCOUNT,
        region=REGION,
        cluster_tags_lookup=lambda cluster_id: (cluster_tags or {}).get(cluster_id),
    )


@pytest.fixture
def shipped() -> list[dict]:
    return iam.load_policy(IAM_POLICY, VALUES)


# -- the evaluator ------------------------------------------------------------------------------
ALLOW_OBJECTS = {
    "Sid": "Objects",
    "Effect": "Allow",
    "Action": "s3:Get*",
    "Resource": "arn:aws:s3:::lake/data/*",
}


def test_an_explicit_deny_wins_over_any_allow():
    deny = {
        "Sid": "NoSecrets",
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::lake/data/secret/*",
    }
    assert iam.evaluate(
        [ALLOW_OBJECTS], "s3:GetObject", "arn:aws:s3:::lake/data/secret/k", {}
    ).allowed
    decision = iam.evaluate(
        [ALLOW_OBJECTS, deny], "s3:GetObject", "arn:aws:s3:::lake/data/secret/k", {}
    )
    assert not decision.allowed and decision.explicit_deny
    assert "NoSecrets" in decision.reason
    assert iam.evaluate(
        [ALLOW_OBJECTS, deny], "s3:GetObject", "arn:aws:s3:::lake/data/k", {}
    ).allowed


def test_nothing_is_allowed_without_a_matching_allow():
    decision = iam.evaluate([ALLOW_OBJECTS], "s3:PutObject", "arn:aws:s3:::lake/data/k", {})
    assert not decision.allowed and not decision.explicit_deny
    assert decision.reason == "no statement allows s3:PutObject on arn:aws:s3:::lake/data/k"
    assert not iam.evaluate([], "s3:GetObject", "arn:aws:s3:::lake/data/k", {}).allowed


def test_actions_match_case_insensitively_resources_case_sensitively_with_wildcards():
    statement = {
        "Effect": "Allow",
        "Action": ["elasticmapreduce:Describe*", "glue:GetTabl?"],
        "Resource": ["arn:aws:s3:::lake/data/?/*.tsv", "arn:aws:glue:*"],
    }
    arn = "arn:aws:s3:::lake/data/a/x.tsv"
    assert iam.evaluate([statement], "ElasticMapReduce:describecluster", arn, {}).allowed
    assert iam.evaluate([statement], "glue:gettable", "arn:aws:glue:r:1:table/d/t", {}).allowed
    assert not iam.evaluate([statement], "glue:GetTables", "arn:aws:glue:r:1:x", {}).allowed
    assert not iam.evaluate(
        [statement], "elasticmapreduce:DescribeCluster", arn.upper(), {}
    ).allowed
    assert not iam.evaluate(
        [statement], "elasticmapreduce:DescribeCluster", "arn:aws:s3:::lake/data/ab/x.tsv", {}
    ).allowed
    # Only * and ? are wildcards: brackets are literal, as in IAM.
    literal = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::l/[ab]"}
    assert iam.evaluate([literal], "s3:GetObject", "arn:aws:s3:::l/[ab]", {}).allowed
    assert not iam.evaluate([literal], "s3:GetObject", "arn:aws:s3:::l/a", {}).allowed


def test_string_like_conditions_and_multiple_values_are_ored():
    statement = {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": "*",
        "Condition": {
            "StringLike": {"iam:PassedToService": ["elasticmapreduce.amazonaws.com*", "ec2.*"]}
        },
    }
    for service in ("elasticmapreduce.amazonaws.com", "elasticmapreduce.amazonaws.com.cn"):
        assert iam.evaluate(
            [statement], "iam:PassRole", "r", {"iam:PassedToService": service}
        ).allowed
    assert iam.evaluate([statement], "iam:PassRole", "r", {"iam:PassedToService": "ec2.x"}).allowed
    # StringLike is case-sensitive; StringEquals has no wildcards.
    assert not iam.evaluate(
        [statement], "iam:PassRole", "r", {"iam:PassedToService": "EC2.x"}
    ).allowed
    equals = {**statement, "Condition": {"StringEquals": {"iam:PassedToService": "ec2.*"}}}
    assert not iam.evaluate([equals], "iam:PassRole", "r", {"iam:PassedToService": "ec2.x"}).allowed
    assert iam.evaluate([equals], "iam:PassRole", "r", {"iam:PassedToService": "ec2.*"}).allowed


def test_a_missing_condition_key_fails_a_positive_operator_and_passes_a_negated_one():
    def statement(operator: str) -> dict:
        return {
            "Effect": "Allow",
            "Action": "elasticmapreduce:RunJobFlow",
            "Resource": "*",
            "Condition": {operator: {"aws:RequestTag/team": "data"}},
        }

    tagged = {"aws:RequestTag/team": "data"}
    for operator in ("StringEquals", "StringLike"):
        assert iam.evaluate(
            [statement(operator)], "elasticmapreduce:RunJobFlow", "*", tagged
        ).allowed
        decision = iam.evaluate([statement(operator)], "elasticmapreduce:RunJobFlow", "*", {})
        assert not decision.allowed
        assert "key absent" in decision.reason  # the reason names the failed condition
    assert iam.evaluate(
        [statement("StringNotEquals")], "elasticmapreduce:RunJobFlow", "*", {}
    ).allowed
    assert not iam.evaluate(
        [statement("StringNotEquals")], "elasticmapreduce:RunJobFlow", "*", tagged
    ).allowed
    assert iam.evaluate(
        [statement("StringEqualsIfExists")], "elasticmapreduce:RunJobFlow", "*", {}
    ).allowed
    # Condition keys are case-insensitive; all conditions of a statement must hold.
    both = {
        "Effect": "Allow",
        "Action": "*",
        "Resource": "*",
        "Condition": {
            "StringEquals": {"AWS:requesttag/Team": "data"},
            "Null": {"aws:RequestTag/secret": "true"},
        },
    }
    assert iam.evaluate([both], "elasticmapreduce:RunJobFlow", "*", tagged).allowed
    assert not iam.evaluate(
        [both], "elasticmapreduce:RunJobFlow", "*", {**tagged, "aws:RequestTag/secret": "x"}
    ).allowed


def test_set_operators_on_multi_valued_keys():
    def statement(operator: str) -> dict:
        return {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*",
            "Condition": {operator: {"aws:TagKeys": ["genre-assets:*", "dagster/*"]}},
        }

    ours = {"aws:TagKeys": ["genre-assets:managed", "dagster/run_id"]}
    mixed = {"aws:TagKeys": ["genre-assets:managed", "owner"]}
    assert iam.evaluate([statement("ForAllValues:StringLike")], "a:B", "*", ours).allowed
    assert not iam.evaluate([statement("ForAllValues:StringLike")], "a:B", "*", mixed).allowed
    assert iam.evaluate([statement("ForAnyValue:StringLike")], "a:B", "*", mixed).allowed
    assert not iam.evaluate([statement("ForAnyValue:StringLike")], "a:B", "*", {}).allowed


def test_for_all_values_is_vacuously_true_unless_null_false_requires_values():
    only_lease = {"ForAllValues:StringEquals": {"aws:TagKeys": ["genre-assets:lease-expires"]}}

    def allowed(conditions: dict, context: dict) -> bool:
        statement = {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": conditions}
        return iam.evaluate([statement], "elasticmapreduce:AddTags", "*", context).allowed

    lease = {"aws:TagKeys": ["genre-assets:lease-expires"]}
    more = {"aws:TagKeys": ["genre-assets:lease-expires", "genre-assets:deployment"]}
    # AWS: ForAllValues "also returns true if there are no context keys in the request".
    assert allowed(only_lease, lease) and not allowed(only_lease, more)
    assert allowed(only_lease, {}) and allowed(only_lease, {"aws:TagKeys": []})
    # Null "false" needs the key present with a value: no key and no values both fail it.
    guarded = {**only_lease, "Null": {"aws:TagKeys": "false"}}
    assert allowed(guarded, lease) and not allowed(guarded, more)
    assert not allowed(guarded, {}) and not allowed(guarded, {"aws:TagKeys": []})
    assert allowed({"Null": {"aws:TagKeys": "true"}}, {"aws:TagKeys": []})
    assert not allowed({"Null": {"aws:TagKeys": "true"}}, lease)
    # "Context keys with empty values" count as null too: an empty tag value (EMR allows one).
    assert not allowed({"Null": {"aws:RequestTag/note": "false"}}, {"aws:RequestTag/note": ""})
    assert allowed({"Null": {"aws:RequestTag/note": "false"}}, {"aws:RequestTag/note": "x"})


def test_load_policy_fills_placeholders_and_refuses_what_it_cannot_judge(tmp_path):
    statements = iam.load_policy(IAM_POLICY, VALUES)
    assert "${" not in json.dumps(statements)
    with pytest.raises(ValueError, match="Bucket"):
        iam.load_policy(IAM_POLICY, {k: v for k, v in VALUES.items() if k != "Bucket"})
    odd = tmp_path / "odd.json"
    odd.write_text(
        json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "*",
                        "Resource": "*",
                        "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}},
                    }
                ]
            }
        )
    )
    with pytest.raises(ValueError, match="DateGreaterThan"):
        iam.load_policy(odd, {})


# -- what each call needs -----------------------------------------------------------------------
def test_a_tagged_run_job_flow_needs_add_tags_and_a_pass_role_per_role():
    requests = iam.required_permissions(
        "elasticmapreduce",
        "RunJobFlow",
        _run_job_flow(MANAGED),
        account=ACCOUNT,
        region=REGION,
        cluster_tags_lookup=lambda cluster_id: None,
    )
    tag_context = {
        "aws:RequestTag/genre-assets:managed": "true",
        "aws:RequestTag/dagster/run_id": "r-1",
    }
    run, add_tags, service_role, ec2_role = requests
    assert (run.action, run.resource_arns) == ("elasticmapreduce:RunJobFlow", ("*",))
    assert tag_context.items() <= run.context.items()
    assert sorted(run.context["aws:TagKeys"]) == sorted(MANAGED)
    assert (add_tags.action, add_tags.resource_arns) == (
        "elasticmapreduce:AddTags",
        (f"{CLUSTERS}/*",),
    )
    assert tag_context.items() <= add_tags.context.items()
    assert service_role == iam.Request(
        "iam:PassRole",
        (f"arn:aws:iam::{ACCOUNT}:role/EMR_DefaultRole",),
        {"iam:PassedToService": "elasticmapreduce.amazonaws.com"},
    )
    # JobFlowRole is an instance profile; its role has the same name and goes to EC2.
    assert ec2_role == iam.Request(
        "iam:PassRole",
        (f"arn:aws:iam::{ACCOUNT}:role/EMR_EC2_DefaultRole",),
        {"iam:PassedToService": "ec2.amazonaws.com"},
    )
    untagged = iam.required_permissions(
        "emr",
        "RunJobFlow",
        _run_job_flow({}),
        account=ACCOUNT,
        region=REGION,
        cluster_tags_lookup=lambda cluster_id: None,
    )
    assert [r.action for r in untagged] == [
        "elasticmapreduce:RunJobFlow",
        "iam:PassRole",
        "iam:PassRole",
    ]


def test_calls_on_a_cluster_carry_its_tags_and_glue_calls_their_ancestors():
    def needs(service, operation, params):
        return iam.required_permissions(
            service,
            operation,
            params,
            account=ACCOUNT,
            region=REGION,
            cluster_tags_lookup={"j-1": MANAGED}.get,
        )

    (describe,) = needs("emr", "DescribeCluster", {"ClusterId": "j-1"})
    assert describe.resource_arns == (f"{CLUSTERS}/j-1",)
    assert describe.context["aws:ResourceTag/genre-assets:managed"] == "true"
    assert describe.context["elasticmapreduce:ResourceTag/genre-assets:managed"] == "true"
    (foreign,) = needs("emr", "TerminateJobFlows", {"JobFlowIds": ["j-2"]})
    assert foreign.resource_arns == (f"{CLUSTERS}/j-2",) and foreign.context == {}
    (instances,) = needs("emr", "ListInstances", {"ClusterId": "j-1"})
    assert instances.action == "elasticmapreduce:ListInstances"
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    (table,) = needs("glue", "GetTable", {"DatabaseName": "movielens", "Name": "drama_films"})
    assert table.resource_arns == (
        f"{glue}:catalog",
        f"{glue}:database/movielens",
        f"{glue}:table/movielens/drama_films",
    )
    (tables,) = needs("glue", "GetTables", {"DatabaseName": "movielens"})
    assert tables.resource_arns[-1] == f"{glue}:table/movielens/*"
    (listing,) = needs("s3", "ListObjectsV2", {"Bucket": "lake", "Prefix": "data/x/"})
    assert listing == iam.Request("s3:ListBucket", ("arn:aws:s3:::lake",), {"s3:prefix": "data/x/"})
    (head,) = needs("s3", "HeadObject", {"Bucket": "lake", "Key": "data/k"})
    assert head.action == "s3:GetObject"
    with pytest.raises(iam.UnmappedOperation, match="ListNotebookExecutions"):
        needs("emr", "ListNotebookExecutions", {})


def test_add_tags_carries_the_clusters_tags_the_request_tags_and_their_keys():
    def needs(tags):
        return iam.required_permissions(
            "emr",
            "AddTags",
            {"ResourceId": "j-1", "Tags": _tags(tags)},
            account=ACCOUNT,
            region=REGION,
            cluster_tags_lookup={"j-1": MANAGED}.get,
        )

    (renewal,) = needs({LEASE: "2026-11-26T09:30:00Z"})
    assert (renewal.action, renewal.resource_arns) == (
        "elasticmapreduce:AddTags",
        (f"{CLUSTERS}/j-1",),
    )
    assert renewal.context["aws:ResourceTag/genre-assets:managed"] == "true"
    assert renewal.context["aws:RequestTag/" + LEASE] == "2026-11-26T09:30:00Z"
    assert renewal.context["aws:TagKeys"] == [LEASE]
    (empty,) = needs({})
    assert empty.context["aws:TagKeys"] == []


def test_the_emulator_reads_s3_parameters_off_the_request():
    assert s3_params("/lake/data/movielens/x.csv", "", {}) == {
        "Bucket": "lake",
        "Key": "data/movielens/x.csv",
    }
    assert s3_params("/lake", "list-type=2&prefix=data%2Fm%2F&delimiter=%2F", {}) == {
        "Bucket": "lake",
        "Prefix": "data/m/",
        "Delimiter": "/",
    }


# -- the shipped policy against the pipeline's calls --------------------------------------------
def test_the_shipped_policy_lets_the_pipeline_start_a_tagged_cluster(shipped):
    decision = _authorize(shipped, "emr", "RunJobFlow", _run_job_flow(MANAGED))
    assert decision.allowed, decision.reason


def test_without_add_tags_the_shipped_policy_denies_a_tagged_run_job_flow(shipped):
    # The lease renewal statement grants AddTags too, but only on a cluster already tagged
    # managed: it cannot stand in for tag-on-create, where the cluster has no tags yet.
    without = [s for s in shipped if s.get("Sid") != "TagOnlyTheClustersWeStart"]
    assert len(without) == len(shipped) - 1
    decision = _authorize(without, "emr", "RunJobFlow", _run_job_flow(MANAGED))
    assert not decision.allowed
    assert (decision.action, decision.resource) == ("elasticmapreduce:AddTags", f"{CLUSTERS}/*")


def test_the_shipped_policy_refuses_what_the_pipeline_must_not_do(shipped):
    refused = [
        ("emr", "RunJobFlow", _run_job_flow({"dagster/run_id": "r-1"})),  # not managed
        ("emr", "RunJobFlow", _run_job_flow(MANAGED, ServiceRole="Admin")),
        # Each role goes to its own service: the EC2 role is no EMR service role.
        ("emr", "RunJobFlow", _run_job_flow(MANAGED, ServiceRole="EMR_EC2_DefaultRole")),
        ("emr", "DescribeCluster", {"ClusterId": "j-FOREIGN"}),
        ("emr", "ListReleaseLabels", {}),
        ("s3", "GetObject", {"Bucket": "lake", "Key": "other/k"}),
        ("s3", "ListObjectsV2", {"Bucket": "lake", "Prefix": "other/"}),
        ("s3", "ListObjectsV2", {"Bucket": "lake"}),
        ("s3", "DeleteObject", {"Bucket": "lake", "Key": "data/k"}),
        ("glue", "GetTable", {"DatabaseName": "other", "Name": "t"}),
        ("glue", "DeleteTable", {"DatabaseName": "movielens", "Name": "t"}),
    ]
    for service, operation, params in refused:
        assert not _authorize(shipped, service, operation, params).allowed, (operation, params)
    allowed = [
        ("emr", "DescribeCluster", {"ClusterId": "j-OURS"}),
        ("emr", "ListInstances", {"ClusterId": "j-OURS"}),
        ("emr", "ListInstanceFleets", {"ClusterId": "j-OURS"}),
        ("emr", "ListClusters", {}),
        ("s3", "ListObjectsV2", {"Bucket": "lake", "Prefix": "data/movielens/", "Delimiter": "/"}),
        ("glue", "GetTables", {"DatabaseName": "movielens"}),
    ]
    for service, operation, params in allowed:
        decision = _authorize(shipped, service, operation, params, {"j-OURS": MANAGED})
        assert decision.allowed, (operation, decision.reason)


def _renewal(*extra: tuple[str, str]) -> dict:
    """The lease renewal the engine's LeaseKeeper sends, plus any extra tags."""
    return {"ResourceId": "j-1", "Tags": _tags(dict([(LEASE, "2026-11-26T09:30:00Z"), *extra]))}


def test_the_shipped_policy_allows_lease_renewals_on_managed_clusters_only(shipped):
    managed = {"j-1": {**MANAGED, "genre-assets:deployment": "production"}}
    decision = _authorize(shipped, "emr", "AddTags", _renewal(), managed)
    assert decision.allowed and decision.statement == "RenewTheLeaseOfOurClusters", decision.reason
    # Any other key in the request, even with the lease key, and the renewal statement is out.
    for extra in (
        ("genre-assets:deployment", "other"),
        ("dagster/run_id", "r-2"),
        ("genre-assets:deadline", "2099-01-01T00:00:00Z"),
        ("genre-assets:managed", "false"),
        ("owner", "me"),
    ):
        decision = _authorize(shipped, "emr", "AddTags", _renewal(extra), managed)
        assert not decision.allowed, (extra, decision.reason)
        assert "RenewTheLeaseOfOurClusters: ForAllValues:StringEquals aws:TagKeys" in (
            decision.reason
        )
    # The lease key alone on a cluster not tagged genre-assets:managed=true (or unknown).
    for tags in (
        {"j-1": {"dagster/run_id": "r-1"}},
        {"j-1": {"genre-assets:managed": "false"}},
        {},
    ):
        decision = _authorize(shipped, "emr", "AddTags", _renewal(), tags)
        assert not decision.allowed, (tags, decision.reason)
    # No tags at all: ForAllValues would hold vacuously; the Null guard refuses it.
    for params in ({"ResourceId": "j-1", "Tags": []}, {"ResourceId": "j-1"}):
        decision = _authorize(shipped, "emr", "AddTags", params, managed)
        assert not decision.allowed, decision.reason
        assert "Null aws:TagKeys" in decision.reason
    # Removing tags is never allowed.
    assert not _authorize(
        shipped, "emr", "RemoveTags", {"ResourceId": "j-1", "TagKeys": [LEASE]}, managed
    ).allowed


def test_known_gap_an_add_tags_that_also_sets_the_managed_tag_is_allowed(shipped):
    """Documented, not fixed (docs/aws-fidelity.md): tag-on-create needs AddTags with
    `genre-assets:managed=true`, and no condition key tells RunJobFlow's implied AddTags from a
    later one, so such a request is allowed on any cluster, whatever else it adds. When the
    policy closes this, this test fails: turn it into a denial test then."""
    managed = {"j-1": MANAGED}
    decision = _authorize(
        shipped, "emr", "AddTags", _renewal(("genre-assets:managed", "true")), managed
    )
    assert decision.allowed
    assert decision.statement == "TagOnlyTheClustersWeStart"


# -- a running emulator -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def enforcing():
    with AwsEmulator(
        start_seconds=0.1, iam_policy=IAM_POLICY, iam_values=iam_values("s3://lake/data")
    ) as aws:
        yield aws


def _client(aws: AwsEmulator, service: str, user_agent_extra: str | None = None):
    return boto3.session.Session().client(
        service,
        endpoint_url=aws.endpoint_url,
        region_name=aws.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
        config=Config(user_agent_extra=user_agent_extra, retries={"max_attempts": 1}),
    )


def _code(call) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"]


def test_the_emulator_refuses_the_pipeline_what_the_policy_does_not_allow(enforcing):
    aws = enforcing
    assert aws.enforces_iam and aws.api is not None
    harness = _client(aws, "s3", HARNESS_USER_AGENT)
    harness.create_bucket(Bucket="lake")
    harness.put_object(Bucket="lake", Key="other/secret.csv", Body=b"x")
    s3, emr = _client(aws, "s3"), _client(aws, "emr")  # botocore's own User-Agent: the pipeline

    # Allowed: the lake under its prefix, a tagged cluster and what the run does with it.
    s3.put_object(Bucket="lake", Key="data/movielens/movies/movies.csv", Body=b"movieId\n")
    assert s3.get_object(Bucket="lake", Key="data/movielens/movies/movies.csv")["Body"].read()
    listed = s3.list_objects_v2(Bucket="lake", Prefix="data/movielens/movies/", Delimiter="/")
    assert [o["Key"] for o in listed["Contents"]] == ["data/movielens/movies/movies.csv"]
    cluster_id = emr.run_job_flow(
        Name="genre-assets-r-1",
        ReleaseLabel="emr-6.15.0",
        Instances={
            "KeepJobFlowAliveWhenNoSteps": True,
            "InstanceCount": 1,
            "MasterInstanceType": "m5.xlarge",
        },
        ServiceRole="EMR_DefaultRole",
        JobFlowRole="EMR_EC2_DefaultRole",
        Tags=_tags(MANAGED),
    )["JobFlowId"]
    assert emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Id"] == cluster_id
    emr.add_tags(ResourceId=cluster_id, Tags=_tags({LEASE: "2026-11-26T09:30:00Z"}))
    assert aws.api.denials() == []

    # Refused, as AWS refuses them.
    assert _code(lambda: emr.list_release_labels()) == "AccessDeniedException"
    assert _code(lambda: s3.get_object(Bucket="lake", Key="other/secret.csv")) == "AccessDenied"
    assert _code(lambda: s3.list_objects_v2(Bucket="lake")) == "AccessDenied"
    untagged = {**_run_job_flow({"dagster/run_id": "r-2"}), "Instances": {"InstanceCount": 1}}
    assert _code(lambda: emr.run_job_flow(**untagged, ReleaseLabel="emr-6.15.0")) == (
        "AccessDeniedException"
    )
    with pytest.raises(ClientError) as raised:
        emr.list_release_labels()
    message = raised.value.response["Error"]["Message"]
    assert message == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/genre-assets-pipeline/emulated-run is not "
        "authorized to perform: elasticmapreduce:ListReleaseLabels on resource: * because no "
        "identity-based policy allows the elasticmapreduce:ListReleaseLabels action"
    )
    denied = [(d.operation, d.action) for d in aws.api.denials()]
    assert denied[:4] == [
        ("ListReleaseLabels", "elasticmapreduce:ListReleaseLabels"),
        ("GetObject", "s3:GetObject"),
        ("ListObjectsV2", "s3:ListBucket"),
        ("RunJobFlow", "elasticmapreduce:RunJobFlow"),
    ]
    renewal_with_owner = _tags({LEASE: "2026-11-26T09:31:00Z", "genre-assets:deployment": "x"})
    assert _code(lambda: emr.add_tags(ResourceId=cluster_id, Tags=renewal_with_owner)) == (
        "AccessDeniedException"
    )
    tags = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Tags"]
    assert {t["Key"]: t["Value"] for t in tags}[LEASE] == "2026-11-26T09:30:00Z"
    # Refused calls reach neither moto nor the cluster executor; the harness is never checked.
    assert [
        c["Id"] for c in _client(aws, "emr", HARNESS_USER_AGENT).list_clusters()["Clusters"]
    ] == [cluster_id]
    assert harness.get_object(Bucket="lake", Key="other/secret.csv")["Body"].read() == b"x"


def test_an_emulator_without_a_policy_enforces_nothing():
    with AwsEmulator(start_seconds=0.1) as aws:
        assert not aws.enforces_iam
        emr = _client(aws, "emr")
        assert "ReleaseLabels" in emr.list_release_labels()
        assert aws.api is not None and aws.api.denials() == []


def test_emulate_aws_fills_the_policy_from_the_lake_and_the_pipeline_environment():
    from genre_assets_emulator import cli

    assert cli.resolve_iam_policy(None) == cli.DEFAULT_IAM_POLICY == Path(IAM_POLICY).resolve()
    assert cli.resolve_iam_policy("none") is None
    with pytest.raises(ValueError, match="no such file"):
        cli.resolve_iam_policy("/no/such/policy.json")
    assert cli.iam_values("s3://lake/some/prefix/", {"GENRE_ASSETS_DATABASE": "films"}) == {
        "Bucket": "lake",
        "Prefix": "some/prefix/",
        "Database": "films",
        "ServiceRole": "*",
        "InstanceProfileRole": "*",
    }
    assert cli.iam_values(None, {})["Bucket"] == cli.iam_values(None, {})["Prefix"] == "*"
