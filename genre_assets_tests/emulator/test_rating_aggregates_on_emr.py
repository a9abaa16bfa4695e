"""Per-file rating aggregates on EMR, on the emulator (GENRE_ASSETS_EMR_COLUMNAR_CACHE=1): each
run reads the raw bytes of new or changed ratings files only, as the emulated query engine's log
of fetched objects proves, and the exports stay byte-identical to the local deployment's."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from genre_assets.domain.targets import genre_targets
from genre_assets_emulator import presto_cli
from genre_assets_tests.emulator.test_e2e import (  # noqa: F401 (the emulator fixture)
    BUCKET,
    GENRES,
    LAKE,
    PREFIX,
    clusters_by_age,
    emulator,
    failure_text,
    run_genres,
    step_names,
    upload_golden_lake,
    wait_until,
)
from genre_assets_tests.support.local import materialize_genres

RAW_RATINGS = f"{LAKE}/movielens/ratings/"
NEW_FILE = "ratings-2.csv"
# Ratings of films of the three genres; one out of range (counted, never averaged).
NEW_RATINGS = "userId,movieId,rating,timestamp\n7,1,2.5,964982703\n7,2,5.0,964982703\n8,5,0.5,1\n"


def _raw_ratings_read(log: Path) -> dict[str, int]:
    """Bytes of raw ratings objects the query engine fetched, per object, since the last call."""
    read: dict[str, int] = {}
    for entry in presto_cli.read_log(log):
        if entry["uri"].startswith(RAW_RATINGS):
            name = entry["uri"].removeprefix(RAW_RATINGS)
            read[name] = read.get(name, 0) + entry["bytes"]
    log.unlink(missing_ok=True)
    return read


def _aggregate_tables() -> list[str]:
    tables = boto3.client("glue").get_tables(DatabaseName="movielens")["TableList"]
    return sorted(t["Name"] for t in tables if t["Name"].startswith("rating_agg_"))


def _aggregate_folders() -> set[str]:
    listed = boto3.client("s3").list_objects_v2(
        Bucket=BUCKET, Prefix=f"{PREFIX}/_cache/rating_aggregates/"
    )
    return {o["Key"].split("/")[3] for o in listed.get("Contents", [])}


def _put_ratings(name: str, text: str) -> None:
    boto3.client("s3").put_object(
        Bucket=BUCKET, Key=f"{PREFIX}/movielens/ratings/{name}", Body=text.encode("utf-8")
    )


@pytest.fixture
def reads_log(monkeypatch, tmp_path) -> Path:
    """Where the emulated query engine logs every object it fetches; rating aggregates on."""
    monkeypatch.setenv("GENRE_ASSETS_EMR_COLUMNAR_CACHE", "1")
    log = tmp_path / "query-reads.jsonl"
    monkeypatch.setenv(presto_cli.READS_LOG_ENV, str(log))
    return log


def _exports() -> dict[str, bytes]:
    s3 = boto3.client("s3")
    return {
        t.export_key: s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{t.export_key}")["Body"].read()
        for t in genre_targets(GENRES)
    }


def local_exports(golden_lake: Path, ratings_files: dict[str, str]) -> dict[str, bytes]:
    """The local deployment's exports over the golden movies and these extra ratings files."""
    folder = golden_lake / "movielens/ratings"
    for path in folder.iterdir():
        if path.name != "ratings.csv":
            path.unlink()
    for name, text in ratings_files.items():
        (folder / name).write_text(text, encoding="utf-8")
    assert materialize_genres(golden_lake, GENRES).success
    return {t.export_key: (golden_lake / t.export_key).read_bytes() for t in genre_targets(GENRES)}


def run_and_list_steps(instance) -> list[str]:
    result = run_genres(instance, GENRES)
    assert result.success, failure_text(result)
    return step_names(clusters_by_age()[-1]["Id"])


@pytest.mark.parametrize("engine", ["presto", "trino"])
def test_a_run_after_one_file_is_added_reads_that_files_bytes_alone(
    emulator,  # noqa: F811
    reads_log,
    golden_lake,
    tmp_path,
    monkeypatch,
    instance,
    engine,
):
    """The issue's EMR target: raw ratings bytes read by the run after one file is added = that
    file's size; then (PrestoDB) the file is removed: nothing is read, its aggregate (table and
    objects) is gone, and the exports are the local deployment's again, byte for byte."""
    monkeypatch.setenv("GENRE_ASSETS_EMR_SQL_ENGINE", engine)
    upload_golden_lake(tmp_path)
    instance.add_dynamic_partitions("genre", GENRES)
    golden_size = (golden_lake / "movielens/ratings/ratings.csv").stat().st_size
    export_step = f"{engine} export of {len(GENRES)} genre(s)"

    # A cold run: the one ratings file is read once, by its aggregate's INSERT; the genre query
    # reads the aggregate, not the CSV.
    run_and_list_steps(instance)
    assert _raw_ratings_read(reads_log) == {"ratings.csv": golden_size}
    (first,) = _aggregate_tables()

    # One more file: the run reads that file's bytes, and only them.
    _put_ratings(NEW_FILE, NEW_RATINGS)
    assert run_and_list_steps(instance) == [
        "define rating aggregates",
        "fill 1 rating aggregate(s), remove 0",
        export_step,
    ]
    assert _raw_ratings_read(reads_log) == {NEW_FILE: len(NEW_RATINGS.encode())}
    two = _aggregate_tables()
    assert len(two) == 2 and first in two
    assert _exports() == local_exports(golden_lake, {NEW_FILE: NEW_RATINGS})
    if engine == "trino":
        return  # removal is the engine's own code path, run once (with PrestoDB)

    # The file is removed: nothing is read, its aggregate goes (table and objects).
    (added,) = [t for t in two if t != first]
    boto3.client("s3").delete_object(Bucket=BUCKET, Key=f"{PREFIX}/movielens/ratings/{NEW_FILE}")
    assert run_and_list_steps(instance) == [
        "define rating aggregates",
        "fill 0 rating aggregate(s), remove 1",
        export_step,
    ]
    assert _raw_ratings_read(reads_log) == {}
    assert _aggregate_tables() == [first]
    assert _aggregate_folders() == {first.removeprefix("rating_agg_")}
    assert added.removeprefix("rating_agg_") not in _aggregate_folders()
    assert _exports() == local_exports(golden_lake, {})
    assert emulator.api.denials() == [] and emulator.api.invalid_requests() == []
    assert wait_until(lambda: all(c["Status"]["State"] == "TERMINATED" for c in clusters_by_age()))
