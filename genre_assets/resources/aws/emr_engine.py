"""The AWS engine: Hive and PrestoDB (or Trino) steps on one transient EMR cluster per Dagster run.

The cluster is requested lazily, the first time a run needs it (a run whose catalog is already
complete and has nothing to export starts none), is tagged with its deployment and run, is
reused for every step of the run (a single-run backfill of many genres included; a retry in a
new process reattaches to it by its tags) and is terminated when the run's resources are torn
down: on success, failure or cancellation. While the run holds it, a thread renews its lease, so
the `emr_janitor` can tell a cluster whose process died from one in use (cluster_ownership.py).
Scripts are uploaded under `scripts/<run_id>/`, so concurrent runs never overwrite each other's.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, PrivateAttr

from genre_assets import rendering
from genre_assets.domain.schema import (
    RATING_AGGREGATE_PREFIX,
    RATINGS,
    TableSpec,
    rating_aggregate_spec,
)
from genre_assets.domain.targets import GenreTarget
from genre_assets.domain.tsv import PREVIEW_ROWS
from genre_assets.errors import EngineError
from genre_assets.resources.aws import cluster_ownership, emr_cluster
from genre_assets.resources.aws.clients import AwsClientsResource
from genre_assets.resources.aws.glue_catalog import GlueCatalogResource
from genre_assets.resources.aws.glue_tables import TableShape, matches
from genre_assets.resources.aws.s3_lake import S3LakeResource
from genre_assets.resources.engine import EngineResource, GenreExport, head_lines
from genre_assets.resources.lake import LakeObject
from genre_assets.resources.raw_files import source_files
from genre_assets.settings import SETTINGS

# Written next to an aggregate's Parquet files once Presto's INSERT succeeded; hidden (a leading
# `_`) so Hive and Presto never read it as data.
CACHE_COMPLETE_MARKER = "_GENRE_ASSETS_COMPLETE"
RENEWALS_PER_LEASE = 10
RATING_AGGREGATES_FOLDER = "_cache/rating_aggregates"
# Part of every aggregate's digest: a change to what an aggregate holds makes new tables.
AGGREGATE_FORMAT = "movie_id double,rating_sum decimal(38,6),rated,ratings/emr-v1"
DIGEST_CHARS = 24
# The whole-ratings Parquet cache of earlier releases (`_cache/ratings/<fingerprint>/<run>/`): its
# tables and objects are dropped as stale by the first run with the aggregates.
LEGACY_CACHE_PREFIX = "ratings_parquet_"
LEGACY_CACHE_FOLDER = "_cache/ratings"


@dataclass(frozen=True)
class RatingAggregate:
    """One ratings file (as listed now) and the table of its aggregate."""

    source: LakeObject
    spec: TableSpec


def aggregate_digest(obj: LakeObject) -> str:
    """The name of a ratings file's version: its key, ETag and size, and the aggregate format."""
    payload = json.dumps(
        {"key": obj.key, "version": obj.version, "size": obj.size, "format": AGGREGATE_FORMAT},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class EMREngineResource(EngineResource):
    """Runs the pipeline's Hive and Presto-dialect scripts as steps on a transient EMR cluster,
    the latter with PrestoDB or Trino (`sql_engine`)."""

    lake: S3LakeResource
    catalog: GlueCatalogResource
    aws: AwsClientsResource

    cluster_name: str = Field(default="genre-assets", description="Cluster name prefix")
    release_label: str = Field(default=SETTINGS["emr_release"].default, description="EMR release")
    applications: list[str] = Field(
        default=emr_cluster.APPLICATIONS, description="Installed besides the SQL engine"
    )
    sql_engine: str = Field(
        default=SETTINGS["emr_sql_engine"].default,
        description="presto (PrestoDB) or trino: the application that runs the genre query",
    )
    log_uri: str = Field(default="", description="Step and cluster logs; default <lake>/emr-logs/")
    service_role: str = Field(default=SETTINGS["emr_service_role"].default)
    job_flow_role: str = Field(
        default=SETTINGS["emr_instance_profile"].default, description="EC2 instance profile"
    )
    subnet_ids: list[str] = Field(default=[], description="Subnets the fleets may use")
    master_instance_types: list[str] = Field(default=["m5.xlarge", "m5a.xlarge", "m4.xlarge"])
    core_instance_types: list[str] = Field(default=["m5.xlarge", "m5a.xlarge", "m4.xlarge"])
    core_spot_units: int = Field(default=2, description="Core fleet target spot capacity")
    core_on_demand_units: int = Field(default=0, description="Core fleet target on-demand capacity")
    spot_timeout_minutes: int = Field(default=10, description="Then fall back to on-demand")
    ebs_volume_gb: int = Field(default=64, description="gp3 volume per instance")
    idle_timeout_seconds: int = Field(
        default=1800, description="Auto-termination when idle: the backstop if all else fails"
    )
    tags: dict[str, str] = Field(default={}, description="Extra cluster tags")
    job_flow_overrides: str = Field(
        default="", description="JSON deep-merged into the RunJobFlow request last"
    )
    columnar_cache: int = Field(
        default=SETTINGS["emr_columnar_cache"].default_int,
        description=(
            "1: keep per-file rating aggregates as Parquet tables in the lake (a Hive DDL step "
            "and a Presto INSERT per new or changed ratings file, reading that file alone), "
            "reused by later runs; 0: every run scans the CSVs"
        ),
    )
    poll_seconds: int = Field(
        default=SETTINGS["emr_poll_seconds"].default_int,
        description="Step/cluster polling interval, seconds",
    )
    step_timeout_seconds: int = Field(default=4 * 3600, description="Longest a step may take")
    deployment_name: str = Field(
        default=SETTINGS["deployment_name"].default,
        description="Owner tag of this deployment's clusters; default: an id kept in the instance",
    )
    lease_seconds: int = Field(
        default=SETTINGS["emr_lease_seconds"].default_int,
        description="A cluster whose lease is not renewed for this long is the janitor's",
    )
    max_run_seconds: int = Field(
        default=SETTINGS["emr_max_run_seconds"].default_int,
        description="Hard time limit of a run that holds a cluster, from the run's start",
    )
    prices: str = Field(
        default=SETTINGS["emr_prices"].default,
        description=(
            "JSON of USD/hour per instance type for the cost metadata, merged over built-in "
            'us-east-1 list prices: {"m5.xlarge": {"on_demand": 0.192, "spot": 0.08, "emr": 0.048}}'
        ),
    )

    _run_id: str = PrivateAttr(default="local-run")
    _run_tags: dict[str, str] = PrivateAttr(default_factory=dict)
    _owner: str = PrivateAttr(default="")
    _deadline: float | None = PrivateAttr(default=None)
    _cluster_id: str | None = PrivateAttr(default=None)
    _lease: cluster_ownership.LeaseKeeper | None = PrivateAttr(default=None)
    _log: Any = PrivateAttr(default=None)

    # -- lifecycle -------------------------------------------------------------------------
    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._query_engine()  # a bad GENRE_ASSETS_EMR_SQL_ENGINE fails the run before it starts
        run = context.run
        started = time.time()
        if run is not None:
            self._run_id = run.run_id
            self._run_tags = {
                "dagster/job": run.job_name,
                "dagster/partitions": _partition_tag(run.tags),
            }
            record = context.instance.get_run_record_by_id(run.run_id) if context.instance else None
            if record is not None and record.start_time:
                started = record.start_time
        if context.instance is not None:
            self._owner = cluster_ownership.deployment_identity(
                context.instance, self.deployment_name
            )
        else:
            self._owner = cluster_ownership.validate_deployment_name(
                self.deployment_name or "unnamed"
            )
        self._deadline = started + self.max_run_seconds
        self._log = context.log

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.terminate_cluster("the run ended")

    def terminate_cluster(self, why: str) -> None:
        """Terminate this run's cluster, if it holds one; safe to call more than once."""
        if self._lease is not None:
            self._lease.stop()
            self._lease = None
        if self._cluster_id is None:
            return
        cluster_id, self._cluster_id = self._cluster_id, None
        emr = self.aws.client("emr")
        try:
            emr.add_tags(
                ResourceId=cluster_id,
                Tags=[{"Key": cluster_ownership.LEASE_TAG, "Value": cluster_ownership.RELEASED}],
            )
        except (ClientError, BotoCoreError) as error:
            # Only the janitor's note on this run depends on it; the termination must not.
            if self._log is not None:
                self._log.warning(f"could not mark the lease of {cluster_id} released: {error}")
        emr.terminate_job_flows(JobFlowIds=[cluster_id])
        self._info(f"Terminated EMR cluster {cluster_id}: {why}")

    # -- EngineResource --------------------------------------------------------------------
    @property
    def engine_name(self) -> str:
        return f"emr {self.release_label} (hive, {self._query_engine().name})"

    def create_database(self, log: dg.DagsterLogManager) -> Mapping[str, Any]:
        database = self.catalog.database_name()
        # Before the first AWS call of a run: a lake that is not s3:// fails here, without one.
        location = self.lake.uri(f"warehouse/{database}.db/")
        if self.catalog.database_exists():
            log.info(f"Glue database {database} exists: no Hive step needed")
            return {"hive_step": "skipped: database exists"}
        uri = self._upload("create-film-db.hql", rendering.hive_create_database(database, location))
        return self._run_steps(log, [emr_cluster.hive_step(f"create database {database}", uri)])

    def create_source_table(self, log: dg.DagsterLogManager, table: TableSpec) -> Mapping[str, Any]:
        return self._ensure_tables(
            log, [(table, self.lake.uri(table.folder))], f"create {table.name} table"
        )

    def build_columnar_cache(self, log: dg.DagsterLogManager) -> Mapping[str, Any]:
        if not self.columnar_cache:
            # Presto reads the CSVs in parallel on the cluster, and the cluster lives for one
            # run, so keeping aggregates pays off only across runs: an option, off by default.
            log.info(
                "Rating aggregates: off on EMR (GENRE_ASSETS_EMR_COLUMNAR_CACHE=1 turns them on)"
            )
            return {"columnar_cache": "off"}
        database = self.catalog.database_name()
        aggregates = self._rating_aggregates()
        needed = [a for a in aggregates if not self._is_complete(a.spec)]
        current = {a.spec.name for a in aggregates}
        stale = [
            name
            for name in self.catalog.list_tables()
            if name.startswith((RATING_AGGREGATE_PREFIX, LEGACY_CACHE_PREFIX))
            and name not in current
        ]
        metadata: dict[str, Any] = {
            "rating_aggregates": len(aggregates),
            "rating_aggregates_reused": len(aggregates) - len(needed),
            "rating_aggregates_built": [a.source.key for a in needed],
            "rating_aggregates_dropped": stale,
            "rating_aggregates_location": dg.MetadataValue.path(
                self.lake.uri(RATING_AGGREGATES_FOLDER)
            ),
        }
        if not needed and not stale:
            log.info(f"Reused the {len(aggregates)} rating aggregate(s) in {database}: no step")
            return metadata
        # PrestoDB cannot CREATE TABLE ... WITH (external_location) AS SELECT (Trino can, with
        # a second connector property), so on both Hive drops the aggregates of files gone or
        # changed and defines each new one as an external Parquet table (in a folder of this
        # run: a failed attempt's files are never part of a reused table); the query engine
        # fills each from its one file and the step marks it complete, then removes the objects
        # of the dropped ones.
        script = "\n".join(
            [rendering.hive_drop_table(database, name) for name in stale]
            + [
                rendering.hive_create_table(database, a.spec, self.lake.uri(a.spec.folder))
                for a in needed
            ]
        )
        hql_uri = self._upload(
            _script_name("rating-aggregates", [*stale, *needed]) + ".hql", script
        )
        steps = [emr_cluster.hive_step("define rating aggregates", hql_uri)]
        fills = []
        for number, aggregate in enumerate(needed):
            source_uri = self.lake.uri(aggregate.source.key)
            sql = rendering.presto_fill_rating_aggregate(
                database, aggregate.spec, RATINGS, source_uri
            )
            fills.append(
                rendering.AggregateFill(
                    script_uri=self._upload(
                        f"{_script_name('rating-aggregate', needed)}-{number}.sql", sql
                    ),
                    source_uri=source_uri,
                    complete_marker_uri=self.lake.uri(
                        aggregate.spec.folder + CACHE_COMPLETE_MARKER
                    ),
                    expects_rows=aggregate.source.size > len(",".join(RATINGS.csv_header)) + 2,
                    table=aggregate.spec.name,
                    location=self.lake.uri(aggregate.spec.folder),
                )
            )
        removed = [folder for folder in map(self._cache_folder_of, stale) if folder]
        shell_uri = self._upload(
            _script_name("rating-aggregates", needed) + ".sh",
            rendering.emr_fill_rating_aggregates_script(
                database, fills, removed, cli=self._query_engine().cli
            ),
        )
        steps.append(
            emr_cluster.shell_step(
                f"fill {len(needed)} rating aggregate(s), remove {len(stale)}", shell_uri
            )
        )
        log.info(
            f"Rating aggregates: {len(needed)} to build ({', '.join(a.source.key for a in needed) or 'none'}), "
            f"{len(aggregates) - len(needed)} reused, {len(stale)} to drop"
        )
        return {**metadata, **self._run_steps(log, steps)}

    def export_genres(
        self, log: dg.DagsterLogManager, targets: Sequence[GenreTarget]
    ) -> list[GenreExport]:
        database = self.catalog.database_name()
        aggregate_tables: list[str] = []
        if self.columnar_cache:
            aggregates = self._rating_aggregates()
            if aggregates and all(self._is_complete(a.spec) for a in aggregates):
                aggregate_tables = [a.spec.name for a in aggregates]
            else:
                log.warning("Rating aggregates are on but not complete: the query reads the CSVs")
        source = (
            f"{len(aggregate_tables)} rating aggregate table(s)"
            if aggregate_tables
            else f"{database}.{RATINGS.name}"
        )
        log.info(f"The genre query reads ratings from {source}")
        name = _script_name("genre-films", targets)
        query_uri = self._upload(
            f"{name}.sql",
            rendering.presto_genre_query(database, targets, aggregate_tables=aggregate_tables),
        )
        export_uris = [self.lake.uri(t.export_key) for t in targets]
        engine = self._query_engine()
        script_uri = self._upload(
            f"{name}.sh",
            rendering.emr_export_script(database, query_uri, targets, export_uris, cli=engine.cli),
        )
        step_name = f"{engine.name} export of {len(targets)} genre(s)"
        self._run_steps(log, [emr_cluster.shell_step(step_name, script_uri)])
        exports = []
        for target, uri in zip(targets, export_uris, strict=True):
            data = self.lake.read_bytes(target.export_key)
            exports.append(
                GenreExport(
                    genre=target.name,
                    key=target.export_key,
                    uri=uri,
                    row_count=data.count(b"\n") - 1,
                    size_bytes=len(data),
                    head=head_lines(data, PREVIEW_ROWS),
                )
            )
        return exports

    def create_genre_tables(
        self, log: dg.DagsterLogManager, targets: Sequence[GenreTarget]
    ) -> Mapping[str, Any]:
        tables = [(t.table_spec(), self.lake.uri(t.export_folder)) for t in targets]
        metadata = dict(self._ensure_tables(log, tables, f"create {len(targets)} genre table(s)"))
        metadata["tables"] = [f"{self.catalog.database_name()}.{t.table}" for t in targets]
        return metadata

    def cost_metadata(self) -> dict[str, Any]:
        if self._cluster_id is None:
            return {"emr_cluster_id": "none (no step was needed)"}
        cost = emr_cluster.cluster_cost(
            self.aws.client("emr"),
            self._cluster_id,
            emr_cluster.parse_prices(self.prices),
            self.aws.region(),
        )
        return {
            "emr_cluster_id": cost.cluster_id,
            "emr_console_url": dg.MetadataValue.url(cost.console_url),
            "emr_instances": ", ".join(cost.instances) or "none yet",
            "emr_billed_instance_seconds": cost.billed_seconds,
            "emr_estimated_cost_usd": cost.usd,
            "emr_cost_notes": "; ".join(cost.notes)
            or "per-second billing at the configured prices",
        }

    # -- internals -------------------------------------------------------------------------
    def _query_engine(self) -> emr_cluster.QueryEngine:
        """The configured engine; a value other than presto or trino fails here, before any AWS
        call (GENRE_ASSETS_EMR_SQL_ENGINE)."""
        return emr_cluster.query_engine(self.sql_engine)

    def _rating_aggregates(self) -> list[RatingAggregate]:
        """One aggregate per ratings file as the files are now, each in the folder this run
        would fill (`_cache/rating_aggregates/<digest>/<run id>/`); the digest is of the file's
        key, version (ETag) and size and of what an aggregate holds."""
        return [
            RatingAggregate(
                obj,
                rating_aggregate_spec(
                    f"{RATING_AGGREGATE_PREFIX}{digest[:DIGEST_CHARS]}",
                    f"{RATING_AGGREGATES_FOLDER}/{digest[:DIGEST_CHARS]}/{self._run_id}/",
                ),
            )
            for obj in source_files(self.lake, RATINGS)
            for digest in [aggregate_digest(obj)]
        ]

    def _cache_folder_of(self, table: str) -> str | None:
        """The folder of all attempts at a stale cache table (`<root>/<digest>/`, the parent of
        the run folder its Glue Location names), or None when that Location is not one of ours:
        a table is dropped by its name, but only our own cache folders are ever deleted."""
        glue_table = self.catalog.glue_table(table) or {}
        location = glue_table.get("StorageDescriptor", {}).get("Location", "").rstrip("/")
        folder = location.rsplit("/", 1)[0] + "/"
        for root in (RATING_AGGREGATES_FOLDER, LEGACY_CACHE_FOLDER):
            prefix = self.lake.uri(f"{root}/")
            digest = folder[len(prefix) :].rstrip("/")
            if folder.startswith(prefix) and digest and "/" not in digest:
                return folder
        return None

    def _is_complete(self, spec: TableSpec) -> bool:
        """Glue has the table `spec` names, over a folder of its digest (filled by any run) that
        a completed INSERT marked complete."""
        glue_table = self.catalog.glue_table(spec.name)
        if glue_table is None:
            return False
        actual = glue_table.get("StorageDescriptor", {}).get("Location", "").rstrip("/") + "/"
        digest_folder = spec.folder.rstrip("/").rsplit("/", 1)[0] + "/"
        root = self.lake.uri(digest_folder)
        if not actual.startswith(root) or not matches(glue_table, TableShape.of_spec(spec, actual)):
            return False
        filled_key = digest_folder + actual[len(root) :]
        return self.lake.exists(filled_key + CACHE_COMPLETE_MARKER)

    def _ensure_tables(
        self, log: dg.DagsterLogManager, tables: list[tuple[TableSpec, str]], step_name: str
    ) -> Mapping[str, Any]:
        database = self.catalog.database_name()
        needed = self.catalog.not_as_defined(tables)
        if not needed:
            log.info(
                f"Glue already has {', '.join(s.name for s, _ in tables)} as defined: no Hive step"
            )
            return {"hive_step": "skipped: tables match their definition"}
        script = "\n".join(rendering.hive_create_table(database, spec, loc) for spec, loc in needed)
        uri = self._upload(_script_name("create-tables", needed) + ".hql", script)
        return self._run_steps(log, [emr_cluster.hive_step(step_name, uri)])

    def _upload(self, name: str, text: str) -> str:
        key = f"scripts/{self._run_id}/{name}"
        self.lake.write_bytes(key, text.encode("utf-8"))
        return self.lake.uri(key)

    def _resolved_log_uri(self) -> str:
        return self.log_uri or self.lake.uri("emr-logs/")

    def _ensure_cluster(self) -> str:
        if self._cluster_id is None:
            emr = self.aws.client("emr")
            self._check_deadline("before its EMR cluster was requested")
            existing = self._live_cluster_of_this_run(emr)
            if existing is not None:
                self._cluster_id = existing
                self._info(f"Reattached to EMR cluster {existing}, started earlier by this run")
                self._hold_lease(existing, renew_now=True)
            else:
                request = self.job_flow_request()
                self._upload_lease_watchdog()
                self._cluster_id = emr.run_job_flow(**request)["JobFlowId"]
                self._info(
                    f"Requested EMR cluster {self._cluster_id} ({request['Name']}) for run "
                    f"{self._run_id}, owned by deployment {self._owner}"
                )
                # Its lease was set with its tags at creation.
                self._hold_lease(self._cluster_id, renew_now=False)
        return self._cluster_id

    def _lease_watchdog_key(self) -> str:
        return f"scripts/{self._run_id}/lease-watchdog.sh"

    def _upload_lease_watchdog(self) -> None:
        script = rendering.emr_lease_watchdog_script(
            self.aws.region(),
            lease_seconds=self.lease_seconds,
            check_seconds=self._renew_seconds(),
            lease_tag=cluster_ownership.LEASE_TAG,
            deadline_tag=cluster_ownership.DEADLINE_TAG,
        )
        self.lake.write_bytes(self._lease_watchdog_key(), script.encode("utf-8"))

    def _renew_seconds(self) -> int:
        # Ten renewals per lease (every 30 s by default, twice per janitor interval): several
        # failed calls in a row (throttling) never lose the cluster. The cluster's watchdog
        # looks at the lease as often.
        return max(1, self.lease_seconds // RENEWALS_PER_LEASE)

    def _live_cluster_of_this_run(self, emr: Any) -> str | None:
        """A live cluster this deployment started for this run before (a retried step in a new
        process): RunJobFlow has no idempotency token, so the tags are the token."""
        for cluster in emr_cluster.managed_live_clusters(emr):
            tags = cluster["tags"]
            if (
                tags.get(cluster_ownership.RUN_ID_TAG) == self._run_id
                and tags.get(cluster_ownership.OWNER_TAG) == self._owner
            ):
                return str(cluster["id"])
        return None

    def _hold_lease(self, cluster_id: str, *, renew_now: bool) -> None:
        emr = self.aws.client("emr")
        keeper = cluster_ownership.LeaseKeeper(
            add_tags=lambda tags: emr.add_tags(ResourceId=cluster_id, Tags=tags),
            lease_seconds=self.lease_seconds,
            renew_seconds=self._renew_seconds(),
            clock=time.time,
            on_error=lambda message: self._log.warning(message) if self._log else None,
        )
        if renew_now:  # a reattached cluster's lease may be close to expiry
            keeper.renew()
        keeper.start()
        self._lease = keeper

    def _check_deadline(self, when: str) -> None:
        if self._deadline is not None and time.time() > self._deadline:
            raise EngineError(
                f"the run reached its time limit of {self.max_run_seconds} s "
                f"(GENRE_ASSETS_EMR_MAX_RUN_SECONDS) {when}"
            )

    def _run_steps(self, log: dg.DagsterLogManager, steps: list[dict[str, Any]]) -> dict[str, Any]:
        emr = self.aws.client("emr")
        cluster_id = self._ensure_cluster()
        step_ids = emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=steps)["StepIds"]
        outcomes = []
        try:
            for step_id in step_ids:
                outcomes.append(
                    emr_cluster.wait_for_step(
                        emr,
                        cluster_id,
                        step_id,
                        poll_seconds=self.poll_seconds,
                        timeout_seconds=self.step_timeout_seconds,
                        log=log.info,
                        log_uri=self._resolved_log_uri(),
                        deadline=self._deadline,
                    )
                )
        except BaseException as error:
            # Cancellation from the UI arrives as DagsterExecutionInterruptedError, a
            # BaseException: the cluster must go whatever ended the wait.
            self.terminate_cluster(f"a step did not complete ({type(error).__name__})")
            raise
        return {
            "emr_steps": [f"{o.name}: {o.step_id} ({o.seconds:.0f} s)" for o in outcomes],
            **self.cost_metadata(),
        }

    def job_flow_request(self) -> dict[str, Any]:
        """The RunJobFlow request for this run's cluster (built by `emr_cluster`)."""
        return emr_cluster.job_flow_request(
            name=f"{self.cluster_name}-{self._run_id[:8]}",
            release_label=self.release_label,
            log_uri=self._resolved_log_uri(),
            applications=self.applications,
            master_instance_types=self.master_instance_types,
            core_instance_types=self.core_instance_types,
            core_spot_units=self.core_spot_units,
            core_on_demand_units=self.core_on_demand_units,
            spot_timeout_minutes=self.spot_timeout_minutes,
            ebs_volume_gb=self.ebs_volume_gb,
            subnet_ids=self.subnet_ids,
            idle_timeout_seconds=self.idle_timeout_seconds,
            service_role=self.service_role,
            job_flow_role=self.job_flow_role,
            tags={
                **self._run_tags,
                **self.tags,
                cluster_ownership.MANAGED_TAG: "true",
                cluster_ownership.RUN_ID_TAG: self._run_id,
                cluster_ownership.OWNER_TAG: self._owner,
                cluster_ownership.LEASE_TAG: cluster_ownership.format_time(
                    time.time() + self.lease_seconds
                ),
                **(
                    {cluster_ownership.DEADLINE_TAG: cluster_ownership.format_time(self._deadline)}
                    if self._deadline is not None
                    else {}
                ),
            },
            engine=self._query_engine(),
            writes_external_tables=bool(self.columnar_cache),
            lease_watchdog_uri=self.lake.uri(self._lease_watchdog_key()),
            overrides=self.job_flow_overrides,
        )

    def _info(self, message: str) -> None:
        if self._log is not None:
            self._log.info(message)


def _partition_tag(tags: Mapping[str, str]) -> str:
    single = tags.get("dagster/partition")
    if single:
        return single
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    return f"{start}...{end}" if start else ""


def _script_name(kind: str, items: Sequence[object]) -> str:
    # One run may upload several scripts of a kind (retries, several assets): keep them apart.
    return f"{kind}-{len(items)}-{int(time.time() * 1000)}"
