"""An AWS emulator for laptops: S3, Glue and EMR on 127.0.0.1, with EMR steps that really run.

`genre-assets emulate-aws --port P` (or `AwsEmulator` from Python) serves moto and executes each
EMR step the AWS deployment submits: Hive DDL is applied to the emulated Glue catalog and shell
steps run with the real `aws` CLI and a DuckDB-backed `presto-cli`, so the aws deployment writes
the same bytes as the local one. It refuses what AWS refuses: every call of the pipeline is held
to an IAM policy (`iam`), EMR requests to EMR's rules (`emr_rules`), Presto SQL to PrestoDB's
(`presto_cli`), and tables are read as Hive's serdes read them (`hive_serde`); the sources are in
docs/aws-fidelity.md. Nothing here ever talks to real AWS.

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
