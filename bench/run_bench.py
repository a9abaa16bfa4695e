"""Benchmark: `genre-assets materialize` against the floor and against the original's approach.

One invocation generates one sample lake and measures, side by side and interleaved across
repeats (so machine drift hits every command alike):

  floor      one DuckDB count+sum scan of the ratings CSV in a fresh process: the least any engine
             must do to answer from the raw files;
  cold       `genre-assets materialize --all-genres --quiet`, nothing cached, no DAGSTER_HOME
             (ephemeral instance, a user's first try), whole command, with its peak RSS;
  cold_home  the same with a fresh DAGSTER_HOME, whose event log gives the step durations
             (columnar_cache = the cache build, genre_film_export = the genre step);
  per_genre  the original DAG's approach on the same engine: one query per genre, 20 genres, each
             scanning the ratings CSV again (bench/sql/per_genre.sql.j2), in a fresh process;
  warm       one more genre right after a full run (columnar cache present), whole command, and
             with DAGSTER_HOME for its genre step;
  incremental  all genres again after a new ratings file with 1% more ratings was added (a copy
             of the first 1% of the ratings), whole command with DAGSTER_HOME: only that file is
             read; the file is removed afterwards.
  large      on a second, larger lake (default 100M ratings, in --large-workdir; 0 skips it):
             its floor and all genres cold with a fresh DAGSTER_HOME, with peak RSS.

Prints a Markdown report (medians, min/max, ratios, targets) and writes it to
bench/results/latest.md. Usage: `make bench` or `.venv/bin/python bench/run_bench.py --help`.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import jinja2

from genre_assets.domain.genres import MOVIELENS_GENRES, slug
from genre_assets.domain.schema import MOVIES, RATINGS
from genre_assets.rendering import string_literal
from genre_assets.resources.local.columnar_cache import CACHE_FOLDER

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
# The venv's own entry point, next to the interpreter running this script.
GENRE_ASSETS = str(Path(sys.executable).with_name("genre-assets"))
TIME = Path("/usr/bin/time")
# A fresh interpreter and a fresh in-memory DuckDB per run: nothing warm carries over between
# repeats except the OS page cache, which every command shares alike.
RUN_SQL = "import duckdb, sys; print(duckdb.connect().execute(open(sys.argv[1]).read()).fetchall())"
# Without /usr/bin/time: a wrapper process whose only child is the command, so RUSAGE_CHILDREN's
# max RSS is that command's (in the bench process it would be the max over every child so far).
RUSAGE_WRAPPER = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[2:]).returncode; "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
    "sys.exit(code)"
)

LABELS = {
    "floor": "floor: DuckDB count+sum of ratings CSV (fresh process)",
    "cold": "materialize --all-genres, COLD, ephemeral instance (whole command)",
    "cold_home": "materialize --all-genres, COLD, fresh DAGSTER_HOME (whole command)",
    "cold_startup": "  ↳ process start → first event (imports, definitions, instance)",
    "cold_planning": "  ↳ first event → run start (run record, planned events)",
    "cache": "  ↳ cache build (cold): columnar_cache step",
    "genre": "  ↳ genre step: genre_film_export step",
    "cache_genre": "  ↳ cache build + genre step",
    "sources": "  ↳ film_database + movies + ratings steps",
    "source_checks": "  ↳ source_data_checks step (reads the per-file aggregates' counts)",
    "table": "  ↳ genre_film_table step (20 views; 60 check results from the export step's summaries)",
    "cold_run": "  ↳ run start → run end (all steps)",
    "cold_exit": "  ↳ run end → process exit (report, shutdown)",
    "per_genre": "original's approach: 20 per-genre queries (fresh process)",
    "warm": "materialize --genre {warm}, WARM, ephemeral instance (whole command)",
    "warm_home": "materialize --genre {warm}, WARM, DAGSTER_HOME (whole command)",
    "warm_genre": "  ↳ genre step (warm)",
    "incremental_home": "materialize --all-genres after a 1% ratings file is added, DAGSTER_HOME (whole command)",
    "large_floor": "{large} ratings: floor (fresh process)",
    "large_cold_home": "{large} ratings: materialize --all-genres, COLD, fresh DAGSTER_HOME (whole command)",
    "large_startup": "  ↳ process start → first event",
    "large_cache": "  ↳ cache build (cold): columnar_cache step",
    "large_genre": "  ↳ genre step: genre_film_export step",
    "large_table": "  ↳ genre_film_table step",
}
# The large lake's measurements have their own floor.
LARGE_KEYS = {k for k in LABELS if k.startswith("large_")}


def run(cmd: list[str], env: dict[str, str], rss_file: Path) -> dict[str, float]:
    """Wall seconds and peak RSS of one command; stops the bench when it fails."""
    if TIME.exists():
        wrapped = [str(TIME), "-f", "%M", "-o", str(rss_file), *cmd]
    else:
        wrapped = [sys.executable, "-c", RUSAGE_WRAPPER, str(rss_file), *cmd]
    launched = time.time()
    started = time.perf_counter()
    proc = subprocess.run(wrapped, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    rss_mib = int(rss_file.read_text().split()[-1]) / 1024  # both report KiB
    return {"seconds": seconds, "rss": rss_mib, "launched": launched, "finished": time.time()}


def user_env(home: Path | None = None) -> dict[str, str]:
    """The caller's environment minus DAGSTER_HOME (the Makefile exports one) and GENRE_ASSETS_*
    settings, so runs use the defaults a user gets; plus DAGSTER_HOME=home when given."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "DAGSTER_HOME" and not k.startswith("GENRE_ASSETS_")
    }
    if home is not None:
        env["DAGSTER_HOME"] = str(home)
    return env


def reset_lake(lake: Path) -> None:
    """Back to raw CSVs only: no columnar cache, no catalog, no genre exports."""
    shutil.rmtree(lake / CACHE_FOLDER, ignore_errors=True)
    for catalog in lake.glob("_catalog.duckdb*"):
        catalog.unlink()
    sources = {Path(MOVIES.folder).name, Path(RATINGS.folder).name}
    for folder in (lake / "movielens").iterdir():
        if folder.is_dir() and folder.name not in sources:
            shutil.rmtree(folder)


def write_increment(lake: Path, path: Path, ratings: int) -> None:
    """A new ratings file: the header and the first `ratings` rows of the existing files."""
    written = 0
    with path.open("w", encoding="utf-8") as out:
        for source in sorted((lake / RATINGS.folder).glob(f"*{RATINGS.file_suffix}")):
            if source == path:
                continue
            with source.open(encoding="utf-8") as rows:
                header = rows.readline()
                if written == 0:
                    out.write(header)
                for line in rows:
                    if written >= ratings:
                        return
                    out.write(line)
                    written += 1


def ensure_lake(work: Path, ratings: int, movies: int, keep: bool, rss_file: Path) -> None:
    """A sample lake of these sizes in work/lake: the one already there with `keep` when its
    stamp says it has them, else a new one (the workdir is emptied first)."""
    lake, stamp = work / "lake", f"{ratings} {movies}\n"
    if keep and (work / "lake.stamp").is_file() and (work / "lake.stamp").read_text() == stamp:
        return
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"generating {ratings:,} ratings / {movies:,} movies in {lake} ...", file=sys.stderr)
    cmd = [GENRE_ASSETS, "sample-data", "--lake", str(lake), "--ratings", str(ratings)]
    timing = run([*cmd, "--movies", str(movies)], user_env(), rss_file)
    print(
        f"  generated in {timing['seconds']:.1f} s, peak RSS {timing['rss']:.0f} MiB",
        file=sys.stderr,
    )
    (work / "lake.stamp").write_text(stamp)


def fresh_home(home: Path) -> Path:
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    # The settings `make demo` installs (telemetry off), so nothing but the run is measured.
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    return home


def event_times(home: Path, timing: dict[str, float]) -> dict[str, float]:
    """Durations from the latest run's event log in `home` (step start → success, etc.)."""
    import dagster as dg  # only here: the bench process itself need not pay for it elsewhere

    with dg.DagsterInstance.from_config(str(home)) as instance:
        run_id = instance.get_runs(limit=1)[0].run_id
        marks: dict[tuple[str, str | None], float] = {}
        first = None
        for entry in instance.all_logs(run_id):
            if entry.dagster_event is None:
                continue
            first = entry.timestamp if first is None else min(first, entry.timestamp)
            marks.setdefault(
                (entry.dagster_event.event_type_value, entry.step_key), entry.timestamp
            )

    def step(key: str) -> float | None:
        start, end = marks.get(("STEP_START", key)), marks.get(("STEP_SUCCESS", key))
        return end - start if start is not None and end is not None else None

    run_start = marks[(dg.DagsterEventType.RUN_START.value, None)]
    run_end = marks[(dg.DagsterEventType.RUN_SUCCESS.value, None)]
    return {
        "startup": first - timing["launched"],
        "planning": run_start - first,
        "run": run_end - run_start,
        "exit": timing["finished"] - run_end,
        "cache": step("columnar_cache"),
        "genre": step("genre_film_export"),
        "sources": sum(step(k) or 0.0 for k in ("film_database", "movies", "ratings")),
        "source_checks": step("source_data_checks"),
        "table": step("genre_film_table"),
    }


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?"
    )
    mem_kib = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    return {"nproc": str(os.cpu_count()), "memory": f"{mem_kib / 2**20:.1f} GiB", "cpu": cpu}


def report(args, samples, rss, info) -> str:
    floor = statistics.median(samples["floor"])
    med = {k: statistics.median(v) for k, v in samples.items() if v}
    lines = [
        "# genre-assets benchmark",
        "",
        f"- date: {info['date']}",
        f"- command: `{info['command']}`",
        f"- machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory']} RAM; "
        f"load average before {info['load_before']}, after {info['load_after']}",
        f"- versions: Python {sys.version.split()[0]}, duckdb {version('duckdb')}, "
        f"dagster {version('dagster')}, genre-assets {version('genre-assets')}",
        f"- dataset: {args.ratings:,} ratings ({info['ratings_bytes'] / 1e6:.1f} MB CSV), "
        f"{args.movies:,} movies ({info['movies_bytes'] / 1e6:.1f} MB CSV); Parquet cache "
        f"{info['cache_bytes'] / 1e6:.1f} MB; lake {info['lake']}",
        f"- large lake: {info['large']}",
        f"- repeats: {args.repeats}, interleaved in this order per repeat: floor, cold, cold_home, "
        "per_genre, warm, warm_home, incremental_home, large_floor, large_cold_home",
        "",
        "| measurement | median s | min s | max s | ÷ floor | peak RSS MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    large_floor = med.get("large_floor")
    for key, values in samples.items():
        if not values:
            continue
        peak = f"{max(rss[key]):.0f}" if rss.get(key) else ""
        base = large_floor if key in LARGE_KEYS else floor
        label = LABELS[key].format(warm=args.warm_genre, large=f"{args.large_ratings:,}")
        lines.append(
            f"| {label} | {med[key]:.2f} | {min(values):.2f} | "
            f"{max(values):.2f} | {med[key] / base:.2f} | {peak} |"
        )

    def target(name, value, limit, ok, unit="×"):
        verdict = "—" if ok is None else ("PASS" if ok else "FAIL")
        shown = f"{value:.0f}" if unit == " MiB" else f"{value:.2f}"
        return f"| {name} | {shown}{unit} | {limit} | {verdict} |"

    peak_cold = max(rss["cold"])
    lines += [
        "",
        "| target (ratios of medians) | measured | limit | result |",
        "| --- | ---: | ---: | :---: |",
        target(
            "all genres cold, whole command with DAGSTER_HOME ÷ floor",
            med["cold_home"] / floor,
            "≤ 3.0",
            med["cold_home"] / floor <= 3.0,
        ),
        target(
            "one more genre warm, whole command with DAGSTER_HOME ÷ floor",
            med["warm_home"] / floor,
            "≤ 1.5",
            med["warm_home"] / floor <= 1.5,
        ),
        target(
            "all genres after a 1% ratings file is added ÷ floor",
            med["incremental_home"] / floor,
            "≤ 2.0",
            med["incremental_home"] / floor <= 2.0,
        ),
        target(
            "original per-genre SQL ×20 ÷ ours cold (ephemeral instance)",
            med["per_genre"] / med["cold"],
            "≥ 8",
            med["per_genre"] / med["cold"] >= 8,
        ),
        target("genre step ÷ floor", med["genre"] / floor, "reported", None),
        target("(cache build + genre step) ÷ floor", med["cache_genre"] / floor, "reported", None),
        target(
            "peak RSS, cold whole command (max of repeats)",
            peak_cold,
            "≤ 1024 MiB",
            peak_cold <= 1024,
            " MiB",
        ),
    ]
    if large_floor:
        large_ratio = med["large_cold_home"] / large_floor
        large_peak = max(rss["large_cold_home"])
        lines += [
            target(
                f"{args.large_ratings:,} ratings: all genres cold, DAGSTER_HOME ÷ its floor",
                large_ratio,
                "≤ 1.8",
                large_ratio <= 1.8,
            ),
            target(
                f"{args.large_ratings:,} ratings: peak RSS, all genres cold (max of repeats)",
                large_peak,
                "≤ 1024 MiB",
                large_peak <= 1024,
                " MiB",
            ),
        ]
    lines += [
        "",
        "The cold, warm and incremental targets use the DAGSTER_HOME commands (the way users run "
        "it; their event logs give the step durations), the per-genre ratio the ephemeral-instance "
        f"cold command. With DAGSTER_HOME the command took {med['cold_home'] / med['cold']:.2f}× "
        f"as long cold ({med['cold_home'] - med['cold']:+.2f} s) and {med['warm_home'] / med['warm']:.2f}× warm "
        f"({med['warm_home'] - med['warm']:+.2f} s): creating the SQLite instance and writing its event log. "
        "Peak RSS: "
        f"{'/usr/bin/time' if TIME.exists() else 'getrusage(RUSAGE_CHILDREN) in a wrapper'}.",
        "",
        "Per repeat (s): "
        + "; ".join(
            f"{key} " + " / ".join(f"{v:.2f}" for v in values)
            for key, values in samples.items()
            if values
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--ratings", type=int, default=25_000_000, help="ratings in the sample lake"
    )
    parser.add_argument("--movies", type=int, default=62_000, help="movies in the sample lake")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of every measurement")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("/tmp/genre-assets-bench"),
        help="where the lake and instances go (deleted and rewritten)",
    )
    parser.add_argument("--warm-genre", default="Western", help="the one genre of the warm run")
    parser.add_argument(
        "--keep-lake",
        action="store_true",
        help="reuse the workdirs' lakes when they have these sizes (skips generation)",
    )
    parser.add_argument(
        "--large-ratings",
        type=int,
        default=100_000_000,
        help="ratings in the large lake (its floor and all genres cold); 0 skips it",
    )
    parser.add_argument(
        "--large-workdir",
        type=Path,
        default=Path("/tmp/genre-assets-bench-100m"),
        help="where the large lake and its instance go (deleted and rewritten)",
    )
    args = parser.parse_args()

    work = args.workdir.resolve()
    lake, rss_file, out_dir = work / "lake", work / "rss.txt", work / "per_genre"
    ensure_lake(work, args.ratings, args.movies, args.keep_lake, rss_file)
    large_work = args.large_workdir.resolve()
    if args.large_ratings:
        ensure_lake(large_work, args.large_ratings, args.movies, args.keep_lake, rss_file)

    # SQL lives in bench/sql/ (Jinja2), literals quoted by the project's own DuckDB quoting.
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(BENCH / "sql")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    templates.filters["duckdb_string"] = lambda value: string_literal(value, "duckdb")
    context = {
        "ratings": RATINGS,
        "movies": MOVIES,
        "ratings_glob": f"{lake}/{RATINGS.folder}*{RATINGS.file_suffix}",
        "movies_glob": f"{lake}/{MOVIES.folder}*{MOVIES.file_suffix}",
        "genres": [{"name": g, "slug": slug(g)} for g in MOVIELENS_GENRES],
        "out_dir": str(out_dir),
    }
    for name in ("floor", "per_genre"):
        (work / f"{name}.sql").write_text(templates.get_template(f"{name}.sql.j2").render(context))
    large_lake = large_work / "lake"
    if args.large_ratings:
        large_context = {
            **context,
            "ratings_glob": f"{large_lake}/{RATINGS.folder}*{RATINGS.file_suffix}",
            "movies_glob": f"{large_lake}/{MOVIES.folder}*{MOVIES.file_suffix}",
        }
        (large_work / "floor.sql").write_text(
            templates.get_template("floor.sql.j2").render(large_context)
        )

    materialize_all = [GENRE_ASSETS, "materialize", "--lake", str(lake), "--all-genres", "--quiet"]
    materialize_one = [
        GENRE_ASSETS,
        "materialize",
        "--lake",
        str(lake),
        "--genre",
        args.warm_genre,
        "--quiet",
    ]
    samples: dict[str, list[float]] = {key: [] for key in LABELS}
    rss: dict[str, list[float]] = {}

    def record(key: str, timing: dict[str, float]) -> None:
        samples[key].append(timing["seconds"])
        rss.setdefault(key, []).append(timing["rss"])
        print(f"  {key:<10} {timing['seconds']:7.2f} s  {timing['rss']:6.0f} MiB", file=sys.stderr)

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    for repeat in range(1, args.repeats + 1):
        print(f"repeat {repeat}/{args.repeats}", file=sys.stderr)
        record(
            "floor",
            run([sys.executable, "-c", RUN_SQL, str(work / "floor.sql")], user_env(), rss_file),
        )

        reset_lake(lake)
        record("cold", run(materialize_all, user_env(), rss_file))

        reset_lake(lake)
        home = fresh_home(work / "dagster_home")
        timing = run(materialize_all, user_env(home), rss_file)
        record("cold_home", timing)
        events = event_times(home, timing)
        for key in (
            "startup",
            "planning",
            "cache",
            "genre",
            "sources",
            "source_checks",
            "table",
            "run",
            "exit",
        ):
            in_run = key in ("cache", "genre", "sources", "source_checks", "table")
            samples[key if in_run else f"cold_{key}"].append(events[key])
        samples["cache_genre"].append(events["cache"] + events["genre"])

        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir()
        record(
            "per_genre",
            run([sys.executable, "-c", RUN_SQL, str(work / "per_genre.sql")], user_env(), rss_file),
        )
        assert len(list(out_dir.glob("*.tsv"))) == len(MOVIELENS_GENRES), (
            "per-genre exports missing"
        )

        # Right after a full run: the columnar cache and the catalog are there.
        record("warm", run(materialize_one, user_env(), rss_file))
        timing = run(materialize_one, user_env(home), rss_file)
        record("warm_home", timing)
        samples["warm_genre"].append(event_times(home, timing)["genre"])

        increment = lake / RATINGS.folder / "increment.csv"
        write_increment(lake, increment, args.ratings // 100)
        record("incremental_home", run(materialize_all, user_env(home), rss_file))
        increment.unlink()

        if args.large_ratings:
            record(
                "large_floor",
                run(
                    [sys.executable, "-c", RUN_SQL, str(large_work / "floor.sql")],
                    user_env(),
                    rss_file,
                ),
            )
            reset_lake(large_lake)
            large_home = fresh_home(large_work / "dagster_home")
            large_all = [GENRE_ASSETS, "materialize", "--lake", str(large_lake), "--all-genres"]
            timing = run([*large_all, "--quiet"], user_env(large_home), rss_file)
            record("large_cold_home", timing)
            events = event_times(large_home, timing)
            samples["large_startup"].append(events["startup"])
            for key in ("cache", "genre", "table"):
                samples[f"large_{key}"].append(events[key])

    info = {
        **machine(),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "load_before": load_before,
        "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "ratings_bytes": sum(f.stat().st_size for f in (lake / RATINGS.folder).glob("*.csv")),
        "movies_bytes": sum(f.stat().st_size for f in (lake / MOVIES.folder).glob("*.csv")),
        "cache_bytes": sum(f.stat().st_size for f in (lake / CACHE_FOLDER).rglob("*.parquet")),
        "lake": str(lake),
        "large": (
            f"{args.large_ratings:,} ratings ("
            + f"{sum(f.stat().st_size for f in (large_lake / RATINGS.folder).glob('*.csv')) / 1e6:.1f}"
            + f" MB CSV), {args.movies:,} movies; lake {large_lake}"
            if args.large_ratings
            else "skipped (--large-ratings 0)"
        ),
    }
    text = report(args, samples, rss, info)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(text)
    print(text)
    print(f"written to {RESULTS / 'latest.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
