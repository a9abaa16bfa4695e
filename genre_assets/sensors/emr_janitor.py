"""Terminates this deployment's EMR clusters that no live run holds (aws deployment only).

The EMR resource terminates its cluster when a run ends, but a process that is killed (OOM, a
lost node, `kill -9`, a code server going down with its runs) never gets to, and its run may stay
STARTED for ever. Every minute this sensor judges each live genre-assets cluster by its tags
(resources/aws/cluster_ownership.py): another deployment's cluster is left alone; one of ours
is terminated when its run has ended or is unknown, when its lease has expired or when its run's
time limit has passed, and in the last two cases a run that still looks alive is marked failed,
naming the cluster, so the UI shows the truth. The idle auto-termination policy is the last
backstop.
"""

import time

import dagster as dg

from genre_assets.resources.aws import cluster_ownership, emr_cluster
from genre_assets.resources.aws.emr_engine import EMREngineResource

JANITOR_INTERVAL_SECONDS = 60


@dg.sensor(
    name="emr_janitor",
    minimum_interval_seconds=JANITOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Terminates this deployment's genre-assets EMR clusters whose run has ended or vanished, "
        "whose lease expired or whose run passed its time limit."
    ),
)
def emr_janitor(context: dg.SensorEvaluationContext, engine: EMREngineResource) -> dg.SkipReason:
    instance = context.instance
    owner = cluster_ownership.deployment_identity(instance, engine.deployment_name)
    emr = engine.aws.client("emr")

    def run_status(run_id: str) -> dg.DagsterRunStatus | None:
        run = instance.get_run_by_id(run_id)
        return run.status if run is not None else None

    now = time.time()
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
        # The run's own log says what happened to its cluster, whoever ended the run.
        run = instance.get_run_by_id(verdict.run_id) if verdict.run_id else None
        if run is None:
            continue
        if verdict.fail_run and run.status in cluster_ownership.ALIVE_RUN_STATUSES:
            instance.report_run_failed(run, f"Marked failed by emr_janitor: {what}.")
        else:
            instance.report_engine_event(f"emr_janitor: {what}.", run)
    foreign = [v for v in verdicts if v.foreign]
    kept = len(verdicts) - len(doomed) - len(foreign)
    message = (
        f"deployment {owner}: terminated {len(doomed)} cluster(s); "
        f"{kept} cluster(s) belong to live runs"
    )
    if foreign:
        message += "; left alone: " + ", ".join(f"{v.cluster_id} ({v.reason})" for v in foreign)
    return dg.SkipReason(message)
