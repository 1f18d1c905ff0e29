"""Q5 of the homework (Q4 for 2023): tune a RandomForestRegressor, one MLflow run per trial.

    python hpo.py --data_path ./output --num_trials 15

The cohort decides the search: hyperopt's TPE with `rstate=np.random.default_rng(42)` (2022,
2024, 2025), or Optuna's `TPESampler(seed=42)` (2023), over the same space, for its number of
trials (50, 10 or 15). Every trial is a run of `random-forest-hyperopt` with the trial's
parameters and its validation RMSE as the metric `rmse`, logged by hand: no autolog here.
"""

from __future__ import annotations

import argparse
import os

import mlflow
import numpy as np
from cohorts import (
    COHORTS,
    Cohort,
    cohort_argument,
    connect,
    data_path_argument,
    load_pickle,
    tracking_arguments,
)
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import root_mean_squared_error

import helpers


def search_space(cohort: Cohort) -> dict:
    """hyperopt's space: each parameter a whole number between its bounds, then the fixed ones."""
    from hyperopt import hp
    from hyperopt.pyll import scope

    space = {
        name: scope.int(hp.quniform(name, low, high, 1))
        for name, (low, high) in cohort.space.items()
    }
    return {**space, **cohort.fixed_params}


def run_optimization(data_path: str, num_trials: int, cohort: Cohort, tags: dict) -> float:
    """Run the cohort's search; return the best validation RMSE."""
    train_path = os.path.join(data_path, "train.pkl")
    val_path = os.path.join(data_path, cohort.val_file)
    X_train, y_train = load_pickle(train_path)
    X_val, y_val = load_pickle(val_path)
    # the files as MLflow datasets, hashed once for all trials
    inputs = {
        "training": helpers.file_dataset(train_path),
        "validation": helpers.file_dataset(val_path),
    }

    def train_and_score(params: dict) -> float:
        with mlflow.start_run(tags=tags):
            for context, dataset in inputs.items():
                mlflow.log_input(dataset, context=context)
            mlflow.log_params(params)
            rf = RandomForestRegressor(**{"n_jobs": -1, **params})
            rf.fit(X_train, y_train)
            y_pred = rf.predict(X_val)
            rmse = root_mean_squared_error(y_val, y_pred)
            mlflow.log_metric("rmse", rmse)
        return rmse

    if cohort.search == "optuna":
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # no line per trial on stderr

        def objective(trial) -> float:
            params = {
                name: trial.suggest_int(name, low, high, step=1)
                for name, (low, high) in cohort.space.items()
            }
            return train_and_score({**params, **cohort.fixed_params})

        sampler = optuna.samplers.TPESampler(seed=cohort.seed)
        study = optuna.create_study(direction="minimize", sampler=sampler)
        study.optimize(objective, n_trials=num_trials)
        return study.best_value

    from hyperopt import STATUS_OK, Trials, fmin, tpe

    trials = Trials()
    fmin(
        fn=lambda params: {"loss": train_and_score(params), "status": STATUS_OK},
        space=search_space(cohort),
        algo=tpe.suggest,
        max_evals=num_trials,
        trials=trials,
        rstate=np.random.default_rng(cohort.seed),  # for reproducible results
        show_progressbar=False,
    )
    return min(trials.losses())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data_path_argument(parser)
    parser.add_argument(
        "--num_trials",
        "--num-trials",
        "--max_evals",  # the 2022 script's name
        type=int,
        default=None,
        help="evaluations of the search (default: the cohort's, 15; 10 for 2023, 50 for 2022)",
    )
    cohort_argument(parser)
    tracking_arguments(parser)
    args = parser.parse_args()
    cohort = COHORTS[args.cohort]
    tags = connect(args, cohort.hpo_experiment)
    num_trials = args.num_trials or cohort.num_trials
    best = run_optimization(args.data_path, num_trials, cohort, tags)
    print(f"{num_trials} trials ({cohort.search}); best validation RMSE {best:.4f}")


if __name__ == "__main__":
    main()
