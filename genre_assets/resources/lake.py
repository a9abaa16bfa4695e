"""The data lake interface and its local-folder implementation.

Keys are relative, `/`-separated and never contain `..`: `movielens/movies/movies.csv`. Writes are
atomic: a reader sees the previous object or the complete new one, never a partial file.
"""

from __future__ import annotations

import os
import re
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from pydantic import Field

from genre_assets.errors import ConfigurationError, InputError

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
    if key.startswith("/") or any(p in ("", ".", "..") or not _SAFE_KEY_PART.match(p) for p in parts):
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


class LocalLakeResource(LakeResource):
    """A folder on this machine laid out like the S3 lake (DESIGN §2)."""

    path: str = Field(description="Folder that holds movielens/movies/, movielens/ratings/, ...")

    def _root(self) -> Path:
        if not self.path:
            raise ConfigurationError("the local lake needs a folder (GENRE_ASSETS_LAKE)")
        if any(ch in self.path for ch in "*?[]"):
            raise ConfigurationError(
                f"lake folder {self.path!r} contains a glob character (*?[]), which the local "
                "engine would read as a pattern"
            )
        return Path(self.path).expanduser().resolve()

    def local_path(self, key: str) -> Path:
        return self._root() / check_key(key)

    @property
    def root_uri(self) -> str:
        return str(self._root())

    def uri(self, key: str) -> str:
        path = str(self.local_path(key))
        return path + "/" if key.endswith("/") else path

    def list_objects(self, prefix: str) -> list[LakeObject]:
        folder = self.local_path(prefix)
        if not folder.is_dir():
            return []
        objects = []
        for entry in sorted(folder.iterdir()):
            # Hidden files are in-flight temporaries; Hive skips them too.
            if entry.is_file() and not entry.name.startswith((".", "_")):
                stat = entry.stat()
                objects.append(
                    LakeObject(
                        key=f"{prefix.rstrip('/')}/{entry.name}",
                        size=stat.st_size,
                        version=f"{stat.st_mtime_ns}-{stat.st_size}",
                        modified=stat.st_mtime,
                    )
                )
        return objects

    def read_bytes(self, key: str) -> bytes:
        return self.local_path(key).read_bytes()

    def read_head(self, key: str, size: int) -> bytes:
        with self.local_path(key).open("rb") as handle:
            return handle.read(size)

    def write_bytes(self, key: str, data: bytes) -> None:
        target = self.local_path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # A hidden temporary in the same folder, so os.replace is an atomic rename.
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def exists(self, key: str) -> bool:
        return self.local_path(key).exists()
