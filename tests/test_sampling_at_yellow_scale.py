"""At yellow-taxi scale: a month bigger than MAX_TRIPS is fitted on a seeded sample, and says so.

A real yellow month has 3 million trips; here a generated month of 4000 rows stands for it, with
MAX_TRIPS below its size, so the notebooks take the same path they take on a yellow month
(README, "The course at yellow-taxi scale"; its times come from `make benchmark`, not from here).
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from sklearn.metrics import root_mean_squared_error

import helpers
from helpers import tuning
from tests.mlflow_queries import runs
from tests.notebook_runner import run_papermill
from tests.support import NOTEBOOK_ENV, SMALL

MAX_TRIPS = 1500
EXPERIMENT = "test-at-scale"


def test_sample_month_is_seeded_and_leaves_small_months_alone(tmp_path):
    month = helpers.load_month("yellow", "2023-01", "synthetic", tmp_path, synthetic_rows=4000)
    first = helpers.sample_month(month, MAX_TRIPS)
    again = helpers.sample_month(month, MAX_TRIPS)
    assert len(first.df) == MAX_TRIPS and first.sampled
    assert first.trips_in_month == len(month.df) > MAX_TRIPS
    assert first.df.index.equals(again.df.index)  # the same trips every time
    assert first.df.index.isin(month.df.index).all()
    # a month that fits is the month itself: the green numbers cannot depend on MAX_TRIPS
    assert helpers.sample_month(month, len(month.df)) is month
    assert helpers.sample_month(month, None) is month
    tags = helpers.data_tags(train=first, valid=month)
    assert tags["data.train_sample"] == f"{MAX_TRIPS} of {len(month.df)} trips (seed 42)"
    assert "data.valid_sample" not in tags
    assert helpers.as_dataset(first).name == f"yellow_tripdata_2023-01-sample-{MAX_TRIPS}"
    with pytest.raises(ValueError, match="positive number of trips"):
        helpers.sample_month(month, 0)


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    """02, 03 and 04 on 4000 generated trips a month with MAX_TRIPS 1500 (03: a search on samples), into one store."""
    root = tmp_path_factory.mktemp("at-scale")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    common = {
        **SMALL,
        "DATA_DIR": str(root / "data"),
        "TRACKING_URI": uri,
        "EXPERIMENT_NAME": EXPERIMENT,
        "MAX_TRIPS": MAX_TRIPS,
    }
    run_papermill("02", root, NOTEBOOK_ENV, **common, ALPHAS=[1.0])
    run_papermill("03", root, NOTEBOOK_ENV, **common, MAX_EVALS=3, ENGINE="hyperopt")
    run_papermill("04", root, NOTEBOOK_ENV, **common, N_ESTIMATORS=5)
    mlflow.set_tracking_uri(uri)
    return mlflow.MlflowClient(uri)


def test_02_models_fit_on_the_sample_and_validate_on_the_whole_month(scaled):
    model_runs = runs(scaled, EXPERIMENT, "tags.developer = 'course'")
    assert len(model_runs) == 4  # two linear regressions, one Lasso, one Ridge
    for run in model_runs:
        tags = run.data.tags
        assert tags["data.train_sample"].startswith(f"{MAX_TRIPS} of ")
        assert "data.valid_sample" not in tags
        rows = {
            d.tags[0].value: json.loads(d.dataset.profile)["num_rows"]
            for d in run.inputs.dataset_inputs
        }
        assert rows["training"] == MAX_TRIPS and rows["validation"] > MAX_TRIPS


def test_03_searches_a_sample_with_fewer_rounds_and_says_so(scaled):
    (parent,) = runs(scaled, EXPERIMENT, "tags.hyperopt_parent = 'true'")
    assert parent.data.params["max_trips"] == str(MAX_TRIPS)
    assert parent.data.params["num_boost_round"] == "100"
    trials = runs(scaled, EXPERIMENT, f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(trials) == 3
    for trial in trials:
        assert trial.data.tags["data.train_sample"].startswith(f"{MAX_TRIPS} of ")
        assert trial.data.tags["data.valid_sample"].startswith(f"{MAX_TRIPS} of ")
        assert trial.data.metrics["best_iteration"] < 100


def test_04_retrains_the_best_on_every_trip_and_the_candidates_on_the_sample(scaled):
    (retrained,) = runs(scaled, EXPERIMENT, "tags.mlflow.runName = 'xgboost-best-params'")
    assert not any(k.endswith("_sample") for k in retrained.data.tags)
    month = helpers.load_month("green", "2023-01", "synthetic", None, synthetic_rows=4000)
    autologged = retrained.data.params  # xgboost.autolog: not the search's 100 rounds
    # after a search on samples: half the best trial's learning rate, up to twice 1000 rounds
    best = scaled.get_run(retrained.data.tags["retrained_from"])
    assert float(autologged["learning_rate"]) == pytest.approx(
        float(best.data.params["learning_rate"]) / 2
    )
    assert autologged["retrain_slowdown"] == "2"
    assert autologged["num_boost_round"] == "2000"
    assert len(month.df) > MAX_TRIPS
    # early stopping watched a sample of the validation month; the rmse is on all of it
    assert autologged["early_stopping_trips"] == str(MAX_TRIPS)
    valid = helpers.load_month("green", "2023-02", "synthetic", None, synthetic_rows=4000)
    assert len(valid.df) > MAX_TRIPS
    (model,) = mlflow.search_logged_models(
        filter_string=f"source_run_id = '{retrained.info.run_id}'",
        output_format="list",
        experiment_ids=[retrained.info.experiment_id],
    )
    booster = mlflow.xgboost.load_model(model.model_uri)
    local = scaled.download_artifacts(retrained.info.run_id, "preprocessor/preprocessor.b")
    preprocessor = pickle.loads(Path(local).read_bytes())
    rounds = int(retrained.data.metrics["best_iteration"]) + 1
    predicted = booster.predict(
        tuning.make_dmatrix(preprocessor, valid.df), iteration_range=(0, rounds)
    )
    rmse = root_mean_squared_error(helpers.target(valid.df), predicted)
    assert rmse == pytest.approx(retrained.data.metrics["rmse"], abs=1e-4)
    (forest,) = runs(scaled, EXPERIMENT, "tags.mlflow.runName = 'RandomForestRegressor'")
    assert forest.data.tags["data.train_sample"].startswith(f"{MAX_TRIPS} of ")


def test_homework_preprocessing_keeps_a_seeded_sample_of_each_month(tmp_path):
    script = helpers.repo_root() / "scripts" / "homework" / "preprocess_data.py"
    out = tmp_path / "output"
    args = [sys.executable, str(script), "--data-source", "synthetic", "--synthetic-rows", "4000"]
    args += ["--raw-data-path", str(tmp_path / "data"), "--dest-path", str(out)]
    done = subprocess.run([*args, "--max-trips", "1000"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "train: 1000 trips from green_tripdata_2023-01.parquet (synthetic, a seeded" in (
        done.stdout
    )
    for name in ("train.pkl", "val.pkl", "test.pkl"):
        X, y = pickle.loads((out / name).read_bytes())
        assert X.shape[0] == len(y) == 1000
    whole = subprocess.run(args, capture_output=True, text=True)  # no --max-trips: every trip
    assert whole.returncode == 0, whole.stderr
    X, _ = pickle.loads((out / "train.pkl").read_bytes())
    assert X.shape[0] > 1000 and "seeded sample" not in whole.stdout
