"""The nightly refresh: every genre partition in one run (one cluster, one pass over ratings)."""

import dagster as dg

from genre_assets.jobs import all_genres_job
from genre_assets.partitions import GENRE_PARTITIONS_NAME, range_tags

NIGHTLY_CRON = "0 3 * * *"


@dg.schedule(
    name="nightly_refresh",
    job=all_genres_job,
    cron_schedule=NIGHTLY_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="03:00 UTC: rebuild the source tables and every genre partition in one run.",
)
def nightly_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    genres = list(context.instance.get_dynamic_partitions(GENRE_PARTITIONS_NAME))
    if not genres:
        return dg.SkipReason("no genre partitions yet: materialise `movies` or start the seeder")
    return dg.RunRequest(
        run_key=f"nightly:{context.scheduled_execution_time.isoformat()}",
        tags=range_tags(genres[0], genres[-1]),
    )
