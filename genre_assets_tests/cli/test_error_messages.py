"""Errors with a way out (issue #11, item 5): each failure the CLI reports is a sentence that names
the setting or the command that fixes it, one cause per line, never a traceback.

The AWS cases set the environment so that the failure really happens, never reaching AWS: moto in
process, or endpoints on 127.0.0.1 that refuse or merely count connections.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from genre_assets.cli.main import failure_message, main
from genre_assets_tests.support.aws import BUCKET, LAKE_URI, ListeningEndpoint, refusing_endpoint
from genre_assets_tests.support.local import FIXTURES

CLI = [sys.executable, "-m", "genre_assets.cli"]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it, with none of this machine's genre-assets, Dagster or AWS
    settings: only those in `env`."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GENRE_ASSETS_", "DAGSTER_HOME", "AWS_"))
    }
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env={**clean, **(env or {})}, timeout=300
    )


def aws_cli_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The aws deployment with fake credentials and a region, no AWS config files and no EC2
    metadata lookups; `overrides` set or (with "") drop variables."""
    empty = tmp_path / "empty-aws-config"
    empty.write_text("")
    env = {
        "GENRE_ASSETS_DEPLOYMENT": "aws",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        **overrides,
    }
    return {k: v for k, v in env.items() if v}


def only_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# -- 1. one cause per line ----------------------------------------------------------------------


def test_failure_message_puts_each_cause_on_its_own_line():
    message = failure_message(
        12.34,
        ["run-a", "run-b"],
        [
            "step movies failed: bad movies",
            "step ratings failed: first line\nsecond line",
            "step movies failed: bad movies",  # the same cause from the second run: once
        ],
    )
    assert message.splitlines() == [
        "genre-assets: materialisation failed after 12.3 s (run run-a, run-b):",
        "  - step movies failed: bad movies",
        "  - step ratings failed: first line",
        "    second line",
    ]


def test_a_failed_run_prints_a_header_then_its_cause_on_the_next_line(
    golden_lake, monkeypatch, capsys
):
    for csv_file in (golden_lake / "movielens" / "ratings").glob("*.csv"):
        csv_file.unlink()
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("GENRE_ASSETS_LAKE", str(golden_lake))  # restored after main() sets it
    assert main(["materialize", "--lake", str(golden_lake), "--genre", "Drama"]) == 1
    stderr = capsys.readouterr().err
    lines = stderr.strip().splitlines()
    assert lines[-2].startswith("genre-assets: materialisation failed after ")
    assert lines[-2].endswith(":") and "(run " in lines[-2]
    assert lines[-1].startswith("  - step ratings failed: no .csv files in ")
    assert str(golden_lake / "movielens" / "ratings") in lines[-1]
    # movies.csv is there: sample data would overwrite it, so it is not suggested.
    assert "sample-data" not in stderr


# -- 2. an empty lake suggests sample-data --------------------------------------------------------


def test_an_empty_lake_suggests_sample_data_with_its_path(tmp_path):
    lake = tmp_path / "empty lake"  # a space: the suggested command quotes it
    lake.mkdir()
    done = run_cli("materialize", "--lake", str(lake), "--genre", "Drama")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert only_line(done.stderr) == (
        f"genre-assets: no .csv files in {lake}/movielens/movies/: the movies table needs "
        "MovieLens movies.csv data there; to try genre-assets without MovieLens data, create "
        f"sample data with: genre-assets sample-data --lake '{lake}'"
    )


def test_the_suggested_sample_data_command_is_the_way_out(tmp_path, monkeypatch, capsys):
    lake = tmp_path / "lake"
    lake.mkdir()
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("GENRE_ASSETS_LAKE", str(lake))
    assert main(["materialize", "--lake", str(lake), "--genre", "Drama"]) == 1
    suggested = capsys.readouterr().err.split("create sample data with: ")[1].split()
    assert suggested[:3] == ["genre-assets", "sample-data", "--lake"]
    assert main([*suggested[1:], "--ratings", "3000", "--movies", "200"]) == 0
    assert main(["materialize", "--lake", str(lake), "--genre", "Drama", "--quiet"]) == 0
    assert (lake / "movielens" / "drama" / "drama_films.tsv").is_file()


# -- 3. a missing lake folder is an error, not created --------------------------------------------


@pytest.mark.parametrize("how", ["--lake", "GENRE_ASSETS_LAKE"])
@pytest.mark.parametrize("which", [["--genre", "Drama"], ["--all-genres"]])
def test_a_missing_lake_folder_fails_up_front_and_creates_nothing(tmp_path, how, which):
    lake = tmp_path / "typo" / "lake"
    if how == "--lake":
        done = run_cli("materialize", "--lake", str(lake), *which)
    else:
        done = run_cli("materialize", *which, env={"GENRE_ASSETS_LAKE": str(lake)})
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert only_line(done.stderr) == (
        f"genre-assets: the lake folder {lake} does not exist (GENRE_ASSETS_LAKE or --lake): "
        f"point it at your MovieLens lake, or create sample data with: genre-assets sample-data "
        f"--lake {lake}"
    )
    assert not (tmp_path / "typo").exists()


def test_sample_data_still_creates_its_lake_folder(tmp_path):
    lake = tmp_path / "new" / "lake"
    done = run_cli("sample-data", "--lake", str(lake), "--ratings", "500", "--movies", "50")
    assert done.returncode == 0, done.stderr
    assert (lake / "movielens" / "movies" / "movies.csv").is_file()


# -- 4. botocore's configuration failures: one sentence naming the settings ----------------------


@pytest.fixture
def moto_lake_without_region(tmp_path, monkeypatch):
    """The golden lake in moto's S3 and no region anywhere: no variable, empty config files."""
    empty = tmp_path / "empty-aws-config"
    empty.write_text("")
    for name in [n for n in os.environ if n.startswith("AWS_")] + ["DAGSTER_HOME"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("GENRE_ASSETS_DEPLOYMENT", "aws")
    monkeypatch.setenv("GENRE_ASSETS_LAKE", LAKE_URI)
    with mock_aws():
        s3 = boto3.session.Session().client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        for path in (FIXTURES / "golden_lake").rglob("*.csv"):
            key = "data/" + path.relative_to(FIXTURES / "golden_lake").as_posix()
            s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
        yield


def test_no_region_names_aws_default_region(moto_lake_without_region, capsys):
    # S3 needs no region (the lake is read first); Glue does, so the first step fails.
    assert main(["materialize", "--lake", LAKE_URI, "--genre", "Drama"]) == 1
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == (
        "  - step film_database failed: no AWS region is configured: set AWS_DEFAULT_REGION "
        "(e.g. AWS_DEFAULT_REGION=us-east-1) or GENRE_ASSETS_AWS_REGION, or give the AWS "
        "profile (AWS_PROFILE) a region"
    )


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        (
            {},
            "genre-assets: no AWS credentials were found: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones), or AWS_PROFILE to "
            "a profile in ~/.aws/config; against genre-assets emulate-aws any values will do",
        ),
        (
            {"AWS_ACCESS_KEY_ID": "testing"},
            "genre-assets: the AWS credentials are incomplete (AWS_SECRET_ACCESS_KEY is "
            "missing): set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE "
            "instead of either",
        ),
    ],
    ids=["none", "partial"],
)
def test_missing_credentials_name_the_key_variables_and_aws_profile(
    tmp_path, credentials, expected
):
    with ListeningEndpoint() as endpoint:
        keys = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", **credentials}
        env = aws_cli_env(tmp_path, AWS_ENDPOINT_URL=endpoint.url, **keys)
        done = run_cli("materialize", "--lake", LAKE_URI, "--genre", "Drama", env=env)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert only_line(done.stderr) == expected
    assert endpoint.connections == 0  # refused before any request was sent


def test_an_unreachable_endpoint_names_it_aws_endpoint_url_and_the_emulator(tmp_path):
    with refusing_endpoint() as url:
        started = time.perf_counter()
        done = run_cli(
            "materialize",
            "--lake",
            LAKE_URI,
            "--genre",
            "Drama",
            env=aws_cli_env(tmp_path, AWS_ENDPOINT_URL=url),
        )
        seconds = time.perf_counter() - started
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert only_line(done.stderr) == (
        f"genre-assets: could not connect to {url} (no connection, 3 tries); AWS_ENDPOINT_URL "
        f"is {url}: for a local trial it must point at a running `genre-assets emulate-aws` "
        "(start one with `genre-assets emulate-aws --port 4566` and set "
        "AWS_ENDPOINT_URL=http://127.0.0.1:4566), or unset it to use AWS itself"
    )
    # Start-up included: botocore's eight attempts with backoff would take about 45 s.
    assert seconds < 15, f"took {seconds:.1f} s"


# -- 5. a lake that is not s3:// on the aws deployment --------------------------------------------


@pytest.mark.parametrize("how", ["--lake", "GENRE_ASSETS_LAKE"])
def test_a_lake_that_is_not_s3_is_refused_before_any_aws_call(tmp_path, how):
    with ListeningEndpoint() as endpoint:
        env = aws_cli_env(tmp_path, AWS_ENDPOINT_URL=endpoint.url)
        if how == "--lake":
            done = run_cli("materialize", "--lake", "/some/path", "--genre", "Drama", env=env)
        else:
            env["GENRE_ASSETS_LAKE"] = "/some/path"
            done = run_cli("materialize", "--genre", "Drama", env=env)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert only_line(done.stderr) == (
        "genre-assets: the aws deployment needs an s3:// lake (GENRE_ASSETS_LAKE or --lake), "
        "got '/some/path': set it to s3://bucket[/prefix], or use GENRE_ASSETS_DEPLOYMENT=local "
        "for a folder"
    )
    assert endpoint.connections == 0
