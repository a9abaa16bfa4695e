"""Registers the MovieLens genre vocabulary as partitions, so a fresh `dagster dev` shows them.

Running by default is safe: it reads nothing but the instance and only ever adds partitions.
"""

import dagster as dg

from genre_assets.domain.genres import MOVIELENS_GENRES
from genre_assets.partitions import GENRE_PARTITIONS_NAME, missing_genres


@dg.sensor(
    name="genre_partition_seeder",
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds any MovieLens genre that is not yet a partition of the genre assets.",
)
def genre_partition_seeder(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    missing = missing_genres(context.instance, MOVIELENS_GENRES)
    if not missing:
        return dg.SkipReason("every MovieLens genre is already a partition")
    return dg.SensorResult(
        dynamic_partitions_requests=[dg.AddDynamicPartitionsRequest(GENRE_PARTITIONS_NAME, missing)]
    )
