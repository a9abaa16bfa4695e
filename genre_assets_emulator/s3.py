"""S3 URIs as the emulated cluster's tools take them apart (any bucket name, any key)."""

from __future__ import annotations


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/key` -> ("bucket", "some/key"); ValueError for anything else."""
    if not uri.startswith("s3://") or not uri[len("s3://") :].split("/", 1)[0]:
        raise ValueError(f"{uri!r} is not an S3 location (s3://bucket/key)")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key
