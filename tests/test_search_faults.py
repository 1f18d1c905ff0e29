"""The tracking server dies in the middle of a search that logs to it (notebook 03's search, small).

What a learner checks: the search stops within seconds with an error that names the server (not
after MLflow's default 4 minutes of retries); the trials logged before the crash are intact in
the store; once the server is started again on the same store, a rerun completes into it.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import time

import pytest
from mlflow import MlflowClient

from helpers import tracking, tuning
from helpers.synthetic import write_synthetic_month
from infra import servers, stores
from tests.logged_search import run_logged_search

ROWS = 3_000
KILL_AFTER = 2  # trials logged before the server is killed


@pytest.fixture
def fail_fast(monkeypatch):
    """MLflow's HTTP client as helpers.setup_mlflow leaves it for a server (FAIL_FAST_HTTP)."""
    for key, value in tracking.FAIL_FAST_HTTP.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="module")
def matrices(tmp_path_factory):
    import helpers

    folder = tmp_path_factory.mktemp("search-faults-data")
    frames = {}
    for month in ("2023-01", "2023-02"):
        path = folder / f"green_tripdata_{month}.parquet"
        frames[month] = helpers.read_dataframe(write_synthetic_month(path, "green", month, ROWS))
    fast = tuning.search_setup("fast")  # notebook 03's default, with fewer rounds and 1 thread
    setup = dataclasses.replace(
        fast,
        num_boost_round=20,
        early_stopping_rounds=5,
        extra_params={**fast.extra_params, "nthread": 1},
    )
    pre = tuning.make_features(setup.features, frames["2023-01"])
    dtrain, dvalid = tuning.make_dmatrices(pre, frames["2023-01"], frames["2023-02"])
    return setup, dtrain, dvalid


def child_runs(client: MlflowClient, experiment_id: str) -> list:
    """The trials: runs with a parent (a filter `!= 'true'` would skip runs without the tag)."""
    runs = client.search_runs([experiment_id], max_results=1000)
    return [r for r in runs if "mlflow.parentRunId" in r.data.tags]


def kill(server: servers.MlflowServer) -> None:
    """SIGKILL to the server and its workers: a crash, not a clean stop."""
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(10)


def test_server_killed_mid_search_fails_fast_keeps_runs_and_a_rerun_completes(
    matrices, tmp_path, fail_fast
):
    setup, dtrain, dvalid = matrices
    db = tmp_path / "mlflow.db"
    store = stores.prepare_sqlite(db)
    server = servers.start_mlflow_server(store, tmp_path / "artifacts", tmp_path, name="first")
    experiment_id = MlflowClient(server.url).create_experiment("search-faults")
    logged: dict[str, float] = {}
    killed_at: list[float] = []

    def crash_after_two(trial: int, run_id: str, rmse: float) -> None:
        logged[run_id] = rmse
        if trial == KILL_AFTER:
            kill(server)
            killed_at.append(time.monotonic())

    try:
        with pytest.raises(tracking.TrackingServerError) as err:
            run_logged_search(
                server.url, experiment_id, setup, dtrain, dvalid, max_evals=6,
                on_trial_end=crash_after_two,
            )  # fmt: skip
        seconds_to_fail = time.monotonic() - killed_at[0]
    finally:
        server.stop()
    message = str(err.value)
    print(f"failed {seconds_to_fail:.1f} s after the kill: {message}")
    assert server.url in message and "stopped answering" in message
    assert f"after {KILL_AFTER} trial(s) were logged" in message
    assert "Start the server again" in message  # says what to do
    assert seconds_to_fail < 20, f"took {seconds_to_fail:.1f} s to give up"

    # the store, read directly: intact, with the trials logged before the kill
    with sqlite3.connect(db) as conn:
        assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
    local = MlflowClient(store)
    trials = child_runs(local, experiment_id)
    assert {r.info.run_id: r.data.metrics["rmse"] for r in trials} == pytest.approx(logged)
    assert len(trials) == KILL_AFTER
    for run in trials:
        assert run.info.status == "FINISHED"
        assert {"max_depth", "learning_rate", "features"} <= set(run.data.params)

    # restarted on the same store: a rerun completes into the same experiment
    again = servers.start_mlflow_server(store, tmp_path / "artifacts", tmp_path, name="second")
    try:
        result = run_logged_search(again.url, experiment_id, setup, dtrain, dvalid, max_evals=3)
    finally:
        again.stop()
    parents = local.search_runs([experiment_id], "tags.hyperopt_parent = 'true'")
    assert len(parents) == 2
    rerun = local.get_run(result.parent_run_id)
    assert rerun.info.status == "FINISHED" and result.trials == 3
    assert rerun.data.metrics["best_rmse"] == pytest.approx(result.best_rmse)
    children = local.search_runs(
        [experiment_id], f"tags.mlflow.parentRunId = '{result.parent_run_id}'"
    )
    assert len(children) == 3 and all(r.info.status == "FINISHED" for r in children)
    assert len(child_runs(local, experiment_id)) == KILL_AFTER + 3  # the first trials are kept


def test_without_fail_fast_settings_mlflow_would_retry_for_minutes():
    """The reason for FAIL_FAST_HTTP: MLflow's own defaults (7 retries, backoff factor 2)."""
    from mlflow.environment_variables import (
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES,
    )

    assert MLFLOW_HTTP_REQUEST_MAX_RETRIES.default >= 5
    assert MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR.default >= 2
    assert int(tracking.FAIL_FAST_HTTP["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]) <= 2
