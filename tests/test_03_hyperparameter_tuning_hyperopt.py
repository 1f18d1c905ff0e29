"""Notebook 03: hyperopt's and Optuna's searches as nested runs (papermill, generated data), and the committed notebook (nbval, real data)."""

from __future__ import annotations

import pytest

from tests.mlflow_queries import runs
from tests.support import EXPERIMENT, assert_nbval_passed


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


SYSTEM = {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"}


def system_metrics(parent) -> tuple[set[str], float]:
    """The parent run's system metrics, and how many seconds it ran."""
    seconds = (parent.info.end_time - parent.info.start_time) / 1000
    return {k for k in parent.data.metrics if k.startswith("system/")}, seconds


def check_sampling(client, parent) -> int:
    """One sample a second, as the notebook sets: the CPU samples on `parent` match its duration,
    and every system value is one a machine can show. Returns the number of samples.

    MLflow samples once a second and drops the sample of a run that ends first, so a run of
    `s` seconds has at most s + 1 samples, and at least s / 2 - 1 (the loop also reads the run
    between samples, which takes time on a busy machine): on 4000 generated trips a search can
    take under 3 s, and then at least the upper bound and the values are checked.
    """
    import psutil

    system, seconds = system_metrics(parent)
    cpu = client.get_metric_history(parent.info.run_id, "system/cpu_utilization_percentage")
    assert max(0, int(seconds / 2) - 1) <= len(cpu) <= seconds + 1, (len(cpu), f"{seconds:.1f} s")
    if cpu or seconds >= 3:
        assert SYSTEM <= system, (f"{seconds:.1f} s", sorted(system))
    for sample in cpu:
        assert 0 <= sample.value <= 100, sample
    ram_mb = psutil.virtual_memory().total / 1e6
    for sample in client.get_metric_history(
        parent.info.run_id, "system/system_memory_usage_megabytes"
    ):
        assert 0 < sample.value <= ram_mb * 1.05, sample
    return len(cpu)


def test_03_parent_runs_log_system_metrics(course_store):
    """Both parents are sampled once a second (check_sampling), whatever their duration."""
    for tag in ("hyperopt_parent", "optuna_parent"):
        (parent,) = runs(course_store, EXPERIMENT, f"tags.{tag} = 'true'")
        samples = check_sampling(course_store, parent)
        print(f"{tag}: {system_metrics(parent)[1]:.1f} s, {samples} CPU samples")


def test_committed_03_search_logs_system_metrics_on_the_real_data(real_course):
    """The hyperopt search of the committed notebook (about a minute on the real files) records
    CPU and memory on its parent run, one sample a second."""
    real_course.through("03")
    (parent,) = runs(real_course.client, "nyc-taxi-experiment", "tags.hyperopt_parent = 'true'")
    system, seconds = system_metrics(parent)
    assert seconds >= 10 and SYSTEM <= system, (f"{seconds:.1f} s", sorted(system))
    history = real_course.client.get_metric_history(
        parent.info.run_id, "system/cpu_utilization_percentage"
    )
    assert len(history) >= seconds / 4, (len(history), seconds)


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
