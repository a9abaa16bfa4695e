"""A throwaway PostgreSQL server for the end-to-end tests, from Debian's `postgresql` package.

This module owns finding the server binaries (/usr/lib/postgresql/<version>/bin, where Debian
keeps them off PATH, else PATH), the rule for when they are missing (skip on a laptop, fail under
CI=true, where `make test` installs the package first) and one server's life: `initdb` into a
fresh temporary folder, a start on 127.0.0.1 on a free port with its socket in that folder, a
database owned by an ordinary password-protected role (as on Amazon RDS, not a superuser), a fast
shutdown and the folder deleted on exit, with no server process left behind.

The server is tuned for a test, not for keeping data: no fsync, no synchronous commit.
PostgreSQL refuses to run as root, so as root (CI) every server command runs as the `postgres`
system user that the Debian package creates, and the folder belongs to that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genre_assets_tests.e2e.stack import free_port
from genre_assets_tests.support.requirements import unavailable

DEBIAN_BINARIES = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"  # the system user of Debian's package, for running as root
INSTALL = "apt-get install -y --no-install-recommends postgresql"

# The role and database Dagster uses. The password has characters that must be URL-quoted in a
# connection string, so the test proves dagster-postgres quotes what it reads from the env.
ROLE = "genre_assets"
PASSWORD = "s3cret:/@?#%&"
DATABASE = "genre_assets_dagster"
SUPERUSER = "postgres"

# The variables deploy/dagster-postgres.yaml reads, by its `postgres_db` field.
DAGSTER_ENV = {
    "username": "DAGSTER_PG_USERNAME",
    "password": "DAGSTER_PG_PASSWORD",
    "hostname": "DAGSTER_PG_HOST",
    "db_name": "DAGSTER_PG_DB",
    "port": "DAGSTER_PG_PORT",
}


def server_binaries() -> Path | None:
    """The folder of initdb, pg_ctl and postgres: Debian's newest version, else PATH's."""
    debian = [
        path.parent
        for path in DEBIAN_BINARIES.glob("*/bin/initdb")
        if path.parent.parent.name.isdigit()
    ]
    if debian:
        return max(debian, key=lambda bindir: int(bindir.parent.name))
    on_path = shutil.which("initdb")
    if on_path is None:
        return None
    bindir = Path(os.path.realpath(on_path)).parent
    return bindir if (bindir / "pg_ctl").exists() else None


def postgres_unavailable() -> str | None:
    """Why a PostgreSQL server cannot be started here, or None when it can."""
    if server_binaries() is None:
        return (
            f"PostgreSQL server binaries (initdb, pg_ctl) not found in {DEBIAN_BINARIES}/*/bin "
            f"nor on PATH ({INSTALL}; `make test` does it when CI=true)"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root but there is no {SERVER_USER!r} user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root but runuser (util-linux) is not on PATH"
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg2 is not installed (pip install -e .: dagster-postgres brings it)"
    return None


def require_postgres() -> Path:
    """The server binaries' folder; skips the test when missing, but fails it when CI=true."""
    reason = postgres_unavailable()
    if reason is None:
        binaries = server_binaries()
        assert binaries is not None
        return binaries
    unavailable("the PostgreSQL test", reason)


class PostgresError(RuntimeError):
    pass


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    username: str
    password: str
    db_name: str
    socket_dir: Path
    log: Path

    def dagster_env(self) -> dict[str, str]:
        """The variables deploy/dagster-postgres.yaml reads, set for this server."""
        values = {
            "username": self.username,
            "password": self.password,
            "hostname": self.host,
            "db_name": self.db_name,
            "port": str(self.port),
        }
        return {DAGSTER_ENV[field]: value for field, value in values.items()}

    def connect(self) -> Any:
        """A psycopg2 connection as Dagster's role, over TCP (what Dagster uses); close it."""
        import psycopg2

        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.username,
            password=self.password,
            dbname=self.db_name,
            connect_timeout=10,
        )

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            connection.close()


def _as_server_user(argv: list[str]) -> list[str]:
    # runuser keeps the environment and needs no password (only root may use it).
    return ["runuser", "-u", SERVER_USER, "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    # cwd is the server's folder: initdb and pg_ctl fail when the server user cannot enter the
    # caller's working directory (e.g. a checkout under /root).
    return subprocess.run(
        _as_server_user(argv),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"<cannot read {path}: {error}>"


def _postmaster_pid(data: Path) -> int | None:
    try:
        return int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie left for a PID 1 that never reaps counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        # No /proc (not Linux): signal 0 says whether the process exists at all.
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _start(bindir: Path, root: Path, data: Path, log: Path, attempts: int = 3) -> int:
    """Start the server on a free port (another one if that was taken meanwhile); its port."""
    for attempt in range(attempts):
        port = free_port()
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={port}",
                f"-c unix_socket_directories={root}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        )
        started = _run(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w"]
            + ["-t", "60", "start"],
            cwd=root,
        )
        if started.returncode == 0:
            return port
        taken = "could not bind" in _tail(log) or "already in use" in _tail(log)
        if not taken or attempt == attempts - 1:
            raise PostgresError(
                f"pg_ctl start failed ({started.returncode}): {started.stdout}{started.stderr}\n"
                f"--- {log} ---\n{_tail(log)}"
            )
    raise AssertionError("unreachable")


def _stop(bindir: Path, root: Path, data: Path) -> None:
    """Fast shutdown (no waiting for clients); immediate, then SIGKILL, if that fails."""
    pid = _postmaster_pid(data)
    if pid is None:
        return
    pg_ctl = str(bindir / "pg_ctl")
    stopped = _run([pg_ctl, "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop"], cwd=root)
    if stopped.returncode != 0:
        _run([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "-t", "30", "stop"], cwd=root)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        # pg_ctl starts the postmaster in a session of its own: its group is the server's.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        time.sleep(0.5)
    if _alive(pid):
        raise PostgresError(f"the PostgreSQL server (pid {pid}) survived SIGKILL")


def _create_role_and_database(root: Path, port: int) -> None:
    """Dagster's role and database, made by the superuser over the server's Unix socket."""
    import psycopg2
    from psycopg2 import sql

    admin = psycopg2.connect(host=str(root), port=port, user=SUPERUSER, dbname="postgres")
    try:
        admin.autocommit = True  # CREATE DATABASE cannot run in a transaction
        with admin.cursor() as cursor:
            cursor.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(ROLE)),
                (PASSWORD,),
            )
            # The owner may create tables in its database's public schema; since PostgreSQL 15
            # other ordinary roles may not, so Dagster's role must own its database.
            cursor.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(DATABASE), sql.Identifier(ROLE)
                )
            )
    finally:
        admin.close()


@contextlib.contextmanager
def running_postgres(bindir: Path) -> Iterator[PostgresServer]:
    """A fresh server with Dagster's role and database; stopped and deleted on exit."""
    # Not under pytest's tmp folder: as root that sits in /tmp/pytest-of-root (mode 0700),
    # which the server user cannot enter.
    root = Path(tempfile.mkdtemp(prefix="genre-assets-postgres-"))
    data = root / "data"
    log = root / "server.log"
    try:
        if os.geteuid() == 0:
            user = pwd.getpwnam(SERVER_USER)
            os.chown(root, user.pw_uid, user.pw_gid)
        # Password logins over TCP (Dagster's path), trust on the socket in `root` (the setup).
        made = _run(
            [str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-E", "UTF8"]
            + ["--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"],
            cwd=root,
        )
        if made.returncode != 0:
            raise PostgresError(f"initdb failed ({made.returncode}): {made.stdout}{made.stderr}")
        port = _start(bindir, root, data, log)
        try:
            _create_role_and_database(root, port)
            yield PostgresServer(
                host="127.0.0.1",
                port=port,
                username=ROLE,
                password=PASSWORD,
                db_name=DATABASE,
                socket_dir=root,
                log=log,
            )
        finally:
            _stop(bindir, root, data)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def server_version(server: PostgresServer) -> str:
    """e.g. "15.14", for the timings summary."""
    (row,) = server.query("show server_version")
    return row[0].split()[0]
