"""Data-quality checks on the genre film tables, evaluated per genre from the exported files.

The checks are partitioned like the tables (Dagster's partitioned asset checks, a preview in
1.13): each genre gets its own result, so a failed genre stays failed in the UI until that genre
is fixed, whatever later runs of other genres report. A single-run backfill covers many genres in
one step, which Dagster's `AssetCheckResult` cannot attribute to partitions, so the genre asset
records one `AssetCheckEvaluation` per genre itself (see `genre_film_table`).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import dagster as dg

from genre_assets.domain.tsv import HEADER, iter_export

if TYPE_CHECKING:
    from dagster._core.definitions.asset_checks.asset_check_evaluation import (
        AssetCheckEvaluationTargetMaterializationData,
    )

MIN_RATING = Decimal("0.5")
MAX_RATING = Decimal("5.0")

CHECK_SPECS_DOC = {
    "non_empty": "The genre's table has at least one rated film.",
    "avg_rating_in_range": "Every avg_rating lies within 0.5-5.0 and every rating_count is >= 1.",
    "unique_movie_id": "No movie_id appears twice in the genre's table.",
}

# How many offending movie ids a result lists.
_EXAMPLES = 20


@dataclass(frozen=True)
class ExportSummary:
    """What the checks need from one genre's export."""

    row_count: int
    out_of_range_ids: list[int]  # avg_rating outside 0.5-5.0, or rating_count < 1 (first 20)
    duplicate_ids: list[int]  # first 20
    out_of_range_count: int = 0
    duplicate_count: int = 0


# One line of an export in the form the engines write: every such line also parses with
# `iter_export` (5 fields, whole numbers, a plain decimal average) to the same values, and
# moreover has a movie id without leading zeros (equal ids are equal strings) and a rating count
# of at least 1. Lines of any other form (a count of 0 included) go through `iter_export`.
_PLAIN_ROW = re.compile(
    r"^(0|[1-9][0-9]*)\t[^\t\n]*\t[0-9]*\t([0-9]+(?:\.[0-9]+)?)\t0*[1-9][0-9]*$", re.MULTILINE
)


def summarize_export(data: bytes, source: str) -> ExportSummary:
    """Read a whole export once (which also proves it parses) and keep only the summary.

    An export whose every line has the plain form the engines write is summarised with one
    regular-expression pass and one Decimal per distinct average (3-4x faster than a row object
    per line: 0.25 s instead of 0.9 s for the 20 genres of a 25M-rating lake); any other file
    goes through `iter_export`, which parses it row by row and names the line of any problem.
    Both give the same summary for a file both accept.
    """
    plain = _summarize_plain(data)
    if plain is not None:
        return plain
    return _summarize_rows(data, source)


def _summarize_plain(data: bytes) -> ExportSummary | None:
    """The summary when every line is plain (see `_PLAIN_ROW`); None otherwise."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    header_end = text.find("\n")
    if header_end < 0 or not text.endswith("\n") or text[:header_end].split("\t") != HEADER:
        return None
    body = text[header_end + 1 :]
    rows = _PLAIN_ROW.findall(body)
    # Each match is one whole line and a line matches at most once: as many matches as lines
    # means every line is plain.
    if len(rows) != body.count("\n"):
        return None
    ids = [movie_id for movie_id, _ in rows]
    duplicates: dict[int, None] = {}
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        for movie_id in ids:
            if movie_id in seen:
                duplicates[int(movie_id)] = None
            seen.add(movie_id)
    bad = {a for a in {avg for _, avg in rows} if not (MIN_RATING <= Decimal(a) <= MAX_RATING)}
    out_of_range = [int(movie_id) for movie_id, avg in rows if avg in bad] if bad else []
    return ExportSummary(
        len(rows),
        out_of_range[:_EXAMPLES],
        list(duplicates)[:_EXAMPLES],
        out_of_range_count=len(out_of_range),
        duplicate_count=len(duplicates),
    )


def _summarize_rows(data: bytes, source: str) -> ExportSummary:
    """Row by row. Rows are not kept: 130k row objects alive inside a Dagster run process
    trigger full garbage collections over its large heap, which made reading them 2.5 times
    slower."""
    seen: set[int] = set()
    duplicates: dict[int, None] = {}
    out_of_range: list[int] = []
    count = 0
    for row in iter_export(data, source):
        count += 1
        if row.movie_id in seen:
            duplicates[row.movie_id] = None
        seen.add(row.movie_id)
        if not (MIN_RATING <= row.avg_rating <= MAX_RATING) or row.rating_count < 1:
            out_of_range.append(row.movie_id)
    return ExportSummary(
        count,
        out_of_range[:_EXAMPLES],
        list(duplicates)[:_EXAMPLES],
        out_of_range_count=len(out_of_range),
        duplicate_count=len(duplicates),
    )


def summary_to_json(summary: ExportSummary, version: str) -> dict[str, object]:
    """The summary as the export step records it, with the version of the file it describes."""
    return {**asdict(summary), "version": version}


def summary_from_json(value: object, version: str) -> ExportSummary | None:
    """The recorded summary when it describes the file at `version` (else None: read the file)."""
    if not isinstance(value, dict) or not version or value.get("version") != version:
        return None
    try:
        return ExportSummary(
            row_count=int(value["row_count"]),
            out_of_range_ids=[int(i) for i in value["out_of_range_ids"]],
            duplicate_ids=[int(i) for i in value["duplicate_ids"]],
            out_of_range_count=int(value["out_of_range_count"]),
            duplicate_count=int(value["duplicate_count"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def check_specs(
    asset_key: dg.AssetKey, partitions_def: dg.PartitionsDefinition
) -> list[dg.AssetCheckSpec]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*partitions_def.*")
        return [
            dg.AssetCheckSpec(
                name=name, asset=asset_key, description=description, partitions_def=partitions_def
            )
            for name, description in CHECK_SPECS_DOC.items()
        ]


def _ids(ids: list[int], total: int) -> str:
    listed = ", ".join(map(str, ids))
    return listed if total <= len(ids) else f"{listed} and {total - len(ids)} more"


def evaluate(
    asset_key: dg.AssetKey,
    genre: str,
    summary: ExportSummary,
    movies_with_genre: int | None,
    target_materialization: AssetCheckEvaluationTargetMaterializationData | None = None,
) -> list[dg.AssetCheckEvaluation]:
    """The three check results of one genre, recorded against that genre's partition.

    `movies_with_genre` comes from movies.csv (None when unknown). An empty table is WARN, not
    ERROR: it happens for a genre no movie has yet (materialised on purpose with
    --allow-missing-genre) or whose films are all unrated, and the description says which.
    `target_materialization` ties the results to the genre's materialisation they checked.
    """
    if summary.row_count:
        empty_description = f"{summary.row_count} rated film(s)"
    elif movies_with_genre:
        empty_description = f"none of the {movies_with_genre} film(s) of {genre!r} has a rating"
    elif movies_with_genre == 0:
        empty_description = f"no movie in movies.csv has the genre {genre!r}"
    else:
        empty_description = f"no film of {genre!r} has a rating"
    empty_metadata: dict[str, dg.RawMetadataValue] = {"row_count": summary.row_count}
    if movies_with_genre is not None:
        empty_metadata["movies_with_genre"] = movies_with_genre
    out_of_range = summary.out_of_range_count
    duplicates = summary.duplicate_count
    results = [
        (
            "non_empty",
            summary.row_count > 0,
            dg.AssetCheckSeverity.WARN,
            empty_description,
            empty_metadata,
        ),
        (
            "avg_rating_in_range",
            not out_of_range,
            dg.AssetCheckSeverity.ERROR,
            (
                f"{out_of_range} film(s) with an average outside 0.5-5.0 or no votes: movie id "
                f"{_ids(summary.out_of_range_ids, out_of_range)}"
                if out_of_range
                else f"all {summary.row_count} average(s) within 0.5-5.0"
            ),
            {
                "offending_films": out_of_range,
                "offending_movie_ids": dg.MetadataValue.text(
                    _ids(summary.out_of_range_ids, out_of_range) or "none"
                ),
            },
        ),
        (
            "unique_movie_id",
            not duplicates,
            dg.AssetCheckSeverity.ERROR,
            (
                f"{duplicates} movie id(s) listed more than once: "
                f"{_ids(summary.duplicate_ids, duplicates)}"
                if duplicates
                else f"{summary.row_count} distinct movie id(s)"
            ),
            {
                "duplicated_films": duplicates,
                "duplicate_movie_ids": dg.MetadataValue.text(
                    _ids(summary.duplicate_ids, duplicates) or "none"
                ),
            },
        ),
    ]
    return [
        dg.AssetCheckEvaluation(
            asset_key=asset_key,
            check_name=name,
            passed=passed,
            severity=severity,
            description=f"{genre}: {description}",
            metadata=metadata,
            partition=genre,
            target_materialization_data=target_materialization,
        )
        for name, passed, severity, description, metadata in results
    ]
