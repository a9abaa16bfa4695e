"""`genre-assets doctor` (issue #15, item 1): a correct set-up passes with exit 0, and each broken
piece fails with its fix printed and exit 1 - locally on folders, on `aws` against moto in
process (the `aws_env` fixture), never AWS itself."""

from __future__ import annotations

import os

import boto3
import pytest

from genre_assets.cli import doctor
from genre_assets.cli.main import main
from genre_assets_tests.support.aws import BUCKET, LAKE_URI, REGION

ASSUME_EMR = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", '
    '"Principal": {"Service": "elasticmapreduce.amazonaws.com"}}]}'
)


def run_doctor(capsys) -> tuple[int, list[str]]:
    code = main(["doctor"])
    out = capsys.readouterr().out
    return code, out.splitlines()


def line_of(lines: list[str], name: str) -> tuple[str, str]:
    """The check's own line and the line after it (its fix, when it failed)."""
    for index, line in enumerate(lines):
        if line[6:].startswith(name + " "):
            return line, (lines[index + 1] if index + 1 < len(lines) else "")
    raise AssertionError(f"no {name!r} check in:\n" + "\n".join(lines))


def failed(lines: list[str]) -> list[str]:
    return [line[6:].split("  ")[0].strip() for line in lines if line.startswith("FAIL")]


# -- local ----------------------------------------------------------------------------------------


@pytest.fixture
def local_env(monkeypatch):
    for name in [n for n in os.environ if n.startswith("GENRE_ASSETS_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return monkeypatch


def test_a_good_local_lake_passes(golden_lake, local_env, capsys):
    local_env.setenv("GENRE_ASSETS_LAKE", str(golden_lake))
    code, lines = run_doctor(capsys)
    assert code == 0, "\n".join(lines)
    assert failed(lines) == []
    assert line_of(lines, "movies files")[0].startswith("ok")
    assert line_of(lines, "catalog folder")[0].startswith("ok")
    assert lines[-1] == "4 checks: 4 ok, 0 failed, 0 skipped"
    assert not (golden_lake / "_catalog.duckdb").exists()  # read-only


def test_a_missing_lake_folder_fails_with_sample_data(tmp_path, local_env, capsys):
    lake = tmp_path / "nowhere"
    local_env.setenv("GENRE_ASSETS_LAKE", str(lake))
    code, lines = run_doctor(capsys)
    assert code == 1
    assert failed(lines) == ["lake folder"]
    assert f"genre-assets sample-data --lake {lake}" in line_of(lines, "lake folder")[0]
    assert line_of(lines, "movies files")[0].startswith("skip")
    assert not lake.exists()


def test_missing_ratings_and_a_bad_header_fail_locally(golden_lake, local_env, capsys):
    for csv_file in (golden_lake / "movielens" / "ratings").glob("*.csv"):
        csv_file.unlink()
    movies = next((golden_lake / "movielens" / "movies").glob("*.csv"))
    movies.write_text("id,name\n1,x\n")
    local_env.setenv("GENRE_ASSETS_LAKE", str(golden_lake))
    code, lines = run_doctor(capsys)
    assert code == 1
    assert failed(lines) == ["movies files", "ratings files"]
    assert "expected the header 'movieId,title,genres'" in line_of(lines, "movies files")[0]
    assert "no .csv files in" in line_of(lines, "ratings files")[0]


def test_a_catalog_folder_that_cannot_be_created_fails_with_the_setting(
    golden_lake, local_env, capsys
):
    blocker = golden_lake.parent / "a-file"  # a file where the catalog's folder should be
    blocker.write_text("")
    local_env.setenv("GENRE_ASSETS_LAKE", str(golden_lake))
    local_env.setenv("GENRE_ASSETS_CATALOG", str(blocker / "sub" / "catalog.duckdb"))
    code, lines = run_doctor(capsys)
    assert code == 1
    assert failed(lines) == ["catalog folder"]
    check, fix = line_of(lines, "catalog folder")
    assert "cannot create the catalog file" in check
    assert "GENRE_ASSETS_CATALOG" in fix


def test_access_denied_fails_only_for_rights_the_pipeline_needs():
    policy = doctor.policy_actions()
    assert policy is not None and "glue:GetDatabase" in policy and "iam:GetRole" not in policy
    needed = doctor._not_granted("glue:GetDatabase", "aws glue get-database --name m", policy)
    assert isinstance(needed, doctor.Failed) and "deploy/iam-policy.json" in needed.fix
    extra = doctor._not_granted("iam:GetRole", "aws iam get-role --role-name R", policy)
    assert isinstance(extra, doctor.Skipped) and "aws iam get-role --role-name R" in str(extra)


# -- aws (moto) -----------------------------------------------------------------------------------


@pytest.fixture
def aws_setup(aws_env, tmp_path, monkeypatch):
    """The aws deployment over moto's golden lake, with the default EMR roles; no AWS config
    files, no instance metadata."""
    empty = tmp_path / "empty-aws-config"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    for name in [n for n in os.environ if n.startswith("GENRE_ASSETS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GENRE_ASSETS_DEPLOYMENT", "aws")
    monkeypatch.setenv("GENRE_ASSETS_LAKE", LAKE_URI)
    iam = boto3.client("iam", region_name=REGION)
    iam.create_role(RoleName="EMR_DefaultRole", AssumeRolePolicyDocument=ASSUME_EMR)
    iam.create_role(RoleName="EMR_EC2_DefaultRole", AssumeRolePolicyDocument=ASSUME_EMR)
    iam.create_instance_profile(InstanceProfileName="EMR_EC2_DefaultRole")
    iam.add_role_to_instance_profile(
        InstanceProfileName="EMR_EC2_DefaultRole", RoleName="EMR_EC2_DefaultRole"
    )
    return monkeypatch


def s3_keys() -> list[str]:
    listed = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_a_correct_aws_set_up_passes(aws_setup, capsys):
    before = s3_keys()
    code, lines = run_doctor(capsys)
    assert code == 0, "\n".join(lines)
    assert failed(lines) == []
    for name in doctor.aws_checks("emr")[:-1]:
        assert line_of(lines, name)[0].startswith("ok"), name
    assert "wrote and deleted s3://genre-lake/data/scripts/doctor-probe-" in "\n".join(lines)
    assert "the first run creates it" in line_of(lines, "glue database")[0]
    assert "default VPC" in line_of(lines, "subnets")[0]
    # moto has no DescribeReleaseLabel: said, not failed.
    release = line_of(lines, "emr release")[0]
    assert release.startswith("skip") and "aws emr describe-release-label" in release
    assert s3_keys() == before  # the probe is gone, nothing else written
    assert boto3.client("emr", region_name=REGION).list_clusters()["Clusters"] == []


def test_a_missing_service_role_fails_with_create_default_roles(aws_setup, capsys):
    boto3.client("iam", region_name=REGION).delete_role(RoleName="EMR_DefaultRole")
    code, lines = run_doctor(capsys)
    assert code == 1
    assert failed(lines) == ["emr service role"]
    check, fix = line_of(lines, "emr service role")
    assert "the role EMR_DefaultRole does not exist" in check
    assert "aws emr create-default-roles" in fix and "GENRE_ASSETS_EMR_SERVICE_ROLE" in fix


def test_a_missing_instance_profile_fails_with_its_setting(aws_setup, capsys):
    aws_setup.setenv("GENRE_ASSETS_EMR_INSTANCE_PROFILE", "NoSuchProfile")
    code, lines = run_doctor(capsys)
    assert code == 1
    assert failed(lines) == ["emr instance profile"]
    check, fix = line_of(lines, "emr instance profile")
    assert "the instance profile NoSuchProfile does not exist" in check
    assert "aws emr create-default-roles" in fix and "GENRE_ASSETS_EMR_INSTANCE_PROFILE" in fix


def test_missing_raw_files_fail_with_the_copy_command(aws_setup, capsys):
    s3 = boto3.client("s3", region_name=REGION)
    for key in s3_keys():
        s3.delete_object(Bucket=BUCKET, Key=key)
    code, lines = run_doctor(capsys)
    assert code == 1
    assert failed(lines) == ["movies files", "ratings files"]
    movies = line_of(lines, "movies files")[0]
    assert "no .csv files in s3://genre-lake/data/movielens/movies/" in movies
    assert f"aws s3 cp --recursive DIR/movielens {LAKE_URI}/movielens" in movies


@pytest.mark.parametrize(
    ("method", "operation", "action", "check"),
    [
        ("write_bytes", "PutObject", "s3:PutObject", "lake write"),
        ("list_objects", "ListObjectsV2", "s3:ListBucket", "movies files"),
    ],
)
def test_an_s3_denial_names_the_refused_action_and_where(
    aws_setup, capsys, method, operation, action, check
):
    """moto enforces no IAM (the emulator does: emulator/test_doctor_on_emulator.py); a refusal
    of one call must not be reported as a refusal of the others."""
    from botocore.exceptions import ClientError

    from genre_assets.resources.aws.s3_lake import S3LakeResource

    def refused(*args, **kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, operation)

    aws_setup.setattr(S3LakeResource, method, refused)
    code, lines = run_doctor(capsys)
    assert code == 1
    line, fix = line_of(lines, check)
    where = (
        f"{LAKE_URI}/scripts/doctor-probe-" if check == "lake write" else f"{LAKE_URI}/movielens"
    )
    assert f"access denied to {action} on {where}" in line, line
    assert fix.strip() == (
        f"fix: attach deploy/iam-policy.json (which grants {action}) to these credentials"
    )


def test_no_default_vpc_fails_with_create_default_vpc(aws_setup, capsys):
    ec2 = boto3.client("ec2", region_name=REGION)
    for vpc in ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]:
        in_vpc = [{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]
        for subnet in ec2.describe_subnets(Filters=in_vpc)["Subnets"]:
            ec2.delete_subnet(SubnetId=subnet["SubnetId"])
        ec2.delete_vpc(VpcId=vpc["VpcId"])
    code, lines = run_doctor(capsys)
    assert code == 1
    assert failed(lines) == ["subnets"]
    check, fix = line_of(lines, "subnets")
    assert "has no default VPC" in check
    assert "aws ec2 create-default-vpc" in fix and "GENRE_ASSETS_EMR_JOB_FLOW_OVERRIDES" in fix


def test_an_unknown_subnet_fails_with_describe_subnets(aws_setup, capsys):
    aws_setup.setenv(
        "GENRE_ASSETS_EMR_JOB_FLOW_OVERRIDES",
        '{"Instances": {"Ec2SubnetIds": ["subnet-0123456789abcdef0"]}}',
    )
    code, lines = run_doctor(capsys)
    assert code == 1
    assert failed(lines) == ["subnets"]
    check, fix = line_of(lines, "subnets")
    assert "subnet-0123456789abcdef0 not found" in check
    assert "aws ec2 describe-subnets" in fix


@pytest.mark.parametrize("missing", ["AWS_SECRET_ACCESS_KEY", "both", "region"])
def test_missing_credentials_or_region_fail_with_the_variables(aws_setup, capsys, missing):
    if missing == "region":
        aws_setup.delenv("AWS_DEFAULT_REGION")
        aws_setup.delenv("AWS_REGION", raising=False)
    else:
        aws_setup.delenv("AWS_SECRET_ACCESS_KEY")
        if missing == "both":
            aws_setup.delenv("AWS_ACCESS_KEY_ID")
    code, lines = run_doctor(capsys)
    assert code == 1
    text = "\n".join(lines)
    assert "Traceback" not in text
    if missing == "region":
        assert "FAIL" in line_of(lines, "aws region")[0]
        assert "set AWS_DEFAULT_REGION" in line_of(lines, "aws region")[0]
    else:
        check = line_of(lines, "aws credentials")[0]
        assert check.startswith("FAIL")
        assert "AWS_SECRET_ACCESS_KEY" in check
        assert ("incomplete" in check) == (missing != "both")
    assert line_of(lines, "lake write")[0].startswith("skip")


# -- aws with the Athena engine (moto) ------------------------------------------------------------


def _athena_work_group(name: str) -> object:
    """moto's own record of a workgroup: moto has no UpdateWorkGroup to change its state."""
    from moto.athena.models import athena_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    return athena_backends[DEFAULT_ACCOUNT_ID][REGION].work_groups[name]


def test_athena_set_up_checks_the_workgroup_and_the_result_location_not_emr(aws_setup, capsys):
    aws_setup.setenv("GENRE_ASSETS_AWS_ENGINE", "athena")
    before = s3_keys()
    code, lines = run_doctor(capsys)
    text = "\n".join(lines)
    assert code == 0, text
    assert [line[6:].split("  ")[0].strip() for line in lines[1:-1]] == list(
        doctor.aws_checks("athena")
    ), text
    assert line_of(lines, "athena workgroup")[0].endswith(
        "primary is ENABLED (Athena engine version 3)"
    )
    assert "wrote and deleted s3://genre-lake/data/athena-results/doctor-probe-" in text
    assert s3_keys() == before


def test_athena_a_disabled_workgroup_fails_with_the_command_that_enables_it(aws_setup, capsys):
    aws_setup.setenv("GENRE_ASSETS_AWS_ENGINE", "athena")
    boto3.client("athena", region_name=REGION).create_work_group(Name="films")
    _athena_work_group("films").state = "DISABLED"  # type: ignore[attr-defined]
    aws_setup.setenv("GENRE_ASSETS_ATHENA_WORKGROUP", "films")
    code, lines = run_doctor(capsys)
    assert code == 1 and failed(lines) == ["athena workgroup"], "\n".join(lines)
    line, fix = line_of(lines, "athena workgroup")
    assert line.endswith("the workgroup films is DISABLED: Athena runs no query in it")
    assert fix == "      fix: aws athena update-work-group --work-group films --state ENABLED"


def test_athena_a_workgroup_that_enforces_its_location_has_that_location_probed(aws_setup, capsys):
    """EnforceWorkGroupConfiguration overrides the location the engine asks for, so the doctor
    probes the workgroup's own: here a bucket that does not exist."""
    aws_setup.setenv("GENRE_ASSETS_AWS_ENGINE", "athena")
    boto3.client("athena", region_name=REGION).create_work_group(
        Name="central",
        Configuration={
            "ResultConfiguration": {"OutputLocation": "s3://central-results/films/"},
            "EnforceWorkGroupConfiguration": True,
        },
    )
    aws_setup.setenv("GENRE_ASSETS_ATHENA_WORKGROUP", "central")
    code, lines = run_doctor(capsys)
    assert code == 1 and failed(lines) == ["athena results"], "\n".join(lines)
    assert line_of(lines, "athena workgroup")[0].endswith(
        "it enforces its result location s3://central-results/films/ over "
        "GENRE_ASSETS_ATHENA_OUTPUT_LOCATION"
    )
    line, fix = line_of(lines, "athena results")
    assert line.endswith("the result bucket central-results does not exist"), line
    assert "aws s3 mb s3://central-results" in fix


def test_athena_a_workgroup_with_managed_results_fails_and_kms_results_are_named(aws_setup, capsys):
    """A managed-results workgroup keeps no result file in S3, where the engine reads its rows;
    KMS-encrypted results need key rights the shipped policy cannot name."""
    aws_setup.setenv("GENRE_ASSETS_AWS_ENGINE", "athena")
    athena = boto3.client("athena", region_name=REGION)
    athena.create_work_group(
        Name="managed", Configuration={"ManagedQueryResultsConfiguration": {"Enabled": True}}
    )
    athena.create_work_group(
        Name="sealed",
        Configuration={
            "ResultConfiguration": {
                "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": "alias/films"}
            }
        },
    )
    aws_setup.setenv("GENRE_ASSETS_ATHENA_WORKGROUP", "managed")
    code, lines = run_doctor(capsys)
    assert code == 1 and failed(lines) == ["athena workgroup"], "\n".join(lines)
    assert "keeps managed query results" in line_of(lines, "athena workgroup")[0]
    aws_setup.setenv("GENRE_ASSETS_ATHENA_WORKGROUP", "sealed")
    code, lines = run_doctor(capsys)
    assert code == 0, "\n".join(lines)
    assert (
        "encrypted with KMS (alias/films): grant these credentials kms:GenerateDataKey"
        in (line_of(lines, "athena workgroup")[0])
    )
