"""`genre-assets doctor` against `genre-assets emulate-aws` (issue #15): the real CLI, in its own
process, with the environment the emulator's banner tells a user to export, against one emulator
process that holds the doctor's calls to deploy/iam-policy.json plus the read rights of the
operator who runs the doctor (OPERATOR_STATEMENTS).

A correct set-up passes every check with exit 0; each failure kind (missing role, unwritable
prefix, missing action, no subnet, missing credentials) is provoked once and must exit 1 with the
failing check's line naming the problem and its fix. Cases never share state: each names its own
role, prefix or database, and the one that must change the emulator (no default VPC) restores it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from genre_assets.cli import doctor
from genre_assets_emulator.middleware import HARNESS_USER_AGENT
from genre_assets_tests.e2e.stack import free_port, stop_process_group
from genre_assets_tests.support.aws import IAM_POLICY
from genre_assets_tests.support.local import FIXTURES, REPO_ROOT

BUCKET = "doctor-lake"
LAKE = f"s3://{BUCKET}/lake"
# A second lake in the same bucket whose policy lets the pipeline write its exports but not its
# scripts: what a hand-trimmed policy looks like.
READ_ONLY_SCRIPTS_LAKE = f"s3://{BUCKET}/readonly"
DATABASE = "movielens"  # the database the policy is filled in for (the pipeline's default)
GENRE_ASSETS = Path(sys.executable).parent / "genre-assets"
ATHENA_IAM_POLICY = REPO_ROOT / "deploy" / "iam-policy-athena.json"
ASSUME_EMR = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": "elasticmapreduce.amazonaws.com"},
            }
        ],
    }
)
ALL_CHECKS = doctor.aws_checks("emr")
ATHENA_CHECKS = doctor.aws_checks("athena")
# What the operator running the doctor may do beyond the pipeline's policy: read the roles, the
# VPCs and the release (the pipeline needs none of it; without it those checks only skip) and
# remove the doctor's probe. The read-only lake's statements stand for a trimmed policy.
OPERATOR_STATEMENTS = [
    {
        "Sid": "OperatorReadsWhatTheDoctorChecks",
        "Effect": "Allow",
        "Action": [
            "iam:GetRole",
            "iam:GetInstanceProfile",
            "ec2:DescribeVpcs",
            "ec2:DescribeSubnets",
            "elasticmapreduce:DescribeReleaseLabel",
        ],
        "Resource": "*",
    },
    {
        "Sid": "OperatorRemovesTheDoctorsProbe",
        "Effect": "Allow",
        "Action": "s3:DeleteObject",
        "Resource": "arn:aws:s3:::${Bucket}/${Prefix}scripts/doctor-probe-*",
    },
    {
        "Sid": "ReadOnlyScriptsLakeReads",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/readonly/*",
    },
    {
        "Sid": "ReadOnlyScriptsLakeWritesExportsOnly",
        "Effect": "Allow",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/readonly/movielens/*",
    },
    {
        "Sid": "ReadOnlyScriptsLakeLists",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{BUCKET}",
        "Condition": {"StringLike": {"s3:prefix": ["readonly/*"]}},
    },
]


class Emulator:
    """The running `emulate-aws`: the user's environment from its banner, the operator's clients
    (exempt from the policy, as the person who sets the account up) and its log."""

    def __init__(self, user_env: dict[str, str], log: Path, scratch: Path) -> None:
        self.user_env = user_env
        self.log = log
        self.scratch = scratch
        self.denied: list[str] = []
        session = boto3.session.Session(
            aws_access_key_id=user_env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=user_env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=user_env["AWS_SESSION_TOKEN"],
            region_name=user_env["AWS_DEFAULT_REGION"],
        )
        config = Config(user_agent_extra=HARNESS_USER_AGENT)
        url = user_env["AWS_ENDPOINT_URL"]
        self.s3, self.iam, self.ec2 = (
            session.client(name, endpoint_url=url, config=config) for name in ("s3", "iam", "ec2")
        )

    def doctor(self, **changes: str | None) -> tuple[int, list[str]]:
        """`genre-assets doctor` as a user runs it; `changes` set (or, None, unset) variables.
        `self.denied` is then what the emulator's IAM refused it."""
        logged = len(self.log.read_bytes())
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GENRE_ASSETS_"))}
        env.pop("DAGSTER_HOME", None)
        env.update(self.user_env)
        # Never the developer's ~/.aws, and no wait on an instance-metadata endpoint that a
        # laptop does not have when the credentials case leaves botocore looking for one.
        env["AWS_CONFIG_FILE"] = str(self.scratch / "no-aws-config")
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(self.scratch / "no-aws-credentials")
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        for name, value in changes.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        done = subprocess.run(
            [str(GENRE_ASSETS), "doctor"],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=180,
        )
        lines = done.stdout.splitlines()
        assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
        since = self.log.read_bytes()[logged:].decode()
        self.denied = re.findall(r"IAM denied the pipeline's (\S+):", since)
        return done.returncode, lines

    def keys(self, prefix: str) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return sorted(o["Key"] for o in listed.get("Contents", []))


@contextlib.contextmanager
def emulate_aws(
    root: Path, shipped: Path = IAM_POLICY, operator: list[dict] | None = None
) -> Iterator[Emulator]:
    """`genre-assets emulate-aws` for LAKE, enforcing the shipped policy plus the operator's
    statements, filled in for DATABASE; stopped with its process group. (e2e/aws_stack.py's
    `emulator_process` starts it with the shipped policy only and its own lake.)"""
    policy = json.loads(shipped.read_text())
    policy["Statement"] += OPERATOR_STATEMENTS if operator is None else operator
    policy_file = root / "operator-policy.json"
    policy_file.write_text(json.dumps(policy, indent=2))
    log = root / "emulator.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GENRE_ASSETS_"))}
    env["GENRE_ASSETS_DATABASE"] = DATABASE
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(GENRE_ASSETS), "emulate-aws", "--port", str(port), "--start-seconds", "1"]
            + ["--lake", LAKE, "--iam-policy", str(policy_file)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while "Ctrl-C stops it" not in log.read_text():  # the bucket exists from here on
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"emulate-aws did not start:\n{log.read_text()}")
            time.sleep(0.2)
        banner = log.read_text()
        assert f"IAM enforced on the pipeline's calls: {policy_file}" in banner, banner
        # The user's environment is what the banner says to export, nothing else.
        user_env = dict(re.findall(r"^export (\w+)=(\S*)$", banner, re.MULTILINE))
        assert user_env["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{port}", banner
        yield Emulator(user_env, log, root)
    finally:
        stop_process_group(proc)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Iterator[Emulator]:
    """One emulator for the module, set up as the README's emulator walkthrough sets it up (the
    golden lake uploaded), plus what `aws emr create-default-roles` creates."""
    with emulate_aws(tmp_path_factory.mktemp("doctor-emulator")) as aws:
        golden = FIXTURES / "golden_lake"
        for path in sorted(golden.rglob("*.csv")):
            relative = path.relative_to(golden).as_posix()
            for lake in (LAKE, READ_ONLY_SCRIPTS_LAKE):
                prefix = lake.removeprefix(f"s3://{BUCKET}/")
                aws.s3.upload_file(str(path), BUCKET, f"{prefix}/{relative}")
        # By the operator's client: `aws emr create-default-roles` cannot run against the
        # emulator (moto loads no AWS managed policy to attach, and the CLI cannot resolve EMR's
        # service principal from a custom endpoint).
        for role in ("EMR_DefaultRole", "EMR_EC2_DefaultRole"):
            aws.iam.create_role(RoleName=role, AssumeRolePolicyDocument=ASSUME_EMR)
        aws.iam.create_instance_profile(InstanceProfileName="EMR_EC2_DefaultRole")
        aws.iam.add_role_to_instance_profile(
            InstanceProfileName="EMR_EC2_DefaultRole", RoleName="EMR_EC2_DefaultRole"
        )
        yield aws


def check_line(lines: list[str], name: str) -> tuple[str, str]:
    """The check's own line and the line after it (its fix, when it failed)."""
    for index, line in enumerate(lines):
        if line[6:].startswith(name + " "):
            return line, (lines[index + 1] if index + 1 < len(lines) else "")
    raise AssertionError(f"no {name!r} check in:\n" + "\n".join(lines))


def statuses(lines: list[str], checks: tuple[str, ...] = ALL_CHECKS) -> dict[str, str]:
    return {name: check_line(lines, name)[0].split()[0] for name in checks}


def only_failure(
    lines: list[str], name: str, checks: tuple[str, ...] = ALL_CHECKS
) -> tuple[str, str]:
    """`name` is the one failed check (so the case provoked nothing else); its line and fix."""
    text = "\n".join(lines)
    failed = [n for n, status in statuses(lines, checks).items() if status == "FAIL"]
    assert failed == [name], text
    assert lines[-1].startswith(f"{len(checks)} checks: ") and ", 1 failed, " in lines[-1], text
    return check_line(lines, name)


def test_a_correct_set_up_passes_every_check(emulator):
    code, lines = emulator.doctor()
    text = "\n".join(lines)
    assert code == 0, text
    assert lines[0] == "genre-assets doctor: the aws deployment (GENRE_ASSETS_DEPLOYMENT)"
    assert statuses(lines) == dict.fromkeys(ALL_CHECKS, "ok"), text
    assert lines[-1] == "10 checks: 10 ok, 0 failed, 0 skipped", text
    assert emulator.denied == []  # the policy let every call of a correct set-up through
    assert "account 123456789012 as arn:aws:" in check_line(lines, "aws credentials")[0]
    assert f"in {LAKE}/movielens/movies/" in check_line(lines, "movies files")[0]
    assert f"wrote and deleted {LAKE}/scripts/doctor-probe-" in check_line(lines, "lake write")[0]
    assert emulator.keys("lake/scripts/") == []  # the probe is gone
    assert "movielens does not exist yet" in check_line(lines, "glue database")[0]
    assert check_line(lines, "emr service role")[0].endswith(
        "arn:aws:iam::123456789012:role/EMR_DefaultRole"
    )
    profile = check_line(lines, "emr instance profile")[0]
    assert "instance-profile/EMR_EC2_DefaultRole (role EMR_EC2_DefaultRole)" in profile
    assert re.search(r"EMR uses the default VPC vpc-\w+$", check_line(lines, "subnets")[0]), text
    assert check_line(lines, "emr release")[0].endswith("emr-6.15.0 offers Hadoop, Hive, Presto")


def test_a_missing_service_role_fails_with_create_default_roles(emulator):
    code, lines = emulator.doctor(GENRE_ASSETS_EMR_SERVICE_ROLE="DoctorAbsentServiceRole")
    assert code == 1, "\n".join(lines)
    line, fix = only_failure(lines, "emr service role")
    assert line.endswith("the role DoctorAbsentServiceRole does not exist"), line
    assert fix == (
        "      fix: `aws emr create-default-roles` (creates EMR_DefaultRole and "
        "EMR_EC2_DefaultRole), or set GENRE_ASSETS_EMR_SERVICE_ROLE to an existing role"
    )
    assert emulator.denied == []  # IAM let the doctor look: the role is absent, not hidden


def test_an_unwritable_scripts_prefix_fails_with_the_policy_to_attach(emulator):
    code, lines = emulator.doctor(GENRE_ASSETS_LAKE=READ_ONLY_SCRIPTS_LAKE)
    assert code == 1, "\n".join(lines)
    # The same credentials read the raw files of this lake: only the write is refused.
    assert check_line(lines, "movies files")[0].startswith("ok")
    line, fix = only_failure(lines, "lake write")
    assert re.search(
        rf"access denied to s3:PutObject on {READ_ONLY_SCRIPTS_LAKE}/scripts/doctor-probe-\w+$",
        line,
    ), line
    assert fix == (
        "      fix: attach deploy/iam-policy.json (which grants s3:PutObject) to these credentials"
    )
    assert emulator.keys("readonly/scripts/") == []
    assert emulator.denied == ["s3:PutObject"]  # refused by the emulator's IAM, nothing else


def test_a_policy_without_the_databases_glue_action_fails_with_the_policy_to_attach(emulator):
    # The policy grants glue:GetDatabase on DATABASE only: for this one the action is missing.
    code, lines = emulator.doctor(GENRE_ASSETS_DATABASE="doctor_films")
    assert code == 1, "\n".join(lines)
    line, fix = only_failure(lines, "glue database")
    assert line.endswith("access denied to glue:GetDatabase"), line
    assert fix == (
        "      fix: attach deploy/iam-policy.json (which grants glue:GetDatabase) to these "
        "credentials"
    )
    assert emulator.denied == ["glue:GetDatabase"]


def test_a_configured_subnet_that_does_not_exist_fails_with_describe_subnets(emulator):
    overrides = '{"Instances": {"Ec2SubnetIds": ["subnet-0123456789abcdef0"]}}'
    code, lines = emulator.doctor(GENRE_ASSETS_EMR_JOB_FLOW_OVERRIDES=overrides)
    assert code == 1, "\n".join(lines)
    line, fix = only_failure(lines, "subnets")
    assert "subnet(s) subnet-0123456789abcdef0 not found in us-east-1" in line, line
    assert fix == (
        "      fix: list this region's subnets with `aws ec2 describe-subnets` and name existing "
        "ones in GENRE_ASSETS_EMR_JOB_FLOW_OVERRIDES="
        '\'{"Instances": {"Ec2SubnetIds": ["subnet-..."]}}\''
    )


def test_a_region_without_a_default_vpc_fails_with_create_default_vpc(emulator):
    ec2 = emulator.ec2
    default = [{"Name": "isDefault", "Values": ["true"]}]
    for vpc in ec2.describe_vpcs(Filters=default)["Vpcs"]:
        in_vpc = [{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]
        for subnet in ec2.describe_subnets(Filters=in_vpc)["Subnets"]:
            ec2.delete_subnet(SubnetId=subnet["SubnetId"])
        ec2.delete_vpc(VpcId=vpc["VpcId"])
    try:
        code, lines = emulator.doctor()
    finally:
        ec2.create_default_vpc()  # the other cases expect the account's default VPC
    assert ec2.describe_vpcs(Filters=default)["Vpcs"], "the default VPC was not restored"
    assert code == 1, "\n".join(lines)
    line, fix = only_failure(lines, "subnets")
    assert line.endswith("no subnet is configured and us-east-1 has no default VPC"), line
    assert fix == (
        "      fix: `aws ec2 create-default-vpc`, or name subnets in "
        'GENRE_ASSETS_EMR_JOB_FLOW_OVERRIDES=\'{"Instances": {"Ec2SubnetIds": ["subnet-..."]}}\''
    )


def test_missing_credentials_fail_with_the_variables_to_set(emulator):
    code, lines = emulator.doctor(
        AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None, AWS_SESSION_TOKEN=None
    )
    text = "\n".join(lines)
    assert code == 1, text
    line = check_line(lines, "aws credentials")[0]
    assert line == (
        "FAIL  aws credentials        no AWS credentials were found: set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones), or AWS_PROFILE to a "
        "profile in ~/.aws/config; against genre-assets emulate-aws any values will do"
    ), text
    # Without credentials nothing else can be checked: said, not failed.
    assert statuses(lines) == {
        **dict.fromkeys(ALL_CHECKS, "skip"),
        "aws region": "ok",
        "aws credentials": "FAIL",
    }, text
    assert lines[-1] == "10 checks: 1 ok, 1 failed, 8 skipped", text


def test_refused_sts_iam_and_ec2_calls_are_answered_in_their_own_protocols(emulator):
    """The doctor's STS, IAM and EC2 calls speak the query protocol: a refusal in the JSON of
    EMR and Glue would reach the doctor as a botocore parser error, a traceback."""
    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=emulator.user_env["AWS_DEFAULT_REGION"],
    )
    url = emulator.user_env["AWS_ENDPOINT_URL"]
    sts, iam, ec2 = (  # botocore's own User-Agent: held to the policy like the doctor
        session.client(name, endpoint_url=url, config=Config(retries={"max_attempts": 1}))
        for name in ("sts", "iam", "ec2")
    )
    # No policy statement grants it, and AWS needs none for it.
    assert sts.get_caller_identity()["Account"] == "123456789012"
    for call, code, text in (
        (iam.list_roles, "AccessDenied", "not authorized to perform: iam:ListRoles"),
        (ec2.describe_instances, "UnauthorizedOperation", "You are not authorized to perform"),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        error = raised.value.response
        assert error["Error"]["Code"] == code, error
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 403, error
        assert text in error["Error"]["Message"], error


# -- the Athena engine (GENRE_ASSETS_AWS_ENGINE=athena) --------------------------------------------

ATHENA = {"GENRE_ASSETS_AWS_ENGINE": "athena"}
# The operator may read workgroups (the pipeline never does) and remove the doctor's probes.
ATHENA_OPERATOR_STATEMENTS = [
    {
        "Sid": "OperatorReadsWorkgroups",
        "Effect": "Allow",
        "Action": "athena:GetWorkGroup",
        "Resource": "*",
    },
    {
        "Sid": "OperatorRemovesTheDoctorsProbes",
        "Effect": "Allow",
        "Action": "s3:DeleteObject",
        "Resource": "arn:aws:s3:::${Bucket}/${Prefix}*doctor-probe-*",
    },
]


@pytest.fixture(scope="module")
def athena_emulator(tmp_path_factory) -> Iterator[Emulator]:
    """An emulator holding the doctor to deploy/iam-policy-athena.json (plus the operator's
    reads), the golden lake uploaded; no EMR role exists, and none is needed."""
    root = tmp_path_factory.mktemp("doctor-athena-emulator")
    with emulate_aws(root, ATHENA_IAM_POLICY, ATHENA_OPERATOR_STATEMENTS) as aws:
        golden = FIXTURES / "golden_lake"
        for path in sorted(golden.rglob("*.csv")):
            relative = path.relative_to(golden).as_posix()
            aws.s3.upload_file(str(path), BUCKET, f"lake/{relative}")
        yield aws


def test_athena_a_correct_set_up_passes_every_check_without_emr_roles(athena_emulator):
    code, lines = athena_emulator.doctor(**ATHENA)
    text = "\n".join(lines)
    assert code == 0, text
    assert statuses(lines, ATHENA_CHECKS) == dict.fromkeys(ATHENA_CHECKS, "ok"), text
    assert lines[-1] == f"{len(ATHENA_CHECKS)} checks: 8 ok, 0 failed, 0 skipped", text
    assert not any("emr" in line for line in lines[1:]), text  # no EMR role is looked for
    assert athena_emulator.denied == []
    assert "creates it with Athena DDL" in check_line(lines, "glue database")[0], text
    assert "deploy/iam-policy-athena.json grants" in check_line(lines, "glue database")[0], text
    assert check_line(lines, "athena workgroup")[0].endswith(
        "primary is ENABLED (Athena engine version 3)"
    ), text
    results = check_line(lines, "athena results")[0]
    assert f"wrote and deleted {LAKE}/athena-results/doctor-probe-" in results, text
    assert athena_emulator.keys("lake/athena-results/") == []


def test_athena_an_unknown_workgroup_fails_with_create_work_group(athena_emulator):
    code, lines = athena_emulator.doctor(**ATHENA, GENRE_ASSETS_ATHENA_WORKGROUP="doctor-absent")
    assert code == 1, "\n".join(lines)
    line, fix = only_failure(lines, "athena workgroup", ATHENA_CHECKS)
    assert line.endswith("Athena answered: WorkGroup doctor-absent is not found."), line
    assert fix == (
        "      fix: `aws athena create-work-group --name doctor-absent`, or set "
        "GENRE_ASSETS_ATHENA_WORKGROUP to one of `aws athena list-work-groups`"
    )
    assert athena_emulator.denied == []  # IAM let the doctor look: the workgroup is absent


def test_athena_a_result_location_outside_the_policy_fails_with_the_policy_to_attach(
    athena_emulator,
):
    elsewhere = f"s3://{BUCKET}/elsewhere/results/"
    code, lines = athena_emulator.doctor(**ATHENA, GENRE_ASSETS_ATHENA_OUTPUT_LOCATION=elsewhere)
    assert code == 1, "\n".join(lines)
    line, fix = only_failure(lines, "athena results", ATHENA_CHECKS)
    assert re.search(rf"access denied to s3:PutObject on {elsewhere}doctor-probe-\w+$", line), line
    assert fix == (
        "      fix: attach deploy/iam-policy-athena.json (which grants s3:PutObject) to these "
        "credentials"
    )
    assert athena_emulator.denied == ["s3:PutObject"]
    assert athena_emulator.keys("elsewhere/") == []
