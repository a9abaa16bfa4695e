"""The S3 lake's messages: a lake that is not s3:// fails before any AWS call, and an S3 lake
without raw data says how to fill it."""

from __future__ import annotations

import botocore.endpoint
import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource

from genre_assets.assets import ALL_ASSETS
from genre_assets.domain.schema import MOVIES
from genre_assets.errors import ConfigurationError, InputError
from genre_assets.partitions import range_tags
from genre_assets.resources.aws.clients import AwsClientsResource
from genre_assets.resources.aws.emr_engine import EMREngineResource
from genre_assets.resources.aws.glue_catalog import GlueCatalogResource
from genre_assets.resources.aws.s3_lake import S3LakeResource, parse_s3_uri
from genre_assets.resources.raw_files import source_files
from genre_assets_tests.support.aws import BUCKET, REGION

NOT_S3 = (
    "the aws deployment needs an s3:// lake (GENRE_ASSETS_LAKE or --lake), got '/some/path': "
    "set it to s3://bucket[/prefix], or use GENRE_ASSETS_DEPLOYMENT=local for a folder"
)


def _resources(lake_uri: str) -> dict:
    aws = AwsClientsResource(region_name=REGION)
    lake = S3LakeResource(uri_root=lake_uri, s3=S3Resource(region_name=REGION))
    catalog = GlueCatalogResource(aws=aws)
    engine = EMREngineResource(lake=lake, catalog=catalog, aws=aws, poll_seconds=1)
    return {"lake": lake, "catalog": catalog, "engine": engine}


def test_a_path_is_not_an_s3_lake():
    with pytest.raises(ConfigurationError) as raised:
        parse_s3_uri("/some/path")
    assert str(raised.value) == NOT_S3


def test_a_run_over_a_lake_that_is_not_s3_fails_at_its_first_step_without_an_aws_call(
    aws_env, instance, monkeypatch
):
    calls: list[str] = []
    real = botocore.endpoint.Endpoint.make_request

    def counted(endpoint, operation_model, request_dict):
        calls.append(operation_model.name)
        return real(endpoint, operation_model, request_dict)

    monkeypatch.setattr(botocore.endpoint.Endpoint, "make_request", counted)
    instance.add_dynamic_partitions("genre", ["Drama"])
    result = dg.materialize(
        ALL_ASSETS,
        resources=_resources("/some/path"),
        instance=instance,
        tags=range_tags("Drama", "Drama"),
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "film_database"
    assert NOT_S3 in failure.step_failure_data.error.cause.message
    assert calls == []


def test_an_empty_s3_lake_suggests_sample_data_and_the_copy(aws_env):
    with dg.build_resources({"lake": _resources(f"s3://{BUCKET}/empty")["lake"]}) as resources:
        with pytest.raises(InputError) as raised:
            source_files(resources.lake, MOVIES)
    assert str(raised.value) == (
        f"no .csv files in s3://{BUCKET}/empty/movielens/movies/: the movies table needs "
        "MovieLens movies.csv data there; to try genre-assets without MovieLens data, create "
        "sample data with: genre-assets sample-data --lake DIR, then copy it with: "
        f"aws s3 cp --recursive DIR/movielens s3://{BUCKET}/empty/movielens"
    )
