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
        'src="${@: -2:1}"; dst="${@: -1}"\n'
        'src="${src/s3:\\/\\//$S3/}"; dst="${dst/s3:\\/\\//$S3/}"\n'
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


def test_the_cache_step_marks_its_folder_complete_only_after_presto_succeeds(tmp_path):
    env = _tools(tmp_path)
    (tmp_path / "s3" / "lake").mkdir(parents=True)
    (tmp_path / "s3" / "lake" / "fill.sql").write_text("INSERT INTO c SELECT 1;\n")
    marker = "s3://lake/_cache/ratings/fp/run/_GENRE_ASSETS_COMPLETE"
    script = rendering.emr_presto_statement_script("movielens", "s3://lake/fill.sql", marker)
    done, seconds = _run(script, env)
    assert done.returncode == 0 and seconds < 10, done.stderr
    assert (
        tmp_path / "s3/lake/_cache/ratings/fp/run/_GENRE_ASSETS_COMPLETE"
    ).read_text() == "complete\n"

    (tmp_path / "s3/lake/_cache/ratings/fp/run/_GENRE_ASSETS_COMPLETE").unlink()
    (Path(env["PATH"].split(":")[0]) / "presto-cli").write_text("#!/usr/bin/env bash\nexit 1\n")
    failed, _ = _run(script, {**env, **{k: v for k, v in os.environ.items() if k == "LANG"}})
    assert failed.returncode != 0
    assert not (tmp_path / "s3/lake/_cache/ratings/fp/run/_GENRE_ASSETS_COMPLETE").exists()
