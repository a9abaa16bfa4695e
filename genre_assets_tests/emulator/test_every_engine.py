"""Acceptance of issue 14: through the emulator, one 20-genre run on each engine (`emr`+`presto`,
`emr`+`trino`, `athena`) writes exports byte-identical to the local deployment's, including
`(no genres listed)`, `Children's`, titles with quotes, backslashes and non-ASCII text. Each
engine's calls are held to its own shipped IAM policy."""

from __future__ import annotations

import time

import boto3

from genre_assets.domain.genres import MOVIELENS_GENRES
from genre_assets.domain.targets import genre_targets
from genre_assets_emulator import iam
from genre_assets_tests.emulator.test_e2e import (
    BUCKET,
    LAKE,
    PREFIX,
    emulator,  # noqa: F401 (a fixture, reused)
    failure_text,
    run_genres,
    upload_golden_lake,
)
from genre_assets_tests.support.aws import iam_values
from genre_assets_tests.support.local import REPO_ROOT, materialize_genres

ATHENA_POLICY = REPO_ROOT / "deploy" / "iam-policy-athena.json"
# Beside the golden lake's files: non-ASCII titles (with quotes, a backslash, an en-dash year).
EXTRA_MOVIES = (
    "movieId,title,genres\n"
    '901,"Amélie, ""Le fabuleux"" destin (2001)",Comedy|Romance\n'
    "902,Crouching Tiger 臥虎藏龍 \\ Hidden Dragon (2000–2001),Action|Drama\n"
    "903,Ünïcödé Kids' Film,Children's|(no genres listed)\n"
)
EXTRA_RATINGS = "userId,movieId,rating,timestamp\n1,901,4.5,0\n2,902,3.0,0\n3,903,2.5,0\n"
ENGINES = [("emr", "presto"), ("emr", "trino"), ("athena", "")]


def athena_policy() -> list[dict]:
    values = {**iam_values(LAKE), "Region": "us-east-1", "WorkGroup": "primary"}
    values["Account"] = "123456789012"
    return iam.load_policy(ATHENA_POLICY, {k: values[k] for k in iam.ATHENA_PLACEHOLDERS})


def test_every_engine_writes_the_local_deployments_bytes_for_twenty_genres(
    emulator,  # noqa: F811
    golden_lake,
    tmp_path,
    instance,
    monkeypatch,
):
    genres = [*MOVIELENS_GENRES, "Children's"]
    assert len(genres) == 21 and "(no genres listed)" in genres
    upload_golden_lake(tmp_path)
    s3 = boto3.client("s3")
    for folder, text in (("movies", EXTRA_MOVIES), ("ratings", EXTRA_RATINGS)):
        (golden_lake / "movielens" / folder / "extra.csv").write_text(text, encoding="utf-8")
        s3.put_object(
            Bucket=BUCKET, Key=f"{PREFIX}/movielens/{folder}/extra.csv", Body=text.encode()
        )
    instance.add_dynamic_partitions("genre", genres)
    local = materialize_genres(golden_lake, genres)
    assert local.success
    expected = {
        t.export_key: (golden_lake / t.export_key).read_bytes() for t in genre_targets(genres)
    }
    # The fixture's titles: quotes, a backslash and non-ASCII text reach the exports.
    everything = b"".join(expected.values())
    assert b'"' in everything and b"\\\\" in everything and any(c > 127 for c in everything)
    emr_policy = emulator.api._policy
    keys = [f"{PREFIX}/{key}" for key in expected]
    timings = {}
    for aws_engine, sql_engine in ENGINES:
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys]})
        monkeypatch.setenv("GENRE_ASSETS_AWS_ENGINE", aws_engine)
        if sql_engine:
            monkeypatch.setenv("GENRE_ASSETS_EMR_SQL_ENGINE", sql_engine)
        emulator.api.use_policy(athena_policy() if aws_engine == "athena" else emr_policy)
        emulator.api.clear()
        started = time.perf_counter()
        result = run_genres(instance, genres)
        name = f"{aws_engine}+{sql_engine}" if sql_engine else aws_engine
        timings[name] = round(time.perf_counter() - started, 1)
        assert result.success, f"{name}: {failure_text(result)}"
        assert emulator.api.denials() == [], name
        for key in expected:
            remote = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{key}")["Body"].read()
            assert remote == expected[key], f"{name}: {key}"
        calls = emulator.api.counts("pipeline")
        if aws_engine == "athena":
            assert not any(c.startswith("elasticmapreduce:") for c in calls), calls
            assert calls["athena:StartQueryExecution"] >= 1
    print(f"\n{len(genres)}-genre runs through the emulator, seconds: {timings}")


def test_a_failed_athena_query_fails_the_run_with_athenas_reason(
    emulator,  # noqa: F811
    tmp_path,
    instance,
    monkeypatch,
):
    """A result location the pipeline's policy does not cover: Athena fails the query (it writes
    results with the caller's permissions) and the run fails with Athena's StateChangeReason."""
    upload_golden_lake(tmp_path)
    instance.add_dynamic_partitions("genre", ["Drama"])
    monkeypatch.setenv("GENRE_ASSETS_AWS_ENGINE", "athena")
    monkeypatch.setenv("GENRE_ASSETS_ATHENA_OUTPUT_LOCATION", "s3://elsewhere-results/athena/")
    boto3.client("s3").create_bucket(Bucket="elsewhere-results")
    emulator.api.use_policy(athena_policy())
    result = run_genres(instance, ["Drama"])
    assert not result.success
    text = failure_text(result)
    assert "FAILED: Access denied when writing output to url: s3://elsewhere-results/athena/" in (
        text
    ), text
    assert {d.action for d in emulator.api.denials()} == {"s3:GetBucketLocation"}
