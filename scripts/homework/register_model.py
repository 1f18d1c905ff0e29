"""Q6 of the homework: re-test the best trials on March and register the winner with an alias.

    python scripts/homework/register_model.py --data-path build/homework/output --tracking-uri http://127.0.0.1:5000

Takes the `--top-n` runs of `random-forest-hyperopt` with the lowest validation `rmse`, retrains
each in the experiment `random-forest-best-models`, scores it on the test month (`test_rmse`),
logs it as a model, and registers the one with the lowest `test_rmse` as a new version of
`nyc-taxi-random-forest`, with the alias `champion` (aliases replace the old stages).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import pickle

import mlflow
from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import root_mean_squared_error

import helpers

HPO_EXPERIMENT_NAME = "random-forest-hyperopt"
EXPERIMENT_NAME = "random-forest-best-models"
MODEL_NAME = "nyc-taxi-random-forest"
RF_PARAMS = ["max_depth", "n_estimators", "min_samples_split", "min_samples_leaf", "random_state"]
# the model is saved with skops (no pickle): loading it trusts only these types besides
# scikit-learn's and numpy's own
SKOPS_TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]
# what loading the model needs, pinned to the versions it was trained with
# the datasets of each run: the UI's context, then the file preprocess_data.py wrote
CONTEXTS = {"training": "train", "validation": "val", "test": "test"}
REQUIREMENTS = ["mlflow", "scikit-learn", "scipy", "numpy", "skops"]
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


def train_and_log_model(data_path: str, params: dict[str, str], tags: dict[str, str]) -> str:
    paths = {c: os.path.join(data_path, f"{n}.pkl") for c, n in CONTEXTS.items()}
    X_train, y_train = load_pickle(paths["training"])
    X_val, y_val = load_pickle(paths["validation"])
    X_test, y_test = load_pickle(paths["test"])

    # params and metrics are logged by hand: autolog would make a dense copy of the sparse
    # training matrix (3 GB on a real month) for every model
    with mlflow.start_run(tags=tags) as run:
        for context, path in paths.items():
            mlflow.log_input(helpers.file_dataset(path), context=context)
        new_params = {param: int(float(params[param])) for param in RF_PARAMS}
        mlflow.log_params(new_params)
        rf = RandomForestRegressor(**new_params, n_jobs=-1)
        rf.fit(X_train, y_train)

        val_rmse = root_mean_squared_error(y_val, rf.predict(X_val))
        test_rmse = root_mean_squared_error(y_test, rf.predict(X_test))
        mlflow.log_metrics({"rmse": val_rmse, "test_rmse": test_rmse})
        mlflow.sklearn.log_model(
            rf,
            name="model",
            signature=infer_signature(X_val[:5], rf.predict(X_val[:5])),
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            pip_requirements=[f"{p}=={importlib.metadata.version(p)}" for p in REQUIREMENTS],
        )
    return run.info.run_id


def run_register_model(data_path: str, top_n: int, alias: str, tags: dict[str, str]) -> None:
    client = MlflowClient()

    # the top_n trials of the search, by validation RMSE
    hpo_experiment = client.get_experiment_by_name(HPO_EXPERIMENT_NAME)
    if hpo_experiment is None:
        raise SystemExit(f"No experiment {HPO_EXPERIMENT_NAME!r}: run hpo.py first (Q5).")
    runs = client.search_runs(
        experiment_ids=[hpo_experiment.experiment_id],
        filter_string="metrics.rmse > 0",
        run_view_type=ViewType.ACTIVE_ONLY,
        max_results=top_n,
        order_by=["metrics.rmse ASC"],
    )
    if not runs:
        raise SystemExit(f"{HPO_EXPERIMENT_NAME!r} has no run with an `rmse`: run hpo.py first.")
    run_ids = [
        train_and_log_model(data_path, run.data.params, {**tags, "hpo_run_id": run.info.run_id})
        for run in runs
    ]

    # the best of those runs on the test month (not older runs of the experiment)
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
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
    version = mlflow.register_model(
        model.model_uri,
        MODEL_NAME,
        tags={
            "test_rmse": f"{test_rmse:.4f}",
            "val_rmse": f"{best_run.data.metrics['rmse']:.4f}",
            "hpo_run_id": best_run.data.tags["hpo_run_id"],
        },
    )
    params = {p: int(best_run.data.params[p]) for p in RF_PARAMS}
    client.update_model_version(
        MODEL_NAME,
        version.version,
        description=f"RandomForestRegressor {params}; the best of the top {len(run_ids)} trials "
        f"of {HPO_EXPERIMENT_NAME!r} on the test month (RMSE {test_rmse:.3f}).",
    )
    client.set_registered_model_alias(MODEL_NAME, alias, version.version)

    print(f"{len(run_ids)} models tested; best test RMSE {test_rmse:.3f}")
    print(f"registered {MODEL_NAME!r} version {version.version} as @{alias}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-path",
        default=str(helpers.repo_root() / "build" / "homework" / "output"),
        help="folder of the files preprocess_data.py wrote (default: build/homework/output)",
    )
    parser.add_argument(
        "--top-n", type=int, default=5, help="trials to re-test on the test month (default 5)"
    )
    parser.add_argument("--alias", default="champion", help="alias of the registered version")
    parser.add_argument(
        "--tracking-uri",
        default=os.environ.get("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000"),
        help="the tracking server (default: $MLFLOW_TRACKING_URI, else http://127.0.0.1:5000)",
    )
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
    mlflow.set_experiment(EXPERIMENT_NAME)
    tags = dict(tag.split("=", 1) for tag in args.tag)
    run_register_model(
        args.data_path, args.top_n, args.alias, {**tags, "model": "RandomForestRegressor"}
    )


if __name__ == "__main__":
    main()
