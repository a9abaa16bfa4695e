"""Jobs over the asset graph."""

from __future__ import annotations

import dagster as dg

from genre_assets.assets import RAW_SOURCE_KEYS

# Everything, for the genres of the run: the CLI, the schedule and the sensors launch this job.
# AssetSelection.all() leaves observable sources out; they are added so that every run of the
# job first observes the raw folders and the tables it builds record the raw data versions they
# were built from (observation steps run before the assets that depend on them).
all_genres_job = dg.define_asset_job(
    name="genre_films_job",
    selection=dg.AssetSelection.all() | dg.AssetSelection.assets(*RAW_SOURCE_KEYS),
    description=(
        "Observe the raw CSV folders, then the source tables, then the genre exports and tables "
        "for the run's genres."
    ),
)
