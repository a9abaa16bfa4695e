"""A session-scoped SparkSession with Hive support: Hive's own DDL handling, metastore and serde
classes (Hive 2.3.9 jars, opencsv 2.3) as the test oracle for the Hive side of the pipeline.

One JVM per pytest session: `local[1]`, an embedded Derby metastore and a warehouse in a tmp dir,
no UI, one shuffle partition, ERROR-only logging and JVM flags that favour start-up over peak speed
(ready in about 13 s on a 2-core machine).

Without a Java runtime or pyspark the tests skip, with the command that installs what is missing;
under CI (CI=true) they fail instead: `make test` installs both there, so a skip would hide a
missing install step.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from genre_assets_tests.support.requirements import unavailable

_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
# Hive/DataNucleus warn about missing metastore tables while Derby's schema is being created.
logger.datanucleus.name = DataNucleus
logger.datanucleus.level = off
logger.hive.name = org.apache.hadoop.hive
logger.hive.level = off
"""

# What to run when something is missing (Debian 12; `make test` does this itself under CI).
_INSTALL_JAVA = "apt-get install -y --no-install-recommends default-jre-headless"
_INSTALL_PYSPARK = "pip install -e '.[test]'  (pyspark==3.5.9)"
_LAUNCHER_ENVIRONMENT = (
    "JAVA_HOME",
    "SPARK_LOCAL_IP",
    "PYSPARK_PYTHON",
    "PYSPARK_DRIVER_PYTHON",
    "SPARK_HOME",
    "PYSPARK_SUBMIT_ARGS",
)


def _java_home() -> str | None:
    """JAVA_HOME when set, else derived from the `java` on PATH (/usr/bin/java -> .../bin/java).

    Java 8, 11 or 17: Spark 3.5 does not run on newer JDKs (do not point it at a Java 25)."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    if java is None:
        return None
    return str(Path(os.path.realpath(java)).parent.parent)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if importlib.util.find_spec("pyspark") is None:
        unavailable("the Hive tests", f"pyspark is not installed ({_INSTALL_PYSPARK})")
    java_home = _java_home()
    if java_home is None:
        unavailable("the Hive tests", f"no java on PATH and no JAVA_HOME ({_INSTALL_JAVA})")

    from pyspark.sql import SparkSession

    root = tmp_path_factory.mktemp("spark_hive")
    log4j = root / "log4j2.properties"
    log4j.write_text(_LOG4J2)

    # The environment the launcher (spark-submit inside the pip package) reads when the JVM
    # starts; put back as it was once the session is up, for the tests that run after these.
    saved = {name: os.environ.get(name) for name in _LAUNCHER_ENVIRONMENT}
    os.environ["JAVA_HOME"] = java_home
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"  # no hostname lookup, no "loopback address" warning
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ.pop("SPARK_HOME", None)  # the jars of the installed pyspark, not a stray install
    os.environ.pop("PYSPARK_SUBMIT_ARGS", None)

    java_options = " ".join(
        [
            f"-Dderby.system.home={root}",  # derby.log goes here, not into the cwd
            f"-Dlog4j2.configurationFile=file:{log4j}",
            "-XX:+UseSerialGC",  # small heap, one core: the cheapest collector to start
            "-XX:TieredStopAtLevel=1",  # C1 only: faster warm-up for a short test run
            "-Dderby.system.durability=test",  # no fsync in the throwaway metastore
            "-Xss4m",
        ]
    )
    try:
        session = _start_session(SparkSession, root, java_options)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    try:
        yield session
    finally:
        session.stop()


def _start_session(spark_session: Any, root: Path, java_options: str) -> Any:
    session = (
        spark_session.builder.master("local[1]")
        .appName("genre-assets-hive-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", "512m")
        .config("spark.driver.extraJavaOptions", java_options)
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(root / "warehouse"))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={root / 'metastore_db'};create=true",
        )
        .config("spark.hadoop.datanucleus.schema.autoCreateAll", "true")
        .config("spark.hadoop.hive.metastore.schema.verification", "false")
        .enableHiveSupport()
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    # The Hive client and the Derby metastore schema are created lazily, on the first catalog call.
    session.sql("SHOW DATABASES").collect()
    return session
