"""`genre-assets emulate-aws`: serve the emulator in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import TextIO

import boto3

from genre_assets.emulator.server import AwsEmulator


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
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    # Cluster and step transitions are the emulator's progress report; botocore's chatter is not.
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    emulator_log = logging.getLogger("genre_assets.emulator")
    emulator_log.addHandler(handler)
    emulator_log.setLevel(logging.INFO)
    try:
        emulator = AwsEmulator(port, start_seconds=start_seconds, region=region, log_requests=log_requests)
        try:
            emulator.start()
        except OSError as error:  # the port is taken
            print(f"genre-assets emulate-aws: {error}", file=sys.stderr)
            return 1
        with emulator as aws:  # start() again is a no-op; leaving the block stops it
            if bucket:
                boto3.client(
                    "s3", endpoint_url=aws.endpoint_url, region_name=region,
                    aws_access_key_id="testing", aws_secret_access_key="testing",
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
    print("Stopped. API calls served: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"),
          file=out, flush=True)
    return 0
