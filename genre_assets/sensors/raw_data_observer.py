"""Observes the raw CSV folders (`raw_movies`, `raw_ratings`) every minute, without launching runs.

Each tick lists both folders through the `lake` resource and reports an observation, with the
folder's data version, only for a folder whose version differs from the last one recorded (by this
sensor or by a run of genre_films_job), so the event log grows only when raw data changes. Dagster
then marks the tables built from the previous raw data stale in the UI.

Running by default is safe and cheap: one listing per folder per tick (no file is read, no run is
launched); without it the UI would only learn about new raw data from the next run of the job.
"""

import dagster as dg

# Dagster's tag for an event's data version: what `ObserveResult(data_version=...)` writes in a
# run. A sensor can only report a plain AssetObservation, so it sets the same tag itself.
from dagster._core.definitions.data_version import DATA_VERSION_TAG

from genre_assets.assets.raw_sources import RAW_TABLES, observe_table
from genre_assets.errors import GenreAssetsError
from genre_assets.resources.lake import LakeResource

OBSERVE_INTERVAL_SECONDS = 60


def recorded_data_version(instance: dg.DagsterInstance, key: dg.AssetKey) -> str | None:
    """The data version of `key`'s latest observation, as staleness reads it; None if never."""
    records = instance.fetch_observations(key, limit=1).records
    observation = records[0].asset_observation if records else None
    return observation.tags.get(DATA_VERSION_TAG) if observation and observation.tags else None


@dg.sensor(
    name="raw_data_observer",
    minimum_interval_seconds=OBSERVE_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Observes the raw CSV folders and records a new data version when their files change, "
        "so the UI marks the tables built from older raw data stale. Launches no runs."
    ),
)
def raw_data_observer(
    context: dg.SensorEvaluationContext, lake: LakeResource
) -> dg.SensorResult | dg.SkipReason:
    changed: list[dg.AssetObservation] = []
    unchanged: list[str] = []
    for key, table in RAW_TABLES.items():
        try:
            result = observe_table(lake, table)
        except GenreAssetsError as error:
            # A lake that is misconfigured or not created yet: a skip with the reason in the
            # tick history rather than a failing sensor every minute; runs fail with the same
            # message.
            return dg.SkipReason(f"cannot observe {key.to_user_string()}: {error}")
        assert result.data_version is not None  # observe_table always sets one
        version = result.data_version.value
        if version == recorded_data_version(context.instance, key):
            unchanged.append(f"{key.to_user_string()} {version}")
            continue
        changed.append(
            dg.AssetObservation(
                asset_key=key,
                metadata=result.metadata,
                tags={DATA_VERSION_TAG: version},
            )
        )
    if not changed:
        return dg.SkipReason(f"raw data unchanged: {', '.join(unchanged)}")
    context.log.info(
        "New raw data version: "
        + ", ".join(f"{o.asset_key.to_user_string()} {o.tags[DATA_VERSION_TAG]}" for o in changed)
    )
    return dg.SensorResult(asset_events=changed)
