"""Notebook 05: one pyfunc model from raw trips, logged as code (papermill, generated data), and the committed notebook (nbval, real data)."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest

from helpers import models
from tests.mlflow_queries import model_of, runs, trips
from tests.notebook_runner import notebook_text
from tests.support import EXPERIMENT, assert_nbval_passed


def test_05_one_pyfunc_model_per_kind_from_raw_trips(store):
    client = store["client"]
    packaged = runs(client, EXPERIMENT, "tags.packaging = 'pyfunc'")
    assert sorted(r.data.tags["model"] for r in packaged) == ["LinearRegression", "xgboost"]
    sample = trips(store).head(50)
    for run in packaged:
        assert run.data.tags["data.source"] == "synthetic"
        assert run.data.tags["data.valid_path"].endswith("green_tripdata_2023-02.parquet")
        source = client.get_run(run.data.tags["packaged_from"])
        assert run.data.metrics["rmse"] == pytest.approx(source.data.metrics["rmse"], abs=1e-4)
        model = model_of(client, run)
        assert model.name == "model"
        loaded = mlflow.pyfunc.load_model(model.model_uri)
        assert loaded.metadata.get_input_schema().input_names() == models.INPUT_COLUMNS
        minutes = loaded.predict(sample)
        assert minutes.shape == (50,) and np.all(np.isfinite(minutes)) and 1 < minutes.mean() < 60
        assert "python_function" in loaded.metadata.flavors
    lr = next(r for r in packaged if r.data.tags["model"] == "LinearRegression")
    assert client.get_run(lr.data.tags["packaged_from"]).info.run_name == "linear-regression"
    text = notebook_text(store["nb"]["05"])
    assert "rejected: Model is missing inputs ['DOLocationID']" in text
    # models from code: the model's file is shown and stored, no Python object is cloudpickled
    assert "set_model(TripDurationModel())" in text and "trip_model.py" in text
    assert "CloudPickle" not in text and "python_model.pkl" not in text


def test_05_booster_logged_with_the_xgboost_flavour_loads_both_ways(store):
    """The course's way: the booster itself as an MLflow model, loaded back as xgboost and as
    pyfunc, predicting the same minutes as the packaged model of the same run."""
    import xgboost as xgb

    client = store["client"]
    (run,) = runs(client, EXPERIMENT, "tags.mlflow.runName = 'xgboost-flavor'")
    assert run.data.tags["model"] == "xgboost"
    source = client.get_run(run.data.tags["logged_from"])
    assert source.info.run_name == "xgboost-best-params"
    assert {d.dataset.name for d in run.inputs.dataset_inputs} == {
        "green_tripdata_2023-01",
        "green_tripdata_2023-02",
    }
    model = model_of(client, run)
    assert model.name == "model"
    booster = mlflow.xgboost.load_model(model.model_uri)
    pyfunc = mlflow.pyfunc.load_model(model.model_uri)
    assert isinstance(booster, xgb.Booster)
    assert set(pyfunc.metadata.flavors) == {"xgboost", "python_function"}
    sample = trips(store).head(50)
    features = sample[models.INPUT_COLUMNS].astype("float32")
    by_xgboost = booster.predict(xgb.DMatrix(features))
    np.testing.assert_allclose(pyfunc.predict(features), by_xgboost, rtol=1e-6)
    # the same booster as the packaged model, which builds these features from raw trips itself
    (packaged,) = runs(client, EXPERIMENT, "tags.packaging = 'pyfunc' and tags.model = 'xgboost'")
    raw = mlflow.pyfunc.load_model(model_of(client, packaged).model_uri).predict(sample)
    np.testing.assert_allclose(raw, by_xgboost, rtol=1e-5)
    text = notebook_text(store["nb"]["05"])
    assert "Booster and PyFuncModel predict the same minutes" in text


def test_committed_notebook_reproduces_on_the_real_data(real_course):
    """nbval on the real files, after the notebooks before it in the same store (conftest)."""
    assert_nbval_passed(real_course.through("05"))
