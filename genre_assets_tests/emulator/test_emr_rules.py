"""The EMR request rules the emulator enforces, and the product's requests meet them."""

import pytest

from genre_assets.resources.aws import emr_cluster
from genre_assets_emulator import emr_rules
from genre_assets_tests.support.aws import aws_resources


def _request(**changes):
    request = {
        "ReleaseLabel": "emr-6.15.0",
        "Applications": [{"Name": "Hadoop"}, {"Name": "Hive"}, {"Name": "Presto"}],
        "Tags": [{"Key": "dagster/partitions", "Value": "Comedy...Drama"}],
        "AutoTerminationPolicy": {"IdleTimeout": 1800},
    }
    request.update(changes)
    return request


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        # The original defect: genre keys in a tag value.
        (
            {"Tags": [{"Key": "dagster/partitions", "Value": "(no genres listed)"}]},
            r"contains '\(\)'",
        ),
        ({"Tags": [{"Key": "dagster/partitions", "Value": "Children's"}]}, 'contains "\'"'),
        ({"Tags": [{"Key": "k" * 129, "Value": "v"}]}, "1 to 128 characters"),
        ({"Tags": [{"Key": "k", "Value": "v" * 257}]}, "longer than 256"),
        ({"Tags": [{"Key": "aws:owner", "Value": "me"}]}, "aws: prefix is reserved"),
        ({"Tags": [{"Key": "k", "Value": None}]}, "empty but not null"),
        (
            {"Applications": [{"Name": "Hive"}, {"Name": "Presto"}, {"Name": "Trino"}]},
            "same cluster",
        ),
        ({"Applications": [{"Name": "Hive"}, {"Name": "Impala"}]}, "Impala are not available"),
        ({"AutoTerminationPolicy": {"IdleTimeout": 30}}, "outside 60 to 604800"),
        (
            {
                "StepConcurrencyLevel": 2,
                "Steps": [{"Name": "s", "ActionOnFailure": "CANCEL_AND_WAIT"}],
            },
            "other than CONTINUE",
        ),
    ],
)
def test_requests_emr_refuses_are_refused(changes, message):
    with pytest.raises(emr_rules.InvalidRequest, match=message):
        emr_rules.check_run_job_flow(_request(**changes))


def test_what_emr_accepts_is_accepted():
    emr_rules.check_run_job_flow(_request())
    emr_rules.check_run_job_flow(
        _request(
            Tags=[{"Key": "team", "Value": ""}, {"Key": "ünïcode 1", "Value": "a.b:c/d=e+f-g@h_i"}]
        )
    )
    emr_rules.check_run_job_flow(_request(ReleaseLabel="emr-7.5.0"))  # no list: not checked
    emr_rules.check_action_on_failure([{"Name": "s", "ActionOnFailure": "CANCEL_AND_WAIT"}], 1)


def test_the_products_cluster_request_passes_every_rule(aws_env):
    """Genre keys with quotes and brackets reach the tags through the partition range."""
    engine = aws_resources()["engine"]
    engine._run_tags = {"dagster/partitions": "(no genres listed)...Children's"}
    request = engine.job_flow_request()
    emr_rules.check_run_job_flow(request)
    tags = {t["Key"]: t["Value"] for t in request["Tags"]}
    assert tags["dagster/partitions"] == "_no genres listed_...Children_s"


def test_product_tag_values_are_cut_to_256_and_bad_keys_are_refused():
    assert len(emr_cluster.tag_value("x" * 300)) == 256
    assert emr_cluster.tag_value("Sci-Fi, IMAX & more") == "Sci-Fi_ IMAX _ more"
    with pytest.raises(Exception, match="aws: prefix is reserved"):
        emr_cluster.tag_list({"aws:x": "1"})
    with pytest.raises(Exception, match="not allowed"):
        emr_cluster.tag_list({"team(1)": "1"})


def test_the_running_emulator_answers_a_bad_request_as_emr_does(monkeypatch, tmp_path, aws_env):
    """The original request, with a genre range in a tag value, is a ValidationException."""
    import boto3
    from botocore.exceptions import ClientError

    from genre_assets_tests.support.aws import emulated_aws

    engine = aws_resources()["engine"]
    engine._run_tags = {"dagster/partitions": "(no genres listed)"}
    good = engine.job_flow_request()
    bad = {
        **good,
        "Tags": [*good["Tags"], {"Key": "dagster/partitions", "Value": "(no genres listed)"}],
    }
    with emulated_aws(monkeypatch, tmp_path, start_seconds=0.2, iam_policy=None) as aws:
        emr = boto3.client("emr")
        with pytest.raises(ClientError) as refused:
            emr.run_job_flow(**bad)
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert "contains '()'" in refused.value.response["Error"]["Message"]
        cluster_id = emr.run_job_flow(**good)["JobFlowId"]
        assert aws.api.invalid_requests() == [
            f"RunJobFlow: {refused.value.response['Error']['Message']}"
        ]
        emr.terminate_job_flows(JobFlowIds=[cluster_id])
