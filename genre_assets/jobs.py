"""Jobs over the asset graph."""

from __future__ import annotations

import dagster as dg

# Everything, for the genres of the run: the CLI, the schedule and the sensors launch this job.
all_genres_job = dg.define_asset_job(
    name="genre_films_job",
    selection=dg.AssetSelection.all(),
    description="Source tables, then the genre exports and tables for the run's genres.",
)
