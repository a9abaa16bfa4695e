"""`genre-assets emulate-aws`: serve the emulator in the foreground until Ctrl-C or SIGTERM.

The product's CLI finds this sub-command through the `genre_assets.commands` entry point
(pyproject.toml) and never imports the emulator itself; moto and boto3 are imported only when
the command runs, so a missing `emulator` extra is reported as such.

The pipeline's calls are held to the shipped IAM policy (`deploy/iam-policy.json` of this
checkout, or `--iam-policy FILE`; `--iam-policy none` turns the check off). Its placeholders are
the emulator's account and region, the lake of `--lake s3://bucket/prefix` (any bucket and
prefix without it), and the pipeline's database and EMR roles from GENRE_ASSETS_DATABASE,
GENRE_ASSETS_EMR_SERVICE_ROLE and GENRE_ASSETS_EMR_INSTANCE_PROFILE when set (any otherwise).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from genre_assets_emulator.server import AwsEmulator

# The checkout's policy: deploy/ next to this package (absent from an installed wheel).
DEFAULT_IAM_POLICY = Path(__file__).resolve().parent.parent / "deploy" / "iam-policy.json"
# Placeholder -> the pipeline's variable that names it (the value is "*" while it is unset).
_PIPELINE_VALUES = {
    "Database": "GENRE_ASSETS_DATABASE",
    "ServiceRole": "GENRE_ASSETS_EMR_SERVICE_ROLE",
    "InstanceProfileRole": "GENRE_ASSETS_EMR_INSTANCE_PROFILE",
}
_LAKE = re.compile(r"^s3://([^/]+)/?(.*)$")


def register(commands: Any) -> None:
    """Add `emulate-aws` to the `genre-assets` sub-command parsers."""
    emulate = commands.add_parser(
        "emulate-aws",
        help="serve S3, Glue and EMR (steps really run) on 127.0.0.1 for the aws deployment",
    )
    emulate.add_argument(
        "--port", type=int, default=4566, help="port on 127.0.0.1 (0: any free port)"
    )
    emulate.add_argument(
        "--start-seconds", type=float, default=2.0, help="how long a cluster takes to start"
    )
    emulate.add_argument(
        "--region", default="us-east-1", help="the region the printed environment uses"
    )
    emulate.add_argument("--bucket", help="create this S3 bucket at start")
    emulate.add_argument(
        "--lake",
        help="s3://bucket[/prefix] the pipeline uses: the IAM policy's bucket and prefix "
        "(default: any); its bucket is created at start",
    )
    emulate.add_argument(
        "--iam-policy",
        default=None,
        metavar="FILE|none",
        help="the IAM policy the pipeline's calls must pass (default: the checkout's "
        "deploy/iam-policy.json; none: no check)",
    )
    emulate.add_argument("--log-requests", action="store_true", help="print every API request")
    emulate.set_defaults(handler=_command)


def _command(args: argparse.Namespace) -> int:
    try:
        import moto  # noqa: F401  (the emulated APIs)
    except ModuleNotFoundError as error:
        print(
            f"genre-assets emulate-aws needs the emulator extra ({error.name} is missing): "
            "pip install -e '.[emulator]'",
            file=sys.stderr,
        )
        return 1
    try:
        policy = resolve_iam_policy(args.iam_policy)
        if args.lake:
            parse_lake(args.lake)
    except ValueError as error:
        print(f"genre-assets emulate-aws: {error}", file=sys.stderr)
        return 1
    return serve(
        args.port,
        start_seconds=args.start_seconds,
        region=args.region,
        bucket=args.bucket,
        log_requests=args.log_requests,
        iam_policy=policy,
        lake=args.lake,
    )


def resolve_iam_policy(argument: str | None) -> Path | None:
    """--iam-policy: None -> the checkout's policy if there is one; "none" -> no check."""
    if argument is None:
        return DEFAULT_IAM_POLICY if DEFAULT_IAM_POLICY.is_file() else None
    if argument.lower() == "none":
        return None
    path = Path(argument)
    if not path.is_file():
        raise ValueError(f"--iam-policy {argument}: no such file")
    return path


def parse_lake(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix")."""
    match = _LAKE.match(uri)
    if not match or not match.group(1):
        raise ValueError(f"--lake must look like s3://bucket[/prefix], got {uri!r}")
    return match.group(1), match.group(2).strip("/")


def iam_values(lake: str | None, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The policy's placeholders the emulator cannot know by itself (see the module doc)."""
    environ = dict(os.environ) if environ is None else environ
    if lake:
        bucket, prefix = parse_lake(lake)
        values = {"Bucket": bucket, "Prefix": f"{prefix}/" if prefix else ""}
    else:
        values = {"Bucket": "*", "Prefix": "*"}
    for placeholder, variable in _PIPELINE_VALUES.items():
        values[placeholder] = environ.get(variable) or "*"
    return values


def instructions(emulator: AwsEmulator, bucket: str | None, lake: str | None = None) -> str:
    """The shell lines that point the aws deployment (and the aws CLI) at the emulator."""
    env = {
        "GENRE_ASSETS_DEPLOYMENT": "aws",
        "GENRE_ASSETS_LAKE": lake or f"s3://{bucket or '<bucket>'}/lake",
        "GENRE_ASSETS_EMR_POLL_SECONDS": "1",
        **emulator.client_env(),
    }
    lines = [f"export {k}={v}" for k, v in env.items()]
    return "\n".join(lines)


def serve(
    port: int,
    *,
    start_seconds: float = 2.0,
    region: str = "us-east-1",
    bucket: str | None = None,
    log_requests: bool = False,
    out: TextIO = sys.stdout,
    stop: threading.Event | None = None,
    iam_policy: Path | None = None,
    lake: str | None = None,
) -> int:
    """Run until `stop` is set (by SIGINT/SIGTERM when serving from the main thread)."""
    import boto3
    from botocore.config import Config

    from genre_assets_emulator.server import AwsEmulator
    from genre_assets_emulator.steps import EMULATOR_USER_AGENT

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    # Cluster and step transitions are the emulator's progress report; botocore's chatter is not.
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    emulator_log = logging.getLogger("genre_assets_emulator")
    emulator_log.addHandler(handler)
    emulator_log.setLevel(logging.INFO)
    try:
        emulator = AwsEmulator(
            port,
            start_seconds=start_seconds,
            region=region,
            log_requests=log_requests,
            iam_policy=iam_policy,
            iam_values=iam_values(lake),
        )
        try:
            emulator.start()
        except (OSError, ValueError) as error:  # the port is taken, or the policy is unusable
            print(f"genre-assets emulate-aws: {error}", file=sys.stderr)
            return 1
        with emulator as aws:  # start() again is a no-op; leaving the block stops it
            buckets = {b for b in (bucket, parse_lake(lake)[0] if lake else None) if b}
            if buckets:
                # The emulator's own call (not the pipeline's, so not held to its policy).
                s3 = boto3.client(
                    "s3",
                    endpoint_url=aws.endpoint_url,
                    region_name=region,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                    config=Config(user_agent_extra=EMULATOR_USER_AGENT),
                )
                for name in sorted(buckets):
                    s3.create_bucket(Bucket=name)
            print(
                f"AWS emulator (S3, Glue, EMR with steps that really run) on {aws.endpoint_url}; "
                f"{_iam_banner(aws)}; Ctrl-C stops it.\nIn another shell:\n"
                + instructions(aws, bucket, lake),
                file=out,
                flush=True,
            )
            # A timed wait, so a signal handler's set() is seen promptly on every platform.
            while not stop.wait(0.5):
                pass
            counts = aws.api.counts(caller=None) if aws.api else {}
            denied = len(aws.api.denials()) if aws.api else 0
    finally:
        emulator_log.removeHandler(handler)
    print(
        "Stopped. API calls served: "
        + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none")
        + (f"; pipeline calls denied by IAM: {denied}" if emulator.enforces_iam else ""),
        file=out,
        flush=True,
    )
    return 0


def _iam_banner(emulator: AwsEmulator) -> str:
    if emulator.iam_policy is None:
        return "IAM not enforced"
    shown = ", ".join(f"{k}={v}" for k, v in emulator.iam_values.items())
    return f"IAM enforced on the pipeline's calls: {emulator.iam_policy} ({shown})"
