"""The emulated EMR on its own: cluster lifecycle, steps one at a time in order with their real
outcome, ActionOnFailure, termination (also mid-step), the shell step's sandbox, and the
`genre-assets emulate-aws` command."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import boto3
import pytest
from botocore.config import Config

from genre_assets_emulator import AwsEmulator, iam
from genre_assets_emulator.middleware import HARNESS_USER_AGENT
from genre_assets_tests.support.aws import REPO_ROOT, emulated_aws

BUCKET = "emr-test"


@pytest.fixture
def emr_env(monkeypatch, tmp_path):
    with emulated_aws(monkeypatch, tmp_path, start_seconds=0.6) as aws:
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield aws, boto3.client("emr")


def _cluster(emr, *, keep_alive: bool = True, steps: list | None = None) -> str:
    return emr.run_job_flow(
        Name="emulated",
        ReleaseLabel="emr-6.15.0",
        LogUri=f"s3://{BUCKET}/logs/",
        Instances={
            "KeepJobFlowAliveWhenNoSteps": keep_alive,
            "InstanceCount": 1,
            "MasterInstanceType": "m5.xlarge",
        },
        Steps=steps or [],
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]


def _shell(name: str, command: str, on_failure: str = "CANCEL_AND_WAIT") -> dict:
    return {
        "Name": name,
        "ActionOnFailure": on_failure,
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["bash", "-c", command]},
    }


def _state(emr, cluster_id: str) -> str:
    return emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]


def _wait(predicate, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _steps(emr, cluster_id: str) -> list[dict]:
    return list(reversed(emr.list_steps(ClusterId=cluster_id)["Steps"]))


def test_a_cluster_starts_runs_its_steps_in_order_and_terminates(emr_env):
    _, emr = emr_env
    cluster_id = _cluster(emr)
    seen = [_state(emr, cluster_id)]
    while seen[-1] != "WAITING":
        time.sleep(0.02)
        state = _state(emr, cluster_id)
        if state != seen[-1]:
            seen.append(state)
    assert seen == ["STARTING", "BOOTSTRAPPING", "WAITING"]

    step_ids = emr.add_job_flow_steps(
        JobFlowId=cluster_id,
        Steps=[
            _shell("first", "sleep 0.3; echo first"),
            _shell("second", "sleep 0.1; echo second"),
            _shell("fails", "echo 'something broke' >&2; exit 3"),
            _shell("never runs", "echo never"),
        ],
    )["StepIds"]
    assert _state(emr, cluster_id) == "RUNNING"
    _wait(lambda: _steps(emr, cluster_id)[-1]["Status"]["State"] == "CANCELLED")
    steps = _steps(emr, cluster_id)
    assert [s["Id"] for s in steps] == step_ids
    assert [s["Status"]["State"] for s in steps] == [
        "COMPLETED",
        "COMPLETED",
        "FAILED",
        "CANCELLED",
    ]
    failed = emr.describe_step(ClusterId=cluster_id, StepId=step_ids[2])["Step"]["Status"]
    assert failed["StateChangeReason"]["Message"] == "Step failed with exitCode 3: something broke"
    # One at a time, in submission order.
    first, second = (s["Status"]["Timeline"] for s in steps[:2])
    assert first["EndDateTime"] <= second["StartDateTime"]
    # CANCEL_AND_WAIT: the cluster waits for more work.
    _wait(lambda: _state(emr, cluster_id) == "WAITING")

    emr.terminate_job_flows(JobFlowIds=[cluster_id])
    assert _state(emr, cluster_id) == "TERMINATED"
    time.sleep(0.3)
    assert _state(emr, cluster_id) == "TERMINATED"  # the worker does not bring it back


def test_steps_at_creation_without_keep_alive_end_the_cluster(emr_env):
    _, emr = emr_env
    cluster_id = _cluster(emr, keep_alive=False, steps=[_shell("only", "true")])
    _wait(lambda: _state(emr, cluster_id) == "TERMINATED")
    assert [s["Status"]["State"] for s in _steps(emr, cluster_id)] == ["COMPLETED"]


def test_terminate_on_failure_ends_the_cluster_with_errors(emr_env):
    _, emr = emr_env
    cluster_id = _cluster(
        emr,
        steps=[_shell("fails", "exit 1", on_failure="TERMINATE_CLUSTER"), _shell("queued", "true")],
    )
    _wait(lambda: _state(emr, cluster_id) == "TERMINATED_WITH_ERRORS")
    assert [s["Status"]["State"] for s in _steps(emr, cluster_id)] == ["FAILED", "CANCELLED"]


def test_terminating_a_cluster_kills_its_running_step(emr_env):
    _, emr = emr_env
    cluster_id = _cluster(emr, steps=[_shell("long", "sleep 60"), _shell("next", "true")])
    _wait(lambda: _steps(emr, cluster_id)[0]["Status"]["State"] == "RUNNING")
    started = time.monotonic()
    emr.terminate_job_flows(JobFlowIds=[cluster_id])
    _wait(lambda: _steps(emr, cluster_id)[0]["Status"]["State"] == "CANCELLED", seconds=10)
    assert time.monotonic() - started < 5
    assert [s["Status"]["State"] for s in _steps(emr, cluster_id)] == ["CANCELLED", "CANCELLED"]
    assert _state(emr, cluster_id) == "TERMINATED"


def test_shell_steps_run_in_a_sandbox_with_the_aws_cli_and_presto_cli(emr_env, monkeypatch):
    aws, emr = emr_env
    monkeypatch.setenv("AWS_PROFILE_LEAK_CHECK", "from-the-test")
    script = (
        'printf "%s|%s|%s|%s|%s\\n" "$AWS_ENDPOINT_URL" "$(command -v aws)" "$(command -v presto-cli)" '
        '"$PWD" "${AWS_PROFILE_LEAK_CHECK:-clean}" | aws s3 cp - s3://emr-test/env.txt; '
        "presto-cli --catalog hive --output-format TSV --execute 'SELECT 6 * 7' | aws s3 cp - s3://emr-test/q.tsv"
    )
    cluster_id = _cluster(emr, steps=[_shell("env", script)])
    _wait(lambda: _steps(emr, cluster_id)[0]["Status"]["State"] in {"COMPLETED", "FAILED"})
    step = _steps(emr, cluster_id)[0]
    assert step["Status"]["State"] == "COMPLETED", step["Status"]
    s3 = boto3.client("s3")
    endpoint, aws_path, presto_path, workdir, leak = (
        s3.get_object(Bucket=BUCKET, Key="env.txt")["Body"].read().decode().strip().split("|")
    )
    assert endpoint == aws.endpoint_url
    assert os.path.dirname(aws_path) == os.path.dirname(
        presto_path
    )  # the bin folder, first on PATH
    assert os.path.realpath(aws_path) == os.path.realpath(
        os.path.join(os.path.dirname(sys.executable), "aws")
    )
    assert not os.path.exists(workdir)  # the step's working folder is cleaned up
    assert leak == "clean"
    assert s3.get_object(Bucket=BUCKET, Key="q.tsv")["Body"].read() == b"42\n"
    # The step's output is in the cluster's LogUri, as EMR puts it.
    logs = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"logs/{cluster_id}/steps/{step['Id']}/")[
        "Contents"
    ]
    assert sorted(o["Key"].rsplit("/", 1)[1] for o in logs) == ["stderr.gz", "stdout.gz"]
    # The calls the step made are the aws CLI's and presto-cli's, not the pipeline's.
    assert aws.api.counts("aws-cli")["s3:PutObject"] == 2


def test_stop_ends_running_steps_and_frees_the_port():
    emulator = AwsEmulator(start_seconds=0.1).start()
    try:
        emr = boto3.client(
            "emr",
            endpoint_url=emulator.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        cluster_id = _cluster(emr, steps=[_shell("long", "sleep 60")])
        _wait(lambda: _steps(emr, cluster_id)[0]["Status"]["State"] == "RUNNING")
        port = emulator.port
    finally:
        started = time.monotonic()
        emulator.stop()
    assert time.monotonic() - started < 10
    assert not [t for t in threading.enumerate() if t.name.startswith(("emr-j-", "emr-watcher"))]
    with AwsEmulator(port=port) as again:  # the server released its port
        assert again.endpoint_url == f"http://127.0.0.1:{port}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_emulate_aws_command_serves_until_sigterm(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "genre_assets.cli",
            "emulate-aws",
            "--port",
            str(port),
            "--bucket",
            "lake",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
        reader.start()
        _wait(lambda: any("export AWS_ENDPOINT_URL=" in line for line in lines), seconds=60)
        assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{port}\n" in lines
        assert "export GENRE_ASSETS_DEPLOYMENT=aws\n" in lines
        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            # The test's own calls, not the pipeline's: the IAM policy is not checked for them.
            config=Config(user_agent_extra=HARNESS_USER_AGENT),
        )
        s3.head_bucket(Bucket="lake")
        # A second emulator on the same port says so instead of hanging.
        busy = subprocess.run(
            [sys.executable, "-m", "genre_assets.cli", "emulate-aws", "--port", str(port)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert busy.returncode == 1 and f"127.0.0.1:{port}" in busy.stderr
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        reader.join(10)
        assert any(
            line.startswith("Stopped. API calls served:") and "s3:HeadBucket 1" in line
            for line in lines
        )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_step_added_to_a_waiting_cluster_never_goes_back_from_running_to_pending(emr_env):
    # moto marks such a step RUNNING at once; EMR (and so the emulator) shows PENDING first.
    _, emr = emr_env
    cluster_id = _cluster(emr)
    _wait(lambda: _state(emr, cluster_id) == "WAITING")
    (step_id,) = emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[_shell("short", "sleep 0.3")])[
        "StepIds"
    ]
    seen = [emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]["Status"]["State"]]
    while seen[-1] not in ("COMPLETED", "FAILED", "CANCELLED"):
        state = emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]["Status"]["State"]
        if state != seen[-1]:
            seen.append(state)
    # States only move forward (the regression went RUNNING -> PENDING). Whether the first look
    # still sees PENDING depends on how soon the cluster's worker starts the step.
    order = ["PENDING", "RUNNING", "COMPLETED"]
    assert seen[-1] == "COMPLETED", seen
    assert [order.index(s) for s in seen] == sorted({order.index(s) for s in seen}), seen


def _with_bootstrap(emr, script_key: str, *, tags: list | None = None) -> str:
    return emr.run_job_flow(
        Name="bootstrapped",
        ReleaseLabel="emr-6.15.0",
        LogUri=f"s3://{BUCKET}/logs/",
        Instances={
            "KeepJobFlowAliveWhenNoSteps": True,
            "InstanceCount": 1,
            "MasterInstanceType": "m5.xlarge",
        },
        BootstrapActions=[
            {
                "Name": "under test",
                "ScriptBootstrapAction": {"Path": f"s3://{BUCKET}/{script_key}", "Args": ["x y"]},
            }
        ],
        Tags=tags or [],
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]


def test_a_bootstrap_action_runs_on_the_master_before_steps_and_its_processes_end_with_it(
    emr_env,
):
    from genre_assets_emulator.nodes import node_processes

    _, emr = emr_env
    s3 = boto3.client("s3")
    # Records what the node shows it, then leaves a process behind (as the lease watchdog does).
    script = (
        "#!/usr/bin/env bash\nset -e\n"
        'grep -q \'"isMaster": true\' "$GENRE_ASSETS_EMR_INFO_DIR/instance.json"\n'
        'id="$(sed -n \'s/.*"jobFlowId": "\\([^"]*\\)".*/\\1/p\' '
        '"$GENRE_ASSETS_EMR_INFO_DIR/job-flow.json")"\n'
        'echo "$id $1" | aws s3 cp - "s3://emr-test/seen/$id"\n'
        "setsid sleep 600 </dev/null >/dev/null 2>&1 &\n"
    )
    s3.put_object(Bucket=BUCKET, Key="bootstrap/record.sh", Body=script.encode())
    cluster_id = _with_bootstrap(emr, "bootstrap/record.sh")
    _wait(lambda: _state(emr, cluster_id) == "WAITING")
    seen = s3.get_object(Bucket=BUCKET, Key=f"seen/{cluster_id}")["Body"].read().decode()
    assert seen == f"{cluster_id} x y\n"
    assert len(node_processes(cluster_id)) == 1  # the `sleep` it left behind
    emr.terminate_job_flows(JobFlowIds=[cluster_id])
    _wait(lambda: not node_processes(cluster_id), seconds=10)


def test_a_failed_bootstrap_action_keeps_the_cluster_from_starting(emr_env):
    _, emr = emr_env
    boto3.client("s3").put_object(
        Bucket=BUCKET, Key="bootstrap/fail.sh", Body=b"echo 'no such package' >&2; exit 3\n"
    )
    cluster_id = _with_bootstrap(emr, "bootstrap/fail.sh")
    _wait(lambda: _state(emr, cluster_id) == "TERMINATED_WITH_ERRORS")
    reason = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["StateChangeReason"]
    assert "bootstrap action 1 returned a non-zero return code" in reason["Message"]
    assert "no such package" in reason["Message"]


def test_the_lease_watchdog_ends_its_cluster_through_the_real_aws_cli(emr_env):
    """The watchdog's `--query` against the real CLI and DescribeCluster: a renewed lease keeps
    the cluster, one that stops being renewed ends it within the lease and a check or two."""
    from genre_assets import rendering
    from genre_assets.resources.aws.cluster_ownership import DEADLINE_TAG, LEASE_TAG, format_time

    aws, emr = emr_env
    lease, check = 6, 1
    script = rendering.emr_lease_watchdog_script(
        "us-east-1",
        lease_seconds=lease,
        check_seconds=check,
        lease_tag=LEASE_TAG,
        deadline_tag=DEADLINE_TAG,
    )
    boto3.client("s3").put_object(Bucket=BUCKET, Key="bootstrap/watchdog.sh", Body=script.encode())
    tags = [
        {"Key": "genre-assets:managed", "Value": "true"},
        {"Key": LEASE_TAG, "Value": format_time(time.time() + lease)},
        {"Key": DEADLINE_TAG, "Value": format_time(time.time() + 3600)},
    ]
    cluster_id = _with_bootstrap(emr, "bootstrap/watchdog.sh", tags=tags)
    _wait(lambda: _state(emr, cluster_id) == "WAITING")
    renewed_until = time.monotonic() + lease + 3 * check
    while time.monotonic() < renewed_until:
        emr.add_tags(
            ResourceId=cluster_id,
            Tags=[{"Key": LEASE_TAG, "Value": format_time(time.time() + lease)}],
        )
        assert _state(emr, cluster_id) == "WAITING"
        time.sleep(1)
    last_renewal = time.monotonic()
    _wait(lambda: _state(emr, cluster_id) == "TERMINATED", seconds=lease + 4 * check + 10)
    took = time.monotonic() - last_renewal
    assert lease - 1 <= took <= lease + 4 * check + 5, took
    # Every EMR call the real CLI made for the watchdog (describe-cluster is several) is one the
    # instance profile's policy allows on a managed cluster.
    made = {
        c.operation
        for c in aws.api.calls()
        if c.caller == "aws-cli" and c.service == "elasticmapreduce"
    }
    assert {"DescribeCluster", "ListBootstrapActions", "TerminateJobFlows"} <= made, made
    policy = iam.load_policy(
        REPO_ROOT / "deploy" / "iam-instance-profile-policy.json",
        {"Region": "us-east-1", "Account": aws.account},
    )
    for operation in made:
        params = (
            {"JobFlowIds": [cluster_id]}
            if operation == "TerminateJobFlows"
            else {"ClusterId": cluster_id}
        )
        decision = iam.authorize(
            policy,
            "emr",
            operation,
            params,
            account=aws.account,
            region="us-east-1",
            cluster_tags_lookup=lambda cid: (
                {"genre-assets:managed": "true"} if cid == cluster_id else None
            ),
        )
        assert decision.allowed, (operation, decision.reason)
