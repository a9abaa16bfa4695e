"""Cluster ownership: the deployment and run tags, the lease, the deadline, reattaching, and the
janitor's verdicts (pure rules first, then the engine and the janitor against moto)."""

from __future__ import annotations

import json
import threading
import time

import boto3
import dagster as dg
import pytest

from genre_assets.domain.schema import MOVIES
from genre_assets.errors import ConfigurationError, EngineError
from genre_assets.resources.aws import cluster_ownership as own
from genre_assets.sensors.emr_janitor import emr_janitor
from genre_assets_tests.support.aws import REGION, aws_resources, clusters, start_tagged_cluster

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
ALIVE = dg.DagsterRunStatus.STARTED


def _tags(**extra: str) -> dict[str, str]:
    return {
        own.MANAGED_TAG: "true",
        own.OWNER_TAG: "production",
        own.RUN_ID_TAG: "run-1",
        own.LEASE_TAG: own.format_time(NOW + 60),
        own.DEADLINE_TAG: own.format_time(NOW + 3600),
        **extra,
    }


def _judge(tags, status=ALIVE, owner="production"):
    return own.judge("j-1", tags, owner, lambda run_id: status, NOW)


# --- the rules --------------------------------------------------------------------------------


def test_times_round_trip_through_tag_values_emr_accepts():
    text = own.format_time(NOW)
    assert text == "2027-01-15T08:00:00Z"
    assert own.parse_time(text) == NOW
    assert own.parse_time("soon") is None and own.parse_time("") is None


@pytest.mark.parametrize("name", ["", "Production", "prod env", "a" * 65, "prod/1"])
def test_a_deployment_name_outside_the_tag_alphabet_is_refused(name):
    with pytest.raises(ConfigurationError, match="GENRE_ASSETS_DEPLOYMENT_NAME"):
        own.validate_deployment_name(name)


def test_a_live_run_with_a_fresh_lease_keeps_its_cluster():
    verdict = _judge(_tags())
    assert not verdict.terminate and not verdict.foreign


def test_another_deployments_cluster_is_never_touched_whatever_its_state():
    expired = _tags(**{own.LEASE_TAG: own.format_time(NOW - 600)})
    for tags in (expired, {k: v for k, v in expired.items() if k != own.OWNER_TAG}):
        verdict = _judge(tags, status=None, owner="staging")
        assert verdict.foreign and not verdict.terminate
    assert _judge(expired, owner="staging").reason == "owned by deployment production"


def test_an_expired_lease_ends_the_cluster_and_fails_a_run_that_still_looks_alive():
    verdict = _judge(_tags(**{own.LEASE_TAG: own.format_time(NOW - 1)}))
    assert verdict.terminate and verdict.fail_run
    assert "lease expired at 2027-01-15T07:59:59Z" in verdict.reason
    assert "run run-1 stopped renewing it" in verdict.reason


def test_a_passed_deadline_ends_the_cluster_even_with_a_fresh_lease():
    verdict = _judge(_tags(**{own.DEADLINE_TAG: own.format_time(NOW - 1)}))
    assert verdict.terminate and verdict.fail_run
    assert "time limit passed" in verdict.reason


@pytest.mark.parametrize(
    ("status", "why"),
    [(dg.DagsterRunStatus.FAILURE, "FAILURE"), (None, "unknown to this instance")],
)
def test_an_ended_or_unknown_run_loses_its_cluster_without_being_marked(status, why):
    verdict = _judge(_tags(), status=status)
    assert verdict.terminate and not verdict.fail_run
    assert verdict.reason == f"its run is {why}"


def test_the_generated_identity_is_stable_per_instance_and_differs_between_instances():
    with dg.instance_for_test() as first, dg.instance_for_test() as second:
        one = own.deployment_identity(first, "")
        assert one.startswith("instance-") and own.deployment_identity(first, "") == one
        assert own.deployment_identity(second, "") != one
        assert own.deployment_identity(first, "staging") == "staging"


def test_the_lease_keeper_renews_until_stopped_and_survives_a_failed_call():
    calls: list[list[dict[str, str]]] = []
    errors: list[str] = []
    renewed = threading.Event()

    def add_tags(tags):
        calls.append(tags)
        if len(calls) == 1:
            raise RuntimeError("ThrottlingException")
        if len(calls) >= 3:
            renewed.set()

    keeper = own.LeaseKeeper(add_tags, 60, 0.01, lambda: NOW, errors.append)
    keeper.start()
    assert renewed.wait(5)
    keeper.stop()
    count = len(calls)
    time.sleep(0.05)
    assert len(calls) == count  # stopped means stopped
    assert calls[-1] == [{"Key": own.LEASE_TAG, "Value": own.format_time(NOW + 60)}]
    assert errors == ["could not renew the EMR cluster lease: ThrottlingException"]


# --- the engine against moto --------------------------------------------------------------------


def _cluster_tags(cluster) -> dict[str, str]:
    return dict(cluster._tags)


def test_the_cluster_carries_owner_run_lease_and_deadline(aws_env, step_driver):
    with dg.instance_for_test() as instance:
        with dg.build_resources(
            aws_resources(deployment_name="staging", max_run_seconds=3600), instance=instance
        ) as resources:
            started = time.time()
            resources.engine.create_database(dg.get_dagster_logger())
            (cluster,) = clusters()
            tags = _cluster_tags(cluster)
    assert tags[own.OWNER_TAG] == "staging"
    lease = own.parse_time(tags[own.LEASE_TAG])
    deadline = own.parse_time(tags[own.DEADLINE_TAG])
    assert lease is not None and started + 290 <= lease <= time.time() + 301
    assert deadline is not None and started + 3590 <= deadline <= time.time() + 3601


def test_a_retry_in_a_new_process_reattaches_to_the_runs_live_cluster(aws_env, step_driver):
    emr = boto3.client("emr", region_name=REGION)
    with dg.instance_for_test() as instance:
        with dg.build_resources(aws_resources(), instance=instance) as first:
            first.engine.create_database(dg.get_dagster_logger())
            (cluster,) = clusters()
            # The first process dies here: no teardown, no termination, no more renewals.
            first.engine._lease.stop()
            first.engine._lease, first.engine._cluster_id = None, None
        assert cluster.state != "TERMINATED"
        # A retried step of the same run in a new process builds its resources again.
        with dg.build_resources(aws_resources(), instance=instance) as again:
            again.engine.create_source_table(dg.get_dagster_logger(), MOVIES)
            assert again.engine._cluster_id == cluster.id
            assert [s.name for s in cluster.steps][-1] == "create movies table"
        assert len(clusters()) == 1  # one RunJobFlow for the run, not two
        state = emr.describe_cluster(ClusterId=cluster.id)["Cluster"]["Status"]["State"]
        assert state == "TERMINATED"


def test_the_lease_is_renewed_while_the_run_holds_the_cluster(aws_env, step_driver):
    with dg.build_resources(aws_resources(lease_seconds=5)) as resources:
        resources.engine.create_database(dg.get_dagster_logger())
        (cluster,) = clusters()
        first = _cluster_tags(cluster)[own.LEASE_TAG]
        keeper = resources.engine._lease
        deadline = time.monotonic() + 10
        while keeper.renewals < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert keeper.renewals >= 2  # every lease/10 s (at least 1 s)
        assert own.parse_time(_cluster_tags(cluster)[own.LEASE_TAG]) >= own.parse_time(first)
    assert resources.engine._lease is None  # stopped with the cluster
    # Released before the termination request: EMR's minutes of TERMINATING never read as a
    # lapsed lease, so the janitor never blames this run for its own cluster's end.
    tags = _cluster_tags(cluster)
    assert tags[own.LEASE_TAG] == own.RELEASED
    assert own.orphaned_when_it_ended(tags, time.time() + 3600) is None


def test_a_cluster_ended_after_its_lease_or_deadline_had_lost_its_run():
    lapsed = _tags(**{own.LEASE_TAG: own.format_time(NOW - 1)})
    assert "lease expired" in own.orphaned_when_it_ended(lapsed, NOW)
    assert own.orphaned_when_it_ended(_tags(), NOW) is None  # ended by its live run
    late = _tags(**{own.DEADLINE_TAG: own.format_time(NOW - 1)})
    assert "time limit passed" in own.orphaned_when_it_ended(late, NOW)


def test_overrides_with_bootstrap_actions_of_their_own_keep_the_lease_watchdog():
    from genre_assets.resources.aws.emr_cluster import LEASE_WATCHDOG_ACTION

    mine = {"Name": "install tools", "ScriptBootstrapAction": {"Path": "s3://b/tools.sh"}}
    engine = aws_resources(job_flow_overrides=json.dumps({"BootstrapActions": [mine]}))["engine"]
    names = [a["Name"] for a in engine.job_flow_request()["BootstrapActions"]]
    assert names == ["install tools", LEASE_WATCHDOG_ACTION]
    plain = [a["Name"] for a in aws_resources()["engine"].job_flow_request()["BootstrapActions"]]
    assert plain == [LEASE_WATCHDOG_ACTION]


def test_a_run_past_its_time_limit_ends_its_cluster(aws_env, monkeypatch):
    from genre_assets.resources.aws import emr_cluster
    from genre_assets_tests.support.aws import StepDriver

    driver = StepDriver(outcome=lambda s: "RUNNING", on_poll=lambda: time.sleep(0.1))
    monkeypatch.setattr(emr_cluster, "_sleep", driver)
    with dg.build_resources(aws_resources(max_run_seconds=3)) as resources:
        with pytest.raises(EngineError, match="reached its time limit"):
            resources.engine.create_database(dg.get_dagster_logger())
        assert clusters()[0].state == "TERMINATED"
        assert driver.polls > 3  # the step was running when the limit came


# --- the janitor against moto ---------------------------------------------------------------------


def _start(emr, owner: str, run_id: str, lease_offset: float) -> str:
    tags = {
        own.MANAGED_TAG: "true",
        own.OWNER_TAG: owner,
        own.RUN_ID_TAG: run_id,
        own.LEASE_TAG: own.format_time(time.time() + lease_offset),
    }
    return start_tagged_cluster(emr, tags)


def test_the_janitor_ends_an_expired_lease_marks_its_run_failed_and_spares_neighbours(aws_env):
    emr = boto3.client("emr", region_name=REGION)
    with dg.instance_for_test() as instance:
        for run_id in ("crashed", "healthy"):
            instance.add_run(dg.DagsterRun(job_name="genre_films_job", run_id=run_id, status=ALIVE))
        crashed = _start(emr, "production", "crashed", lease_offset=-5)
        healthy = _start(emr, "production", "healthy", lease_offset=300)
        neighbour = _start(emr, "staging", "their-run", lease_offset=-5)
        resources = {"engine": aws_resources(deployment_name="production")["engine"]}
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            result = emr_janitor(context)
        states = {c.id: c.state for c in clusters()}
        assert states[crashed] == "TERMINATED"
        assert states[healthy] != "TERMINATED" and states[neighbour] != "TERMINATED"
        assert result.skip_message.startswith(
            "deployment production: terminated 1 cluster(s); 1 cluster(s) belong to live runs"
        )
        assert f"left alone: {neighbour} (owned by deployment staging)" in result.skip_message
        run = instance.get_run_by_id("crashed")
        assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
        (failure,) = instance.all_logs("crashed", of_type=dg.DagsterEventType.RUN_FAILURE)
        assert f"EMR cluster {crashed} was terminated" in (failure.message or "")
        assert "lease expired" in (failure.message or "")
        assert instance.get_run_by_id("healthy").status == ALIVE


def test_two_instances_sharing_an_account_never_terminate_each_others_clusters(aws_env):
    emr = boto3.client("emr", region_name=REGION)
    engine = {"engine": aws_resources()["engine"]}  # no configured name: each instance's own id
    with dg.instance_for_test() as staging, dg.instance_for_test() as production:
        clusters_of = {}
        for instance in (staging, production):
            owner = own.deployment_identity(instance, "")
            run = instance.add_run(
                dg.DagsterRun(job_name="genre_films_job", run_id=f"run-{owner}", status=ALIVE)
            )
            clusters_of[owner] = _start(emr, owner, run.run_id, lease_offset=300)
        for instance in (staging, production):
            with dg.build_sensor_context(instance=instance, resources=engine) as context:
                message = emr_janitor(context).skip_message
            mine = own.deployment_identity(instance, "")
            (theirs,) = set(clusters_of) - {mine}
            # The other instance's run is unknown here, which alone would doom the cluster.
            assert "terminated 0 cluster(s); 1 cluster(s) belong to live runs" in message
            assert f"{clusters_of[theirs]} (owned by deployment {theirs})" in message
        assert all(c.state != "TERMINATED" for c in clusters())
