"""The local lake: a folder on this machine laid out like the S3 lake (docs/contract.md).

Writes are atomic (a hidden temporary in the same folder, then a rename), so a reader sees the
previous file or the complete new one. The folder itself must exist: a mistyped lake fails on
first use, before the catalog file or any other file is created in it (`sample-data` creates
lakes).
"""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Iterable
from pathlib import Path

from pydantic import Field

from genre_assets.errors import ConfigurationError
from genre_assets.resources.lake import LakeObject, LakeResource, check_key


def write_atomically(path: Path, chunks: Iterable[bytes]) -> None:
    """Replace `path` with the concatenated chunks: readers see the old file or the whole new one.

    A hidden temporary in the same folder (hidden files are skipped by every reader of the lake),
    fsync, then a rename, which is atomic within one file system.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _version(stat: os.stat_result) -> str:
    return f"{stat.st_mtime_ns}-{stat.st_size}"


def _sample_data_hint(root: Path) -> str:
    return f"create sample data with: genre-assets sample-data --lake {shlex.quote(str(root))}"


class LocalLakeResource(LakeResource):
    """A folder on this machine laid out like the S3 lake (docs/contract.md)."""

    path: str = Field(description="Folder that holds movielens/movies/, movielens/ratings/, ...")

    def _root(self) -> Path:
        if not self.path:
            raise ConfigurationError("the local lake needs a folder (GENRE_ASSETS_LAKE)")
        if any(ch in self.path for ch in "*?[]"):
            raise ConfigurationError(
                f"lake folder {self.path!r} contains a glob character (*?[]), which the local "
                "engine would read as a pattern"
            )
        root = Path(self.path).expanduser().resolve()
        if not root.is_dir():
            if root.exists():
                raise ConfigurationError(
                    f"the lake {root} is a file, not a folder (GENRE_ASSETS_LAKE or --lake): "
                    "point it at the folder that holds movielens/"
                )
            raise ConfigurationError(
                f"the lake folder {root} does not exist (GENRE_ASSETS_LAKE or --lake): point it "
                f"at your MovieLens lake, or {_sample_data_hint(root)}"
            )
        return root

    def sample_data_hint(self) -> str:
        return _sample_data_hint(self._root())

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
                        version=_version(stat),
                        modified=stat.st_mtime,
                    )
                )
        return objects

    def object_version(self, key: str) -> str:
        """The version `list_objects` reports for `key` (one stat)."""
        return _version(self.local_path(key).stat())

    def read_bytes(self, key: str) -> bytes:
        return self.local_path(key).read_bytes()

    def read_head(self, key: str, size: int) -> bytes:
        with self.local_path(key).open("rb") as handle:
            return handle.read(size)

    def write_bytes(self, key: str, data: bytes) -> None:
        write_atomically(self.local_path(key), [data])

    def exists(self, key: str) -> bool:
        return self.local_path(key).exists()
