"""The EMR side of the emulator: cluster lifecycles and a step executor beside moto.

moto keeps the clusters and steps (and answers the API) but never runs anything: a new cluster
is WAITING at once and a step stays as submitted. A watcher thread finds each cluster in moto's
in-process backends and gives it a worker thread that plays EMR: STARTING, BOOTSTRAPPING (its
bootstrap actions run on its emulated master node, `nodes.py`), then
WAITING/RUNNING while it runs the steps one at a time in submission order, each for real, ending
COMPLETED or FAILED by its outcome (with ActionOnFailure applied), and TERMINATED when asked to
or when it runs out of steps without KeepJobFlowAliveWhenNoSteps.

moto's request threads write the same objects (AddJobFlowSteps sets the cluster RUNNING,
TerminateJobFlows sets TERMINATED and `end_datetime`), so every state the worker writes is
re-checked against `end_datetime`: a terminated cluster is never brought back to life.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.core.utils import utcnow
from moto.emr.models import emr_backends

from genre_assets_emulator.nodes import MasterNode
from genre_assets_emulator.steps import StepContext, StepResult, run_step, upload_logs

log = logging.getLogger("genre_assets_emulator")

DEAD_STATES = {"TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"}
_QUEUED = {"PENDING", "RUNNING"}  # moto marks the first step of an idle cluster RUNNING at once
_NORMALIZATION = {"nano": 0.25, "micro": 0.5, "small": 1, "medium": 2, "large": 4, "xlarge": 8}


def live_clusters() -> list[tuple[str, str, Any]]:
    """(account, region, cluster) for every cluster in moto's EMR backends."""
    found: list[tuple[str, str, Any]] = []
    for account_id, regions in list(emr_backends.items()):
        for region, backend in list(regions.items()):
            found.extend((account_id, region, c) for c in list(backend.clusters.values()))
    return found


def normalization_factor(instance_type: str) -> float:
    """EMR's normalised instance hours per hour for an instance size (m5.xlarge: 8)."""
    size = instance_type.rsplit(".", 1)[-1]
    multiple = re.fullmatch(r"(\d+)xlarge", size)
    return 8 * int(multiple.group(1)) if multiple else _NORMALIZATION.get(size, 8)


class FleetInstance:
    """One EC2 instance of an instance fleet, as ListInstances describes it (moto 5.2 creates
    instances only for instance groups, so the emulator adds those of the fleets it plays)."""

    def __init__(self, cluster_id: str, fleet_id: str, number: int, kind: str, market: str) -> None:
        self.id = f"ci-{cluster_id[2:]}{number:02d}"
        self.ec2_instance_id = f"i-{cluster_id[2:].lower()}{number:02d}"
        self.instance_fleet_id = fleet_id
        self.instance_group_id = ""
        self.instance_type = kind
        self.market = market
        self.public_dns_name = self.private_dns_name = f"ip-10-0-0-{number + 10}.ec2.internal"
        self.public_ip_address = self.private_ip_address = f"10.0.0.{number + 10}"
        self.ebs_volumes: list[dict[str, str]] = []
        self.state = "AWAITING_FULFILLMENT"
        self.creation_date_time = utcnow()
        self.ready_date_time: Any = None
        self.end_date_time: Any = None

    @property
    def status(self) -> dict[str, Any]:
        return {
            "State": self.state,
            "StateChangeReason": {},
            "Timeline": {
                "CreationDateTime": self.creation_date_time,
                "ReadyDateTime": self.ready_date_time,
                "EndDateTime": self.end_date_time,
            },
        }


def fleet_instances(cluster_id: str, fleets: list[dict[str, Any]]) -> list[FleetInstance]:
    """The instances a fleet request gets: on-demand units, then spot units, each of the first
    instance type the fleet lists (one unit per instance, the default WeightedCapacity)."""
    instances: list[FleetInstance] = []
    for number, fleet in enumerate(fleets):
        kind = (fleet.get("InstanceTypeConfigs") or [{}])[0].get("InstanceType", "m5.xlarge")
        fleet_id = f"if-{cluster_id[2:]}{number}"
        for market, key in (
            ("ON_DEMAND", "TargetOnDemandCapacity"),
            ("SPOT", "TargetSpotCapacity"),
        ):
            for _ in range(int(fleet.get(key, 0))):
                instances.append(FleetInstance(cluster_id, fleet_id, len(instances), kind, market))
    return instances


class ClusterWorker(threading.Thread):
    """Plays one cluster from its start to its termination."""

    def __init__(
        self,
        cluster: Any,
        region: str,
        *,
        context: StepContext,
        start_seconds: float,
        tick_seconds: float,
        fleets: Callable[[str], list[dict[str, Any]]],
        stopping: threading.Event,
    ) -> None:
        super().__init__(name=f"emr-{cluster.id}", daemon=True)
        self.cluster = cluster
        self.region = region
        self.context = context
        self.start_seconds = start_seconds
        self.tick = tick_seconds
        self.fleets = fleets
        self.stopping = stopping
        self.created = time.monotonic()
        self._handled: set[str] = set()
        # Guards step states between this thread and request threads (queue_new_steps).
        self._steps_lock = threading.Lock()
        if not self.terminated:
            # Before RunJobFlow's answer leaves the server: a new cluster is never seen WAITING.
            self._queued_steps()
            self._set_state("STARTING")
            self.cluster.ec2_instances.extend(fleet_instances(cluster.id, fleets(cluster.id)))
        master = next((i for i in cluster.ec2_instances if isinstance(i, FleetInstance)), None)
        self.node = MasterNode(
            cluster.id,
            master.ec2_instance_id if master else f"i-{cluster.id[2:].lower()}00",
            master.instance_fleet_id if master else "ig-master",
        )

    # -- state ---------------------------------------------------------------------------
    @property
    def terminated(self) -> bool:
        # moto's terminate() sets end_datetime before TERMINATED: the reliable signal.
        return self.cluster.end_datetime is not None or self.cluster.state in DEAD_STATES

    def _set_state(self, state: str) -> bool:
        """Set the cluster's state unless it was terminated meanwhile; True when set."""
        self.cluster.state = state
        if self.cluster.end_datetime is not None:
            self.cluster.state = "TERMINATED"
            return False
        return True

    def _queued_steps(self) -> list[Any]:
        with self._steps_lock:
            queued = [
                s
                for s in list(self.cluster.steps)
                if s.id not in self._handled and s.state in _QUEUED
            ]
            for step in queued:
                step.state = "PENDING"
            return queued

    def queue_new_steps(self) -> None:
        if not self.terminated:
            self._queued_steps()

    def check_termination(self) -> None:
        """Called by the watcher: a terminated cluster's running step must stop."""
        if self.terminated:
            self.context.cancelled.set()

    # -- lifecycle -------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._play()
        except Exception:
            log.exception("EMR emulation of cluster %s failed", self.cluster.id)
            self._terminate("Internal error in the EMR emulator", state="TERMINATED_WITH_ERRORS")
        finally:
            self._update_instance_hours()

    def _play(self) -> None:
        if self.terminated:
            # Created without steps and without KeepJobFlowAliveWhenNoSteps: moto ended it.
            return self._after_termination()
        log.info("EMR cluster %s (%s) is STARTING", self.cluster.id, self.cluster.name)
        if not self._hold("STARTING", self.start_seconds / 2):
            return self._after_termination()
        if not self._set_state("BOOTSTRAPPING"):
            return self._after_termination()
        failure = self.node.run_bootstrap_actions(self._bootstrap_actions(), self.context)
        if failure is not None:
            log.info("EMR cluster %s: %s", self.cluster.id, failure.reason)
            return self._terminate(failure.reason, state="TERMINATED_WITH_ERRORS")
        if not self._hold("BOOTSTRAPPING", self.start_seconds / 2):
            return self._after_termination()
        self.cluster.ready_datetime = utcnow()
        self._set_instances("RUNNING", ready=True)
        had_steps = False
        while not self.stopping.is_set():
            if self.terminated or not self._still_in_moto():
                return self._after_termination()
            queued = self._queued_steps()
            if queued:
                had_steps = True
                self._run(queued[0])
                continue
            if had_steps and not self.cluster.keep_job_flow_alive_when_no_steps:
                return self._terminate("Steps completed")
            if not self._set_state("WAITING"):
                continue
            self.stopping.wait(self.tick)

    def _bootstrap_actions(self) -> list[tuple[str, list[str]]]:
        return [
            (str(action.script_path), [str(a) for a in action.args])
            for action in getattr(self.cluster, "bootstrap_actions", [])
        ]

    def _hold(self, state: str, seconds: float) -> bool:
        """Stay in `state` (re-asserted: AddJobFlowSteps flips it) unless terminated."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stopping.is_set():
            self._queued_steps()
            if not self._set_state(state):
                return False
            self.stopping.wait(min(self.tick, max(0.0, deadline - time.monotonic())))
        return not self.terminated

    def _run(self, step: Any) -> None:
        with self._steps_lock:
            self._handled.add(step.id)
            if not self._set_state("RUNNING"):
                step.state = "CANCELLED"
                return
            step.state, step.start_date_time = "RUNNING", utcnow()
        log.info("EMR step %s %r started on %s", step.id, step.name, self.cluster.id)
        started = time.monotonic()
        try:
            result = run_step(step.jar, list(step.args), self.context)
        except Exception as error:
            log.exception("EMR step %s crashed the emulator", step.id)
            result = StepResult(False, f"internal error in the EMR emulator: {error!r}", "", "")
        upload_logs(self.context, self.cluster.log_uri, self.cluster.id, step.id, result)
        if self.context.cancelled.is_set() and not result.ok:
            step.state, step.last_state_change_reason = "CANCELLED", "Cluster terminated"
        elif result.ok:
            step.state = "COMPLETED"
        else:
            step.state, step.last_state_change_reason = "FAILED", result.reason
        step.end_date_time = utcnow()
        log.info(
            "EMR step %s %r %s after %.1f s%s",
            step.id,
            step.name,
            step.state,
            time.monotonic() - started,
            f": {result.reason}" if result.reason else "",
        )
        self._update_instance_hours()
        if step.state == "FAILED":
            self._on_failure(step, result)

    def _on_failure(self, step: Any, result: StepResult) -> None:
        action = (step.action_on_failure or "CONTINUE").upper()
        if action == "CONTINUE":
            return
        for queued in self._queued_steps():
            self._handled.add(queued.id)
            queued.state = "CANCELLED"
            queued.last_state_change_reason = f"Cancelled because step {step.id} failed"
        if action in ("TERMINATE_CLUSTER", "TERMINATE_JOB_FLOW"):
            self._terminate(f"Shut down as step {step.id} failed", state="TERMINATED_WITH_ERRORS")

    def _terminate(self, why: str, state: str = "TERMINATED") -> None:
        if self.cluster.end_datetime is None:
            self.cluster.last_state_change_reason = why
            self.cluster.terminate()
            self.cluster.state = state
        self._after_termination()

    def _set_instances(self, state: str, *, ready: bool = False, ended: bool = False) -> None:
        for instance in self.cluster.ec2_instances:
            if isinstance(instance, FleetInstance) and instance.end_date_time is None:
                instance.state = state
                if ready:
                    instance.ready_date_time = utcnow()
                if ended:
                    instance.end_date_time = utcnow()

    def _after_termination(self) -> None:
        """What EMR does to a terminated cluster's remaining steps, instances and nodes."""
        self.context.cancelled.set()
        self.node.stop()
        self._set_instances("TERMINATED", ended=True)
        if self.cluster.state not in DEAD_STATES:
            # moto's AddJobFlowSteps sets RUNNING even on a terminated cluster.
            self.cluster.state = "TERMINATED"
        if not getattr(self.cluster, "last_state_change_reason", None):
            self.cluster.last_state_change_reason = "Terminated by user request"
        for step in self._queued_steps():
            self._handled.add(step.id)
            step.state, step.last_state_change_reason = "CANCELLED", "Cluster terminated"
        log.info("EMR cluster %s is %s", self.cluster.id, self.cluster.state)

    def _still_in_moto(self) -> bool:
        # A moto reset drops every backend: the worker of a forgotten cluster just ends.
        try:
            return (
                emr_backends[self.cluster.emr_backend.account_id][self.region].clusters.get(
                    self.cluster.id
                )
                is self.cluster
            )
        except KeyError:
            return False

    def _update_instance_hours(self) -> None:
        """NormalizedInstanceHours as EMR bills it: each started hour, per instance, by size."""
        fleets = self.fleets(self.cluster.id)
        if not fleets:
            return
        hours = max(1, math.ceil((time.monotonic() - self.created) / 3600))
        total = 0.0
        for fleet in fleets:
            types = fleet.get("InstanceTypeConfigs") or [{}]
            count = int(fleet.get("TargetOnDemandCapacity", 0)) + int(
                fleet.get("TargetSpotCapacity", 0)
            )
            total += count * normalization_factor(types[0].get("InstanceType", "m5.xlarge"))
        self.cluster.normalized_instance_hours = int(total * hours)


class ClusterWatcher:
    """Finds new clusters in moto and starts a worker for each; stops them all on `stop()`."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        bin_dir: Any,
        start_seconds: float,
        tick_seconds: float = 0.05,
        fleets: Callable[[str], list[dict[str, Any]]] = lambda _: [],
    ) -> None:
        self.endpoint_url = endpoint_url
        self.bin_dir = bin_dir
        self.start_seconds = start_seconds
        self.tick = tick_seconds
        self.fleets = fleets
        self.stopping = threading.Event()
        self.workers: dict[str, ClusterWorker] = {}
        self._ignored: set[str] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="emr-watcher", daemon=True)

    def start(self) -> None:
        # Clusters already in moto (an earlier emulator in this process) are not ours to play.
        self._ignored = {c.id for _, _, c in live_clusters()}
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        for worker in self._workers():
            worker.context.cancelled.set()
        self._thread.join(timeout)
        for worker in self._workers():
            worker.join(timeout)
            worker.node.stop()  # the processes its bootstrap actions left behind

    def _workers(self) -> list[ClusterWorker]:
        return list(self.workers.values())

    def queue_steps(self, cluster_id: str) -> None:
        """Mark a cluster's newly added steps PENDING now (the middleware calls this as
        AddJobFlowSteps returns)."""
        worker = self.workers.get(cluster_id)
        if worker is not None:
            worker.queue_new_steps()

    def adopt(self, cluster_id: str) -> None:
        """Start playing a cluster now (the middleware calls this as RunJobFlow returns)."""
        for _, region, cluster in live_clusters():
            if cluster.id == cluster_id:
                self._start_worker(cluster, region)

    def _watch(self) -> None:
        # Also catches clusters made without the middleware seeing it (e.g. CloudFormation).
        while not self.stopping.wait(self.tick):
            for _, region, cluster in live_clusters():
                self._start_worker(cluster, region)
            for worker in self._workers():
                worker.check_termination()

    def _start_worker(self, cluster: Any, region: str) -> None:
        with self._lock:
            if cluster.id in self.workers or cluster.id in self._ignored or self.stopping.is_set():
                return
            self._start_worker_locked(cluster, region)

    def _start_worker_locked(self, cluster: Any, region: str) -> None:
        context = StepContext.of_cluster(
            cluster,
            endpoint_url=self.endpoint_url,
            region=region,
            bin_dir=self.bin_dir,
            cancelled=threading.Event(),
        )
        worker = ClusterWorker(
            cluster,
            region,
            context=context,
            start_seconds=self.start_seconds,
            tick_seconds=self.tick,
            fleets=self.fleets,
            stopping=self.stopping,
        )
        self.workers[cluster.id] = worker
        worker.start()
