"""`genre-assets emulate-aws`: serve the emulator in the foreground until Ctrl-C or SIGTERM.

The product's CLI finds this sub-command through the `genre_assets.commands` entry point
(pyproject.toml) and never imports the emulator itself; moto and boto3 are imported only when
the command runs, so a missing `emulator` extra is reported as such.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from genre_assets_emulator.server import AwsEmulator


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
    return serve(
        args.port,
        start_seconds=args.start_seconds,
        region=args.region,
        bucket=args.bucket,
        log_requests=args.log_requests,
    )


def instructions(emulator: AwsEmulator, bucket: str | None) -> str:
    """The shell lines that point the aws deployment (and the aws CLI) at the emulator."""
    env = {
        "GENRE_ASSETS_DEPLOYMENT": "aws",
        "GENRE_ASSETS_LAKE": f"s3://{bucket or '<bucket>'}/lake",
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
) -> int:
    """Run until `stop` is set (by SIGINT/SIGTERM when serving from the main thread)."""
    import boto3

    from genre_assets_emulator.server import AwsEmulator

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
            port, start_seconds=start_seconds, region=region, log_requests=log_requests
        )
        try:
            emulator.start()
        except OSError as error:  # the port is taken
            print(f"genre-assets emulate-aws: {error}", file=sys.stderr)
            return 1
        with emulator as aws:  # start() again is a no-op; leaving the block stops it
            if bucket:
                boto3.client(
                    "s3",
                    endpoint_url=aws.endpoint_url,
                    region_name=region,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                ).create_bucket(Bucket=bucket)
            print(
                f"AWS emulator (S3, Glue, EMR with steps that really run) on {aws.endpoint_url}; "
                "Ctrl-C stops it.\nIn another shell:\n" + instructions(aws, bucket),
                file=out,
                flush=True,
            )
            # A timed wait, so a signal handler's set() is seen promptly on every platform.
            while not stop.wait(0.5):
                pass
            counts = aws.api.counts(caller=None) if aws.api else {}
    finally:
        emulator_log.removeHandler(handler)
    print(
        "Stopped. API calls served: "
        + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"),
        file=out,
        flush=True,
    )
    return 0
