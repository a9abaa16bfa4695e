"""The `genre-assets` command as a user runs it: exit codes, outputs and one-paragraph errors."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

CLI = [sys.executable, "-m", "genre_assets.cli"]


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GENRE_ASSETS_", "DAGSTER_HOME"))
    }
    full_env.update(env or {})
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300
    )


def test_sample_data_then_all_genres_records_one_run_in_dagster_home(tmp_path):
    lake = tmp_path / "lake"
    home = tmp_path / "home"
    made = run_cli("sample-data", "--lake", str(lake), "--ratings", "20000", "--movies", "400")
    assert made.returncode == 0, made.stderr
    done = run_cli(
        "materialize", "--lake", str(lake), "--all-genres", env={"DAGSTER_HOME": str(home)}
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    exports = sorted(p.name for p in (lake / "movielens").glob("*/*_films.tsv"))
    assert len(exports) == 20 and "no_genres_listed_films.tsv" in exports
    assert str(lake / "movielens" / "drama" / "drama_films.tsv") in done.stdout
    assert "Preview of" in done.stdout
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].is_success
        assert "Children" in instance.get_dynamic_partitions("genre")


def test_missing_ratings_fail_with_one_paragraph_naming_the_folder(golden_lake):
    for csv_file in (golden_lake / "movielens" / "ratings").glob("*.csv"):
        csv_file.unlink()
    done = run_cli("materialize", "--lake", str(golden_lake), "--genre", "Drama")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "step ratings failed" in last and str(golden_lake / "movielens" / "ratings") in last


def test_a_bad_rating_names_the_file_and_line(golden_lake):
    with (golden_lake / "movielens/ratings/ratings.csv").open("a") as handle:
        handle.write("7,2,abc,5\n")
    done = run_cli("materialize", "--lake", str(golden_lake), "--genre", "Drama")
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert "Line: 22" in last and "ratings.csv" in last and '"abc"' in last
    assert "Traceback" not in done.stderr
    # Nothing half-written: the failed run left no export behind.
    assert not (golden_lake / "movielens/drama").exists()


@pytest.mark.parametrize("genre", ["Drama|Comedy", " Drama", "---"])
def test_unusable_genres_are_refused_before_anything_runs(golden_lake, genre):
    done = run_cli("materialize", "--lake", str(golden_lake), f"--genre={genre}")
    assert done.returncode == 1
    assert done.stderr.startswith("genre-assets: genre")
    assert not (golden_lake / "_catalog.duckdb").exists()


def _tree_bytes(*roots: Path) -> dict[str, bytes]:
    return {
        str(path): path.read_bytes() for root in roots for path in root.rglob("*") if path.is_file()
    }


def test_a_genre_no_movie_has_is_refused_with_a_suggestion_and_changes_nothing(
    golden_lake, tmp_path
):
    home = tmp_path / "home"
    env = {"DAGSTER_HOME": str(home)}
    first = run_cli("materialize", "--lake", str(golden_lake), "--genre", "Drama", env=env)
    assert first.returncode == 0, first.stderr
    before = _tree_bytes(golden_lake, home)
    assert any(name.endswith("_catalog.duckdb") for name in before)

    done = run_cli("materialize", "--lake", str(golden_lake), "--genre", "Scifi", env=env)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "genre-assets: unknown genre 'Scifi' (not in movies.csv); did you mean 'Sci-Fi'?",
        "for a genre that later data will bring: pass --allow-missing-genre",
    ]
    # Lake, catalog and instance (runs, partitions) are byte for byte what they were.
    assert _tree_bytes(golden_lake, home) == before
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert "Scifi" not in instance.get_dynamic_partitions("genre")


def test_allow_missing_genre_materialises_an_empty_table_and_warns(golden_lake, tmp_path):
    env = {"DAGSTER_HOME": str(tmp_path / "home")}
    done = run_cli(
        "materialize",
        "--lake",
        str(golden_lake),
        "--genre",
        "Scifi",
        "--allow-missing-genre",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert (golden_lake / "movielens/scifi/scifi_films.tsv").read_text().count("\n") == 1
    assert (
        "warning: check non_empty failed: Scifi: no movie in movies.csv has the genre 'Scifi'"
        in done.stderr
    )
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        assert "Scifi" in instance.get_dynamic_partitions("genre")


def test_genre_and_all_genres_are_exclusive(golden_lake):
    done = run_cli("materialize", "--lake", str(golden_lake), "--genre", "Drama", "--all-genres")
    assert done.returncode == 2


def test_non_adjacent_genres_run_once_per_partition_range(golden_lake, tmp_path):
    home = {"DAGSTER_HOME": str(tmp_path / "home")}
    # The first run registers the vocabulary in its order, so Action and Western are far apart.
    assert (
        run_cli("materialize", "--lake", str(golden_lake), "--genre", "Action", env=home).returncode
        == 0
    )
    done = run_cli(
        "materialize",
        "--lake",
        str(golden_lake),
        "--genre",
        "Western",
        "--genre",
        "Action",
        "--genre",
        "Adventure",
        env=home,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("run ") == 1 and done.stdout.split("(run ")[1].count(",") == 1


def test_the_console_script_exits_with_the_status_and_leaves_no_scratch_behind(
    golden_lake, tmp_path
):
    # The installed `genre-assets` ends with a hard exit: its output must be complete, its
    # status kept, and the throwaway instance's scratch folder removed (Dagster's own leaked).
    script = Path(sys.executable).with_name("genre-assets")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GENRE_ASSETS_", "DAGSTER_HOME"))
    }
    env["TMPDIR"] = str(scratch)
    ok = subprocess.run(
        [str(script), "materialize", "--lake", str(golden_lake), "--genre", "Drama"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.rstrip().splitlines()[-1].startswith("Materialised 1 genre(s)")
    assert list(scratch.iterdir()) == []
    bad = subprocess.run(
        [str(script), "materialize", "--lake", str(tmp_path / "nowhere"), "--genre", "Drama"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert bad.returncode == 1 and "genre-assets: " in bad.stderr and "Traceback" not in bad.stderr
