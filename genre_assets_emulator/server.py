"""`AwsEmulator`: moto's server on 127.0.0.1 plus the EMR step executor, in one process.

    with AwsEmulator(start_seconds=0.2) as aws:      # a free port unless port= is given
        os.environ.update(aws.client_env())           # AWS_ENDPOINT_URL, fake credentials, region
        ...                                           # S3, Glue and EMR now answer locally

moto serves S3, Glue and EMR, and Athena with its queries run here (`athena.py`); the executor (`clusters.py`) gives each EMR cluster a realistic
lifecycle and runs its steps for real (`steps.py`). Starting resets moto's state, so each
emulator begins empty; stopping ends the step processes, the workers and the server.

    AwsEmulator(iam_policy=Path("deploy/iam-policy.json"), iam_values={"Bucket": "lake", ...})

enforces that policy on the pipeline's calls (`iam.py`, `middleware.py`): a call it would not
allow on AWS fails as on AWS. `${Account}` and `${Region}` default to the emulator's own.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from moto.athena.models import athena_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.emr.models import emr_backends
from moto.server import ThreadedMotoServer

from genre_assets_emulator import iam
from genre_assets_emulator.athena import AthenaService
from genre_assets_emulator.clusters import ClusterWatcher
from genre_assets_emulator.middleware import EmulatorMiddleware
from genre_assets_emulator.steps import FAKE_CREDENTIALS, make_bin_dir

DEFAULT_REGION = "us-east-1"


class AwsEmulator:
    """S3, Glue and EMR (with steps that really run) on http://127.0.0.1:<port>."""

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        start_seconds: float = 2.0,
        region: str = DEFAULT_REGION,
        log_requests: bool = False,
        iam_policy: Path | None = None,
        iam_values: Mapping[str, str] | None = None,
        athena_hold_seconds: float | None = None,
    ) -> None:
        """`athena_hold_seconds`: each Athena query (not DDL) stays RUNNING that long before it
        runs, unless stopped (default: GENRE_ASSETS_EMULATOR_ATHENA_HOLD_SECONDS, else 0)."""
        self.host = host
        self.port = port
        self.start_seconds = start_seconds
        self.region = region
        self.log_requests = log_requests
        # moto's account for the fake credentials (and so the account in every ARN).
        self.account = DEFAULT_ACCOUNT_ID
        self.iam_policy = iam_policy
        self.iam_values = {
            "Account": self.account,
            "Region": region,
            # deploy/iam-policy-athena.json's workgroup: the pipeline's, any while unset.
            "WorkGroup": os.environ.get("GENRE_ASSETS_ATHENA_WORKGROUP") or "*",
            **(iam_values or {}),
        }
        self.athena_hold_seconds = athena_hold_seconds
        self.api: EmulatorMiddleware | None = None
        self.athena: AthenaService | None = None
        self._server: ThreadedMotoServer | None = None
        self._watcher: ClusterWatcher | None = None
        self._workdir: Path | None = None
        self._werkzeug_level: int | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return f"http://{self.host}:{self.port}"

    def client_env(self) -> dict[str, str]:
        """The environment that points boto3, the aws CLI and the aws deployment here."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "AWS_SESSION_TOKEN": FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        }

    @property
    def enforces_iam(self) -> bool:
        return self.iam_policy is not None

    def start(self) -> AwsEmulator:
        if self._server is not None:
            return self
        # A policy the emulator cannot fill in or evaluate is an error before anything starts.
        policy = (
            iam.load_policy(self.iam_policy, self.iam_values)
            if self.iam_policy is not None
            else None
        )
        _check_port_free(self.host, self.port)
        self._workdir = Path(tempfile.mkdtemp(prefix="genre-assets-emulator-"))
        try:
            bin_dir = make_bin_dir(self._workdir / "bin")
            if not self.log_requests:
                # werkzeug prints a line per request; keep errors only.
                werkzeug = logging.getLogger("werkzeug")
                self._werkzeug_level = werkzeug.level
                werkzeug.setLevel(logging.ERROR)
            self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
            self._server.start()
            self.port = self._server.get_host_and_port()[1]
            # Wrap moto's WSGI app (werkzeug reads `server.app` per request) for the request log
            # and the EMR calls moto lacks.
            wsgi_server = self._server._server
            assert wsgi_server is not None  # set by start() above
            # moto's backends are process-wide: begin empty whatever ran before in this process.
            urllib.request.urlopen(
                urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST"),
                timeout=30,
            ).close()
            self._watcher = watcher = ClusterWatcher(
                endpoint_url=self.endpoint_url,
                bin_dir=bin_dir,
                start_seconds=self.start_seconds,
                fleets=lambda cluster_id: self.api.fleets(cluster_id) if self.api else [],
            )
            self.athena = AthenaService(
                lambda: self.endpoint_url,
                self.account,
                lambda region: set(
                    athena_backends[self.account][region or self.region].work_groups
                ),
                hold_seconds=self.athena_hold_seconds,
            )
            self.api = EmulatorMiddleware(
                wsgi_server.app,
                on_new_cluster=watcher.adopt,
                on_steps_added=watcher.queue_steps,
                policy=policy,
                account=self.account,
                cluster_tags=self._cluster_tags,
                step_concurrency=self._step_concurrency,
                athena=self.athena,
            )
            wsgi_server.app = self.api
            watcher.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _cluster_tags(self, region: str, cluster_id: str) -> dict[str, str] | None:
        """An emulated cluster's tags, straight from moto (None: no such cluster)."""
        cluster = emr_backends[self.account][region or self.region].clusters.get(cluster_id)
        return None if cluster is None else dict(cluster._tags)

    def _step_concurrency(self, region: str, cluster_id: str) -> int:
        cluster = emr_backends[self.account][region or self.region].clusters.get(cluster_id)
        return 1 if cluster is None else int(cluster.step_concurrency_level or 1)

    def stop(self) -> None:
        """Stop step processes, workers and the server; safe to call more than once."""
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._werkzeug_level is not None:
            logging.getLogger("werkzeug").setLevel(self._werkzeug_level)
            self._werkzeug_level = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> AwsEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _check_port_free(host: str, port: int) -> None:
    # moto's server thread would die on a busy port and leave start() waiting forever.
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise OSError(f"cannot serve on {host}:{port}: {error.strerror}") from None
