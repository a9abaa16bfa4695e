"""Terminates this deployment's EMR clusters that no live run holds, and tells their runs
(aws deployment only).

The EMR resource terminates its cluster when a run ends, but a process that is killed (OOM, a
lost node, `kill -9`, a code server going down with its runs) never gets to, and its run may stay
STARTED for ever. Every minute this sensor judges each live genre-assets cluster by its tags
(resources/aws/cluster_ownership.py): another deployment's cluster is left alone; one of ours
is terminated when its run has ended or is unknown, when its lease has expired or when its run's
time limit has passed, and in the last two cases a run that still looks alive is marked failed,
naming the cluster, so the UI shows the truth.

Most orphaned clusters end before the janitor sees them: each cluster's own lease watchdog (a
bootstrap action, sql/shell/lease_watchdog.sh.j2) terminates it once its lease has run out,
whether or not any janitor is running. So the janitor also looks at this deployment's clusters
that ended since its last tick: one that ended after its lease or time limit had passed had lost
its run's process, and a run that still looks alive is marked failed (an ended run gets a note).
The idle auto-termination policy is the last backstop.
"""

from __future__ import annotations

import datetime
import json
import time

import dagster as dg

from genre_assets.resources.aws import cluster_ownership, emr_cluster
from genre_assets.resources.aws.emr_engine import EMREngineResource

JANITOR_INTERVAL_SECONDS = 60
# ListClusters is eventually consistent: each tick looks this far behind its last one for clusters
# that ended, and the cursor remembers which it has already reported.
ENDED_OVERLAP_SECONDS = 300
# Without a cursor (a new deployment, a reset sensor), how far back to look for ended clusters.
FIRST_LOOK_BACK_SECONDS = 3600


@dg.sensor(
    name="emr_janitor",
    minimum_interval_seconds=JANITOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Terminates this deployment's genre-assets EMR clusters whose run has ended or vanished, "
        "whose lease expired or whose run passed its time limit; marks failed the runs whose "
        "clusters ended that way."
    ),
)
def emr_janitor(context: dg.SensorEvaluationContext, engine: EMREngineResource) -> dg.SkipReason:
    instance = context.instance
    owner = cluster_ownership.deployment_identity(instance, engine.deployment_name)
    emr = engine.aws.client("emr")
    now = time.time()
    since, reported = _read_cursor(context.cursor, now)

    def run_status(run_id: str) -> dg.DagsterRunStatus | None:
        run = instance.get_run_by_id(run_id)
        return run.status if run is not None else None

    def tell_run(run_id: str, what: str, fail: bool) -> None:
        # The run's own log says what happened to its cluster, whoever ended the run.
        run = instance.get_run_by_id(run_id) if run_id else None
        if run is None:
            return
        if fail and run.status in cluster_ownership.ALIVE_RUN_STATUSES:
            instance.report_run_failed(run, f"Marked failed by emr_janitor: {what}.")
        else:
            instance.report_engine_event(f"emr_janitor: {what}.", run)

    verdicts = [
        cluster_ownership.judge(cluster["id"], cluster["tags"], owner, run_status, now)
        for cluster in emr_cluster.managed_live_clusters(emr)
    ]
    doomed = [v for v in verdicts if v.terminate]
    if doomed:
        emr.terminate_job_flows(JobFlowIds=[v.cluster_id for v in doomed])
    for verdict in doomed:
        what = f"EMR cluster {verdict.cluster_id} was terminated because {verdict.reason}"
        context.log.warning(what)
        tell_run(verdict.run_id, what, verdict.fail_run)
        reported[verdict.cluster_id] = now

    orphans = 0
    ended = emr_cluster.managed_clusters_ended_since(
        emr,
        ended_after=since - ENDED_OVERLAP_SECONDS,
        created_after=datetime.datetime.fromtimestamp(
            now - engine.max_run_seconds - FIRST_LOOK_BACK_SECONDS, datetime.UTC
        ),
    )
    for cluster in ended:
        tags = cluster["tags"]
        if cluster["id"] in reported or tags.get(cluster_ownership.OWNER_TAG) != owner:
            continue
        why = cluster_ownership.orphaned_when_it_ended(tags, cluster["ended"])
        if why is None:
            continue
        when = cluster_ownership.format_time(cluster["ended"])
        what = f"EMR cluster {cluster['id']} was terminated at {when} because {why}"
        context.log.warning(what)
        tell_run(tags.get(cluster_ownership.RUN_ID_TAG, ""), what, fail=True)
        reported[cluster["id"]] = now
        orphans += 1

    context.update_cursor(_write_cursor(now, reported))
    foreign = [v for v in verdicts if v.foreign]
    kept = len(verdicts) - len(doomed) - len(foreign)
    message = (
        f"deployment {owner}: terminated {len(doomed)} cluster(s); "
        f"{kept} cluster(s) belong to live runs"
    )
    if orphans:
        message += f"; {orphans} cluster(s) had ended after their lease or time limit"
    if foreign:
        message += "; left alone: " + ", ".join(f"{v.cluster_id} ({v.reason})" for v in foreign)
    return dg.SkipReason(message)


def _read_cursor(cursor: str | None, now: float) -> tuple[float, dict[str, float]]:
    """(the last tick's time, cluster id -> when it was reported) from the sensor's cursor."""
    try:
        state = json.loads(cursor or "")
        since = float(state["since"])
        reported = {str(k): float(v) for k, v in state["reported"].items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        return now - FIRST_LOOK_BACK_SECONDS, {}
    return since, reported


def _write_cursor(now: float, reported: dict[str, float]) -> str:
    # A reported cluster can be listed again while it is inside the overlap window only.
    keep_after = now - ENDED_OVERLAP_SECONDS - 3 * JANITOR_INTERVAL_SECONDS
    recent = {k: v for k, v in reported.items() if v > keep_after}
    return json.dumps({"since": now, "reported": recent}, sort_keys=True)
