"""An AWS emulator for laptops: S3, Glue and EMR on 127.0.0.1, with EMR steps that really run.

`genre-assets emulate-aws --port P` (or `AwsEmulator` from Python) serves moto and executes each
EMR step the AWS deployment submits: Hive DDL is applied to the emulated Glue catalog and shell
steps run with the real `aws` CLI and a DuckDB-backed `presto-cli`, so the aws deployment writes
the same bytes as the local one. Nothing here ever talks to real AWS.

`AwsEmulator` is imported lazily: the `presto-cli` stand-in lives in this package and must start
without loading moto.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AwsEmulator"]


def __getattr__(name: str) -> Any:
    if name == "AwsEmulator":
        from genre_assets_emulator.server import AwsEmulator

        return AwsEmulator
    raise AttributeError(name)
