"""Terminates EMR clusters whose Dagster run is no longer running (aws deployment only).

The EMR resource terminates its cluster when a run ends, but a run process that is killed (OOM,
a lost node, `kill -9`) never gets to. This sensor is the second line of defence; the cluster's
idle auto-termination policy is the third.
"""

import dagster as dg

from genre_assets.resources.aws import emr_cluster
from genre_assets.resources.aws.emr_engine import EMREngineResource

# Statuses in which a run may still be using its cluster.
_ALIVE = {
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
}


@dg.sensor(
    name="emr_janitor",
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Terminates genre-assets EMR clusters whose Dagster run has ended or vanished.",
)
def emr_janitor(context: dg.SensorEvaluationContext, engine: EMREngineResource) -> dg.SkipReason:
    emr = engine.aws.client("emr")
    clusters = emr_cluster.managed_live_clusters(emr)
    orphans = []
    for cluster in clusters:
        run_id = cluster["tags"].get(emr_cluster.RUN_ID_TAG, "")
        run = context.instance.get_run_by_id(run_id) if run_id else None
        if run is None or run.status not in _ALIVE:
            orphans.append(
                (cluster["id"], run_id, run.status.value if run else "unknown to this instance")
            )
    if orphans:
        emr.terminate_job_flows(JobFlowIds=[cluster_id for cluster_id, _, _ in orphans])
        for cluster_id, run_id, status in orphans:
            context.log.warning(
                f"Terminated EMR cluster {cluster_id}: its run {run_id or '?'} is {status}"
            )
    live = len(clusters) - len(orphans)
    return dg.SkipReason(
        f"terminated {len(orphans)} orphaned cluster(s); {live} cluster(s) belong to live runs"
    )
