"""Athena's query API in the emulator: queries really executed over the emulated lake and Glue.

moto 5.2's Athena records a query and reports it SUCCEEDED on the first GetQueryExecution,
runs nothing, writes no result and ignores ClientRequestToken. The middleware therefore answers
`StartQueryExecution`, `GetQueryExecution`, `StopQueryExecution` and `ListQueryExecutions` here (the other Athena calls,
e.g. CreateWorkGroup, stay moto's, whose workgroups, `primary` included, this module consults;
GetWorkGroup of an unknown workgroup is refused here as Athena refuses it, moto answers it empty):

- StartQueryExecution refuses a query string of more than one statement (InvalidRequestException
  "Only one sql statement is allowed", synchronously, as Athena does) and an unknown workgroup;
  a ClientRequestToken seen before returns the same QueryExecutionId, or an error when the
  QueryString (or another parameter) differs;
- a query is QUEUED, then RUNNING on a worker thread, then SUCCEEDED, FAILED (with a
  StateChangeReason and AthenaError) or CANCELLED (StopQueryExecution; a stopped query writes
  no result);
- DDL (CREATE/DROP/ALTER) is applied to Glue by the emulated Hive (`hive.run_script`); like
  Athena's DDL parser, a DDL statement with an SQL comment fails (ParseException);
- a query (SELECT/WITH) runs through `presto_cli.run_query` with Trino's rules (Athena engine
  v3 is Trino-based) over the Glue tables and their S3 files; its rows are written to
  `<OutputLocation><QueryExecutionId>.csv` in Athena's CSV: a header, every value in double
  quotes with quotes doubled, rows ended by `\\n`;
- Athena reads Glue and S3 and writes the result with the caller's permissions: with a policy,
  every such access is checked (`iam.athena_reads_and_writes`) and a denied one fails the query
  with Athena's kind of message;
- `hold_seconds` (or GENRE_ASSETS_EMULATOR_ATHENA_HOLD_SECONDS) keeps each non-DDL query
  RUNNING that long before it executes, unless stopped first: the cancel tests' handle.

Sources: docs/aws-fidelity.md, section Athena.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from genre_assets_emulator import iam
from genre_assets_emulator.s3 import split_s3_uri

HOLD_ENV = "GENRE_ASSETS_EMULATOR_ATHENA_HOLD_SECONDS"
USER_AGENT = "genre-assets-emulator/athena"
OPERATIONS = (
    "StartQueryExecution",
    "GetQueryExecution",
    "StopQueryExecution",
    "ListQueryExecutions",
)
_DDL = re.compile(r"^\s*(CREATE|DROP|ALTER|MSCK|SHOW|DESCRIBE)\b", re.IGNORECASE)
# Authorize Athena's own reads and writes for the caller: a list of IAM requests -> None when
# allowed, else the denying decision.
Authorizer = Callable[[list[iam.Request]], "iam.Decision | None"]


class RequestError(Exception):
    """A request Athena refuses synchronously (HTTP 400)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class QueryFailed(Exception):
    def __init__(self, reason: str, error_type: int = 1100, category: int = 2) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.category = category  # 1 system, 2 user, 3 other


@dataclass
class Execution:
    query_id: str
    query: str
    database: str
    catalog: str
    workgroup: str
    output_location: str  # the result file's URI
    statement_type: str  # DDL or DML
    token: str
    request_digest: str
    region: str
    submitted: float = field(default_factory=time.time)
    state: str = "QUEUED"
    reason: str = ""
    error_type: int = 0
    error_category: int = 0
    completed: float | None = None
    started: float | None = None
    bytes_scanned: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def describe(self) -> dict[str, Any]:
        status: dict[str, Any] = {"State": self.state, "SubmissionDateTime": self.submitted}
        if self.completed is not None:
            status["CompletionDateTime"] = self.completed
        if self.reason:
            status["StateChangeReason"] = self.reason
        if self.state == "FAILED":
            status["AthenaError"] = {
                "ErrorCategory": self.error_category,
                "ErrorType": self.error_type,
                "Retryable": False,
                "ErrorMessage": self.reason,
            }
        end = self.completed or time.time()
        engine_ms = int(((end - self.started) if self.started else 0) * 1000)
        queued_ms = int(((self.started or end) - self.submitted) * 1000)
        return {
            "QueryExecutionId": self.query_id,
            "Query": self.query,
            "StatementType": self.statement_type,
            "ResultConfiguration": {"OutputLocation": self.output_location},
            "QueryExecutionContext": {"Database": self.database, "Catalog": self.catalog},
            "Status": status,
            "Statistics": {
                "EngineExecutionTimeInMillis": engine_ms,
                "DataScannedInBytes": self.bytes_scanned,
                "TotalExecutionTimeInMillis": int((end - self.submitted) * 1000),
                "QueryQueueTimeInMillis": queued_ms,
            },
            "WorkGroup": self.workgroup,
            "EngineVersion": {
                "SelectedEngineVersion": "AUTO",
                "EffectiveEngineVersion": "Athena engine version 3",
            },
        }


class AthenaService:
    """The emulated Athena query API (thread-safe)."""

    def __init__(
        self,
        endpoint_url: Callable[[], str],
        account: str,
        workgroups: Callable[[str], set[str]],
        *,
        hold_seconds: float | None = None,
    ) -> None:
        self._endpoint_url = endpoint_url
        self._account = account
        self._workgroups = workgroups
        self.hold_seconds = (
            float(os.environ.get(HOLD_ENV, "0") or 0) if hold_seconds is None else hold_seconds
        )
        self._lock = threading.Lock()
        self._executions: dict[str, Execution] = {}
        self._tokens: dict[str, str] = {}
        self._stopped: list[str] = []

    # -- what tests look at ----------------------------------------------------------------
    def executions(self) -> list[dict[str, Any]]:
        with self._lock:
            return [e.describe() for e in self._executions.values()]

    def stop_requests(self) -> list[str]:
        """The ids StopQueryExecution was called for, oldest first."""
        with self._lock:
            return list(self._stopped)

    # -- the API ---------------------------------------------------------------------------
    def handle(
        self, operation: str, request: dict[str, Any], region: str, authorize: Authorizer | None
    ) -> dict[str, Any]:
        if operation == "StartQueryExecution":
            return self._start(request, region, authorize)
        if operation == "ListQueryExecutions":
            workgroup = str(request.get("WorkGroup") or "primary")
            with self._lock:
                ids = [e.query_id for e in self._executions.values() if e.workgroup == workgroup]
            return {"QueryExecutionIds": ids[::-1]}  # newest first
        query_id = str(request.get("QueryExecutionId", ""))
        with self._lock:
            execution = self._executions.get(query_id)
        if execution is None:
            raise RequestError(
                "InvalidRequestException", f"QueryExecution {query_id} was not found"
            )
        if operation == "StopQueryExecution":
            with self._lock:
                self._stopped.append(query_id)
                if execution.state in ("QUEUED", "RUNNING"):
                    execution.state = "CANCELLED"
                    execution.reason = "Query cancelled by user"
                    execution.completed = time.time()
                execution.stop.set()
            return {}
        with self._lock:
            return {"QueryExecution": execution.describe()}

    def require_workgroup(self, workgroup: str, region: str) -> None:
        """Athena's answer to a workgroup it does not have (moto's GetWorkGroup answers an
        unknown name with an empty 200)."""
        if workgroup not in self._workgroups(region):
            raise RequestError("InvalidRequestException", f"WorkGroup {workgroup} is not found.")

    def _start(
        self, request: dict[str, Any], region: str, authorize: Authorizer | None
    ) -> dict[str, Any]:
        from genre_assets_emulator.presto_cli import is_empty_statement, split_statements

        query = str(request.get("QueryString", ""))
        if _DDL.match(_strip_leading_comments(query)):
            # DDL goes to Athena's Hive-based parser: Hive's strings escape with a backslash.
            parts = [s for s in hive_statements(query) if s.strip()]
        else:
            statements, rest = split_statements(query)
            parts = [s for s in [*statements, rest] if not is_empty_statement(s)]
        if len(parts) != 1:
            raise RequestError(
                "InvalidRequestException", f"Only one sql statement is allowed. Got: {query}"
            )
        workgroup = str(request.get("WorkGroup") or "primary")
        self.require_workgroup(workgroup, region)
        context = request.get("QueryExecutionContext") or {}
        output = str((request.get("ResultConfiguration") or {}).get("OutputLocation", ""))
        if not output.startswith("s3://"):
            raise RequestError(
                "InvalidRequestException",
                "No output location provided. An output location is required either through "
                "the Workgroup result configuration setting or as an API input.",
            )
        digest = hashlib.sha256(
            json.dumps(
                {k: v for k, v in request.items() if k != "ClientRequestToken"}, sort_keys=True
            ).encode()
        ).hexdigest()
        token = str(request.get("ClientRequestToken") or uuid.uuid4())
        if not 32 <= len(token) <= 128:
            raise RequestError(
                "InvalidRequestException",
                "1 validation error detected: Value at 'clientRequestToken' failed to satisfy "
                "constraint: Member must have length between 32 and 128",
            )
        with self._lock:
            known = self._tokens.get(token)
            if known is not None:
                if self._executions[known].request_digest != digest:
                    raise RequestError(
                        "InvalidRequestException",
                        "Idempotent parameters do not match: the ClientRequestToken was used "
                        "with a different request",
                    )
                return {"QueryExecutionId": known}
            query_id = str(uuid.uuid4())
            statement_type = "DDL" if _DDL.match(_strip_leading_comments(parts[0])) else "DML"
            suffix = ".csv" if statement_type == "DML" else ".txt"
            execution = Execution(
                query_id=query_id,
                query=query,
                database=str(context.get("Database") or "default").lower(),
                catalog=str(context.get("Catalog") or "AwsDataCatalog"),
                workgroup=workgroup,
                output_location=output.rstrip("/") + "/" + query_id + suffix,
                statement_type=statement_type,
                token=token,
                request_digest=digest,
                region=region,
            )
            self._executions[query_id] = execution
            self._tokens[token] = query_id
            iam.query_workgroups[query_id] = workgroup
        threading.Thread(
            target=self._run, args=(execution, parts[0], authorize), daemon=True
        ).start()
        return {"QueryExecutionId": query_id}

    # -- execution -------------------------------------------------------------------------
    def _run(self, execution: Execution, statement: str, authorize: Authorizer | None) -> None:
        time.sleep(0.05)  # QUEUED for a moment, as on Athena
        with self._lock:
            if execution.state != "QUEUED":
                return
            execution.state = "RUNNING"
            execution.started = time.time()
        if execution.statement_type == "DML" and self.hold_seconds > 0:
            execution.stop.wait(self.hold_seconds)
        if execution.stop.is_set():
            return
        try:
            self._require_context_database(execution)
            if execution.statement_type == "DDL":
                self._ddl(execution, statement, authorize)
            else:
                self._select(execution, statement, authorize)
        except QueryFailed as failure:
            self._finish(execution, "FAILED", str(failure), failure.error_type, failure.category)
            return
        except Exception as error:  # the emulator's own fault: say so, as INTERNAL_ERROR
            self._finish(execution, "FAILED", f"emulator error: {error}", 401, 1)
            return
        self._finish(execution, "SUCCEEDED")

    def _finish(
        self,
        execution: Execution,
        state: str,
        reason: str = "",
        error_type: int = 0,
        category: int = 0,
    ) -> None:
        with self._lock:
            if execution.state != "RUNNING":
                return  # stopped meanwhile: CANCELLED stays
            execution.state = state
            execution.reason = reason
            execution.error_type = error_type
            execution.error_category = category
            execution.completed = time.time()

    def _clients(self, region: str) -> tuple[Any, Any]:
        from genre_assets_emulator.steps import FAKE_CREDENTIALS

        # The emulator's own fake credentials: `emulate-aws` may run with none in its environment.
        session = boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=region or "us-east-1",
        )
        config = Config(
            user_agent_extra=USER_AGENT, retries={"max_attempts": 3, "mode": "standard"}
        )
        url = self._endpoint_url()
        return (
            session.client("glue", endpoint_url=url, config=config),
            session.client("s3", endpoint_url=url, config=config),
        )

    def _check(
        self, authorize: Authorizer | None, kind: str, params: dict[str, Any], region: str
    ) -> None:
        if authorize is None:
            return
        requests = iam.athena_reads_and_writes(kind, params, account=self._account, region=region)
        decision = authorize(requests)
        if decision is None:
            return
        if kind.startswith("glue:") or not kind.startswith("s3:"):
            raise QueryFailed(
                f"Insufficient permissions to execute the query. User: arn:aws:sts::"
                f"{self._account}:assumed-role/genre-assets-pipeline/emulated-run is not "
                f"authorized to perform: {decision.action} on resource: {decision.resource}",
                error_type=1000,
            )
        if kind == "s3:PutObject" or kind == "s3:GetBucketLocation":
            raise QueryFailed(
                f"Access denied when writing output to url: {execution_output(params)} . Please "
                "ensure you are allowed to access the S3 bucket.",
                error_type=1000,
            )
        raise QueryFailed(
            f"Permission denied on S3 path: s3://{params.get('Bucket')}/"
            f"{params.get('Key') or params.get('Prefix', '')}",
            error_type=1000,
        )

    def _require_context_database(self, execution: Execution) -> None:
        """QueryExecutionContext.Database "must exist in the catalog" (docs/aws-fidelity.md);
        `default` is Hive's, which its Glue client creates when missing (`_ddl`)."""
        if execution.database == "default":
            return
        glue, _ = self._clients(execution.region)
        try:
            glue.get_database(Name=execution.database)
        except glue.exceptions.EntityNotFoundException:
            raise QueryFailed(
                f"SCHEMA_NOT_FOUND: Schema '{execution.database}' does not exist (the query's "
                "QueryExecutionContext database)",
                error_type=1100,
            ) from None

    def _ddl(self, execution: Execution, statement: str, authorize: Authorizer | None) -> None:
        from genre_assets_emulator import hive

        if has_hive_comment(statement):
            # Athena's DDL parser: a comment fails the statement (docs/aws-fidelity.md).
            raise QueryFailed(
                "FAILED: ParseException line 1:0 cannot recognize input near '--' "
                "(the emulator, as Athena's DDL, accepts no SQL comment in DDL)",
                error_type=1100,
            )
        glue, s3 = self._clients(execution.region)
        # Hive's Glue client, as it starts, looks up the `default` database and creates it when
        # missing (docs/aws-fidelity.md): every DDL needs those rights on it.
        self._check(authorize, "GetDatabase", {"Name": "default"}, execution.region)
        try:
            glue.get_database(Name="default")
        except glue.exceptions.EntityNotFoundException:
            self._check(
                authorize,
                "CreateDatabase",
                {"DatabaseInput": {"Name": "default"}},
                execution.region,
            )
            glue.create_database(DatabaseInput={"Name": "default"})
        for kind, params in _ddl_accesses(statement, execution.database):
            self._check(authorize, kind, params, execution.region)
        try:
            hive.run_script(statement, glue)
        except hive.HiveError as error:
            raise QueryFailed(f"FAILED: {error}") from None
        self._write_result(execution, s3, b"", authorize)

    def _select(self, execution: Execution, statement: str, authorize: Authorizer | None) -> None:
        from genre_assets_emulator import presto_cli

        glue, s3 = self._clients(execution.region)
        catalog = "awsdatacatalog"
        try:
            tables = presto_cli.referenced_tables(statement, catalog, execution.database)
        except presto_cli.QueryError as error:
            raise QueryFailed(_trino_reason(str(error))) from None
        scanned = 0
        for database, name in tables:
            params = {"DatabaseName": database, "Name": name}
            self._check(authorize, "GetDatabase", {"Name": database}, execution.region)
            self._check(authorize, "GetTable", params, execution.region)
            self._check(
                authorize,
                "GetPartitions",
                {"DatabaseName": database, "TableName": name},
                execution.region,
            )
            try:
                table = glue.get_table(DatabaseName=database, Name=name)["Table"]
            except glue.exceptions.EntityNotFoundException:
                raise QueryFailed(
                    f"TABLE_NOT_FOUND: line 1:1: Table '{catalog}.{database}.{name}' does not exist"
                ) from None
            location = table.get("StorageDescriptor", {}).get("Location", "")
            bucket, prefix = split_s3_uri(location)
            prefix = prefix.rstrip("/") + "/" if prefix.strip("/") else ""
            self._check(
                authorize, "s3:ListBucket", {"Bucket": bucket, "Prefix": prefix}, execution.region
            )
            listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter="/")
            for item in listing.get("Contents", []):
                if item["Key"][len(prefix) :].startswith(("_", ".")):
                    continue
                self._check(
                    authorize,
                    "s3:GetObject",
                    {"Bucket": bucket, "Key": item["Key"]},
                    execution.region,
                )
                scanned += int(item["Size"])
        with tempfile.TemporaryDirectory(prefix="athena-") as workdir:
            try:
                text = presto_cli.run_query(
                    statement,
                    catalog=catalog,
                    # DuckDB, which plays Trino, cannot name a schema "default" (Athena's
                    # database when the query names none); its queries name their tables.
                    schema=None if execution.database == "default" else execution.database,
                    output_format="TSV_HEADER",
                    glue=glue,
                    s3=s3,
                    workdir=Path(workdir),
                    engine="trino",
                )
            except presto_cli.QueryError as error:
                raise QueryFailed(_trino_reason(str(error))) from None
        execution.bytes_scanned = scanned
        if execution.stop.is_set():
            return
        self._write_result(execution, s3, tsv_to_athena_csv(text), authorize)

    def _write_result(
        self, execution: Execution, s3: Any, data: bytes, authorize: Authorizer | None
    ) -> None:
        bucket, key = split_s3_uri(execution.output_location)
        self._check(
            authorize,
            "s3:GetBucketLocation",
            {"Bucket": bucket, "Output": execution.output_location},
            execution.region,
        )
        self._check(
            authorize,
            "s3:PutObject",
            {"Bucket": bucket, "Key": key, "Output": execution.output_location},
            execution.region,
        )
        if execution.stop.is_set():
            return
        s3.put_object(Bucket=bucket, Key=key, Body=data)


def execution_output(params: dict[str, Any]) -> str:
    return str(params.get("Output") or f"s3://{params.get('Bucket')}/{params.get('Key', '')}")


def hive_statements(text: str) -> list[str]:
    """The statements of `text` split at `;` outside Hive's strings and quoted names."""
    statements, current, quote = [], [], ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote != "`":
                current.append(text[i : i + 2])
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in ("'", '"', "`"):
            quote = ch
        elif ch == ";":
            statements.append("".join(current))
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    statements.append("".join(current))
    return statements


def has_hive_comment(statement: str) -> bool:
    """An SQL comment (`--` or `/*`) outside Hive's strings ('...' and "..." with backslash
    escapes) and quoted names (`...`)."""
    quote = ""
    i = 0
    while i < len(statement):
        ch = statement[i]
        if quote:
            if ch == "\\" and quote != "`":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in ("'", '"', "`"):
            quote = ch
        elif statement.startswith(("--", "/*"), i):
            return True
        i += 1
    return False


def _strip_leading_comments(statement: str) -> str:
    from genre_assets_emulator.presto_cli import _chunks

    text = []
    started = False
    for kind, chunk in _chunks(statement):
        if not started and (kind == "comment" or not chunk.strip()):
            continue
        started = True
        text.append(chunk)
    return "".join(text)


def _trino_reason(message: str) -> str:
    # Athena prefixes Trino's errors with their code (e.g. SYNTAX_ERROR); the emulator's
    # reasons are presto_cli's, with that prefix.
    return message if ":" in message.split(" ", 1)[0] else f"GENERIC_USER_ERROR: {message}"


def _ddl_accesses(statement: str, database: str) -> list[tuple[str, dict[str, Any]]]:
    """The Glue calls Athena makes for the caller for one DDL statement (docs/aws-fidelity.md)."""
    import sqlglot
    from sqlglot import exp

    try:
        parsed = sqlglot.parse_one(statement, read="hive")
    except sqlglot.errors.SqlglotError:
        return []  # the Hive emulation reports the syntax error
    kind = str(parsed.args.get("kind") or "").upper()
    if isinstance(parsed, exp.Create) and kind in ("DATABASE", "SCHEMA"):
        name = parsed.this.name if isinstance(parsed.this, exp.Expression) else str(parsed.this)
        return [("CreateDatabase", {"DatabaseInput": {"Name": name.lower()}})]
    table = parsed.find(exp.Table)
    if table is None:
        return []
    db = (table.db or database).lower()
    params = {"DatabaseName": db, "Name": table.name.lower()}
    if isinstance(parsed, exp.Drop):
        return [("GetTable", params), ("DeleteTable", params)]
    if isinstance(parsed, exp.Create):
        return [("CreateTable", {"DatabaseName": db, "TableInput": {"Name": table.name.lower()}})]
    return []


_UNESCAPES = {"0": "\0", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "\\": "\\"}


def _unescape_tsv(field_text: str) -> str:
    """presto-cli's TSV escaping undone (it is one-to-one: genre_assets.domain.tsv)."""
    if "\\" not in field_text:
        return field_text
    return re.sub(r"\\(.)", lambda m: _UNESCAPES.get(m.group(1), m.group(1)), field_text)


def tsv_to_athena_csv(tsv: str) -> bytes:
    """presto_cli's TSV_HEADER output as Athena writes the same rows: a header, each value in
    double quotes with `"` doubled, `\\n` after each row. The TSV cannot tell NULL from '', so
    both come out as `""` (Athena writes NULL as an unquoted empty field): see the fidelity
    notes."""
    out = []
    for line in tsv.split("\n")[:-1] if tsv else []:
        values = [_unescape_tsv(v) for v in line.split("\t")]
        out.append(",".join('"' + v.replace('"', '""') + '"' for v in values) + "\n")
    return "".join(out).encode("utf-8")
