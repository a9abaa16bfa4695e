"""The package installs from a wheel and runs outside the checkout (templates are package data)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from genre_assets_tests.support.local import FIXTURES, REPO_ROOT


def _tracked_files_copy(target: Path) -> Path:
    """The committed tree (what a clean clone has), without build debris or a venv."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_wheel_installs_in_a_fresh_venv_and_materialises_outside_the_checkout(tmp_path):
    source = _tracked_files_copy(tmp_path / "src")
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("genre_assets-*.whl")

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # The dependencies come from this test run's environment (a .pth line adds its site-packages
    # but not the .pth files in it, so this checkout's editable install stays invisible); the
    # project itself only from the wheel.
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--quiet",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    lake = outside / "lake"
    shutil.copytree(FIXTURES / "golden_lake", lake)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GENRE_ASSETS_", "DAGSTER_HOME", "PYTHONPATH"))
    }
    where = subprocess.run(
        [
            python,
            "-c",
            "import genre_assets, genre_assets.sql as s; print(genre_assets.__file__); "
            "print(list(s.__path__)[0]); from genre_assets.cli import doctor; "
            "print(doctor.POLICY_FILE if doctor.POLICY_FILE.is_file() else 'missing')",
        ],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # Templates, the package and the IAM policy the doctor reads all come from the wheel.
    assert len(where) == 3 and all(path.startswith(str(site)) for path in where), where

    done = subprocess.run(
        [
            env_dir / "bin" / "genre-assets",
            "materialize",
            "--lake",
            str(lake),
            "--genre",
            "Comedy",
            "--quiet",
        ],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    export = lake / "movielens" / "comedy" / "comedy_films.tsv"
    assert export.read_bytes().startswith(b"movie_id\ttitle\tyear\tavg_rating\trating_count\n")
    assert (
        not (REPO_ROOT / "build").exists()
        or (REPO_ROOT / "build").stat().st_mtime < export.stat().st_mtime - 3600
    )
