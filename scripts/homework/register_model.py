"""Q6 of the homework (Q5 for 2023): re-test the best trials on March, register the winner.

    python register_model.py --data_path ./output --top_n 5

Takes the `--top_n` runs of `random-forest-hyperopt` (of this cohort) with the lowest validation
`rmse`, retrains each in the experiment `random-forest-best-models`, scores it on the test month
(`test_rmse`), logs it as a model, and registers the one with the lowest `test_rmse` as a new
version of the cohort's model (`nyc-taxi-trip-duration`; `nyc-taxi-tip-amount` for 2023), with
the alias `champion` (aliases replace the old stages).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os

import mlflow
from cohorts import (
    COHORTS,
    Cohort,
    cohort_argument,
    connect,
    data_path_argument,
    load_pickle,
    tracking_arguments,
)
from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import root_mean_squared_error

import helpers

# the model is saved with skops (no pickle): loading it trusts only these types besides
# scikit-learn's and numpy's own
SKOPS_TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]
# what loading the model needs, pinned to the versions it was trained with
REQUIREMENTS = ["mlflow", "scikit-learn", "scipy", "numpy", "skops"]


def train_and_log_model(data_path: str, cohort: Cohort, params: dict, tags: dict) -> str:
    names = {"training": "train.pkl", "validation": cohort.val_file, "test": "test.pkl"}
    paths = {context: os.path.join(data_path, name) for context, name in names.items()}
    X_train, y_train = load_pickle(paths["training"])
    X_val, y_val = load_pickle(paths["validation"])
    X_test, y_test = load_pickle(paths["test"])

    # params and metrics are logged by hand: autolog would make a dense copy of the sparse
    # training matrix for every model
    with mlflow.start_run(tags=tags) as run:
        for context, path in paths.items():
            mlflow.log_input(helpers.file_dataset(path), context=context)
        new_params = {
            name: int(float(params[name])) for name in [*cohort.space, *cohort.fixed_params]
        }
        mlflow.log_params(new_params)
        rf = RandomForestRegressor(**{"n_jobs": -1, **new_params})
        rf.fit(X_train, y_train)

        val_rmse = root_mean_squared_error(y_val, rf.predict(X_val))
        test_rmse = root_mean_squared_error(y_test, rf.predict(X_test))
        mlflow.log_metrics({cohort.val_metric: val_rmse, "test_rmse": test_rmse})
        mlflow.sklearn.log_model(
            rf,
            name="model",
            signature=infer_signature(X_val[:5], rf.predict(X_val[:5])),
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            pip_requirements=[f"{p}=={importlib.metadata.version(p)}" for p in REQUIREMENTS],
        )
    return run.info.run_id


def run_register_model(data_path: str, top_n: int, cohort: Cohort, alias: str, tags: dict) -> None:
    client = MlflowClient()

    # the top_n trials of this cohort's search, by validation RMSE
    hpo_experiment = client.get_experiment_by_name(cohort.hpo_experiment)
    if hpo_experiment is None:
        raise SystemExit(f"No experiment {cohort.hpo_experiment!r}: run hpo.py first.")
    runs = client.search_runs(
        experiment_ids=[hpo_experiment.experiment_id],
        filter_string=f"metrics.rmse > 0 and tags.cohort = '{cohort.year}'",
        run_view_type=ViewType.ACTIVE_ONLY,
        max_results=top_n,
        order_by=["metrics.rmse ASC"],
    )
    if not runs:
        raise SystemExit(
            f"{cohort.hpo_experiment!r} has no run of the {cohort.year} cohort with an `rmse`: "
            f"run hpo.py --cohort {cohort.year} first."
        )
    run_ids = [
        train_and_log_model(
            data_path, cohort, run.data.params, {**tags, "hpo_run_id": run.info.run_id}
        )
        for run in runs
    ]

    # the best of those runs on the test month (not older runs of the experiment)
    experiment = client.get_experiment_by_name(cohort.best_experiment)
    ids = ", ".join(f"'{run_id}'" for run_id in run_ids)
    best_run = client.search_runs(
        experiment_ids=[experiment.experiment_id],
        filter_string=f"attributes.run_id IN ({ids})",
        order_by=["metrics.test_rmse ASC"],
        max_results=1,
    )[0]
    test_rmse = best_run.data.metrics["test_rmse"]

    # register its model (a LoggedModel, models:/m-<id>) and point the alias at the new version
    (model,) = mlflow.search_logged_models(
        experiment_ids=[experiment.experiment_id],
        filter_string=f"source_run_id = '{best_run.info.run_id}'",
        output_format="list",
    )
    name = cohort.registered_model
    version = mlflow.register_model(
        model.model_uri,
        name,
        tags={
            "cohort": str(cohort.year),
            "test_rmse": f"{test_rmse:.4f}",
            "val_rmse": f"{best_run.data.metrics[cohort.val_metric]:.4f}",
            "hpo_run_id": best_run.data.tags["hpo_run_id"],
        },
    )
    params = {p: int(v) for p, v in best_run.data.params.items()}
    client.update_model_version(
        name,
        version.version,
        description=f"RandomForestRegressor {params} predicting {cohort.target}; the best of the "
        f"top {len(run_ids)} trials of {cohort.hpo_experiment!r} on the test month "
        f"(RMSE {test_rmse:.4f}).",
    )
    client.set_registered_model_alias(name, alias, version.version)

    print(f"top {len(run_ids)} trials re-tested; best test RMSE {test_rmse:.4f}")
    print(f"registered {name!r} version {version.version} as @{alias}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data_path_argument(parser)
    parser.add_argument(
        "--top_n",
        "--top-n",
        type=int,
        default=5,
        help="trials to re-test on the test month (default 5)",
    )
    parser.add_argument("--alias", default="champion", help="alias of the registered version")
    cohort_argument(parser)
    tracking_arguments(parser)
    args = parser.parse_args()
    cohort = COHORTS[args.cohort]
    tags = connect(args, cohort.best_experiment)
    run_register_model(args.data_path, args.top_n, cohort, args.alias, tags)


if __name__ == "__main__":
    main()
