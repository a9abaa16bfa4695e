"""Who owns an EMR cluster and for how long: the deployment and run tags, the lease, the deadline.

Every cluster genre-assets starts carries, as tags:

- `genre-assets:deployment`: the deployment that owns it (GENRE_ASSETS_DEPLOYMENT_NAME, or an id
  kept in the Dagster instance's own storage), so a janitor only ever touches its own clusters;
- `dagster/run_id`: the run holding it (a retry of the run reattaches to it by these two tags:
  RunJobFlow has no idempotency token, so the tags are the token);
- `genre-assets:lease-expires`: renewed by the run's process while it holds the cluster; a
  cluster whose lease has expired belongs to a process that is gone, whatever its run's status;
- `genre-assets:deadline`: the run's hard time limit; past it the cluster is terminated.

Times are tag values in UTC, `2026-11-26T09:30:00Z`: only characters EMR allows in tags.
"""

from __future__ import annotations

import datetime
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from genre_assets.errors import ConfigurationError

MANAGED_TAG = "genre-assets:managed"
RUN_ID_TAG = "dagster/run_id"
OWNER_TAG = "genre-assets:deployment"
LEASE_TAG = "genre-assets:lease-expires"
DEADLINE_TAG = "genre-assets:deadline"
# The lease value a run writes as it terminates its own cluster: EMR may take minutes to end it,
# and that time must not read as a lapsed lease (a process gone) to the janitor.
RELEASED = "released"

# Where an instance keeps its generated deployment id (its key-value store, which lives in the
# instance's database: SQLite or Postgres alike).
_INSTANCE_ID_KEY = "genre_assets/deployment_id"

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_NAME_CHARACTERS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


def format_time(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).strftime(_TIME_FORMAT)


def parse_time(text: str) -> float | None:
    """The Unix time of a tag value written by `format_time`; None for anything else."""
    try:
        parsed = datetime.datetime.strptime(text, _TIME_FORMAT)
    except (TypeError, ValueError):
        return None
    return parsed.replace(tzinfo=datetime.UTC).timestamp()


def validate_deployment_name(name: str) -> str:
    if not 1 <= len(name) <= 64 or not set(name) <= _NAME_CHARACTERS:
        raise ConfigurationError(
            f"GENRE_ASSETS_DEPLOYMENT_NAME={name!r} is not a deployment name: use 1-64 lower-case "
            "letters, digits, '-', '_' or '.', e.g. 'production' or 'staging'"
        )
    return name


def deployment_identity(instance: dg.DagsterInstance, configured: str) -> str:
    """The owner written on clusters and looked for by the janitor.

    The configured name when there is one; otherwise `instance-<id>`, an id generated once and
    kept in the instance's storage, so every process sharing the instance (webserver, daemon,
    code servers, run workers, the CLI with the same DAGSTER_HOME) agrees on it, and two
    instances (staging, production) never do.
    """
    if configured:
        return validate_deployment_name(configured)
    storage = instance.run_storage
    stored = storage.get_cursor_values({_INSTANCE_ID_KEY}).get(_INSTANCE_ID_KEY)
    if not stored:
        storage.set_cursor_values({_INSTANCE_ID_KEY: uuid.uuid4().hex[:12]})
        # Read back: of two processes racing on a new instance, both keep the value stored last.
        stored = storage.get_cursor_values({_INSTANCE_ID_KEY})[_INSTANCE_ID_KEY]
    return f"instance-{stored}"


class LeaseKeeper:
    """Renews a cluster's lease tag from a daemon thread until stopped.

    A thread, not the step's polling loop: the lease must stay fresh while the run does other
    work between EMR steps (reading exports for the checks, another asset's catalog calls), and
    it must stop when the process dies, which a daemon thread does with it.
    """

    def __init__(
        self,
        add_tags: Callable[[list[dict[str, str]]], Any],
        lease_seconds: float,
        renew_seconds: float,
        clock: Callable[[], float],
        on_error: Callable[[str], None],
    ) -> None:
        self._add_tags = add_tags
        self._lease_seconds = lease_seconds
        self._renew_seconds = renew_seconds
        self._clock = clock
        self._on_error = on_error
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="emr-lease", daemon=True)
        self.renewals = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def renew(self) -> None:
        expires = format_time(self._clock() + self._lease_seconds)
        self._add_tags([{"Key": LEASE_TAG, "Value": expires}])
        self.renewals += 1

    def _loop(self) -> None:
        while not self._stopped.wait(self._renew_seconds):
            try:
                self.renew()
            except Exception as error:  # the next renewal may succeed; the lease has slack
                self._on_error(f"could not renew the EMR cluster lease: {error}")


@dataclass(frozen=True)
class Verdict:
    """What the janitor does with one live cluster."""

    cluster_id: str
    run_id: str
    terminate: bool
    reason: str
    fail_run: bool = False  # the run still looks alive but cannot be: mark it failed
    foreign: bool = False  # another deployment's cluster: never touched


def judge(
    cluster_id: str,
    tags: Mapping[str, str],
    owner: str,
    run_status: Callable[[str], dg.DagsterRunStatus | None],
    now: float,
) -> Verdict:
    """The janitor's rule for one live cluster tagged `genre-assets:managed`.

    Another deployment's cluster (or one without an owner, from before ownership existed) is
    left alone. Our own is terminated when its run has ended or is unknown here, when its lease
    has expired (its process is gone, whatever the run's status says) or when it is past its
    run's deadline; in the last two cases a run that still looks alive is marked failed.
    """
    run_id = tags.get(RUN_ID_TAG, "")
    cluster_owner = tags.get(OWNER_TAG, "")
    if cluster_owner != owner:
        return Verdict(
            cluster_id,
            run_id,
            terminate=False,
            reason=f"owned by deployment {cluster_owner or '(none)'}",
            foreign=True,
        )
    status = run_status(run_id) if run_id else None
    alive = status in ALIVE_RUN_STATUSES
    deadline = parse_time(tags.get(DEADLINE_TAG, ""))
    if deadline is not None and now > deadline:
        return Verdict(
            cluster_id,
            run_id,
            terminate=True,
            reason=f"its run's time limit passed at {tags[DEADLINE_TAG]}",
            fail_run=alive,
        )
    lease = parse_time(tags.get(LEASE_TAG, ""))
    if lease is not None and now > lease:
        return Verdict(
            cluster_id,
            run_id,
            terminate=True,
            reason=(
                f"its lease expired at {tags[LEASE_TAG]}: the process of run {run_id or '?'} "
                "stopped renewing it"
            ),
            fail_run=alive,
        )
    if not alive:
        why = status.value if status is not None else "unknown to this instance"
        return Verdict(cluster_id, run_id, terminate=True, reason=f"its run is {why}")
    return Verdict(cluster_id, run_id, terminate=False, reason="its run holds it")


def orphaned_when_it_ended(tags: Mapping[str, str], ended: float) -> str | None:
    """Why no live process held a cluster that has ended: its run's time limit or its lease had
    passed when it ended (the cluster's lease watchdog or a janitor ended it). None when its run
    still held it: a run renews the lease until it releases and terminates its own cluster."""
    if tags.get(LEASE_TAG) == RELEASED:
        return None
    deadline = parse_time(tags.get(DEADLINE_TAG, ""))
    if deadline is not None and ended > deadline:
        return f"its run's time limit passed at {tags[DEADLINE_TAG]}"
    lease = parse_time(tags.get(LEASE_TAG, ""))
    if lease is not None and ended > lease:
        run_id = tags.get(RUN_ID_TAG, "") or "?"
        return (
            f"its lease expired at {tags[LEASE_TAG]}: the process of run {run_id} had stopped "
            "renewing it"
        )
    return None


# Statuses in which a run may still be using its cluster.
ALIVE_RUN_STATUSES = frozenset(
    {
        dg.DagsterRunStatus.QUEUED,
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
        dg.DagsterRunStatus.CANCELING,
    }
)
