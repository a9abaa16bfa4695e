"""The EMR request rules the emulator enforces, and the product's requests meet them; the query
console a cluster offers (its engine's only)."""

import threading
import time

import boto3
import pytest

from genre_assets.resources.aws import emr_cluster
from genre_assets_emulator import emr_rules
from genre_assets_emulator.steps import StepContext
from genre_assets_tests.support.aws import aws_resources, emulated_aws


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


@pytest.mark.parametrize("sql_engine", ["presto", "trino"])
def test_the_products_cluster_request_passes_every_rule(aws_env, sql_engine):
    """Genre keys with quotes and brackets reach the tags through the partition range."""
    engine = aws_resources(sql_engine=sql_engine)["engine"]
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


# -- the query consoles of a cluster: its engine's only --------------------------------------
def test_a_cluster_offers_the_console_of_its_own_query_engine_only():
    assert emr_rules.query_cli_installed("presto-cli", frozenset({"Hadoop", "Hive", "Presto"}))
    assert not emr_rules.query_cli_installed("trino-cli", frozenset({"Hadoop", "Hive", "Presto"}))
    assert emr_rules.query_cli_installed("trino-cli", frozenset({"hadoop", "TRINO"}))
    assert not emr_rules.query_cli_installed("presto-cli", frozenset({"Hadoop", "Hive", "Trino"}))
    assert not emr_rules.query_cli_installed("presto-cli", frozenset({"Hadoop"}))
    # A request that named no applications: what EMR installs is not documented, both run.
    assert emr_rules.query_cli_installed("presto-cli", None)
    assert emr_rules.query_cli_installed("trino-cli", None)


class _Application:
    """moto's record of one requested application."""

    def __init__(self, name: str | None) -> None:
        self.name = name


class _Cluster:
    def __init__(self, applications, configurations) -> None:
        self.applications, self.configurations = applications, configurations


def test_a_step_is_told_its_clusters_applications_and_each_engines_connector_properties(tmp_path):
    trino = _Cluster(
        [_Application("Hadoop"), _Application("Hive"), _Application("Trino")],
        [
            {"Classification": "hive-site", "Properties": {"x": "1"}},
            {"Classification": "trino-connector-hive", "Properties": {"hive.metastore": "glue"}},
        ],
    )
    context = StepContext.of_cluster(
        trino,
        endpoint_url="http://127.0.0.1:9",
        region="us-east-1",
        bin_dir=tmp_path,
        cancelled=threading.Event(),
    )
    assert context.applications == {"Hadoop", "Hive", "Trino"}
    assert context.trino_hive_properties == {"hive.metastore": "glue"}
    assert context.presto_hive_properties == {}
    # A request that names no applications: moto records one without a name. Not known.
    bare = StepContext.of_cluster(
        _Cluster([_Application(None)], []),
        endpoint_url="http://127.0.0.1:9",
        region="us-east-1",
        bin_dir=tmp_path,
        cancelled=threading.Event(),
    )
    assert bare.applications is None


def test_a_presto_cluster_has_no_trino_cli_and_a_trino_cluster_no_presto_cli(monkeypatch, tmp_path):
    """On the running emulator: each cluster's own console runs a query, the other one is not
    there (bash's exit 127), as on EMR, where the two engines never share a cluster."""

    def step(name: str, cli: str) -> dict:
        command = f"{cli} --catalog hive --output-format TSV --execute 'SELECT 6 * 7'"
        return {
            "Name": name,
            "ActionOnFailure": "CONTINUE",
            "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["bash", "-c", command]},
        }

    with emulated_aws(monkeypatch, tmp_path, start_seconds=0.2, iam_policy=None):
        emr = boto3.client("emr")
        started = {}
        for engine, own, other in (
            ("Presto", "presto-cli", "trino-cli"),
            ("Trino", "trino-cli", "presto-cli"),
        ):
            started[engine] = emr.run_job_flow(
                Name=engine.lower(),
                ReleaseLabel="emr-6.15.0",
                Applications=[{"Name": "Hadoop"}, {"Name": "Hive"}, {"Name": engine}],
                Instances={
                    "KeepJobFlowAliveWhenNoSteps": True,
                    "InstanceCount": 1,
                    "MasterInstanceType": "m5.xlarge",
                },
                Steps=[step("own", own), step("other", other)],
                JobFlowRole="EMR_EC2_DefaultRole",
                ServiceRole="EMR_DefaultRole",
            )["JobFlowId"]

        def steps(cluster_id: str) -> dict[str, dict]:
            listed = emr.list_steps(ClusterId=cluster_id)["Steps"]
            return {s["Name"]: s["Status"] for s in listed}

        deadline = time.monotonic() + 120
        while any(
            {s["State"] for s in steps(c).values()} - {"COMPLETED", "FAILED"}
            for c in started.values()
        ):
            assert time.monotonic() < deadline, "the steps did not finish"
            time.sleep(0.1)
        for engine, cluster_id in started.items():
            status = steps(cluster_id)
            other = "trino-cli" if engine == "Presto" else "presto-cli"
            assert status["own"]["State"] == "COMPLETED", (engine, status["own"])
            assert status["other"]["State"] == "FAILED", (engine, status["other"])
            reason = status["other"]["StateChangeReason"]["Message"]
            assert reason.startswith("Step failed with exitCode 127"), reason
            assert f"{other}: command not found" in reason
        emr.terminate_job_flows(JobFlowIds=list(started.values()))
