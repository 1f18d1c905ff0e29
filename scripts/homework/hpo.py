"""Q5 of the homework: tune a RandomForestRegressor with hyperopt, one MLflow run per trial.

    python scripts/homework/hpo.py --data-path build/homework/output --tracking-uri http://127.0.0.1:5000

Every trial is a run of the experiment `random-forest-hyperopt` with the trial's parameters and
its validation RMSE as the metric `rmse` (logged by hand: no autolog here).
"""

from __future__ import annotations

import argparse
import os
import pickle

import mlflow
import numpy as np
from hyperopt import STATUS_OK, Trials, fmin, hp, tpe
from hyperopt.pyll import scope
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import root_mean_squared_error

import helpers
from helpers.tuning import RANDOM_FOREST_SPACE

EXPERIMENT_NAME = "random-forest-hyperopt"
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


def search_space() -> dict:
    """max_depth 1-20, n_estimators 10-50, min_samples_split 2-10, min_samples_leaf 1-4."""
    space = {
        name: scope.int(hp.quniform(name, low, high, 1))
        for name, (low, high) in RANDOM_FOREST_SPACE.items()
    }
    space["random_state"] = 42
    return space


def run_optimization(data_path: str, num_trials: int, tags: dict[str, str]) -> Trials:
    train_path, val_path = (os.path.join(data_path, f) for f in ("train.pkl", "val.pkl"))
    X_train, y_train = load_pickle(train_path)
    X_val, y_val = load_pickle(val_path)
    # the files as MLflow datasets, hashed once for all trials
    inputs = {
        "training": helpers.file_dataset(train_path),
        "validation": helpers.file_dataset(val_path),
    }

    def objective(params: dict) -> dict:
        with mlflow.start_run(tags=tags):
            for context, dataset in inputs.items():
                mlflow.log_input(dataset, context=context)
            mlflow.log_params(params)
            rf = RandomForestRegressor(**params, n_jobs=-1)
            rf.fit(X_train, y_train)
            y_pred = rf.predict(X_val)
            rmse = root_mean_squared_error(y_val, y_pred)
            mlflow.log_metric("rmse", rmse)
        return {"loss": rmse, "status": STATUS_OK}

    rstate = np.random.default_rng(42)  # for reproducible results
    trials = Trials()
    fmin(
        fn=objective,
        space=search_space(),
        algo=tpe.suggest,
        max_evals=num_trials,
        trials=trials,
        rstate=rstate,
        show_progressbar=False,
    )
    return trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-path",
        default=str(helpers.repo_root() / "build" / "homework" / "output"),
        help="folder of the files preprocess_data.py wrote (default: build/homework/output)",
    )
    parser.add_argument(
        "--num-trials", type=int, default=15, help="hyperopt evaluations (the homework's 15)"
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
        help="a tag for every run, e.g. where the data came from (repeatable)",
    )
    args = parser.parse_args()

    check_server(args.tracking_uri)
    mlflow.set_tracking_uri(args.tracking_uri)
    mlflow.set_experiment(args.experiment_name)
    tags = dict(tag.split("=", 1) for tag in args.tag)
    trials = run_optimization(
        args.data_path, args.num_trials, {**tags, "model": "RandomForestRegressor"}
    )
    print(f"{len(trials.trials)} trials; best validation RMSE {min(trials.losses()):.3f}")


if __name__ == "__main__":
    main()
