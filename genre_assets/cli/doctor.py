"""`genre-assets doctor`: a read-only preflight of the configured deployment.

One line per check (`ok`, `FAIL` or `skip`, its name, what was found); a failure carries its
fix, a command or a setting, on the same line or the next. On `aws` the lake and Glue are checked
for every engine, then what the engine needs: EMR's roles, subnets and release, or Athena's
workgroup and result location. No cluster is started, no query run, nothing that costs money:
the only writes are probe objects under `<lake>/scripts/` (and Athena's result location),
deleted at once. The exit status is 1 when any check fails, else 0.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import dagster as dg

from genre_assets.domain.schema import MOVIES, RATINGS, TableSpec
from genre_assets.errors import GenreAssetsError
from genre_assets.resources.raw_files import source_files
from genre_assets.settings import DEFAULT_DEPLOYMENT, DEPLOYMENT_ENV, SETTINGS

OK, FAIL, SKIP = "ok", "FAIL", "skip"


def _shipped_policy(name: str) -> Path:
    """deploy/<name> as installed: package data `genre_assets.deploy` (setup.py)."""
    try:
        return Path(str(resources.files("genre_assets.deploy"))) / name
    except ModuleNotFoundError:  # an editable install made before deploy/ was shipped
        return Path(__file__).resolve().parents[2] / "deploy" / name


# The least-privilege policy of each AWS engine (GENRE_ASSETS_AWS_ENGINE).
POLICY_FILE = _shipped_policy("iam-policy.json")
ATHENA_POLICY_FILE = _shipped_policy("iam-policy-athena.json")
CREATE_DEFAULT_ROLES = "aws emr create-default-roles"

# The checks of each deployment, in the order they print: the one list the doctor skips from and
# the tests hold its output to.
LOCAL_CHECKS = ("lake folder", "movies files", "ratings files", "catalog folder")
AWS_CHECKS = (
    "aws region",
    "aws credentials",
    "movies files",
    "ratings files",
    "lake write",
    "glue database",
)
ENGINE_CHECKS = {
    "emr": ("emr service role", "emr instance profile", "subnets", "emr release"),
    "athena": ("athena workgroup", "athena results"),
}


def aws_checks(engine: str) -> tuple[str, ...]:
    """The checks the doctor makes of the aws deployment with `engine` (emr or athena)."""
    return AWS_CHECKS + ENGINE_CHECKS[engine]


@dataclass(frozen=True)
class Check:
    status: str
    name: str
    detail: str
    fix: str = ""

    def lines(self) -> list[str]:
        first = f"{self.status:<4}  {self.name:<22} {self.detail}"
        return [first, f"{'':<6}fix: {self.fix}"] if self.fix else [first]


class Failed(Exception):
    """A check's failure with its fix (a command or a setting)."""

    def __init__(self, detail: str, fix: str = "") -> None:
        super().__init__(detail)
        self.detail, self.fix = detail, fix


class Skipped(Exception):
    """A check that cannot be made here; the message says why and how to make it by hand."""


def run_check(name: str, probe: Callable[[], str]) -> Check:
    """`probe` returns the ok detail or raises Failed/Skipped; our own errors (whose sentences
    already name the way out) are failures too."""
    try:
        return Check(OK, name, probe())
    except Failed as failure:
        return Check(FAIL, name, failure.detail, failure.fix)
    except Skipped as skipped:
        return Check(SKIP, name, str(skipped))
    except GenreAssetsError as error:
        return Check(FAIL, name, str(error))


def doctor() -> int:
    deployment = os.environ.get(DEPLOYMENT_ENV, DEFAULT_DEPLOYMENT)
    from genre_assets.deployments import resources_for

    definitions = resources_for(deployment)
    print(f"genre-assets doctor: the {deployment} deployment ({DEPLOYMENT_ENV})")
    checks: list[Check] = []
    with _built(definitions) as resources:
        runner = _aws_checks if deployment == "aws" else _local_checks
        for check in runner(resources):
            checks.append(check)
            print("\n".join(check.lines()), flush=True)
    failed = sum(c.status == FAIL for c in checks)
    skipped = sum(c.status == SKIP for c in checks)
    print(
        f"{len(checks)} checks: {len(checks) - failed - skipped} ok, {failed} failed, "
        f"{skipped} skipped"
    )
    return 1 if failed else 0


@contextlib.contextmanager
def _built(definitions: Mapping[str, dg.ConfigurableResource]) -> Iterator[Any]:
    """The deployment's resources, initialised like a run's (`dg.build_resources`), on a
    throwaway instance: the doctor leaves nothing in DAGSTER_HOME."""
    with tempfile.TemporaryDirectory(prefix="genre-assets-doctor-") as scratch:
        with dg.DagsterInstance.ephemeral(tempdir=scratch) as instance:
            with dg.build_resources(dict(definitions), instance=instance) as resources:
                yield resources


def _raw_files_probe(lake: Any, table: TableSpec) -> Callable[[], str]:
    def probe() -> str:
        files = source_files(lake, table)
        return f"{len(files)} file(s) with the header {','.join(table.csv_header)} in " + (
            lake.uri(table.folder)
        )

    return probe


# -- local ----------------------------------------------------------------------------------------


def _local_checks(resources: Any) -> Iterator[Check]:
    lake, catalog = resources.lake, resources.catalog
    folder = run_check("lake folder", lambda: f"{lake.root_uri} exists")
    yield folder
    if folder.status != OK:
        for name in LOCAL_CHECKS[1:]:
            yield Check(SKIP, name, "needs the lake folder")
        return
    yield run_check("movies files", _raw_files_probe(lake, MOVIES))
    yield run_check("ratings files", _raw_files_probe(lake, RATINGS))
    yield run_check("catalog folder", lambda: _catalog_writable(catalog.file()))


def _catalog_writable(file: Path) -> str:
    fix = (
        f"make it writable (chmod u+w '{file.parent}'), or set GENRE_ASSETS_CATALOG to a file "
        "in a folder you can write"
    )
    if file.exists():
        if not os.access(file, os.W_OK):
            raise Failed(f"the catalog file {file} is not writable", fix)
        return f"{file} exists and is writable"
    existing = file.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise Failed(f"cannot create the catalog file {file}: {existing} is not writable", fix)
    return f"{file} can be created (the first run creates it)"


# -- aws ------------------------------------------------------------------------------------------


def policy_actions(file: Path | None = None) -> set[str] | None:
    """The actions the engine's policy (default deploy/iam-policy.json) allows; None when the
    file is missing (a broken install)."""
    file = file or POLICY_FILE
    if not file.is_file():
        return None
    statements = json.loads(file.read_text())["Statement"]
    actions: set[str] = set()
    for statement in statements:
        action = statement.get("Action", [])
        actions.update([action] if isinstance(action, str) else action)
    return actions


def _error_code(error: BaseException) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _denied(error: BaseException) -> bool:
    code = _error_code(error)
    return "AccessDenied" in code or code in ("UnauthorizedOperation", "AuthorizationError")


# The IAM action S3 authorizes for each call the doctor's lake probes make.
_S3_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "GetObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
}


def _not_granted(
    action: str,
    by_hand: str,
    policy: set[str] | None,
    resource: str = "",
    policy_file: Path | None = None,
) -> Exception:
    """AccessDenied on `action`: a failure when the pipeline's policy grants it (so it is not
    attached), else a skip: the doctor merely lacks a right the pipeline does not need."""
    if policy is None or action in policy:
        return Failed(
            f"access denied to {action}" + (f" on {resource}" if resource else ""),
            f"attach deploy/{(policy_file or POLICY_FILE).name} (which grants {action}) to "
            "these credentials",
        )
    return Skipped(
        f"these credentials may not call {action} (the pipeline needs no such right); "
        f"check by hand with: {by_hand}"
    )


def _aws_checks(resources: Any) -> Iterator[Check]:
    from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

    from genre_assets.resources.aws.athena_engine import AthenaEngineResource
    from genre_assets.resources.aws.clients import configuration_error

    lake, catalog, engine = resources.lake, resources.catalog, resources.engine
    aws = engine.aws
    kind = "athena" if isinstance(engine, AthenaEngineResource) else "emr"
    policy_file = ATHENA_POLICY_FILE if kind == "athena" else POLICY_FILE
    policy = policy_actions(policy_file)
    if policy is None:
        yield Check(
            SKIP,
            "iam policy",
            f"{policy_file} not found (reinstall genre-assets): access denials cannot be told "
            "apart from rights the pipeline does not need",
        )

    def region() -> str:
        name = aws.session().region_name
        if not name:
            raise configuration_error(NoRegionError()) or Failed("no AWS region")
        return name

    def identity() -> str:
        try:
            answer = aws.client("sts").get_caller_identity()
        except (ClientError, BotoCoreError) as error:
            raise Failed(
                f"sts:GetCallerIdentity failed: {error}",
                "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) with: "
                "aws sts get-caller-identity",
            ) from None
        return f"account {answer['Account']} as {answer['Arn']}"

    first = [run_check("aws region", region), run_check("aws credentials", identity)]
    yield from first
    if any(c.status != OK for c in first):
        for name in aws_checks(kind)[len(first) :]:
            yield Check(SKIP, name, "needs AWS credentials and a region")
        return

    def s3_failure(error: ClientError, uri: str) -> Exception:
        code, bucket = _error_code(error), lake.bucket()
        if code == "NoSuchBucket":
            return Failed(
                f"the bucket {bucket} does not exist",
                f"create it with `aws s3 mb s3://{bucket}`, or set GENRE_ASSETS_LAKE to an "
                "existing s3://bucket[/prefix]",
            )
        if _denied(error):
            # The refused call's own action: a write denied under scripts/ is not a read problem.
            action = _S3_ACTIONS.get(
                error.operation_name, "s3:ListBucket, s3:GetObject and s3:PutObject"
            )
            return _not_granted(action, "", None, uri, policy_file)
        return Failed(f"S3 answered {code}: {error}", "check GENRE_ASSETS_LAKE")

    def raw(table: TableSpec) -> Callable[[], str]:
        def probe() -> str:
            try:
                return _raw_files_probe(lake, table)()
            except ClientError as error:
                raise s3_failure(error, lake.uri(table.folder)) from None

        return probe

    yield run_check("movies files", raw(MOVIES))
    yield run_check("ratings files", raw(RATINGS))

    def lake_write() -> str:
        key = f"scripts/doctor-probe-{secrets.token_hex(6)}"
        uri = lake.uri(key)
        try:
            lake.write_bytes(key, b"genre-assets doctor probe\n")
        except ClientError as error:
            raise s3_failure(error, uri) from None
        try:
            lake.delete(key)
        except ClientError as error:
            if not _denied(error):
                raise s3_failure(error, uri) from None
            return (
                f"wrote {uri}; s3:DeleteObject is not granted (the pipeline needs none), "
                f"remove the probe with: aws s3 rm {uri}"
            )
        return f"wrote and deleted {uri}"

    yield run_check("lake write", lake_write)

    def glue_database() -> str:
        database = catalog.database_name()
        try:
            exists = catalog.database_exists()
        except ClientError as error:
            if _denied(error):
                raise _not_granted(
                    "glue:GetDatabase",
                    f"aws glue get-database --name {database}",
                    policy,
                    policy_file=policy_file,
                ) from None
            raise
        if exists:
            return f"{database} exists"
        shipped = f"deploy/{policy_file.name}"
        if policy is None:
            grants = f"({shipped} not found: its Glue rights are not checked)"
        else:
            glue = sorted(a for a in policy if a.startswith("glue:"))
            grants = f"{shipped} grants {', '.join(glue) or 'no Glue action'}; " + (
                "that includes glue:CreateDatabase"
                if "glue:CreateDatabase" in policy
                else "the creating Hive step runs as the instance profile's role "
                f"({engine.job_flow_role}), which must allow glue:CreateDatabase"
                if kind == "emr"
                else "Athena creates it with these credentials, which must allow "
                "glue:CreateDatabase"
            )
        where = "with Athena DDL" if kind == "athena" else "on EMR"
        return f"{database} does not exist yet: the first run creates it {where}; {grants}"

    yield run_check("glue database", glue_database)
    if kind == "athena":
        yield from _athena_checks(engine, policy)
    else:
        yield from _emr_checks(engine, policy)


def _athena_checks(engine: Any, policy: set[str] | None) -> Iterator[Check]:
    from botocore.exceptions import ClientError

    from genre_assets.resources.aws.s3_lake import parse_s3_uri

    aws, workgroup = engine.aws, engine.workgroup
    missing_fix = (
        f"`aws athena create-work-group --name {workgroup}`, or set GENRE_ASSETS_ATHENA_WORKGROUP "
        "to one of `aws athena list-work-groups`"
    )
    # The workgroup's own result location, when it overrides the one the engine asks for.
    enforced: list[str] = []

    def workgroup_state() -> str:
        try:
            group = aws.client("athena").get_work_group(WorkGroup=workgroup).get("WorkGroup")
        except ClientError as error:
            if _error_code(error) == "InvalidRequestException":
                message = error.response.get("Error", {}).get("Message", "")
                raise Failed(f"Athena answered: {message or error}", missing_fix) from None
            if _denied(error):
                raise _not_granted(
                    "athena:GetWorkGroup",
                    f"aws athena get-work-group --work-group {workgroup}",
                    policy,
                    policy_file=ATHENA_POLICY_FILE,
                ) from None
            raise
        if not group:
            raise Failed(f"the workgroup {workgroup} does not exist", missing_fix)
        if group.get("State") != "ENABLED":
            raise Failed(
                f"the workgroup {workgroup} is {group.get('State')}: Athena runs no query in it",
                f"aws athena update-work-group --work-group {workgroup} --state ENABLED",
            )
        configuration = group.get("Configuration", {})
        if configuration.get("ManagedQueryResultsConfiguration", {}).get("Enabled"):
            # Such a workgroup refuses a query that names an output location and keeps no result
            # file in S3, which is where the engine reads the genre query's rows.
            raise Failed(
                f"the workgroup {workgroup} keeps managed query results: the engine needs its "
                "results in S3",
                "set GENRE_ASSETS_ATHENA_WORKGROUP to a workgroup without managed query results",
            )
        version = configuration.get("EngineVersion", {}).get("EffectiveEngineVersion", "")
        detail = f"{workgroup} is ENABLED" + (f" ({version})" if version else "")
        encryption = configuration.get("ResultConfiguration", {}).get("EncryptionConfiguration", {})
        if "KMS" in str(encryption.get("EncryptionOption", "")):
            detail += (
                f"; results are encrypted with KMS ({encryption.get('KmsKey', 'its key')}): grant "
                "these credentials kms:GenerateDataKey and kms:Decrypt on it (the shipped policy "
                "does not)"
            )
        own = configuration.get("ResultConfiguration", {}).get("OutputLocation", "")
        if configuration.get("EnforceWorkGroupConfiguration") and own:
            enforced.append(own)
            detail += (
                f"; it enforces its result location {own} over GENRE_ASSETS_ATHENA_OUTPUT_LOCATION"
            )
        return detail

    def results() -> str:
        location = enforced[0] if enforced else engine.result_location()
        bucket, prefix = parse_s3_uri(location)
        key = f"{prefix}/doctor-probe-{secrets.token_hex(6)}".lstrip("/")
        uri = f"s3://{bucket}/{key}"
        s3 = aws.client("s3")
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=b"genre-assets doctor probe\n")
        except ClientError as error:
            if _error_code(error) == "NoSuchBucket":
                raise Failed(
                    f"the result bucket {bucket} does not exist",
                    f"create it with `aws s3 mb s3://{bucket}`, or set "
                    "GENRE_ASSETS_ATHENA_OUTPUT_LOCATION to an existing s3://bucket/prefix/",
                ) from None
            if _denied(error):
                raise _not_granted("s3:PutObject", "", None, uri, ATHENA_POLICY_FILE) from None
            raise Failed(
                f"S3 answered {_error_code(error)}: {error}",
                "check GENRE_ASSETS_ATHENA_OUTPUT_LOCATION",
            ) from None
        try:
            s3.delete_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if not _denied(error):
                raise
            return (
                f"wrote {uri}; s3:DeleteObject is not granted (the pipeline needs none), "
                f"remove the probe with: aws s3 rm {uri}"
            )
        return f"wrote and deleted {uri}" + (" (the workgroup's location)" if enforced else "")

    yield run_check("athena workgroup", workgroup_state)
    yield run_check("athena results", results)


def _emr_checks(engine: Any, policy: set[str] | None) -> Iterator[Check]:
    from botocore.exceptions import ClientError

    aws = engine.aws
    try:
        request = engine.job_flow_request()
    except GenreAssetsError as error:
        yield Check(FAIL, "emr request", str(error))
        return
    iam = aws.client("iam")
    service_role = str(request["ServiceRole"]).rsplit("/", 1)[-1]
    profile = str(request["JobFlowRole"]).rsplit("/", 1)[-1]

    def role() -> str:
        try:
            arn = iam.get_role(RoleName=service_role)["Role"]["Arn"]
        except ClientError as error:
            if _error_code(error) == "NoSuchEntity":
                raise Failed(
                    f"the role {service_role} does not exist",
                    f"`{CREATE_DEFAULT_ROLES}` (creates EMR_DefaultRole and "
                    "EMR_EC2_DefaultRole), or set GENRE_ASSETS_EMR_SERVICE_ROLE to an existing role",
                ) from None
            if _denied(error):
                raise _not_granted(
                    "iam:GetRole", f"aws iam get-role --role-name {service_role}", policy
                ) from None
            raise
        return arn

    def instance_profile() -> str:
        try:
            found = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]
        except ClientError as error:
            if _error_code(error) == "NoSuchEntity":
                raise Failed(
                    f"the instance profile {profile} does not exist",
                    f"`{CREATE_DEFAULT_ROLES}` (creates EMR_DefaultRole and "
                    "EMR_EC2_DefaultRole), or set GENRE_ASSETS_EMR_INSTANCE_PROFILE to an existing "
                    "instance profile",
                ) from None
            if _denied(error):
                raise _not_granted(
                    "iam:GetInstanceProfile",
                    f"aws iam get-instance-profile --instance-profile-name {profile}",
                    policy,
                ) from None
            raise
        roles = [r["RoleName"] for r in found.get("Roles", [])]
        if not roles:
            raise Failed(
                f"the instance profile {profile} holds no role",
                f"aws iam add-role-to-instance-profile --instance-profile-name {profile} "
                f"--role-name {profile}",
            )
        return f"{found['Arn']} (role {', '.join(roles)})"

    yield run_check("emr service role", role)
    yield run_check("emr instance profile", instance_profile)

    instances = request.get("Instances", {})
    subnet_ids = list(instances.get("Ec2SubnetIds") or [])
    if instances.get("Ec2SubnetId"):
        subnet_ids.append(instances["Ec2SubnetId"])
    ec2 = aws.client("ec2")
    overrides_example = (
        'GENRE_ASSETS_EMR_JOB_FLOW_OVERRIDES=\'{"Instances": {"Ec2SubnetIds": ["subnet-..."]}}\''
    )

    def subnets() -> str:
        if subnet_ids:
            try:
                found = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]
            except ClientError as error:
                if "NotFound" in _error_code(error) or "Malformed" in _error_code(error):
                    raise Failed(
                        f"subnet(s) {', '.join(subnet_ids)} not found in {aws.region()}: "
                        f"{error.response['Error'].get('Message', '')}".rstrip(": "),
                        f"list this region's subnets with `aws ec2 describe-subnets` and name "
                        f"existing ones in {overrides_example}",
                    ) from None
                if _denied(error):
                    ids = " ".join(subnet_ids)
                    raise _not_granted(
                        "ec2:DescribeSubnets",
                        f"aws ec2 describe-subnets --subnet-ids {ids}",
                        policy,
                    ) from None
                raise
            return ", ".join(f"{s['SubnetId']} ({s['AvailabilityZone']})" for s in found)
        try:
            vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
        except ClientError as error:
            if _denied(error):
                raise _not_granted(
                    "ec2:DescribeVpcs",
                    "aws ec2 describe-vpcs --filters Name=isDefault,Values=true",
                    policy,
                ) from None
            raise
        if not vpcs:
            raise Failed(
                f"no subnet is configured and {aws.region()} has no default VPC",
                f"`aws ec2 create-default-vpc`, or name subnets in {overrides_example}",
            )
        return f"no subnet configured: EMR uses the default VPC {vpcs[0]['VpcId']}"

    yield run_check("subnets", subnets)

    release = str(request["ReleaseLabel"])
    wanted = [a["Name"] for a in request.get("Applications", [])]

    def release_label() -> str:
        try:
            answer = aws.client("emr").describe_release_label(ReleaseLabel=release)
        except ClientError as error:
            code = _error_code(error)
            if code in ("ValidationException", "InvalidRequestException"):
                raise Failed(
                    f"EMR does not know the release {release}: {error}",
                    "set GENRE_ASSETS_EMR_RELEASE to a release of `aws emr list-release-labels` "
                    f"(default {SETTINGS['emr_release'].default})",
                ) from None
            if _denied(error):
                raise _not_granted(
                    "elasticmapreduce:DescribeReleaseLabel",
                    f"aws emr describe-release-label --release-label {release}",
                    policy,
                ) from None
            raise Skipped(
                f"the endpoint cannot describe release labels ({code or error}); check by hand "
                f"with: aws emr describe-release-label --release-label {release}"
            ) from None
        except NotImplementedError:
            raise Skipped(
                "the endpoint cannot describe release labels; check by hand with: "
                f"aws emr describe-release-label --release-label {release}"
            ) from None
        offered = {a.get("Name", "").lower() for a in answer.get("Applications", [])}
        missing = [name for name in wanted if name.lower() not in offered]
        if missing:
            raise Failed(
                f"{release} offers no {', '.join(missing)}",
                f"set GENRE_ASSETS_EMR_RELEASE to a release with {', '.join(wanted)} "
                "(`aws emr describe-release-label --release-label emr-6.15.0`)",
            )
        return f"{release} offers {', '.join(wanted)}"

    yield run_check("emr release", release_label)
