"""The documents name real things: every test RELIABILITY.md cites exists, docs cite only files
of this repository, and the README stays short. docs/deploy-aws.md is held to more: its
variables, paths, tests and commands exist, its examples parse, its `sed` lines fill in both IAM
policies, and its code server, workspace and doctor claims are run."""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from genre_assets_tests.cli import test_doctor as doctor_tests
from genre_assets_tests.support.local import REPO_ROOT

TESTS = REPO_ROOT / "genre_assets_tests"


def _test_names(path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def test_every_test_reliability_md_names_exists():
    text = (REPO_ROOT / "RELIABILITY.md").read_text()
    cited = re.findall(r"`((?:[a-z_]+/)*test_[a-z_0-9]+\.py)::([A-Za-z_0-9]+)", text)
    assert len(cited) >= 30
    for file, name in cited:
        path = TESTS / file
        assert path.is_file(), f"RELIABILITY.md cites {file}, which does not exist"
        assert name in _test_names(path), (
            f"RELIABILITY.md cites {file}::{name}, which does not exist"
        )


def test_docs_and_code_cite_no_document_outside_the_repository():
    for folder in ("genre_assets", "genre_assets_emulator", "sql", "docs"):
        for path in (REPO_ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".j2", ".md"}:
                assert "DESIGN" not in path.read_text(), path
    for cited in re.findall(
        r"\(((?:docs|bench|deploy)/[\w./-]+)\)", (REPO_ROOT / "README.md").read_text()
    ):
        assert (REPO_ROOT / cited.split("#")[0]).exists(), (
            f"README links {cited}, which does not exist"
        )


def test_readme_is_under_200_lines_and_keeps_the_two_commands():
    readme = (REPO_ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 200
    assert "make demo" in readme and "make test" in readme
    assert "docs/aws-fidelity.md" in readme and "docs/deploy-aws.md" in readme


def test_every_test_the_fidelity_ledger_names_exists_and_every_row_has_a_source():
    text = (REPO_ROOT / "docs" / "aws-fidelity.md").read_text()
    rows = [line for line in text.splitlines() if re.match(r"^\| \d+ \|", line)]
    assert len(rows) >= 25
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 5 and all(cells), row  # number, behaviour, source, emulator, test
    for file, name in re.findall(
        r"`((?:[a-z_]+/)*test_[a-z_0-9]+\.py)(?:::([A-Za-z_0-9]+))?", text
    ):
        path = TESTS / file
        assert path.is_file(), f"docs/aws-fidelity.md cites {file}, which does not exist"
        if name:
            assert name in _test_names(path), f"docs/aws-fidelity.md cites {file}::{name}"


# -- docs/deploy-aws.md: the deployment recipe ----------------------------------------------------

DEPLOY_DOC = REPO_ROOT / "docs" / "deploy-aws.md"
# The doctor's own tests' set-up on moto: the aws deployment with the default EMR roles.
aws_setup = doctor_tests.aws_setup
POSTGRES_YAML = REPO_ROOT / "deploy" / "dagster-postgres.yaml"
# Repository paths as the recipe writes them: from the repository root, never after `/`, `$` or
# `<` (those are the operator's paths: /opt/..., $DAGSTER_HOME/..., <lake>/...).
_REPO_PATH = re.compile(
    r"(?<![\w/$<.~-])((?:deploy|docs|genre_assets|genre_assets_tests|genre_assets_emulator|sql|"
    r"bench)/[\w./-]*\w)"
)
_FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def _deploy_doc() -> str:
    return DEPLOY_DOC.read_text()


def _blocks(text: str, containing: str) -> list[str]:
    """The fenced code blocks (dedented) that contain `containing`."""
    found = []
    for indent, _, body in _FENCE.findall(text):
        lines = [line.removeprefix(indent) for line in body.splitlines()]
        block = "\n".join(lines) + "\n"
        if containing in block:
            found.append(block)
    assert found, f"docs/deploy-aws.md has no code block with {containing!r}"
    return found


def _commands(block: str) -> list[str]:
    """A shell block's commands, continuation lines joined."""
    return [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def _env_file(text: str) -> dict[str, str]:
    """The recipe's environment file, parsed as `. FILE` would (one assignment a line)."""
    (block,) = _blocks(text, "GENRE_ASSETS_DEPLOYMENT=aws")
    values = {}
    for line in _commands(block):
        (assignment,) = shlex.split(line)  # quoting a shell (and systemd) reads as one value
        name, _, value = assignment.partition("=")
        values[name] = value
    return values


def _postgres_variables() -> set[str]:
    storage = yaml.safe_load(POSTGRES_YAML.read_text())["storage"]["postgres"]["postgres_db"]
    return {field["env"] for field in storage.values() if isinstance(field, dict)}


def test_the_recipes_settings_exist_and_its_examples_parse(aws_env):
    import boto3

    from genre_assets.resources.aws import cluster_ownership, emr_cluster
    from genre_assets.resources.aws.s3_lake import parse_s3_uri
    from genre_assets.settings import DEPLOYMENT_ENV, SETTINGS
    from genre_assets_tests.support.aws import REGION, aws_resources

    text = _deploy_doc()
    named = set(re.findall(r"\b(?:GENRE_ASSETS|DAGSTER_PG)_[A-Z_]*[A-Z]", text))
    known = {s.variable for s in SETTINGS.values()} | {DEPLOYMENT_ENV} | _postgres_variables()
    assert named - known == set(), "docs/deploy-aws.md names variables that do not exist"

    env = _env_file(text)
    assert env[DEPLOYMENT_ENV] == "aws"
    assert _postgres_variables() <= set(env), "every process must see all five DAGSTER_PG_*"
    assert set(env) - {"DAGSTER_HOME"} <= known
    parse_s3_uri(env["GENRE_ASSETS_LAKE"])
    emr_cluster.parse_prices(env["GENRE_ASSETS_EMR_PRICES"])
    cluster_ownership.validate_deployment_name(env["GENRE_ASSETS_DEPLOYMENT_NAME"])

    # Each override it shows is merged into the RunJobFlow request, which EMR (moto) accepts.
    overrides = re.findall(r"GENRE_ASSETS_EMR_JOB_FLOW_OVERRIDES='([^']*)'", text)
    assert len(overrides) >= 2
    for override in overrides:
        request = aws_resources(job_flow_overrides=override)["engine"].job_flow_request()
        assert emr_cluster.deep_merge(request, json.loads(override)) == request, override
        boto3.client("emr", region_name=REGION).run_job_flow(**request)


def test_every_path_link_and_test_the_recipe_names_exists():
    text = _deploy_doc()
    paths = set(_REPO_PATH.findall(text))
    assert {"deploy/iam-policy.json", "deploy/iam-instance-profile-policy.json"} <= paths
    for path in paths:
        assert (REPO_ROOT / path).exists(), f"docs/deploy-aws.md names {path}, which does not exist"
    for link in re.findall(r"\]\(([^)#]+)", text):
        assert (DEPLOY_DOC.parent / link).exists(), f"docs/deploy-aws.md links {link}"
    cited = re.findall(r"`(genre_assets_tests/[\w/]+\.py)::([A-Za-z_0-9]+)`", text)
    assert len(cited) >= 20
    for file, name in cited:
        path = REPO_ROOT / file
        assert path.is_file(), f"docs/deploy-aws.md cites {file}, which does not exist"
        assert name in _test_names(path), f"docs/deploy-aws.md cites {file}::{name}"
    # The last table: each step names the test that exercises it, or says it is not exercised.
    table = text.split("## 5. Exercised here / not exercised", 1)[1]
    rows = [line for line in table.splitlines() if line.startswith("| ")][2:]
    assert len(rows) >= 15
    for row in rows:
        assert "::" in row or "not exercised here" in row, row


def test_every_genre_assets_command_the_recipe_shows_is_a_subcommand():
    from genre_assets.cli.main import build_parser
    from genre_assets_tests.emulator.test_doctor_on_emulator import ALL_CHECKS

    (subparsers,) = [
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    ]
    text = _deploy_doc()
    code = "\n".join(re.findall(r"`([^`\n]+)`", text)) + "".join(
        body for _, _, body in _FENCE.findall(text)
    )
    shown = set(re.findall(r"\bgenre-assets ([a-z][a-z-]*)", code))
    assert "doctor" in shown
    assert shown - set(subparsers.choices) == set(), "docs/deploy-aws.md shows no such command"

    # The doctor's sample output: its checks, in the doctor's order, and its summary line.
    (sample,) = _blocks(text, "genre-assets doctor: the aws deployment")
    lines = sample.splitlines()
    checks = [line[6:29].strip() for line in lines if line.split()[0] in ("ok", "FAIL", "skip")]
    assert checks == list(ALL_CHECKS)
    ok, failed = (sum(line.startswith(s) for line in lines) for s in ("ok ", "FAIL "))
    assert lines[-1] == f"{len(checks)} checks: {ok} ok, {failed} failed, 0 skipped"


def test_the_recipes_sed_lines_fill_in_every_iam_policy():
    from genre_assets.settings import SETTINGS
    from genre_assets_emulator import iam
    from genre_assets_tests.support.aws import iam_values

    text = _deploy_doc()
    env = _env_file(text)
    filled = {}
    for block in _blocks(text, "sed -e"):
        for command in _commands(block):
            if not command.startswith("sed "):
                continue
            argv = shlex.split(command)
            argv = argv[: argv.index(">")]  # the file it writes is the operator's
            pattern = r"^s\|\$\{(\w+)\}\|([^|]*)\|g$"
            values = dict(re.findall(pattern, "\n".join(argv), re.MULTILINE))
            policy = argv[-1]
            done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, check=True)
            assert "${" not in done.stdout, f"a placeholder of {policy} is left unfilled"
            loaded = iam.load_policy(REPO_ROOT / policy, values)
            assert json.loads(done.stdout)["Statement"] == loaded
            filled[policy] = values
    assert set(filled) == {
        "deploy/iam-policy.json",
        "deploy/iam-instance-profile-policy.json",
        "deploy/iam-policy-athena.json",
    }
    # The values are the recipe's own: its lake, its region, the pipeline's defaults.
    expected = {
        **iam_values(env["GENRE_ASSETS_LAKE"]),
        "Region": env["GENRE_ASSETS_AWS_REGION"],
        "WorkGroup": SETTINGS["athena_workgroup"].default,
    }
    for values in filled.values():
        assert {k: v for k, v in expected.items() if k in values} == {
            k: v for k, v in values.items() if k != "Account"
        }
    assert set(filled["deploy/iam-policy.json"]) == set(iam.PLACEHOLDERS)
    assert set(filled["deploy/iam-policy-athena.json"]) == set(iam.ATHENA_PLACEHOLDERS)


def test_the_doctor_without_its_policy_file_says_it_cannot_tell_denials_apart(
    aws_setup, capsys, monkeypatch, tmp_path
):
    from genre_assets.cli import doctor

    monkeypatch.setattr(doctor, "POLICY_FILE", tmp_path / "site-packages" / "deploy" / "x.json")
    code, lines = doctor_tests.run_doctor(capsys)
    assert code == 0, "\n".join(lines)
    assert lines[1].startswith("skip  iam policy ") and "(reinstall genre-assets)" in lines[1], (
        lines
    )
    assert "skip  iam policy" in _deploy_doc()


def _wait(what: str, probe, timeout: float, alive: list[subprocess.Popen], logs: list[Path]):
    """Poll `probe` until it returns something truthy; fail with the logs if a process exits or
    the time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        exited = [p.args for p in alive if p.poll() is not None]
        result = None if exited else probe()
        if result:
            return result
        if exited or time.monotonic() > deadline:
            tails = "\n".join(f"--- {log} ---\n{log.read_text()[-3000:]}" for log in logs)
            raise AssertionError(f"waiting for {what}: exited {exited}\n{tails}")
        time.sleep(0.5)


def _quiet(probe):
    """`probe`, with errors (a server still starting) counted as "not yet"."""

    def guarded():
        try:
            return probe()
        except Exception:
            return None

    return guarded


@pytest.mark.e2e
def test_the_recipes_code_server_serves_the_daemon_and_webserver_and_runs_a_genre(tmp_path):
    """Section 3, step 5, with the `local` deployment: the code server started by the recipe's
    command, the webserver and daemon loading it through the recipe's `grpc_server` workspace
    without any GENRE_ASSETS_* variable, and a run of one genre, which only the code server
    can have executed: the webserver and the daemon start no process of their own."""
    import dagster as dg

    from genre_assets.partitions import register_genres
    from genre_assets_tests.e2e.stack import (
        BIN,
        DAEMON_HEALTH,
        INSTANCE_YAML,
        LOCATION_STATUS,
        PARTITION_TAG,
        DagsterStack,
        _live_group_members,
        export_file,
        free_port,
        stop_process_group,
    )
    from genre_assets_tests.reference import expected_tsv
    from genre_assets_tests.support.local import FIXTURES

    text = _deploy_doc()
    lake = tmp_path / "lake"
    shutil.copytree(FIXTURES / "golden_lake", lake)
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(INSTANCE_YAML, home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        register_genres(instance, ["Comedy"])

    port = free_port()
    (workspace_block,) = _blocks(text, "grpc_server:")
    workspace = yaml.safe_load(workspace_block)
    (entry,) = workspace["load_from"]
    entry["grpc_server"]["port"] = port
    workspace_file = tmp_path / "workspace.yaml"
    workspace_file.write_text(yaml.safe_dump(workspace))
    (server_line,) = [
        line
        for block in _blocks(text, "dagster code-server start")
        for line in _commands(block)
        if line.startswith("dagster code-server start")
    ]
    server_argv = shlex.split(server_line)
    server_argv[server_argv.index("-p") + 1] = str(port)
    assert server_argv[server_argv.index("-h") + 1] == entry["grpc_server"]["host"] == "127.0.0.1"
    server_argv[0] = str(BIN / "dagster")

    base = {k: v for k, v in os.environ.items() if not k.startswith(("GENRE_ASSETS_", "DAGSTER_"))}
    base.update(DAGSTER_HOME=str(home), PYTHONUNBUFFERED="1")
    code_env = {
        **base,
        "GENRE_ASSETS_DEPLOYMENT": "local",
        "GENRE_ASSETS_LAKE": str(lake),
        "GENRE_ASSETS_DUCKDB_THREADS": "2",
        "GENRE_ASSETS_DUCKDB_MEMORY": "1GB",
    }
    stack = DagsterStack(root=tmp_path, home=home, lake=lake, env=base)
    web_port = free_port()
    stack.base_url = f"http://127.0.0.1:{web_port}"
    started: dict[str, subprocess.Popen] = {}
    logs: list[Path] = []

    def start(name: str, argv: list[str], env: dict[str, str]) -> None:
        log = tmp_path / f"{name}.log"
        logs.append(log)
        with log.open("ab") as out:
            started[name] = subprocess.Popen(
                argv,
                cwd=tmp_path,  # the installed package, not the checkout's files
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def healthy() -> bool:
        check = [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(port)]
        return subprocess.run(check, capture_output=True, env=base, timeout=60).returncode == 0

    def location_loaded() -> bool:
        (location,) = stack.gql(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
        loaded = location["locationOrLoadError"] or {}
        return location["loadStatus"] == "LOADED" and loaded["__typename"] == "RepositoryLocation"

    def daemons_healthy() -> bool:
        statuses = stack.gql(DAEMON_HEALTH)["instance"]["daemonHealth"]["allDaemonStatuses"]
        return all(s["healthy"] for s in statuses if s["required"])

    def run_done() -> dict | None:
        run = stack.run(run_id)
        return run if run["status"] in {"SUCCESS", "FAILURE", "CANCELED"} else None

    try:
        start("code-server", server_argv, code_env)
        _wait("the code server", healthy, 120, list(started.values()), logs)
        workspace_args = ["-w", str(workspace_file)]
        start("daemon", [str(BIN / "dagster-daemon"), "run", *workspace_args], base)
        start(
            "webserver",
            [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(web_port)]
            + workspace_args,
            base,
        )
        alive = list(started.values())
        _wait("the webserver to load the location", _quiet(location_loaded), 120, alive, logs)
        _wait("the daemons", _quiet(daemons_healthy), 120, alive, logs)

        run_id = stack.launch_run(tags={PARTITION_TAG: "Comedy"})
        run = _wait("the run", _quiet(run_done), 180, alive, logs)
        assert run["status"] == "SUCCESS", "\n".join(log.read_text()[-3000:] for log in logs)
        assert export_file(lake, "comedy").read_text() == expected_tsv(lake, "Comedy")
        for name in ("daemon", "webserver"):
            assert _live_group_members(started[name].pid) == [started[name].pid], name
    finally:
        for proc in reversed(list(started.values())):
            stop_process_group(proc)
