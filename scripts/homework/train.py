"""Q3 of the homework: a RandomForestRegressor on January, scored on February, with autolog.

    python scripts/homework/train.py --data-path build/homework/output --tracking-uri http://127.0.0.1:5000

`mlflow.sklearn.autolog()` records every parameter of the estimator, including the ones left at
their defaults (such as `min_samples_split`, the answer to Q3), and its training metrics.
"""

from __future__ import annotations

import argparse
import os
import pickle

import mlflow
import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import root_mean_squared_error

import helpers

EXPERIMENT_NAME = "random-forest-train"
START_SERVER = (
    "Start it (mlflow server --backend-store-uri sqlite:///mlflow.db "
    "--artifacts-destination ./artifacts) or pass --tracking-uri."
)


def load_pickle(path: str):
    if not os.path.exists(path):
        raise SystemExit(
            f"{path} does not exist: run scripts/homework/preprocess_data.py first (Q2)."
        )
    with open(path, "rb") as f_in:
        return pickle.load(f_in)


def check_server(tracking_uri: str) -> None:
    """Stop with a clear message when an http(s) tracking server does not answer."""
    try:
        helpers.check_tracking_server(tracking_uri, hint=START_SERVER)
    except helpers.TrackingServerError as exc:
        raise SystemExit(str(exc)) from None


def run_train(data_path: str, tags: dict[str, str]) -> None:
    train_path, val_path = (os.path.join(data_path, f) for f in ("train.pkl", "val.pkl"))
    X_train, y_train = load_pickle(train_path)
    X_val, y_val = load_pickle(val_path)

    # log_datasets=False: autolog would log a dense copy of the sparse training matrix as a
    # dataset; log_models=False: register_model.py logs the models
    mlflow.sklearn.autolog(log_datasets=False, log_models=False)
    with mlflow.start_run(run_name="rf-max-depth-10", tags=tags) as run:
        # instead, the files themselves as the run's datasets (the UI's Datasets column)
        mlflow.log_input(helpers.file_dataset(train_path), context="training")
        mlflow.log_input(helpers.file_dataset(val_path), context="validation")
        rf = RandomForestRegressor(max_depth=10, random_state=0, n_jobs=-1)
        # float32: autolog still makes a dense copy of the training matrix (MLflow 3.17 ties its
        # training metrics to a dataset, and hashes a flattened second copy of it): 2 x 3.0 GB
        # in float64 on a green month. The forest computes in float32 anyway (scikit-learn's trees
        # cast X to float32), so it is the same forest, and the copies take half the memory.
        rf.fit(X_train.astype(np.float32), y_train)
        y_pred = rf.predict(X_val)
        rmse = root_mean_squared_error(y_val, y_pred)
        mlflow.log_metric("rmse", rmse)

    params = mlflow.get_run(run.info.run_id).data.params
    print(f"run {run.info.run_id}: {len(params)} parameters autologged")
    print(f"min_samples_split={params['min_samples_split']}, validation RMSE {rmse:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-path",
        default=str(helpers.repo_root() / "build" / "homework" / "output"),
        help="folder of the files preprocess_data.py wrote (default: build/homework/output)",
    )
    parser.add_argument(
        "--tracking-uri",
        default=os.environ.get("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000"),
        help="the tracking server (default: $MLFLOW_TRACKING_URI, else http://127.0.0.1:5000)",
    )
    parser.add_argument("--experiment-name", default=EXPERIMENT_NAME)
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a tag for the run, e.g. where the data came from (repeatable)",
    )
    args = parser.parse_args()

    check_server(args.tracking_uri)
    mlflow.set_tracking_uri(args.tracking_uri)
    mlflow.set_experiment(args.experiment_name)
    tags = dict(tag.split("=", 1) for tag in args.tag)
    run_train(args.data_path, {**tags, "model": "RandomForestRegressor"})


if __name__ == "__main__":
    main()
