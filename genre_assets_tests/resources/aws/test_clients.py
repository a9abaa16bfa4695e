"""botocore's configuration failures become one ConfigurationError sentence naming the settings to
fix, in one place (`clients`), for the Glue/EMR clients and the S3 lake's alike."""

from __future__ import annotations

import os
import time

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)
from dagster_aws.s3 import S3Resource

from genre_assets.errors import ConfigurationError
from genre_assets.resources.aws.clients import (
    CONNECT_ATTEMPTS,
    AwsClientsResource,
    configuration_error,
)
from genre_assets.resources.aws.s3_lake import S3LakeResource
from genre_assets_tests.support.aws import LAKE_URI, REGION, refusing_endpoint


@pytest.fixture
def no_aws_settings(tmp_path, monkeypatch):
    """No AWS variable and empty AWS config files: each test sets what it needs."""
    empty = tmp_path / "empty-aws-config"
    empty.write_text("")
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


@pytest.mark.parametrize(
    ("error", "phrases"),
    [
        (NoRegionError(), ["no AWS region is configured", "AWS_DEFAULT_REGION", "AWS_PROFILE"]),
        (
            NoCredentialsError(),
            ["no AWS credentials", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"],
        ),
        (
            PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
            ["incomplete (AWS_SECRET_ACCESS_KEY is missing)", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"],
        ),
        (
            ProfileNotFound(profile="nope"),
            ["the AWS profile 'nope'", "aws configure --profile nope", "AWS_PROFILE"],
        ),
        (
            EndpointConnectionError(endpoint_url="https://glue.us-east-1.amazonaws.com/"),
            [
                "could not connect to https://glue.us-east-1.amazonaws.com (no connection",
                "AWS_DEFAULT_REGION",
                "set AWS_ENDPOINT_URL to a running `genre-assets emulate-aws`",
                "http://127.0.0.1:4566",
            ],
        ),
        (
            ConnectTimeoutError(endpoint_url="http://10.0.0.9:4566/bucket?list-type=2"),
            ["could not connect to http://10.0.0.9:4566 (timed out", "AWS_ENDPOINT_URL"],
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else "",
)
def test_each_configuration_failure_is_one_sentence_naming_its_settings(
    no_aws_settings, error, phrases
):
    explained = configuration_error(error)
    assert isinstance(explained, ConfigurationError)
    text = str(explained)
    assert "\n" not in text
    for phrase in phrases:
        assert phrase in text


def test_other_botocore_errors_are_left_alone():
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetDatabase")
    assert configuration_error(denied) is None
    assert configuration_error(ValueError("x")) is None


def test_a_client_without_a_region_is_a_configuration_error(no_aws_settings):
    with pytest.raises(ConfigurationError, match=r"no AWS region .* AWS_DEFAULT_REGION"):
        AwsClientsResource().client("glue")


def test_an_unknown_profile_is_a_configuration_error(no_aws_settings):
    no_aws_settings.setenv("AWS_PROFILE", "nope")
    with pytest.raises(ConfigurationError, match=r"the AWS profile 'nope' is not"):
        AwsClientsResource(region_name=REGION).client("glue")


def test_calls_without_credentials_are_a_configuration_error(no_aws_settings):
    with refusing_endpoint() as url:
        no_aws_settings.setenv("AWS_ENDPOINT_URL", url)
        glue = AwsClientsResource(region_name=REGION).client("glue")
        with pytest.raises(ConfigurationError, match=r"no AWS credentials .* AWS_PROFILE"):
            glue.get_databases()


def _count_attempts(client) -> list[str]:
    attempts: list[str] = []
    client.meta.events.register("before-send", lambda request, **_: attempts.append(request.url))
    return attempts


def test_an_unreachable_endpoint_is_tried_a_few_times_then_explained(no_aws_settings):
    no_aws_settings.setenv("AWS_ACCESS_KEY_ID", "testing")
    no_aws_settings.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with refusing_endpoint() as url:
        no_aws_settings.setenv("AWS_ENDPOINT_URL", url)
        glue = AwsClientsResource(region_name=REGION).client("glue")
        attempts = _count_attempts(glue)
        started = time.perf_counter()
        with pytest.raises(ConfigurationError) as raised:
            glue.get_databases()
        seconds = time.perf_counter() - started
    assert len(attempts) == CONNECT_ATTEMPTS == 3  # not the 8 that throttling gets
    assert seconds < 5, f"took {seconds:.1f} s"  # backoff before attempts 2 and 3: < 1 s + 2 s
    assert f"could not connect to {url} (no connection, 3 tries); AWS_ENDPOINT_URL is {url}" in (
        str(raised.value)
    )
    assert isinstance(raised.value.__cause__, EndpointConnectionError)


def test_the_s3_lake_explains_the_same_failures(no_aws_settings):
    no_aws_settings.setenv("AWS_ACCESS_KEY_ID", "testing")
    no_aws_settings.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with refusing_endpoint() as url:
        no_aws_settings.setenv("AWS_ENDPOINT_URL", url)
        lake = S3LakeResource(uri_root=LAKE_URI, s3=S3Resource(region_name=REGION))
        with pytest.raises(ConfigurationError, match=r"could not connect to .*emulate-aws"):
            lake.list_objects("movielens/movies/")
