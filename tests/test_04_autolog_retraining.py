"""Notebook 04: autolog of xgboost and scikit-learn (papermill, generated data), and the committed notebook (nbval, real data)."""

from __future__ import annotations

import mlflow
import pytest

from tests.mlflow_queries import by_name, logged_models, runs
from tests.support import EXPERIMENT, assert_nbval_passed


def test_04_autolog_xgboost_and_four_sklearn_runs(course_store):
    xgb_run = by_name(course_store, "xgboost-best-params")
    (parent,) = runs(course_store, EXPERIMENT, "tags.hyperopt_parent = 'true'")
    best_trial = course_store.get_run(parent.data.tags["best_run_id"])
    assert xgb_run.data.tags["retrained_from"] == best_trial.info.run_id
    for key in ("max_depth", "learning_rate", "min_child_weight"):
        assert float(xgb_run.data.params[key]) == pytest.approx(float(best_trial.data.params[key]))
    # the search used the whole month: the best trial's learning rate, up to 1000 rounds
    assert xgb_run.data.params["retrain_slowdown"] == "1"
    assert xgb_run.data.params["num_boost_round"] == "1000"
    history = course_store.get_metric_history(xgb_run.info.run_id, "validation-rmse")
    assert len(history) > 10
    artifacts = {f.path for f in course_store.list_artifacts(xgb_run.info.run_id)}
    assert {"feature_importance_weight.json", "preprocessor"} <= artifacts
    (model,) = logged_models(course_store, xgb_run)
    assert mlflow.pyfunc.load_model(model.model_uri).metadata.flavors.get("xgboost")

    for name in (
        "RandomForestRegressor",
        "GradientBoostingRegressor",
        "ExtraTreesRegressor",
        "LinearSVR",
    ):
        run = by_name(course_store, name)
        assert run.data.metrics["rmse"] > 0
        assert "training_score" in run.data.metrics  # autologged by mlflow.sklearn
    assert by_name(course_store, "RandomForestRegressor").data.params["n_estimators"] == "10"
    # the tuned xgboost clearly beats the linear model on the generated data
    lr = by_name(course_store, "linear-regression").data.metrics["rmse"]
    assert xgb_run.data.metrics["rmse"] < 0.9 * lr


def test_committed_notebook_reproduces_on_the_real_data(real_course):
    """nbval on the real files, after the notebooks before it in the same store (conftest)."""
    assert_nbval_passed(real_course.through("04"))
