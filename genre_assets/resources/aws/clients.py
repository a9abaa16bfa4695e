"""boto3 clients for Glue and EMR, configured like dagster-aws's resources, and the one place
where botocore's configuration failures become sentences naming the setting to fix.

Retries use botocore's `standard` mode with a configurable attempt count, so throttling and
transient 5xx answers are retried with backoff instead of failing a run. An endpoint that cannot
be reached is tried `CONNECT_ATTEMPTS` times, not the full count (and Glue and EMR give up on a
connection after 5 s, not botocore's 60): it is almost always a wrong or stopped
`AWS_ENDPOINT_URL`, and eight attempts with backoff would hide that for half a minute.
`AWS_ENDPOINT_URL` (read by boto3 itself) redirects every client to `genre-assets emulate-aws`.

`explained_aws_errors()` (around client creation) and `explain_errors(client)` (on every call a
client makes, through botocore's events) turn a missing region, missing or partial credentials,
an unknown profile and an unreachable endpoint into a `ConfigurationError`, which the CLI prints
as one sentence and Dagster shows as the step's error.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import dagster as dg
from botocore.config import Config
from botocore.exceptions import (
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)
from pydantic import Field, PrivateAttr

from genre_assets.errors import ConfigurationError

# Attempts per call at an endpoint that refuses or does not answer the connection.
CONNECT_ATTEMPTS = 3
EMULATOR_EXAMPLE = "http://127.0.0.1:4566"


def configuration_error(error: BaseException) -> ConfigurationError | None:
    """The user-facing sentence for a botocore configuration failure; None for anything else."""
    if isinstance(error, NoRegionError):
        return ConfigurationError(
            "no AWS region is configured: set AWS_DEFAULT_REGION (e.g. "
            "AWS_DEFAULT_REGION=us-east-1) or GENRE_ASSETS_AWS_REGION, or give the AWS profile "
            "(AWS_PROFILE) a region"
        )
    if isinstance(error, NoCredentialsError):
        return ConfigurationError(
            "no AWS credentials were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(and AWS_SESSION_TOKEN for temporary ones), or AWS_PROFILE to a profile in "
            "~/.aws/config; against genre-assets emulate-aws any values will do"
        )
    if isinstance(error, PartialCredentialsError):
        missing = error.kwargs.get("cred_var", "a variable")
        return ConfigurationError(
            f"the AWS credentials are incomplete ({missing} is missing): set both "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE instead of either"
        )
    if isinstance(error, ProfileNotFound):
        profile = error.kwargs.get("profile", "")
        return ConfigurationError(
            f"the AWS profile {profile!r} is not in the AWS config files (AWS_PROFILE, "
            f"AWS_CONFIG_FILE): create it with `aws configure --profile {profile}` or unset "
            "AWS_PROFILE"
        )
    if isinstance(error, (EndpointConnectionError, ConnectTimeoutError)):
        return _unreachable(error)
    return None


def _unreachable(error: EndpointConnectionError | ConnectTimeoutError) -> ConfigurationError:
    parts = urlsplit(str(error.kwargs.get("endpoint_url", "")))
    tried = f"{parts.scheme}://{parts.netloc}" if parts.netloc else "the AWS endpoint"
    how = "timed out" if isinstance(error, ConnectTimeoutError) else "no connection"
    configured = os.environ.get("AWS_ENDPOINT_URL")
    if configured:
        fix = (
            f"AWS_ENDPOINT_URL is {configured}: for a local trial it must point at a running "
            f"`genre-assets emulate-aws` (start one with `genre-assets emulate-aws --port 4566` "
            f"and set AWS_ENDPOINT_URL={EMULATOR_EXAMPLE}), or unset it to use AWS itself"
        )
    else:
        fix = (
            "check the network and the region (AWS_DEFAULT_REGION); for a local trial set "
            f"AWS_ENDPOINT_URL to a running `genre-assets emulate-aws` (e.g. {EMULATOR_EXAMPLE})"
        )
    return ConfigurationError(
        f"could not connect to {tried} ({how}, {CONNECT_ATTEMPTS} tries); {fix}"
    )


@contextlib.contextmanager
def explained_aws_errors() -> Iterator[None]:
    """Re-raise botocore's configuration failures inside the block as ConfigurationError."""
    try:
        yield
    except Exception as error:
        explained = configuration_error(error)
        if explained is None:
            raise
        raise explained from error


def explain_errors(client: Any) -> Any:
    """`client`, with every call's configuration failure re-raised as a ConfigurationError and
    connections tried `CONNECT_ATTEMPTS` times at most; registering twice changes nothing."""
    events = client.meta.events
    service = client.meta.service_model.service_id.hyphenize()
    # First among the service's needs-retry handlers: a False here vetoes botocore's retry.
    events.register_first(
        f"needs-retry.{service}", _limit_connect_retries, unique_id="genre-assets-connect"
    )
    events.register(
        f"after-call-error.{service}", _raise_explained, unique_id="genre-assets-explain"
    )
    return client


def _limit_connect_retries(
    attempts: int, caught_exception: BaseException | None = None, **_: Any
) -> bool | None:
    if isinstance(caught_exception, (EndpointConnectionError, ConnectTimeoutError)):
        return False if attempts >= CONNECT_ATTEMPTS else None
    return None  # botocore's standard retry handler decides


def _raise_explained(exception: BaseException, **_: Any) -> None:
    explained = configuration_error(exception)
    if explained is not None:
        raise explained from exception


class AwsClientsResource(dg.ConfigurableResource):
    """Where and how to reach AWS; credentials come from boto3's default chain, never config."""

    region_name: str | None = Field(default=None, description="AWS region; default: boto3's")
    max_attempts: int = Field(default=8, description="Attempts per API call (standard retries)")
    connect_timeout_seconds: int = Field(
        default=5, description="How long to wait for a connection to an endpoint"
    )
    profile_name: str | None = Field(default=None, description="A named AWS profile")

    # Building a client loads botocore's service model (~0.1 s); clients are thread-safe, so one
    # per service is kept for the resource's lifetime.
    _clients: dict[str, Any] = PrivateAttr(default_factory=dict)

    def session(self) -> boto3.session.Session:
        with explained_aws_errors():
            return boto3.session.Session(
                profile_name=self.profile_name, region_name=self.region_name
            )

    def client(self, service: str) -> Any:
        if service not in self._clients:
            config = Config(
                retries={"max_attempts": self.max_attempts, "mode": "standard"},
                connect_timeout=self.connect_timeout_seconds,
            )
            with explained_aws_errors():
                client = self.session().client(service, config=config)
            self._clients[service] = explain_errors(client)
        return self._clients[service]

    def region(self) -> str:
        return self.session().region_name or "us-east-1"
