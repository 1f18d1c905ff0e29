"""What the notebooks leave in MLflow, looked up the same way by every notebook's tests."""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow import MlflowClient

import helpers
from helpers import models
from tests.support import EXPERIMENT


def runs(client: MlflowClient, experiment: str, filter_string: str = "") -> list:
    """The runs of `experiment` (which must exist) matching `filter_string`, best rmse first."""
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"experiment {experiment!r} missing"
    return client.search_runs([exp.experiment_id], filter_string, order_by=["metrics.rmse ASC"])


def logged_models(client: MlflowClient, run) -> list:
    """The models logged by `run` (in the tracking store MLflow points at)."""
    return mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
        output_format="list",
    )


def model_of(client: MlflowClient, run):
    """The one model logged by `run`."""
    (model,) = logged_models(client, run)
    return model


def by_name(client: MlflowClient, name: str):
    """The one run of the course's experiment named `name`."""
    (run,) = runs(client, EXPERIMENT, f"tags.mlflow.runName = '{name}'")
    return run


def dataset_inputs(run) -> dict[str, str]:
    """A run's dataset inputs as {context: dataset name}."""
    found = {}
    for dataset_input in run.inputs.dataset_inputs:
        tags = {t.key: t.value for t in dataset_input.tags}
        found[tags.get("mlflow.data.context", "(no context)")] = dataset_input.dataset.name
    return found


TRAIN_VALID = {"training": "green_tripdata_2023-01", "validation": "green_tripdata_2023-02"}


def trips(store: dict, month: str = "2023-03") -> pd.DataFrame:
    """The model's input: raw trips of a generated month of the chain's data folder."""
    m = helpers.load_month("green", month, "synthetic", store["root"] / "data", 4000)
    return models.raw_trips(m.df)
