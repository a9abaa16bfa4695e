"""AWS faults against moto: S3 errors mid-run, throttling, and secrets kept out of the event log."""

import boto3
import botocore.client
import dagster as dg
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from dagster_shared.serdes import serialize_value

from genre_assets.assets import ALL_ASSETS
from genre_assets.partitions import range_tags
from genre_assets_tests.support.aws import REGION, aws_resources, clusters

GENRES = ["Comedy", "Drama"]


def _run(resources, instance):
    instance.add_dynamic_partitions("genre", GENRES)
    result = dg.materialize(
        ALL_ASSETS,
        resources=resources,
        instance=instance,
        tags=range_tags(GENRES[0], GENRES[-1]),
        raise_on_error=False,
    )
    return result, instance


def test_an_s3_error_while_uploading_the_export_script_ends_the_cluster(
    instance, aws_env, step_driver, monkeypatch
):
    real_call = botocore.client.BaseClient._make_api_call

    def failing_call(client, operation, params):
        key = params.get("Key", "")
        if operation == "PutObject" and "/genre-films-" in key and key.endswith(".sh"):
            raise ClientError(
                {"Error": {"Code": "InternalError", "Message": "We encountered an internal error"}},
                operation,
            )
        return real_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", failing_call)
    result, _ = _run(aws_resources(), instance)
    assert not result.success
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert failure.step_key == "genre_film_export"
    assert "internal error" in failure.step_failure_data.error.to_string()
    # The cluster started for the Hive steps is gone, and no export was written.
    assert clusters() and all(c.state == "TERMINATED" for c in clusters())
    listed = boto3.client("s3", region_name=REGION).list_objects_v2(
        Bucket="genre-lake", Prefix="data/movielens/comedy/"
    )
    assert "Contents" not in listed


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_kwargs):
        yield self._body


def test_throttled_glue_calls_are_retried(aws_env):
    with dg.build_resources(aws_resources()) as resources:
        glue = resources.catalog.aws.client("glue")
        boto3.client("glue", region_name=REGION).create_database(
            DatabaseInput={"Name": "movielens"}
        )
        attempts = []

        def throttle_twice(request, **_kwargs):
            attempts.append(request.url)
            if len(attempts) <= 2:
                body = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'
                return AWSResponse(
                    request.url, 400, {"x-amzn-errortype": "ThrottlingException"}, _Raw(body)
                )
            return None

        glue.meta.events.register("before-send.glue.GetDatabase", throttle_twice)
        assert resources.catalog.database_exists() is True
        assert len(attempts) == 3


SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCY-SECRETKEY"
TOKEN = "FwoGZXIvYXdzEJr-SESSION-TOKEN-9f8e7d6c5b4a"


def test_credentials_never_reach_logs_metadata_or_run_config(
    aws_env, step_driver, monkeypatch, instance
):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEKEYDONOTLOG01")
    result, instance = _run(aws_resources(), instance)
    assert result.success
    run = instance.get_run_by_id(result.run_id)
    haystack = serialize_value(run) + "".join(
        serialize_value(e) for e in instance.all_logs(result.run_id)
    )
    assert "emr_cluster_id" in haystack  # the scan does see the metadata
    assert SECRET not in haystack and TOKEN not in haystack
    assert "AKIAFAKEKEYDONOTLOG01" not in haystack  # the access key id either
