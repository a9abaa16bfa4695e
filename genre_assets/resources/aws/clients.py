"""boto3 clients for Glue and EMR, configured like dagster-aws's resources.

Retries use botocore's `standard` mode with a configurable attempt count, so throttling and
transient 5xx answers are retried with backoff instead of failing a run. `AWS_ENDPOINT_URL` (read
by boto3 itself) redirects every client to `genre-assets emulate-aws` or moto.
"""

from __future__ import annotations

from typing import Any

import boto3
import dagster as dg
from botocore.config import Config
from pydantic import Field, PrivateAttr


class AwsClientsResource(dg.ConfigurableResource):
    """Where and how to reach AWS; credentials come from boto3's default chain, never config."""

    region_name: str | None = Field(default=None, description="AWS region; default: boto3's")
    max_attempts: int = Field(default=8, description="Attempts per API call (standard retries)")
    profile_name: str | None = Field(default=None, description="A named AWS profile")

    # Building a client loads botocore's service model (~0.1 s); clients are thread-safe, so one
    # per service is kept for the resource's lifetime.
    _clients: dict[str, Any] = PrivateAttr(default_factory=dict)

    def session(self) -> boto3.session.Session:
        return boto3.session.Session(profile_name=self.profile_name, region_name=self.region_name)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            config = Config(retries={"max_attempts": self.max_attempts, "mode": "standard"})
            self._clients[service] = self.session().client(service, config=config)
        return self._clients[service]

    def region(self) -> str:
        return self.session().region_name or "us-east-1"
