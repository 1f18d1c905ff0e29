"""The tracking server dies in the middle of notebook 03's own search (papermill, generated data).

Notebook 03 runs as a learner runs it, against an `mlflow server` started by infra.servers; once
two trials are in the server's store, the server is killed (SIGKILL: a crash, not a clean stop).
What a learner checks: the search's cell fails within seconds (helpers.setup_mlflow sets MLflow's
HTTP client to give up fast, not after its default minutes of retries) with an error that names
the server's address; the trials logged before the crash are intact in the store; once the
server is started again on the same store, the notebook runs to its end into the same experiment.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from helpers import tracking
from infra import servers, stores
from infra.notebooks import NotebookFailed
from tests.notebook_runner import run_papermill
from tests.support import NOTEBOOK_ENV

KILL_AFTER = 2  # trials in the store before the server is killed
EXPERIMENT = "search-faults"


def logged_trials(db: Path) -> int:
    """Trials (child runs) ended with their rmse in the sqlite store, read directly, read-only."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            (count,) = conn.execute(
                """select count(*) from runs r
                join tags t on t.run_uuid = r.run_uuid and t.key = 'mlflow.parentRunId'
                join latest_metrics m on m.run_uuid = r.run_uuid and m.key = 'rmse'
                where r.status = 'FINISHED'"""
            ).fetchone()
    except sqlite3.OperationalError:  # not created yet, or busy: ask again
        return 0
    return count


def kill_after_trials(server: servers.Server, db: Path, trials: int, killed: list[float]):
    """A watcher thread: SIGKILL to the server and its workers once `trials` trials are logged."""

    def watch() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and server.running:
            if logged_trials(db) >= trials:
                os.killpg(server.process.pid, signal.SIGKILL)
                server.process.wait(10)
                killed.append(time.monotonic())
                return
            time.sleep(0.1)

    thread = threading.Thread(target=watch, name="kill-the-server", daemon=True)
    thread.start()
    return thread


def notebook_03(workdir: Path, url: str, data_dir: Path, max_evals: int):
    """Notebook 03 under papermill: its hyperopt search on 3000 generated trips, logged to `url`."""
    workdir.mkdir(parents=True, exist_ok=True)
    return run_papermill(
        "03",
        workdir,
        NOTEBOOK_ENV,
        DATA_SOURCE="synthetic",
        SYNTHETIC_ROWS=3000,
        DATA_DIR=str(data_dir),
        TRACKING_URI=url,
        EXPERIMENT_NAME=EXPERIMENT,
        ENGINE="hyperopt",
        MAX_EVALS=max_evals,
        STOP_AFTER=None,
        NUM_BOOST_ROUND=200,
    )


def child_runs(client: MlflowClient, experiment_id: str) -> list:
    """The trials: runs with a parent (a filter `!= 'true'` would skip runs without the tag)."""
    runs = client.search_runs([experiment_id], max_results=1000)
    return [r for r in runs if "mlflow.parentRunId" in r.data.tags]


def test_server_killed_under_notebook_03s_search_fails_fast_keeps_runs_and_a_rerun_completes(
    tmp_path,
):
    db = tmp_path / "mlflow.db"
    store = stores.prepare_sqlite(db)
    data = tmp_path / "data"
    server = servers.start_mlflow_server(store, tmp_path / "artifacts", tmp_path, name="first")
    killed: list[float] = []
    watcher = kill_after_trials(server, db, KILL_AFTER, killed)
    try:
        with pytest.raises(NotebookFailed) as err:
            notebook_03(tmp_path / "first", server.url, data, max_evals=40)
        failed_at = time.monotonic()
    finally:
        watcher.join(10)
        server.stop()
    assert killed, "the search ended before the server was killed"
    seconds_to_fail = failed_at - killed[0]
    error = err.value
    print(f"failed {seconds_to_fail:.1f} s after the kill: {error.ename}: {error.evalue[:500]}")
    assert "fmin(" in error.source, "the failing cell is not the search"
    # what the learner reads under the cell: MLflow's error, naming the server and the refusal
    assert error.ename == "MlflowException"
    assert error.evalue.startswith(f"API request to {server.url}/api/2.0/mlflow/")
    assert "Connection refused" in error.evalue
    # 2 retries with backoff factor 1 (FAIL_FAST_HTTP): about 15 s on a busy 2-core machine;
    # MLflow's defaults (7 retries, factor 2) would keep the learner waiting for minutes
    assert seconds_to_fail < 40, f"took {seconds_to_fail:.1f} s to give up"

    # the store, read directly: intact, with the trials that ended before the kill
    with sqlite3.connect(db) as conn:
        assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
    local = MlflowClient(store)
    experiment_id = local.get_experiment_by_name(EXPERIMENT).experiment_id
    first = child_runs(local, experiment_id)
    done = [r for r in first if r.info.status == "FINISHED"]
    assert len(done) >= KILL_AFTER and len(first) - len(done) <= 1  # at most the one cut short
    for run in done:
        assert run.data.metrics["rmse"] > 0
        assert {"max_depth", "learning_rate", "features"} <= set(run.data.params)

    # started again on the same store: the notebook runs to its end into the same experiment
    again = servers.start_mlflow_server(store, tmp_path / "artifacts", tmp_path, name="second")
    try:
        notebook_03(tmp_path / "second", again.url, data, max_evals=3)
    finally:
        again.stop()
    parents = local.search_runs(
        [experiment_id], "tags.hyperopt_parent = 'true'", order_by=["attributes.start_time ASC"]
    )
    assert [p.info.status for p in parents] == ["RUNNING", "FINISHED"]  # the killed one stays
    children = local.search_runs(
        [experiment_id], f"tags.mlflow.parentRunId = '{parents[1].info.run_id}'"
    )
    assert len(children) == 3 and all(r.info.status == "FINISHED" for r in children)
    assert parents[1].data.metrics["best_rmse"] == pytest.approx(
        min(r.data.metrics["rmse"] for r in children)
    )
    assert len(child_runs(local, experiment_id)) == len(first) + 3  # the first trials are kept


def test_without_fail_fast_settings_mlflow_would_retry_for_minutes():
    """The reason for FAIL_FAST_HTTP: MLflow's own defaults (7 retries, backoff factor 2)."""
    from mlflow.environment_variables import (
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES,
    )

    assert MLFLOW_HTTP_REQUEST_MAX_RETRIES.default >= 5
    assert MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR.default >= 2
    assert int(tracking.FAIL_FAST_HTTP["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]) <= 2
