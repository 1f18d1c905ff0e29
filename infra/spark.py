"""A local Spark for hyperopt's SparkTrials: check Java first, then start quietly (notebook 09).

Spark runs in a Java virtual machine; pyspark 4 needs Java 17 or later. Nothing here downloads
anything: Java comes from the system's packages, Spark from the pinned `pyspark` wheel.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MIN_JAVA = 17

INSTALL_JAVA_HINT = f"""\
Spark needs a Java runtime, version {MIN_JAVA} or later. Install one, then run the notebook again:
  Debian/Ubuntu:  sudo apt-get install -y openjdk-17-jre-headless
  macOS:          brew install openjdk@17
  conda:          conda install -c conda-forge openjdk=17
(or set JAVA_HOME to the folder of a Java {MIN_JAVA}+ that is already installed)."""

# Spark's own logging (JVM side): errors only, to the console output that goes to spark.log
LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
"""


class SparkStartError(RuntimeError):
    """Spark did not start; the message ends with the tail of its console output."""


@dataclass(frozen=True)
class JavaRuntime:
    """The `java` Spark will use: its path and major version (09)."""

    path: str
    version: int
    description: str


def java_executable() -> str | None:
    """`$JAVA_HOME/bin/java` when JAVA_HOME is set (as Spark does), else `java` on the PATH (09)."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if candidate.exists() else None
    return shutil.which("java")


def _major(version_text: str) -> int | None:
    """17 from 'openjdk version "17.0.15" 2025-04-15', 8 from 'java version "1.8.0_392"'."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_text)
    if not match:
        return None
    first, second = int(match.group(1)), int(match.group(2) or 0)
    return second if first == 1 else first


def find_java() -> JavaRuntime | str:
    """The Java runtime Spark would use, or the reason there is none it can use (09)."""
    path = java_executable()
    if path is None:
        where = "$JAVA_HOME/bin/java" if os.environ.get("JAVA_HOME") else "`java` on the PATH"
        return f"no Java runtime found ({where} does not exist)"
    try:
        done = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{path} -version failed ({type(exc).__name__})"
    text = done.stderr + done.stdout
    version = _major(text)
    if done.returncode != 0 or version is None:
        return f"{path} -version failed: {text.strip()[:200]}"
    first_line = text.strip().splitlines()[0]
    if version < MIN_JAVA:
        return f"Java {version} found ({first_line}), but pyspark 4 needs Java {MIN_JAVA} or later"
    return JavaRuntime(path, version, first_line)


def master_cores(master: str) -> int | None:
    """Task slots of a local master: 2 for 'local[2]', all cores for 'local[*]'; None for a cluster (09)."""
    if master == "local":
        return 1
    match = re.fullmatch(r"local\[(\d+|\*)(?:,\s*\d+)?\]", master.strip())
    if not match:
        return None
    return (os.cpu_count() or 1) if match.group(1) == "*" else int(match.group(1))


def start_local_spark(
    master: str = "local[2]",
    app_name: str = "mlops-tuning",
    work_dir: str | os.PathLike = ".",
    preload: tuple[str, ...] = (),
) -> SparkSession:
    """A SparkSession on `master`, whose Python workers use this interpreter; quiet logs (09).

    Workers start `$PYSPARK_PYTHON` (default: `python3` on the PATH, which may lack hyperopt and
    xgboost), so it is set to this kernel's interpreter. The web UI and the console progress bars
    are off, the JVM logs errors only, its console output goes to `<work_dir>/spark.log`, and a
    local Spark binds to 127.0.0.1. `preload` names modules that Spark's Python daemon imports
    once, before it forks a worker for each task (see infra/spark_daemon.py).
    """
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    log_config = work_dir / "log4j2.properties"
    log_config.write_text(LOG4J2)
    local = master.startswith("local")
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # pyspark 4.3 has not caught up with pandas 3 (unused here); a SparkTrials thread gets no
    # session tags, which hyperopt does not use either
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    warnings.filterwarnings("ignore", message="Spark session is not provided")
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config(
            "spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log_config.as_uri()}"
        )
        .config("spark.local.dir", str(work_dir / "spark-tmp"))
    )
    if local:
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    if preload:
        builder = builder.config("spark.python.daemon.module", "infra.spark_daemon").config(
            "spark.executorEnv.HELPERS_SPARK_PRELOAD", ",".join(preload)
        )
    log_path = work_dir / "spark.log"
    try:
        with _console_to(log_path):
            spark = builder.getOrCreate()
    except Exception as exc:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
        raise SparkStartError(
            f"Spark did not start on {master} ({type(exc).__name__}: {exc}). "
            f"Its console output ({log_path.name}) ends with:\n{tail}"
        ) from exc
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@contextmanager
def _console_to(path: Path):
    """Point this process's stdout and stderr (file descriptors 1 and 2) at `path` meanwhile.

    The JVM that pyspark launches inherits them: its console output (and that of the Python
    workers it starts) goes to the file instead of the notebook's cells.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(path, "ab") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


__all__ = [
    "INSTALL_JAVA_HINT",
    "JavaRuntime",
    "MIN_JAVA",
    "SparkStartError",
    "find_java",
    "java_executable",
    "master_cores",
    "start_local_spark",
]
