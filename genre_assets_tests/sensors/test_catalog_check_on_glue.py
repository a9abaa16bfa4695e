"""The catalog-check sensor on the aws deployment: Glue and S3 (moto) decide what is missing."""

import time

import boto3
import dagster as dg

from genre_assets.sensors.catalog_check import catalog_check_sensor
from genre_assets_tests.support.aws import BUCKET, REGION, aws_resources

GENRES = ["Comedy", "Drama"]
EXPORTS = {
    "Comedy": "data/movielens/comedy/comedy_films.tsv",
    "Drama": "data/movielens/drama/drama_films.tsv",
}


def _tick(instance):
    resources = aws_resources()
    with dg.build_sensor_context(
        instance=instance, resources={"lake": resources["lake"], "catalog": resources["catalog"]}
    ) as context:
        return catalog_check_sensor(context)


def _table(glue, name: str, folder: str) -> None:
    location = f"s3://{BUCKET}/data/movielens/{folder}/"
    glue.create_table(
        DatabaseName="movielens",
        TableInput={"Name": name, "StorageDescriptor": {"Location": location}},
    )


def test_the_sensor_reads_glue_and_s3_and_requests_exactly_what_is_missing(aws_env):
    glue, s3 = boto3.client("glue", region_name=REGION), boto3.client("s3", region_name=REGION)
    with dg.instance_for_test() as instance:
        (request,) = _tick(instance).run_requests
        assert {k.to_user_string() for k in request.asset_selection} == {
            "raw_movies",
            "raw_ratings",
            "film_database",
            "movies",
            "ratings",
        }
        assert request.tags["genre_assets/reason"] == "missing: movielens"

        glue.create_database(DatabaseInput={"Name": "movielens"})
        _table(glue, "movies", "movies")
        assert _tick(instance).run_requests[0].tags["genre_assets/reason"] == "missing: ratings"
        _table(glue, "ratings", "ratings")
        skip = _tick(instance)
        assert (
            isinstance(skip, dg.SkipReason)
            and "no genre has been materialised" in skip.skip_message
        )

        # Two genres materialised: exports in S3 (newer than the raw CSVs) and tables in Glue.
        instance.add_dynamic_partitions("genre", GENRES)
        for genre in GENRES:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(asset_key="genre_film_export", partition=genre)
            )
        time.sleep(1.1)  # S3 LastModified has whole seconds
        for genre, key in EXPORTS.items():
            s3.put_object(
                Bucket=BUCKET, Key=key, Body=b"movie_id\ttitle\tyear\tavg_rating\trating_count\n"
            )
            _table(glue, f"{genre.lower()}_films", genre.lower())
        skip = _tick(instance)
        assert isinstance(skip, dg.SkipReason) and "2 genre table(s)" in skip.skip_message

        glue.delete_table(DatabaseName="movielens", Name="drama_films")
        (request,) = _tick(instance).run_requests
        assert request.tags["dagster/asset_partition_range_start"] == "Drama"
        assert request.tags["dagster/asset_partition_range_end"] == "Drama"
        assert request.tags["genre_assets/reason"] == "Drama: table missing"
        _table(glue, "drama_films", "drama")

        # New raw data in S3 makes both exports stale: one run for both.
        time.sleep(1.1)
        ratings = s3.get_object(Bucket=BUCKET, Key="data/movielens/ratings/ratings.csv")[
            "Body"
        ].read()
        s3.put_object(
            Bucket=BUCKET, Key="data/movielens/ratings/ratings.csv", Body=ratings + b"9,1,4.0,1\n"
        )
        (request,) = _tick(instance).run_requests
        assert (
            request.tags["dagster/asset_partition_range_start"],
            request.tags["dagster/asset_partition_range_end"],
        ) == ("Comedy", "Drama")
        assert request.tags["genre_assets/reason"].count("older than the raw data") == 2
