"""The AWS engine without a cluster: Athena DDL and one Athena query per run (`GENRE_ASSETS_AWS_ENGINE=athena`).

The database and tables are defined by the same rendered Hive templates the EMR engine runs
(`sql/hive/`), sent one statement per `StartQueryExecution` (Athena runs one statement per
query) and skipped when Glue already has the expected definition. The genre query is the same
`sql/presto/genre_films.sql.j2` rendering (Athena engine v3 is Trino-based), one query per run
for every target genre. Each query gets a `ClientRequestToken` derived from the run, the step
and the query text, so a retried call or step in a new process reattaches to the query it
started instead of starting a second one (Athena returns the same QueryExecutionId for a token it
has seen). Polling waits at most `max_poll_seconds` at a time, logs every state transition and
stops the query (`StopQueryExecution`) when the wait ends any other way than in a final state:
a run cancelled from the UI (DagsterExecutionInterruptedError, a BaseException), a time-out or
an error. A FAILED query raises `EngineError` with Athena's StateChangeReason.

Athena writes the rows to `<OutputLocation><QueryExecutionId>.csv` in its own CSV (every value
quoted, quotes doubled, NULL an unquoted empty field, newlines inside quotes); the engine turns
it into the contract's TSV, presto-cli's escaping, one file per genre (docs/contract.md).
Sources for every Athena behaviour relied on: docs/aws-fidelity.md, section Athena.
"""

from __future__ import annotations

import email.utils
import hashlib
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from genre_assets import rendering
from genre_assets.domain.schema import RATINGS, TableSpec
from genre_assets.domain.targets import GenreTarget
from genre_assets.domain.tsv import PREVIEW_ROWS, TSV_HEADER, escape_field
from genre_assets.errors import EngineError
from genre_assets.resources.aws.clients import AwsClientsResource
from genre_assets.resources.aws.glue_catalog import GlueCatalogResource
from genre_assets.resources.aws.s3_lake import S3LakeResource, parse_s3_uri
from genre_assets.resources.engine import EngineResource, GenreExport, head_lines
from genre_assets.settings import SETTINGS

# Athena's query states (GetQueryExecution Status.State).
FINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
# Athena pricing (us-east-1, SQL queries): USD 5 per TB scanned, each query rounded up to the
# next MB with a 10 MB minimum; DDL and failed queries are not billed (docs/aws-fidelity.md).
PRICE_PER_TB_USD = 5.0
MINIMUM_BILLED_BYTES = 10 * 1024**2
BILLING_UNIT_BYTES = 1024**2
TB = 1024**4
# The genre query's helper columns, then the export's five (sql/presto/genre_films.sql.j2).
RESULT_COLUMNS = ["slug", "position", *TSV_HEADER.split("\t")]
# A token Athena has seen returns that query: a retry of a query that ended FAILED or CANCELLED
# in an earlier attempt starts it afresh under the next token, at most this often.
MAX_FRESH_STARTS = 5


@dataclass(frozen=True)
class QueryOutcome:
    """One finished Athena query, as the run's metadata reports it."""

    purpose: str
    query_id: str
    state: str
    bytes_scanned: int
    engine_ms: int
    statement_type: str
    output_location: str

    @property
    def billed_bytes(self) -> int:
        """Athena's billing of a DML query: whole MB, 10 MB at least; DDL and failures free."""
        if self.statement_type != "DML" or self.state == "FAILED":
            return 0
        units = -(-self.bytes_scanned // BILLING_UNIT_BYTES)
        return max(MINIMUM_BILLED_BYTES, units * BILLING_UNIT_BYTES)


def client_request_token(
    run_id: str, step: str, purpose: str, query: str, attempt: int = 0, *request: str
) -> str:
    """A deterministic 64-character token (Athena accepts 32-128): the same run, step, purpose,
    text and request (workgroup, database, result location) give the same token, so a retry
    reattaches to the query instead of repeating it; a request that differs gets another token,
    as Athena refuses a token reused with other parameters."""
    digest = hashlib.sha256(
        "\n".join([run_id, step, purpose, str(attempt), query, *request]).encode("utf-8")
    ).hexdigest()
    return digest


def console_url(region: str, query_id: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/athena/home?region={region}"
        f"#/query-editor/history/{query_id}"
    )


def split_hive_statements(script: str) -> list[str]:
    """The statements of a rendered Hive script, without their `;`: Athena takes one statement
    per query. `;` ends a statement only outside '...', "..." and `...` (Hive's strings escape
    with a backslash). The templates hold no SQL comments (Athena's DDL parser refuses them)."""
    statements: list[str] = []
    current: list[str] = []
    quote = ""
    chars = iter(script)
    for ch in chars:
        if quote:
            current.append(ch)
            if ch == "\\" and quote != "`":
                current.append(next(chars, ""))
            elif ch == quote:
                quote = ""
        elif ch in ("'", '"', "`"):
            quote = ch
            current.append(ch)
        elif ch == ";":
            statements.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    rest = "".join(current).strip()
    if rest:
        statements.append(rest)
    return [s for s in statements if s]


def without_terminator(query: str) -> str:
    """The genre query without its final `;` (presto-cli --file needs it; Athena takes one
    statement per query and its API refuses more than one)."""
    text = query.rstrip()
    return text[:-1].rstrip() if text.endswith(";") else text


def parse_athena_csv(data: bytes) -> Iterator[list[str | None]]:
    """The rows of an Athena result file: every value in double quotes with quotes doubled, a
    NULL an unquoted empty field, a newline inside quotes part of the value, rows ended by
    `\\n`. Raises EngineError on anything else (a format this code does not know)."""
    text = data.decode("utf-8")
    i, n = 0, len(text)
    row: list[str | None] = []
    while i < n:
        if text[i] == '"':
            end = i + 1
            parts = []
            while True:
                quote = text.find('"', end)
                if quote < 0:
                    raise EngineError("Athena's result file ends inside a quoted value")
                parts.append(text[end:quote])
                if text.startswith('""', quote):
                    parts.append('"')
                    end = quote + 2
                    continue
                break
            row.append("".join(parts))
            i = quote + 1
        else:
            row.append(None)  # an unquoted empty field: NULL
        if i >= n:
            raise EngineError("Athena's result file does not end with a newline")
        if text[i] == ",":
            i += 1
            if i >= n or text[i] == "\n":
                row.append(None)
                if i < n:
                    i += 1
                yield row
                row = []
        elif text[i] == "\n":
            i += 1
            yield row
            row = []
        else:
            raise EngineError(
                f"Athena's result file has {text[i]!r} after a value at character {i}"
            )


def exports_from_athena_csv(data: bytes, slugs: Sequence[str]) -> dict[str, bytes]:
    """The genre query's result file -> each slug's export, the bytes presto-cli's TSV and the
    EMR step's header give (docs/contract.md): NULL prints empty, presto-cli's escaping."""
    rows = parse_athena_csv(data)
    header = next(rows, None)
    if header != RESULT_COLUMNS:
        raise EngineError(f"Athena's result has the columns {header}, expected {RESULT_COLUMNS}")
    lines: dict[str, list[str]] = {slug: [TSV_HEADER + "\n"] for slug in slugs}
    for row in rows:
        if len(row) != len(RESULT_COLUMNS):
            raise EngineError(f"Athena's result has a row of {len(row)} values: {row!r}")
        slug = row[0] or ""
        if slug not in lines:
            raise EngineError(f"Athena's result names a genre this run did not ask for: {slug!r}")
        lines[slug].append("\t".join(escape_field(v or "") for v in row[2:]) + "\n")
    return {slug: "".join(text).encode("utf-8") for slug, text in lines.items()}


class AthenaEngineResource(EngineResource):
    """Runs the pipeline's Hive DDL and Presto-dialect query on Athena: no cluster at all."""

    lake: S3LakeResource
    catalog: GlueCatalogResource
    aws: AwsClientsResource

    workgroup: str = Field(
        default=SETTINGS["athena_workgroup"].default, description="The Athena workgroup"
    )
    output_location: str = Field(
        default="", description="Query result location; default <lake>/athena-results/"
    )
    max_poll_seconds: float = Field(
        default=5.0, description="Longest wait between two GetQueryExecution calls"
    )
    query_timeout_seconds: int = Field(
        default=3600, description="A query still running after this long is stopped"
    )
    price_per_tb_usd: float = Field(
        default=PRICE_PER_TB_USD, description="USD per TB scanned, for the cost metadata"
    )

    _run_id: str = PrivateAttr(default="local-run")
    _queries: list[QueryOutcome] = PrivateAttr(default_factory=list)
    _log: Any = PrivateAttr(default=None)

    # -- lifecycle -------------------------------------------------------------------------
    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if context.run is not None:
            self._run_id = context.run.run_id
        self._log = context.log

    # -- EngineResource --------------------------------------------------------------------
    @property
    def engine_name(self) -> str:
        return f"athena (workgroup {self.workgroup})"

    def create_database(self, log: dg.DagsterLogManager) -> Mapping[str, Any]:
        database = self.catalog.database_name()
        location = self.lake.uri(f"warehouse/{database}.db/")
        if self.catalog.database_exists():
            log.info(f"Glue database {database} exists: no Athena DDL needed")
            return {"athena_ddl": "skipped: database exists"}
        script = rendering.hive_create_database(database, location)
        # Not in the database it creates: a query's context database must exist.
        return self._run_ddl(log, f"create database {database}", script, context=None)

    def create_source_table(self, log: dg.DagsterLogManager, table: TableSpec) -> Mapping[str, Any]:
        return self._ensure_tables(
            log, [(table, self.lake.uri(table.folder))], f"create {table.name} table"
        )

    def build_columnar_cache(self, log: dg.DagsterLogManager) -> Mapping[str, Any]:
        log.info(
            "Columnar cache: none on Athena (an EMR/local feature); the genre query scans the "
            "ratings CSVs and is billed for the bytes it scans"
        )
        return {"columnar_cache": "none: the Athena engine keeps no columnar cache"}

    def export_genres(
        self, log: dg.DagsterLogManager, targets: Sequence[GenreTarget]
    ) -> list[GenreExport]:
        database = self.catalog.database_name()
        log.info(f"The genre query reads ratings from {database}.{RATINGS.name}")
        query = without_terminator(rendering.presto_genre_query(database, targets, RATINGS.name))
        outcome = self._run_query(log, f"export of {len(targets)} genre(s)", query, database)
        result = self._read_result(outcome.output_location)
        files = exports_from_athena_csv(result, [t.slug for t in targets])
        exports = []
        for target in targets:
            data = files[target.slug]
            self.lake.write_bytes(target.export_key, data)
            exports.append(
                GenreExport(
                    genre=target.name,
                    key=target.export_key,
                    uri=self.lake.uri(target.export_key),
                    row_count=data.count(b"\n") - 1,
                    size_bytes=len(data),
                    head=head_lines(data, PREVIEW_ROWS),
                )
            )
        log.info(f"Wrote {len(exports)} export(s) from Athena's result {outcome.output_location}")
        return exports

    def create_genre_tables(
        self, log: dg.DagsterLogManager, targets: Sequence[GenreTarget]
    ) -> Mapping[str, Any]:
        tables = [(t.table_spec(), self.lake.uri(t.export_folder)) for t in targets]
        metadata = dict(self._ensure_tables(log, tables, f"create {len(targets)} genre table(s)"))
        metadata["tables"] = [f"{self.catalog.database_name()}.{t.table}" for t in targets]
        return metadata

    def cost_metadata(self) -> dict[str, Any]:
        """The run's Athena queries so far: the last one's id and console link, and for all of
        them the bytes scanned, the engine time and the estimated cost."""
        if not self._queries:
            return {"athena_query_id": "none (no query was needed)"}
        last = self._queries[-1]
        billed = sum(q.billed_bytes for q in self._queries)
        return {
            "athena_query_id": last.query_id,
            "athena_console_url": dg.MetadataValue.url(
                console_url(self.aws.region(), last.query_id)
            ),
            "athena_workgroup": self.workgroup,
            "athena_queries": [f"{q.purpose}: {q.query_id} ({q.state})" for q in self._queries],
            "athena_bytes_scanned": sum(q.bytes_scanned for q in self._queries),
            "athena_engine_seconds": round(sum(q.engine_ms for q in self._queries) / 1000, 3),
            "athena_billed_bytes": billed,
            "athena_estimated_cost_usd": round(billed / TB * self.price_per_tb_usd, 8),
            "athena_cost_notes": (
                f"USD {self.price_per_tb_usd} per TB scanned, each DML query rounded up to the MB "
                "with a 10 MB minimum; DDL and failed queries are free"
            ),
        }

    # -- internals -------------------------------------------------------------------------
    def result_location(self) -> str:
        """Where the queries' results go unless the workgroup enforces its own location."""
        location = self.output_location or self.lake.uri("athena-results/")
        return location if location.endswith("/") else location + "/"

    def _ensure_tables(
        self, log: dg.DagsterLogManager, tables: list[tuple[TableSpec, str]], purpose: str
    ) -> Mapping[str, Any]:
        database = self.catalog.database_name()
        needed = self.catalog.not_as_defined(tables)
        if not needed:
            log.info(
                f"Glue already has {', '.join(s.name for s, _ in tables)} as defined: no Athena DDL"
            )
            return {"athena_ddl": "skipped: tables match their definition"}
        script = "\n".join(rendering.hive_create_table(database, spec, loc) for spec, loc in needed)
        metadata = self._run_ddl(log, purpose, script, context=database)
        # A definition Glue holds otherwise than the DDL said (a SerDe property Athena stored
        # differently) would silently change how rows read: fail loudly instead.
        for spec, location in self.catalog.not_as_defined(needed):
            raise EngineError(
                f"Athena's DDL for {database}.{spec.name} succeeded but Glue does not hold "
                f"the definition it gave (location {location}, serde "
                f"{spec.storage.storage.serde}); compare with `aws glue get-table "
                f"--database-name {database} --name {spec.name}`"
            )
        return metadata

    def _run_ddl(
        self, log: dg.DagsterLogManager, purpose: str, script: str, context: str | None
    ) -> dict[str, Any]:
        statements = split_hive_statements(script)
        outcomes = [
            self._run_query(log, f"{purpose} ({n}/{len(statements)})", statement, context)
            for n, statement in enumerate(statements, start=1)
        ]
        return {"athena_ddl": [f"{o.purpose}: {o.query_id}" for o in outcomes]}

    def _step_key(self, log: dg.DagsterLogManager) -> str:
        metadata = getattr(log, "metadata", None) or {}
        return str(metadata.get("step_key") or "")

    def _run_query(
        self, log: dg.DagsterLogManager, purpose: str, query: str, context: str | None
    ) -> QueryOutcome:
        """Run one statement; `context` is the database it runs in (None: Athena's default)."""
        athena = self.aws.client("athena")
        step = self._step_key(log)
        execution_context = {"Catalog": "AwsDataCatalog"}
        if context is not None:
            execution_context["Database"] = context
        result_location = self.result_location()
        request = (self.workgroup, context or "", result_location)
        for attempt in range(MAX_FRESH_STARTS + 1):
            token = client_request_token(self._run_id, step, purpose, query, attempt, *request)
            started = athena.start_query_execution(
                QueryString=query,
                ClientRequestToken=token,
                QueryExecutionContext=execution_context,
                WorkGroup=self.workgroup,
                ResultConfiguration={"OutputLocation": result_location},
            )
            query_id = started["QueryExecutionId"]
            log.info(f"Athena query {query_id} ({purpose}) in workgroup {self.workgroup}")
            outcome = self._wait(log, athena, query_id, purpose, _server_time(started))
            if outcome is not None:
                return outcome
        raise EngineError(
            f"Athena query for {purpose}: every one of {MAX_FRESH_STARTS + 1} tokens named an "
            "earlier attempt's query that had ended FAILED or CANCELLED; see the log for their "
            "reasons"
        )

    def _wait(
        self,
        log: dg.DagsterLogManager,
        athena: Any,
        query_id: str,
        purpose: str,
        asked: float,
    ) -> QueryOutcome | None:
        """The query's outcome once SUCCEEDED; None when the token named a query an earlier
        attempt ran that ended FAILED or CANCELLED (the caller starts it afresh)."""
        started = time.monotonic()
        state = ""
        delay = 0.2
        try:
            while True:
                execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
                status = execution.get("Status", {})
                new_state = status.get("State", "")
                if new_state != state:
                    reason = status.get("StateChangeReason")
                    log.info(
                        f"Athena query {query_id} ({purpose}): {state or 'submitted'} -> "
                        f"{new_state}" + (f" ({reason})" if reason else "")
                    )
                    if not state and new_state in ("FAILED", "CANCELLED"):
                        # Ended before this StartQueryExecution was answered: the token named
                        # an earlier attempt's query. `asked` is Athena's own clock (the answer's
                        # Date, whole seconds): a query of ours was submitted less than 2 s
                        # before it, so it is never taken for an earlier one.
                        completed = status.get("CompletionDateTime")
                        if completed is not None and completed.timestamp() < asked - 2:
                            log.warning(
                                f"Athena query {query_id} is an earlier attempt's, which ended "
                                f"{new_state}: starting the query afresh"
                            )
                            return None
                    state = new_state
                if state in FINAL_STATES:
                    break
                if time.monotonic() - started > self.query_timeout_seconds:
                    raise EngineError(
                        f"Athena query {query_id} ({purpose}) still {state} after "
                        f"{self.query_timeout_seconds} s"
                    )
                _sleep(delay)
                delay = min(self.max_poll_seconds, delay * 2)
        except BaseException as error:
            # A run cancelled from the UI arrives as DagsterExecutionInterruptedError (a
            # BaseException); a time-out or an error ends the wait too: the query must stop.
            if state not in FINAL_STATES:
                self._stop(log, athena, query_id, f"the wait ended ({type(error).__name__})")
            raise
        statistics = execution.get("Statistics", {})
        outcome = QueryOutcome(
            purpose=purpose,
            query_id=query_id,
            state=state,
            bytes_scanned=int(statistics.get("DataScannedInBytes", 0)),
            engine_ms=int(statistics.get("EngineExecutionTimeInMillis", 0)),
            statement_type=execution.get("StatementType", ""),
            output_location=execution.get("ResultConfiguration", {}).get("OutputLocation", ""),
        )
        # Every query that ran counts in the cost metadata: a cancelled one is billed too.
        self._queries.append(outcome)
        if state != "SUCCEEDED":
            reason = status.get("StateChangeReason") or "no reason given"
            error_info = status.get("AthenaError", {})
            kind = error_info.get("ErrorType")
            raise EngineError(
                f"Athena query {query_id} ({purpose}) {state}: {reason}"
                + (f" (error type {kind})" if kind else "")
                + f"; {console_url(self.aws.region(), query_id)}"
            )
        log.info(
            f"Athena query {query_id} ({purpose}): scanned "
            f"{statistics.get('DataScannedInBytes', 0)} bytes in "
            f"{statistics.get('EngineExecutionTimeInMillis', 0)} ms"
        )
        return outcome

    def _stop(self, log: dg.DagsterLogManager, athena: Any, query_id: str, why: str) -> None:
        try:
            athena.stop_query_execution(QueryExecutionId=query_id)
        except Exception as error:  # the original error matters more than this one
            log.warning(f"could not stop Athena query {query_id}: {error}")
            return
        log.info(f"Stopped Athena query {query_id}: {why}")

    def _read_result(self, output_location: str) -> bytes:
        if not output_location:
            raise EngineError("Athena reported no result location for the genre query")
        bucket, key = parse_s3_uri(output_location)
        body = self.aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
        return body.read()


def _server_time(response: Mapping[str, Any]) -> float:
    """When Athena answered, by its own clock (the HTTP Date header); this host's clock when
    the header is missing."""
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    try:
        return email.utils.parsedate_to_datetime(date).timestamp() if date else time.time()
    except (TypeError, ValueError):
        return time.time()


def _sleep(seconds: float) -> None:
    # A seam for tests.
    time.sleep(seconds)
