"""Q3 of the homework: a RandomForestRegressor on January, scored on February, with autolog.

    python train.py --data_path ./output

`mlflow.sklearn.autolog()` records every parameter of the estimator, including the ones left at
their defaults (`min_samples_split`, the 2024-2025 answer; their count, the 2022 one), and its
training metrics.
"""

from __future__ import annotations

import argparse
import os

import mlflow
import numpy as np
from cohorts import (
    COHORTS,
    cohort_argument,
    connect,
    data_path_argument,
    load_pickle,
    tracking_arguments,
)
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import root_mean_squared_error

import helpers


def run_train(data_path: str, cohort, tags: dict[str, str]) -> None:
    train_path = os.path.join(data_path, "train.pkl")
    val_path = os.path.join(data_path, cohort.val_file)
    X_train, y_train = load_pickle(train_path)
    X_val, y_val = load_pickle(val_path)

    # log_datasets=False: autolog would log a dense copy of the sparse training matrix as a
    # dataset; log_models=False: register_model.py logs the models
    mlflow.sklearn.autolog(log_datasets=False, log_models=False)
    with mlflow.start_run(tags=tags) as run:
        # instead, the files themselves as the run's datasets (the UI's Datasets column)
        mlflow.log_input(helpers.file_dataset(train_path), context="training")
        mlflow.log_input(helpers.file_dataset(val_path), context="validation")
        rf = RandomForestRegressor(**cohort.train_params, n_jobs=-1)
        # float32: the same forest (scikit-learn's trees compute in float32), and autolog's dense
        # copies of the training matrix take half the memory (docs/homework.md)
        rf.fit(X_train.astype(np.float32), y_train)
        y_pred = rf.predict(X_val)
        rmse = root_mean_squared_error(y_val, y_pred)
        mlflow.log_metric("rmse", rmse)

    params = mlflow.get_run(run.info.run_id).data.params
    print(f"{len(params)} parameters autologged; min_samples_split={params['min_samples_split']}, "
          f"max_depth={params['max_depth']}; validation RMSE {rmse:.4f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data_path_argument(parser)
    cohort_argument(parser)
    tracking_arguments(parser)
    args = parser.parse_args()
    cohort = COHORTS[args.cohort]
    tags = connect(args, cohort.train_experiment)
    run_train(args.data_path, cohort, tags)


if __name__ == "__main__":
    main()
