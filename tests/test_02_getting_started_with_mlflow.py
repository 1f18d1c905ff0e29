"""Notebook 02: runs with tags, params, datasets and artifacts (papermill, generated data), and the committed notebook (nbval, real data)."""

from __future__ import annotations

import pytest

from infra.notebooks import NotebookFailed
from tests.mlflow_queries import TRAIN_VALID, by_name, dataset_inputs, logged_models, runs
from tests.notebook_runner import run_papermill
from tests.support import EXPERIMENT, assert_nbval_passed


def test_02_one_run_per_model_with_tags_params_artifacts(course_store):
    model_runs = runs(course_store, EXPERIMENT, "tags.developer = 'course'")
    names = sorted(r.info.run_name for r in model_runs)
    assert names == sorted(
        [
            "linear-regression",
            "linear-regression-course-default",
            "lasso-alpha-0.01",
            "ridge-alpha-0.01",
            "lasso-alpha-1.0",
            "ridge-alpha-1.0",
        ]
    )
    for run in model_runs:
        assert run.data.tags["data.source"] == "synthetic"
        assert run.data.params["train_path"] == "green_tripdata_2023-01.parquet"
        assert run.data.metrics["rmse"] > 0
        assert [f.path for f in course_store.list_artifacts(run.info.run_id, "preprocessor")] == [
            "preprocessor/preprocessor.b"
        ]
        assert [m.name for m in logged_models(course_store, run)] == ["model"]
        # the estimator's name is a tag, as in notebooks 03-05, not a param
        assert run.data.tags["model"] in ("LinearRegression", "Lasso", "Ridge")
        assert "model" not in run.data.params
    assert by_name(course_store, "lasso-alpha-1.0").data.params["alpha"] == "1.0"
    assert by_name(course_store, "lasso-alpha-1.0").data.tags["model"] == "Lasso"
    # the solver's tolerance is logged: converged for the reference run, the course's default beside it
    assert by_name(course_store, "linear-regression").data.params["tol"] == "1e-10"
    assert by_name(course_store, "linear-regression-course-default").data.params["tol"] == "1e-06"
    assert by_name(course_store, "ridge-alpha-1.0").data.params["tol"] == "1e-10"
    # a linear model clearly beats predicting the mean
    baseline = runs(course_store, "test-intro", "tags.mlflow.runName = 'baseline-mean'")[0]
    baseline = baseline.data.metrics["rmse"]
    assert by_name(course_store, "linear-regression").data.metrics["rmse"] < 0.85 * baseline


def test_02_to_05_training_runs_log_their_months_as_datasets(course_store):
    training_runs = runs(course_store, EXPERIMENT, "tags.developer = 'course'")  # 02
    training_runs += runs(course_store, EXPERIMENT, "tags.hyperopt_parent = 'true'")  # 03
    training_runs += runs(course_store, EXPERIMENT, "tags.optuna_parent = 'true'")  # 03
    training_runs += [by_name(course_store, "xgboost-best-params")]  # 04
    training_runs += [by_name(course_store, "RandomForestRegressor")]  # 04
    (parent,) = runs(course_store, EXPERIMENT, "tags.hyperopt_parent = 'true'")
    training_runs += runs(
        course_store, EXPERIMENT, f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    training_runs += runs(course_store, EXPERIMENT, "tags.packaging = 'pyfunc'")  # 05
    assert len(training_runs) == 6 + 2 + 2 + 4 + 2  # 02's models, 03's parents, 04, 03's trials, 05
    for run in training_runs:
        assert dataset_inputs(run) == TRAIN_VALID, run.info.run_name
    # the digest is the data's: the generated months differ, so do their digests
    (lr,) = [r for r in training_runs if r.info.run_name == "linear-regression"]
    digests = {d.dataset.name: d.dataset.digest for d in lr.inputs.dataset_inputs}
    assert len(set(digests.values())) == 2


def test_committed_notebook_reproduces_on_the_real_data(real_course):
    """nbval on the real files, after the notebooks before it in the same store (conftest)."""
    assert_nbval_passed(real_course.through("02"))


def test_02_a_mistyped_tracking_uri_stops_at_the_set_up_cell(tmp_path):
    """The set-up cell checks the URI before MLflow sees it: a typo names the scheme and the fix."""
    with pytest.raises(NotebookFailed) as failed:
        run_papermill("02", tmp_path, TRACKING_URI=f"sqlte:///{tmp_path / 'mlflow.db'}")
    assert failed.value.ename == "TrackingUriError"
    assert "unknown scheme 'sqlte'" in failed.value.evalue
    assert "Did you mean sqlite://?" in failed.value.evalue
    assert not (tmp_path / "mlflow.db").exists()
