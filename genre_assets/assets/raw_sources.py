"""The raw MovieLens CSV folders as observable source assets: `raw_movies` and `raw_ratings`.

An observation lists a table's folder through the `lake` resource (a local folder or S3) and
records a data version derived from the files' keys, versions and sizes, with the files as
metadata. Every asset that reads raw files records the versions it was built from, so once new
raw data is observed Dagster (and its UI) marks those assets stale. Observations come from the
`raw_data_observer` sensor and from the first steps of `genre_films_job`; both use `observe_table`.
"""

import datetime
import hashlib
import json
import warnings
from typing import Any

import dagster as dg

from genre_assets.domain.schema import MOVIES, RATINGS, TableSpec
from genre_assets.errors import InputError
from genre_assets.resources.lake import LakeObject, LakeResource
from genre_assets.resources.raw_files import source_files

# The group of the whole graph; defined here, where the graph starts, and re-exported by
# source_tables (which the other asset modules import it from).
GROUP = "movielens"

# The data version of a folder without data files: readable in the UI, and a change from any real
# version, so a deleted folder makes the tables over it stale instead of leaving them "fresh".
NO_FILES_VERSION = "no-files"


def raw_source_key(table: TableSpec) -> dg.AssetKey:
    return dg.AssetKey(f"raw_{table.name}")


def data_files(lake: LakeResource, table: TableSpec) -> list[LakeObject]:
    """The folder's data files, as the tables read them (same suffix filter as `source_files`,
    without its header checks: a bad header is reported by the table's materialisation, while
    the observation must still record that the data changed)."""
    return [o for o in lake.list_objects(table.folder) if o.key.endswith(table.file_suffix)]


def raw_data_version(files: list[LakeObject]) -> str:
    """A stable digest of the files' (key, version, size): any added, removed, renamed or changed
    file changes it; listing order and the lake's root (keys are relative) do not."""
    if not files:
        return NO_FILES_VERSION
    identity = sorted([f.key, f.version, f.size] for f in files)
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16]


def _files_table(files: list[LakeObject]) -> dg.TableMetadataValue:
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord(
                {
                    "key": f.key,
                    "size_bytes": f.size,
                    "version": f.version,
                    "modified_utc": datetime.datetime.fromtimestamp(f.modified, datetime.UTC)
                    .replace(microsecond=0)
                    .isoformat(),
                }
            )
            for f in files
        ],
        schema=dg.TableSchema(
            columns=[
                dg.TableColumn("key", "string"),
                dg.TableColumn("size_bytes", "int"),
                dg.TableColumn("version", "string", description="mtime-size locally, ETag on S3"),
                dg.TableColumn("modified_utc", "string"),
            ]
        ),
    )


def observe_table(lake: LakeResource, table: TableSpec) -> dg.ObserveResult:
    """One observation of `table`'s raw folder. An empty or missing folder is an observation that
    says so (NO_FILES_VERSION and a `problem`), not an error: the tables over it become stale (the
    data did change), and materialising them still fails with `source_files`' InputError."""
    files = data_files(lake, table)
    metadata: dict[str, Any] = {
        "location": dg.MetadataValue.path(lake.uri(table.folder)),
        "file_count": len(files),
        "total_bytes": sum(f.size for f in files),
        "files": _files_table(files),
    }
    if not files:
        # The sentence materialising the table fails with, word for word.
        try:
            source_files(lake, table)
        except InputError as error:
            metadata["problem"] = str(error)
    return dg.ObserveResult(
        asset_key=raw_source_key(table),
        data_version=dg.DataVersion(raw_data_version(files)),
        metadata=metadata,
    )


def _raw_source(table: TableSpec) -> dg.AssetsDefinition:
    spec = dg.AssetSpec(
        raw_source_key(table),
        group_name=GROUP,
        description=(
            f"The raw MovieLens {table.name} CSVs in the lake's {table.folder} folder. Observed "
            "(files, sizes, versions): a new data version marks everything built from them stale."
        ),
        kinds={"csv"},
    )

    def observe(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.ObserveResult:
        result = observe_table(lake, table)
        problem = (result.metadata or {}).get("problem")
        if problem is not None:
            context.log.warning(str(problem))
        return result

    # An AssetSpec with an observation function: `@observable_source_asset` would build a
    # SourceAsset, which Dagster 1.13 deprecates in favour of AssetSpec (and warns about when it
    # converts one). This decorator is beta, not deprecated; its BetaWarning is silenced for these
    # two definitions only.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=dg.BetaWarning)
        return dg.multi_observable_source_asset(specs=[spec], name=spec.key.path[-1])(observe)


raw_movies = _raw_source(MOVIES)
raw_ratings = _raw_source(RATINGS)

RAW_SOURCES = [raw_movies, raw_ratings]
# The table each raw source is the folder of, for the sensor and tests.
RAW_TABLES = {raw_movies.key: MOVIES, raw_ratings.key: RATINGS}
