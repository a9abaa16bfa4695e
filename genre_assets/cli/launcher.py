"""Materialises the asset graph for a set of genres from outside the UI (the CLI's `materialize`).

The run goes through Dagster's own job execution and, when DAGSTER_HOME is set, is recorded in
that instance, so `dagster dev` shows it afterwards with its logs, metadata and check results.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from genre_assets.assets.genre_films import ALLOW_MISSING_GENRE_TAG
from genre_assets.assets.source_tables import recorded_genre_counts
from genre_assets.definitions import build_definitions
from genre_assets.domain import genres as genre_rules
from genre_assets.domain.genres import refuse_unknown_genres
from genre_assets.domain.schema import MOVIES
from genre_assets.errors import GenreAssetsError, InputError
from genre_assets.jobs import all_genres_job
from genre_assets.partitions import GENRE_PARTITIONS_NAME, range_tags, register_genres
from genre_assets.resources.raw_files import source_files, summarize_movies
from genre_assets.settings import DEFAULT_DEPLOYMENT, DEPLOYMENT_ENV


@dataclass
class GenreOutput:
    genre: str
    row_count: int
    path: str
    preview: str


@dataclass
class LaunchReport:
    run_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    outputs: list[GenreOutput] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.errors


@contextlib.contextmanager
def instance_for_cli() -> Iterator[dg.DagsterInstance]:
    """The DAGSTER_HOME instance when configured (the UI then shows the run), else a throwaway
    whose scratch folder is removed afterwards; disposed either way."""
    home = os.environ.get("DAGSTER_HOME")
    if home:
        Path(home).mkdir(parents=True, exist_ok=True)
        with dg.DagsterInstance.get() as instance:
            yield instance
        return
    # Without a tempdir of ours, Dagster makes one per run and leaves it behind in /tmp.
    with tempfile.TemporaryDirectory(prefix="genre-assets-run-") as scratch:
        with dg.DagsterInstance.ephemeral(tempdir=scratch) as instance:
            yield instance


def genre_counts_in_lake(
    defs: dg.Definitions, instance: dg.DagsterInstance | None = None
) -> dict[str, int]:
    """How many movies of the lake's movies files have each genre (read-only).

    The counts the latest `movies` materialisation in `instance` recorded are reused while the
    movies files have the versions it recorded (one listing); otherwise the files are read. The
    lake resource is initialised alone: `dg.build_resources` would create a throwaway Dagster
    instance for it (about a second).
    """
    with (defs.resources or {})["lake"].process_config_and_initialize_cm() as lake:
        files = source_files(lake, MOVIES)
        recorded = recorded_genre_counts(instance, files) if instance is not None else None
        if recorded is not None:
            return recorded
        return dict(summarize_movies(lake, files).genre_counts)


def contiguous_ranges(
    partition_order: Sequence[str], wanted: Sequence[str]
) -> list[tuple[str, str]]:
    """Split `wanted` into runs of neighbours in `partition_order`: one Dagster run per range."""
    positions = sorted(partition_order.index(g) for g in set(wanted))
    ranges: list[tuple[str, str]] = []
    if not positions:
        return ranges
    start = previous = positions[0]
    for position in positions[1:]:
        if position != previous + 1:
            ranges.append((partition_order[start], partition_order[previous]))
            start = position
        previous = position
    ranges.append((partition_order[start], partition_order[previous]))
    return ranges


def materialize(
    genres: Sequence[str] | None, *, all_genres: bool = False, allow_missing_genre: bool = False
) -> LaunchReport:
    """Materialise the genres (or all of them) in one run per contiguous range of partitions.

    Every requested genre is validated, and refused when no movie has it (a likely typo) unless
    `allow_missing_genre`, before anything is written: a refused request changes nothing.
    """
    deployment = os.environ.get(DEPLOYMENT_ENV, DEFAULT_DEPLOYMENT)
    defs = build_definitions(deployment)
    with contextlib.ExitStack() as stack:
        # A configured instance (DAGSTER_HOME with its dagster.yaml) is opened first: it may hold
        # the genre counts of the current movies files, and opening it writes nothing. Any other
        # instance is opened once the request is accepted, as it has no such history (an
        # ephemeral one) or Dagster warns about it (a DAGSTER_HOME without dagster.yaml).
        instance = stack.enter_context(instance_for_cli()) if _configured_home() else None
        counts = genre_counts_in_lake(defs, instance)
        requested, tags = _accepted_request(genres, all_genres, allow_missing_genre, counts)
        if instance is None:
            instance = stack.enter_context(instance_for_cli())
        return _run_ranges(defs, instance, requested, tags)


def _configured_home() -> bool:
    home = os.environ.get("DAGSTER_HOME")
    return bool(home) and (Path(str(home)) / "dagster.yaml").is_file()


def _accepted_request(
    genres: Sequence[str] | None,
    all_genres: bool,
    allow_missing_genre: bool,
    counts: dict[str, int],
) -> tuple[list[str], dict[str, str]]:
    """The genres to run and the runs' tags; raises when a genre is refused."""
    if all_genres:
        requested = genre_rules.ordered_genres([*genre_rules.MOVIELENS_GENRES, *counts])
    else:
        requested = list(genres or [])
    requested = genre_rules.validate_genres(requested)
    if not requested:
        raise InputError("no genre to materialise: pass --genre G or --all-genres")
    tags: dict[str, str] = {}
    if allow_missing_genre:
        tags[ALLOW_MISSING_GENRE_TAG] = "true"
    else:
        refuse_unknown_genres(requested, counts, override="pass --allow-missing-genre")
    return requested, tags


def _run_ranges(
    defs: dg.Definitions, instance: dg.DagsterInstance, requested: list[str], tags: dict[str, str]
) -> LaunchReport:
    """One run per contiguous range of the requested genres' partitions."""
    report = LaunchReport()
    register_genres(instance, requested)
    order = list(instance.get_dynamic_partitions(GENRE_PARTITIONS_NAME))
    job = defs.resolve_job_def(all_genres_job.name)
    for start, end in contiguous_ranges(order, requested):
        result = job.execute_in_process(
            instance=instance,
            run_config={"loggers": {"cli_progress": {}}},
            tags={**tags, **range_tags(start, end)},
            raise_on_error=False,
        )
        report.run_ids.append(result.run_id)
        _collect(result, report)
    return report


def _collect(result: dg.ExecuteInProcessResult, report: LaunchReport) -> None:
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            report.errors.append(
                f"step {event.step_key} failed: {_root_cause(event.step_failure_data.error)}"
            )
        elif event.event_type == dg.DagsterEventType.RUN_FAILURE and not report.errors:
            message = event.message or "the run failed"
            report.errors.append(message)
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed:
            continue
        text = f"check {evaluation.check_name} failed: {evaluation.description}"
        if evaluation.severity == dg.AssetCheckSeverity.ERROR:
            report.errors.append(text)
        else:
            report.warnings.append(text)
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.path != ["genre_film_export"]:
            continue
        meta = materialization.metadata
        report.outputs.append(
            GenreOutput(
                genre=materialization.partition or "",
                row_count=int(str(meta["row_count"].value)),
                path=str(meta["path"].value),
                preview=str(meta["preview"].value),
            )
        )


def _root_cause(error: dg.SerializableErrorInfo | None) -> str:
    """The user-facing reason behind Dagster's wrappers: our own error if there is one (it
    carries a finished sentence), else the innermost error with its class name."""
    chain = []
    while error is not None:
        chain.append(error)
        error = error.cause
    if not chain:
        return "unknown error"
    ours = [e for e in chain if e.cls_name in _USER_ERRORS]
    if ours:
        return ours[0].message.strip().split(": ", 1)[-1]
    return chain[-1].message.strip()


def _user_error_names(cls: type[Exception] = GenreAssetsError) -> set[str]:
    """The class names of GenreAssetsError and all its subclasses, at any depth."""
    return {cls.__name__}.union(*(_user_error_names(sub) for sub in cls.__subclasses__()))


_USER_ERRORS = _user_error_names()
