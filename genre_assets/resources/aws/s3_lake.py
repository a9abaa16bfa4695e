"""The S3 lake: `s3://bucket[/prefix]`, through dagster-aws's S3Resource.

A single PUT is atomic in S3 (readers see the old object or the whole new one), so exports need
no rename; listing is one folder deep, as Hive reads a table's location. The location is checked
on every use, before any call to S3, so a lake that is not `s3://...` fails without one; S3
failures of configuration (region, credentials, endpoint) read as `clients` explains them.
"""

from __future__ import annotations

import re
from typing import Any

from dagster_aws.s3 import S3Resource
from pydantic import Field

from genre_assets.errors import ConfigurationError
from genre_assets.resources.aws.clients import explain_errors, explained_aws_errors
from genre_assets.resources.lake import LakeObject, LakeResource, check_key

# S3's bucket naming rules (no dots: virtual-host TLS breaks on them); prefixes are plain keys.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix/` -> ("bucket", "some/prefix"); raises on anything else."""
    if not (uri or "").startswith("s3://"):
        raise ConfigurationError(
            f"the aws deployment needs an s3:// lake (GENRE_ASSETS_LAKE or --lake), got {uri!r}: "
            "set it to s3://bucket[/prefix], or use GENRE_ASSETS_DEPLOYMENT=local for a folder"
        )
    match = re.match(r"^s3://([^/]+)/?(.*)$", uri)
    if not match:
        raise ConfigurationError(
            f"the S3 lake must look like s3://bucket[/prefix] (GENRE_ASSETS_LAKE), got {uri!r}"
        )
    bucket, prefix = match.group(1), match.group(2).strip("/")
    if not _BUCKET.match(bucket) or "--" in bucket:
        raise ConfigurationError(f"{bucket!r} is not an S3 bucket name genre-assets accepts")
    if prefix:
        check_key(prefix)
    return bucket, prefix


class S3LakeResource(LakeResource):
    """A lake in S3 with the layout of docs/contract.md under the prefix."""

    uri_root: str = Field(description="s3://bucket[/prefix] (GENRE_ASSETS_LAKE)")
    s3: S3Resource

    def _location(self) -> tuple[str, str]:
        return parse_s3_uri(self.uri_root)

    def _object_key(self, key: str) -> str:
        _, prefix = self._location()
        check_key(key)
        return f"{prefix}/{key}" if prefix else key

    def _client(self) -> Any:
        with explained_aws_errors():
            return explain_errors(self.s3.get_client())

    @property
    def root_uri(self) -> str:
        bucket, prefix = self._location()
        return f"s3://{bucket}/{prefix}".rstrip("/")

    def sample_data_hint(self) -> str:
        return (
            "create sample data with: genre-assets sample-data --lake DIR, then copy it with: "
            f"aws s3 cp --recursive DIR/movielens {self.root_uri}/movielens"
        )

    def bucket(self) -> str:
        return self._location()[0]

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket()}/{self._object_key(key)}"

    def list_objects(self, prefix: str) -> list[LakeObject]:
        folder = self._object_key(prefix).rstrip("/") + "/"
        paginator = self._client().get_paginator("list_objects_v2")
        objects = []
        for page in paginator.paginate(Bucket=self.bucket(), Prefix=folder, Delimiter="/"):
            for item in page.get("Contents", []):
                name = item["Key"][len(folder) :]
                if name and not name.startswith((".", "_")):
                    objects.append(
                        LakeObject(
                            key=f"{prefix.rstrip('/')}/{name}",
                            size=item["Size"],
                            version=item["ETag"].strip('"'),
                            modified=item["LastModified"].timestamp(),
                        )
                    )
        return sorted(objects, key=lambda o: o.key)

    def read_bytes(self, key: str) -> bytes:
        return (
            self._client()
            .get_object(Bucket=self.bucket(), Key=self._object_key(key))["Body"]
            .read()
        )

    def read_head(self, key: str, size: int) -> bytes:
        response = self._client().get_object(
            Bucket=self.bucket(), Key=self._object_key(key), Range=f"bytes=0-{size - 1}"
        )
        return response["Body"].read()

    def write_bytes(self, key: str, data: bytes) -> None:
        self._client().put_object(Bucket=self.bucket(), Key=self._object_key(key), Body=data)

    def delete(self, key: str) -> None:
        self._client().delete_object(Bucket=self.bucket(), Key=self._object_key(key))

    def exists(self, key: str) -> bool:
        # A listing, not HeadObject: S3 answers HEAD of a missing key with 403, not 404, unless
        # the caller may list the bucket, and the policy lets the pipeline list only under the
        # lake's prefix (docs/aws-fidelity.md). The first key under `key` is `key` when it exists.
        full = self._object_key(key)
        listed = self._client().list_objects_v2(Bucket=self.bucket(), Prefix=full, MaxKeys=1)
        return any(o["Key"] == full for o in listed.get("Contents", []))
