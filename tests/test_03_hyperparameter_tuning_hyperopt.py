"""Notebook 03: hyperopt's and Optuna's searches as nested runs (papermill, generated data), and the committed notebook (nbval, real data)."""

from __future__ import annotations

import pytest

from tests.conftest import EXPERIMENT, assert_nbval_passed
from tests.mlflow_queries import runs


def test_03_one_child_run_per_trial_and_best_is_minimum(course_store):
    (parent,) = runs(course_store, EXPERIMENT, "tags.hyperopt_parent = 'true'")
    assert parent.data.params["max_evals"] == "4" and parent.data.params["search"] == "fast"
    trials = runs(course_store, EXPERIMENT, f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(trials) == 4
    for trial in trials:
        assert {"max_depth", "learning_rate", "reg_alpha", "reg_lambda", "min_child_weight"} <= set(
            trial.data.params
        )
        assert trial.data.params["objective"] == "reg:squarederror"
        assert trial.data.tags["data.source"] == "synthetic"
    best = min(trials, key=lambda r: r.data.metrics["rmse"])
    assert parent.data.tags["best_run_id"] == best.info.run_id
    assert parent.data.metrics["best_rmse"] == pytest.approx(best.data.metrics["rmse"])


def test_03_parent_runs_log_system_metrics(course_store):
    for tag in ("hyperopt_parent", "optuna_parent"):
        (parent,) = runs(course_store, EXPERIMENT, f"tags.{tag} = 'true'")
        system = {k for k in parent.data.metrics if k.startswith("system/")}
        assert {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"} <= (
            system
        ), (tag, sorted(system))


def test_03_optuna_search_nested_runs_best_and_seed(course_store):
    """Optuna's parent has one child per trial, its best_rmse is their minimum, and the seed
    gives the same trials again (replayed here with the logged rmse values, no training)."""
    import optuna

    from helpers import tuning

    (parent,) = runs(course_store, EXPERIMENT, "tags.optuna_parent = 'true'")
    assert parent.data.params["engine"] == "optuna" and parent.data.params["max_evals"] == "4"
    children = course_store.search_runs(
        [parent.info.experiment_id],
        f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        order_by=["attributes.start_time ASC"],
    )
    assert len(children) == 4
    rmses = [c.data.metrics["rmse"] for c in children]
    assert parent.data.metrics["best_rmse"] == pytest.approx(min(rmses))
    bounds = tuning.search_setup("fast").bounds
    logged = iter(children)

    def replay(trial):
        params = tuning.optuna_params(trial, bounds)
        child = next(logged)
        for name in bounds:
            assert float(child.data.params[name]) == pytest.approx(params[name]), name
        return child.data.metrics["rmse"]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=42))
    study.optimize(replay, n_trials=len(children))
    assert study.best_value == pytest.approx(min(rmses))


def test_committed_notebook_reproduces_on_the_real_data(real_course):
    """nbval on the real files, after the notebooks before it in the same store (conftest)."""
    assert_nbval_passed(real_course.through("03"))
