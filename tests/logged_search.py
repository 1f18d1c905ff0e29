"""Notebook 03's search logged through an MlflowClient, for tests/test_search_faults.py.

It lives with the test that uses it, not in helpers/: the notebook shows its own search, and this
copy exists to observe what a dying tracking server does to a search that logs to it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from helpers.tuning import SearchSetup, train_trial


@dataclass
class SearchResult:
    """A finished search: its parent run, the trials run and the best of them (03)."""

    parent_run_id: str
    trials: int
    best_rmse: float
    best_params: dict


def _server_error(uri: str, exc: Exception, logged: list[str], parent_run_id: str | None):
    """A TrackingServerError naming the server when it no longer answers, else None."""
    from helpers.tracking import TrackingServerError, check_tracking_server

    if not uri.startswith(("http://", "https://")):
        return None
    try:
        check_tracking_server(uri, timeout=2)
    except TrackingServerError:
        parent = f" The search's parent run {parent_run_id} stays RUNNING." if parent_run_id else ""
        return TrackingServerError(
            f"The MLflow tracking server at {uri} stopped answering during the search, after "
            f"{len(logged)} trial(s) were logged ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200]}). Those runs are safe in the server's store.{parent} "
            f"Start the server again (same --backend-store-uri) and rerun the search: it logs "
            f"into the same experiment."
        )
    return None


def run_logged_search(
    tracking_uri: str,
    experiment_id: str,
    setup: SearchSetup,
    dtrain,
    dvalid,
    *,
    max_evals: int,
    num_boost_round: int | None = None,
    seed: int = 42,
    tags: dict[str, str] | None = None,
    on_trial_end=None,
) -> SearchResult:
    """Notebook 03's search: one parent run, one child run per hyperopt trial with its params and
    `rmse`, through an MlflowClient (no process-wide active run is left behind on failure) (03).

    If the tracking server stops answering, the search stops at the next trial with a
    TrackingServerError that names the server; the trials already logged stay in its store.
    Set MLflow's HTTP client to fail fast first (helpers.setup_mlflow does it for a server), or
    it retries for about 4 minutes. `on_trial_end(trial_number, run_id, rmse)` is called after
    each trial is logged.
    """
    from hyperopt import STATUS_OK, Trials, fmin, tpe
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

    client = MlflowClient(tracking_uri)
    tags = dict(tags or {})
    rounds = num_boost_round or setup.num_boost_round
    logged: list[str] = []
    parent_id = None

    def objective(params: dict) -> dict:
        run = client.create_run(
            experiment_id,
            tags={
                **tags,
                "model": "xgboost",
                "search": setup.name,
                MLFLOW_PARENT_RUN_ID: parent_id,
            },
        )
        booster, rmse = train_trial(setup, params, dtrain, dvalid, rounds)
        now = int(time.time() * 1000)
        client.log_batch(
            run.info.run_id,
            metrics=[
                Metric("rmse", rmse, now, 0),
                Metric("best_iteration", booster.best_iteration, now, 0),
            ],
            params=[Param(k, str(v)) for k, v in {**params, "features": setup.features}.items()],
        )
        client.set_terminated(run.info.run_id)
        logged.append(run.info.run_id)
        if on_trial_end is not None:
            on_trial_end(len(logged), run.info.run_id, rmse)
        return {"loss": rmse, "status": STATUS_OK}

    try:
        parent = client.create_run(
            experiment_id,
            tags={
                **tags,
                "hyperopt_parent": "true",
                "search": setup.name,
                MLFLOW_RUN_NAME: f"hyperopt-{setup.name}",
            },
        )
        parent_id = parent.info.run_id
        client.log_batch(
            parent_id,
            params=[
                Param("search", setup.name),
                Param("max_evals", str(max_evals)),
                Param("features", setup.features),
                Param("num_boost_round", str(rounds)),
            ],
        )
        trials = Trials()
        best = fmin(
            objective,
            setup.space,
            algo=tpe.suggest,
            max_evals=max_evals,
            trials=trials,
            rstate=np.random.default_rng(seed),
            show_progressbar=False,
        )
        best_rmse = min(trials.losses())
        client.log_metric(parent_id, "best_rmse", best_rmse)
        client.set_terminated(parent_id)
    except Exception as exc:
        error = _server_error(tracking_uri, exc, logged, parent_id)
        if error is None:
            raise
        raise error from exc
    from hyperopt import space_eval

    return SearchResult(parent_id, len(trials.trials), best_rmse, space_eval(setup.space, best))
