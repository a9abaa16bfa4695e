"""`make emulator-demo` (deploy/emulator-demo.sh), the README's emulator walkthrough, up to the UI.

The script runs as a user runs it, with the UI step off (EMULATOR_DEMO_UI=0), on a free port and
with its folder in tmp_path. Its run must be recorded in the instance the UI is then started on,
the emulator must be stopped when it ends, and nothing may appear in the checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from genre_assets_tests.e2e.stack import free_port
from genre_assets_tests.support.local import REPO_ROOT

SCRIPT = REPO_ROOT / "deploy" / "emulator-demo.sh"
GENRES = ["Comedy", "Drama"]


def checkout_extras() -> set[str]:
    """Untracked and ignored entries of the checkout, but for Python's __pycache__ folders and
    Python sources (the demo writes none; a developer may be adding some meanwhile)."""
    done = subprocess.run(
        ["git", "status", "--porcelain", "--ignored"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    entries = {line[3:] for line in done.stdout.splitlines() if line[:2] in ("??", "!!")}
    return {e for e in entries if "__pycache__" not in e and not e.endswith(".py")}


def no_emulator_on(port: int) -> bool:
    """Nothing listens on the port, and no `emulate-aws --port <port>` process is alive."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        pass
    wanted = ["emulate-aws", "--port", str(port)]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if any(argv[i : i + 3] == wanted for i in range(len(argv))):
            return False
    return True


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to see the checkout's state")
def test_emulator_demo_records_its_run_for_the_ui_stops_the_emulator_and_leaves_no_file(
    tmp_path: Path,
):
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    port = free_port()
    demo = tmp_path / "demo"
    callers_home = tmp_path / "callers_dagster_home"  # the Makefile exports .dagster_home
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GENRE_ASSETS_"))}
    env.update(
        VENV_BIN=str(Path(sys.executable).parent),
        EMULATOR_PORT=str(port),
        EMULATOR_DEMO_DIR=str(demo),
        EMULATOR_DEMO_UI="0",
        EMULATOR_RATINGS="20000",
        EMULATOR_MOVIES="1000",
        DAGSTER_HOME=str(callers_home),
        # Whatever the caller has: the script points every client at the emulator only.
        AWS_PROFILE="some-real-profile",
        AWS_ENDPOINT_URL_S3="http://127.0.0.1:9",  # never reached: the script drops it
    )
    before = checkout_extras()
    started = time.monotonic()
    done = subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=tmp_path,  # the script finds the checkout itself
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )
    elapsed = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    print(f"emulator-demo up to the UI: {elapsed:.1f} s")

    assert "emulator stopped" in output, output
    assert no_emulator_on(port), f"the emulator still runs on {port}"
    log = (demo / "emulator.log").read_text()
    assert "pipeline calls denied by IAM: 0" in log, log  # it stopped cleanly, nothing refused
    for genre in GENRES:
        assert re.search(rf"^{genre} +\d+ films", done.stdout, re.MULTILINE), output

    # The run is in the instance `dagster dev` is started on, and only there.
    home = demo / "dagster_home"
    assert (home / "dagster.yaml").read_text() == (REPO_ROOT / "deploy/dagster.yaml").read_text()
    assert not callers_home.exists()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert [run.status for run in runs] == [dg.DagsterRunStatus.SUCCESS], runs
        (run,) = runs
        for genre in GENRES:
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=dg.AssetKey("genre_film_export"), asset_partitions=[genre]
                ),
                limit=5,
            ).records
            assert [r.run_id for r in records] == [run.run_id], genre
            path = records[0].asset_materialization.metadata["path"].value
            slug = genre.lower()
            assert path == f"s3://genre-assets-demo/lake/movielens/{slug}/{slug}_films.tsv"

    assert checkout_extras() == before
    assert not list(REPO_ROOT.glob(".tmp_dagster_home_*"))


def test_make_emulator_demo_runs_the_script_with_its_variables():
    if shutil.which("make") is None:
        pytest.skip("needs make")
    done = subprocess.run(
        ["make", "-n", "emulator-demo", "EMULATOR_DEMO_UI=0", "EMULATOR_PORT=4999"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    command = done.stdout.replace("\\\n", " ")
    assert "deploy/emulator-demo.sh" in command, command
    for setting in (
        "EMULATOR_DEMO_UI=0",
        "EMULATOR_PORT=4999",
        f"EMULATOR_DEMO_DIR={REPO_ROOT}/data/emulator-demo",
    ):
        assert setting in command, command
