"""The rendered EMR shell steps run under bash with stand-ins for `aws` and `presto-cli`."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from genre_assets import rendering
from genre_assets.domain.targets import genre_targets


def _tools(folder: Path) -> dict[str, str]:
    """`aws s3 cp SRC DST` copies local paths (s3:// is a folder under `folder`) and
    `presto-cli --file F` prints two genre rows; both log their arguments."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(
        "#!/usr/bin/env bash\n"
        'echo "aws $*" >> "$LOG"\n'
        # `aws glue get-table … --query Table.StorageDescriptor.Location --output text`
        'if [ "$1" = glue ]; then echo "$GLUE_LOCATION"; exit 0; fi\n'
        'src="${@: -2:1}"; dst="${@: -1}"\n'
        'src="${src/s3:\\/\\//$S3/}"; dst="${dst/s3:\\/\\//$S3/}"\n'
        'if [ "$2" = rm ]; then rm -rf "$dst"; exit 0; fi\n'
        'mkdir -p "$(dirname "$dst")"\n'
        'if [ "$src" = - ]; then cat > "$dst"; else cp "$src" "$dst"; fi\n'
    )
    (bin_dir / "presto-cli").write_text(
        "#!/usr/bin/env bash\n"
        'echo "presto-cli $*" >> "$LOG"\n'
        "printf 'drama\\t1\\t7\\tA\\t1999\\t3.5000\\t2\\n'\n"
    )
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "LOG": str(folder / "calls.log"),
        "S3": str(folder / "s3"),
        "HOME": str(folder),
    }


def _run(script: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    # Output captured through pipes, as EMR's command-runner captures a step's output: a
    # background process that kept them open would hold the step until it ends.
    done = subprocess.run(
        ["bash", "-s"], input=script, capture_output=True, text=True, env=env, timeout=60
    )
    return done, time.monotonic() - started


def test_the_export_step_writes_each_genre_and_its_heartbeat_never_holds_it(tmp_path):
    env = _tools(tmp_path)
    query = tmp_path / "s3" / "lake" / "q.sql"
    query.parent.mkdir(parents=True)
    query.write_text("SELECT 1;\n")
    targets = genre_targets(["Drama", "Comedy"])
    uris = [f"s3://lake/movielens/{t.slug}/{t.slug}_films.tsv" for t in targets]
    script = rendering.emr_export_script("movielens", "s3://lake/q.sql", targets, uris)
    assert "/emr/metricscollector/isbusy" in script

    done, seconds = _run(script, env)
    assert done.returncode == 0, done.stderr
    assert seconds < 10  # the heartbeat sleeps 60 s between touches
    drama = (tmp_path / "s3/lake/movielens/drama/drama_films.tsv").read_text()
    assert drama == "movie_id\ttitle\tyear\tavg_rating\trating_count\n7\tA\t1999\t3.5000\t2\n"
    comedy = (tmp_path / "s3/lake/movielens/comedy/comedy_films.tsv").read_text()
    assert comedy == "movie_id\ttitle\tyear\tavg_rating\trating_count\n"
    assert "--output-format TSV" in Path(env["LOG"]).read_text()
    # Nothing of the heartbeat outlives the step.
    leftover = subprocess.run(["pgrep", "-f", "metricscollector"], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""


def test_the_cache_step_marks_its_folder_complete_only_after_presto_succeeds(
    tmp_path,
):
    env = _tools(tmp_path)
    (tmp_path / "s3" / "lake").mkdir(parents=True)
    (tmp_path / "s3" / "lake" / "fill.sql").write_text("INSERT INTO c SELECT 1;\n")
    folder = tmp_path / "s3/lake/_cache/rating_aggregates"
    fill = rendering.AggregateFill(
        script_uri="s3://lake/fill.sql",
        source_uri="s3://lake/movielens/ratings/ratings.csv",
        complete_marker_uri="s3://lake/_cache/rating_aggregates/new/run/_GENRE_ASSETS_COMPLETE",
        expects_rows=True,
        table="rating_agg_new",
        location="s3://lake/_cache/rating_aggregates/new/run/",
    )
    env["GLUE_LOCATION"] = fill.location.rstrip("/")  # Glue holds it without the slash
    stale = "s3://lake/_cache/rating_aggregates/old/"
    (folder / "old/run").mkdir(parents=True)
    (folder / "old/run/_GENRE_ASSETS_COMPLETE").write_text("complete\n")
    script = rendering.emr_fill_rating_aggregates_script("movielens", [fill], [stale])
    done, seconds = _run(script, env)
    assert done.returncode == 0 and seconds < 10, done.stderr
    assert (folder / "new/run/_GENRE_ASSETS_COMPLETE").read_text() == "complete\n"
    assert f"aws s3 rm --only-show-errors --recursive {stale}" in Path(env["LOG"]).read_text()
    assert not (folder / "old").exists()

    (folder / "new/run/_GENRE_ASSETS_COMPLETE").unlink()
    cli = Path(env["PATH"].split(":")[0]) / "presto-cli"
    # An INSERT that read no row of a file with rows: its "$path" named no file. No marker.
    cli.write_text("#!/usr/bin/env bash\necho 'INSERT: 0 rows' >&2\n")
    failed, _ = _run(script, env)
    assert failed.returncode != 0 and '"$path" did not match' in failed.stderr
    assert not (folder / "new/run/_GENRE_ASSETS_COMPLETE").exists()
    # A header-only file may give no row.
    empty = rendering.AggregateFill(**{**fill.__dict__, "expects_rows": False})
    script = rendering.emr_fill_rating_aggregates_script("movielens", [empty])
    assert _run(script, env)[0].returncode == 0
    (folder / "new/run/_GENRE_ASSETS_COMPLETE").unlink()
    # A failed INSERT: its reason on stderr, no marker.
    cli.write_text("#!/usr/bin/env bash\necho 'Query x failed: boom' >&2\nexit 1\n")
    failed, _ = _run(script, {**env, **{k: v for k, v in os.environ.items() if k == "LANG"}})
    assert failed.returncode != 0 and "Query x failed: boom" in failed.stderr
    assert not (folder / "new/run/_GENRE_ASSETS_COMPLETE").exists()
    # Another run redefined the table over its own folder: no INSERT into it, no marker.
    cli.write_text("#!/usr/bin/env bash\necho 'presto-cli ran' >> \"$LOG\"\n")
    other = "s3://lake/_cache/rating_aggregates/new/other-run"
    raced, _ = _run(script, {**env, "GLUE_LOCATION": other})
    assert raced.returncode != 0, raced.stderr
    assert f"rating_agg_new is now over {other}, not this run's {fill.location}" in raced.stderr
    assert "presto-cli ran" not in Path(env["LOG"]).read_text()
    assert not (folder / "new/run/_GENRE_ASSETS_COMPLETE").exists()
