"""The data lake interface: keys, objects and what every lake implementation provides.

Keys are relative, `/`-separated and never contain `..`: `movielens/movies/movies.csv`. Writes are
atomic: a reader sees the previous object or the complete new one, never a partial file.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass

import dagster as dg

from genre_assets.errors import InputError

# No control characters or backslashes: keys end up in logs, shell scripts and S3 URIs.
_SAFE_KEY_PART = re.compile(r"^[^\x00-\x1f\x7f/\\]+$")


@dataclass(frozen=True)
class LakeObject:
    key: str
    size: int
    version: str  # changes whenever the content may have changed (mtime+size locally, ETag on S3)
    modified: float  # seconds since the epoch


def check_key(key: str) -> str:
    """Reject keys that could escape the lake or that storage would treat specially."""
    parts = key.rstrip("/").split("/")
    if key.startswith("/") or any(
        p in ("", ".", "..") or not _SAFE_KEY_PART.match(p) for p in parts
    ):
        raise InputError(f"lake key {key!r} is not a plain relative path")
    return key


class LakeResource(dg.ConfigurableResource, ABC):
    """Where raw CSVs and genre exports live."""

    @property
    @abstractmethod
    def root_uri(self) -> str:
        """`/abs/folder` or `s3://bucket/prefix`, for messages and metadata."""

    @abstractmethod
    def uri(self, key: str) -> str:
        """The location engines and catalogs use for `key` (a path or an s3:// URI)."""

    @abstractmethod
    def list_objects(self, prefix: str) -> list[LakeObject]:
        """Objects directly under the folder `prefix`, sorted by key; [] when it is missing."""

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def read_head(self, key: str, size: int) -> bytes:
        """The first `size` bytes of `key` (fewer when the object is smaller)."""

    @abstractmethod
    def write_bytes(self, key: str, data: bytes) -> None:
        """Replace `key` atomically with `data`."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def sample_data_hint(self) -> str:
        """How to fill this lake with generated MovieLens data, for messages about a lake
        without any: `create sample data with: genre-assets sample-data --lake ...`."""
