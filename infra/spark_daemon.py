"""Spark's Python daemon, with the trial's libraries imported once before it forks workers (09).

hyperopt's SparkTrials runs each trial as a Spark task that ignores its input partition, so Spark
cannot hand the Python worker back for reuse: every trial gets a freshly forked worker, which
imports xgboost and mlflow again (about 2.5 s on a 2-core machine). Spark forks its workers from
this daemon when `spark.python.daemon.module` names it: modules imported here are already in
memory in every worker. `start_local_spark(preload=...)` sets it up; the modules to import come
from the environment variable HELPERS_SPARK_PRELOAD (comma-separated).
"""

from __future__ import annotations

import importlib
import os


def preload() -> list[str]:
    """Import the modules named in $HELPERS_SPARK_PRELOAD; return their names (09)."""
    names = [n.strip() for n in os.environ.get("HELPERS_SPARK_PRELOAD", "").split(",") if n.strip()]
    for name in names:
        importlib.import_module(name)
    return names


if __name__ == "__main__":
    preload()
    from pyspark import daemon

    daemon.manager()
