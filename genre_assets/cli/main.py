"""The `genre-assets` command: generate a sample lake and materialise genres without the UI."""

from __future__ import annotations

import argparse
import os
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from genre_assets.domain.genres import ordered_genres
from genre_assets.errors import GenreAssetsError


def _sample_data(args: argparse.Namespace) -> int:
    from genre_assets.cli.sample_data import generate_sample_lake

    started = time.perf_counter()
    summary = generate_sample_lake(
        Path(args.lake), ratings=args.ratings, movies=args.movies, seed=args.seed
    )
    print(
        f"Wrote {summary.movie_count} movies to {summary.movies_path}\n"
        f"Wrote {summary.rating_count} ratings to {summary.ratings_path}\n"
        f"({len(summary.genres)} genres, {time.perf_counter() - started:.1f} s)"
    )
    return 0


def failure_message(elapsed: float, run_ids: list[str], errors: list[str]) -> str:
    """A failed `materialize`: one line with its time and runs, then each cause on a line of its
    own ("  - "; a cause several runs share, once; a cause's further lines indented)."""
    runs = ", ".join(run_ids)
    lines = [f"genre-assets: materialisation failed after {elapsed:.1f} s (run {runs}):"]
    for cause in dict.fromkeys(errors):
        first, *rest = cause.strip().splitlines() or [""]
        lines.append(f"  - {first}")
        lines.extend(f"    {line}" for line in rest)
    return "\n".join(lines)


def _doctor(args: argparse.Namespace) -> int:
    from genre_assets.cli.doctor import doctor

    return doctor()


def _materialize(args: argparse.Namespace) -> int:
    if args.lake:
        os.environ["GENRE_ASSETS_LAKE"] = args.lake
    from genre_assets.cli import launcher

    started = time.perf_counter()
    report = launcher.materialize(
        args.genre, all_genres=args.all_genres, allow_missing_genre=args.allow_missing_genre
    )
    elapsed = time.perf_counter() - started
    order = ordered_genres([o.genre for o in report.outputs])
    for output in sorted(report.outputs, key=lambda o: order.index(o.genre)):
        print(f"{output.genre:<20} {output.row_count:>7} films  {output.path}")
    if report.outputs and not args.quiet:
        first = max(report.outputs, key=lambda o: o.row_count)
        print(f"\nPreview of {first.genre}:\n{first.preview}")
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    runs = ", ".join(report.run_ids)
    if not report.success:
        print(failure_message(elapsed, report.run_ids, report.errors), file=sys.stderr)
        return 1
    print(f"Materialised {len(report.outputs)} genre(s) in {elapsed:.1f} s (run {runs}).")
    return 0


def _plugin_commands(commands: Any) -> None:
    """Sub-commands other installed packages add through the `genre_assets.commands` entry point
    (the AWS emulator's `emulate-aws`); one that cannot load is skipped, never fatal."""
    for entry_point in entry_points(group="genre_assets.commands"):
        try:
            entry_point.load()(commands)
        except Exception as error:  # a broken plugin must not break the product's own commands
            print(
                f"genre-assets: skipping the '{entry_point.name}' command: {error}", file=sys.stderr
            )


# The commands defined here: running one of them loads no plugin (importing a plugin's module
# costs start-up time that the command does not use).
OWN_COMMANDS = ("sample-data", "materialize", "doctor")


def build_parser(plugins: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genre-assets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    sample = commands.add_parser("sample-data", help="write a synthetic MovieLens lake")
    sample.add_argument("--lake", required=True, help="folder to write movielens/... into")
    sample.add_argument("--ratings", type=int, default=1_000_000, help="number of ratings")
    sample.add_argument("--movies", type=int, default=10_000, help="number of movies")
    sample.add_argument("--seed", type=int, default=42, help="random seed (same seed, same files)")
    sample.set_defaults(handler=_sample_data)

    materialize = commands.add_parser(
        "materialize", help="materialise the asset graph for some or all genres"
    )
    materialize.add_argument("--lake", help="the lake (overrides GENRE_ASSETS_LAKE)")
    which = materialize.add_mutually_exclusive_group(required=True)
    which.add_argument("--genre", action="append", help="a genre; repeat for several")
    which.add_argument(
        "--all-genres", action="store_true", help="the MovieLens genres plus any in movies.csv"
    )
    materialize.add_argument(
        "--allow-missing-genre",
        action="store_true",
        help="materialise a --genre no movie has yet (an empty table) instead of refusing it",
    )
    materialize.add_argument("--quiet", action="store_true", help="no preview")
    materialize.set_defaults(handler=_materialize)

    doctor = commands.add_parser(
        "doctor", help="check the configured deployment's set-up, read-only (no cluster, no cost)"
    )
    doctor.set_defaults(handler=_doctor)

    if plugins:
        _plugin_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    own = bool(arguments) and arguments[0] in OWN_COMMANDS
    args = build_parser(plugins=not own).parse_args(arguments)
    try:
        return args.handler(args)
    except GenreAssetsError as error:
        print(f"genre-assets: {error}", file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"genre-assets: {error}", file=sys.stderr)
        return 2


def run() -> None:
    """The console script: `main`, then a hard exit once the output is flushed.

    Tearing down the interpreter after a Dagster run (finalising thousands of modules and
    objects) takes 0.3-0.5 s, a fifth of a warm `materialize`, and does nothing this command
    needs: the run is recorded, files are closed and the instance is disposed before `main`
    returns. mypy exits the same way for the same reason. Only the console script does this;
    `main` itself returns normally, so calling it in-process stays safe.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
