"""The module's homework (2024 cohort) as functions and commands: preprocess, train, hpo, register.

Notebook 08 calls the functions; instructors can run the same steps without Jupyter:

    homework-preprocess --raw-data-path data/        # Q2: dv.pkl, train.pkl, val.pkl, test.pkl
    homework-train                                   # Q3: RandomForest with autolog
    homework-hpo --num-trials 15                     # Q5: hyperopt, one run per trial, `rmse`
    homework-register --top-n 5                      # Q6: test month, register the best, alias

Every command takes `--tracking-uri` (default: $MLFLOW_TRACKING_URI, else mlflow.db at the
repository root; for Q4 start a server with `mlflow server --backend-store-uri sqlite:///mlflow.db
--artifacts-destination ./artifacts` and pass its http://127.0.0.1:PORT) and `--data-path` (default
build/homework/output at the repository root).

The files and models are the course's: a DictVectorizer fitted on January (`PU_DO` one-hot plus
`trip_distance`), pickles of (X, y), and RandomForestRegressor models. What changes is the current
MLflow API (aliases, logged models) and that every run records which data it used.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from helpers.data import TaxiFile, data_tags, get_taxi_file, read_dataframe
from helpers.features import fit_features, target, transform_features
from helpers.paths import display_path, repo_root

TRAIN_EXPERIMENT = "random-forest-train"
HPO_EXPERIMENT = "random-forest-hyperopt"
BEST_EXPERIMENT = "random-forest-best-models"
MODEL_NAME = "nyc-taxi-random-forest"
MONTHS = ("2023-01", "2023-02", "2023-03")
RF_PARAMS = ["max_depth", "n_estimators", "min_samples_split", "min_samples_leaf", "random_state"]
FILES = ("dv.pkl", "train.pkl", "val.pkl", "test.pkl")


def default_data_path() -> Path:
    """Where the preprocessed files go: build/homework/output at the repository root (08)."""
    return repo_root() / "build" / "homework" / "output"


def dump_pickle(obj, path: str | os.PathLike) -> None:
    with open(path, "wb") as f_out:
        pickle.dump(obj, f_out)


def load_pickle(path: str | os.PathLike):
    """Read one of the homework's pickles; say which step makes it when it is missing (08)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path.name} is not in {display_path(path.parent)}: run the preprocessing step first "
            f"(homework-preprocess, or the Q2 cell of notebook 08)."
        )
    with open(path, "rb") as f_in:
        return pickle.load(f_in)


@dataclass
class Preprocessed:
    """What Q2 wrote: the folder, the source files and the size of each dataset (08)."""

    dest: Path
    files: dict[str, TaxiFile]
    rows: dict[str, int]
    n_features: int
    written: list[Path] = field(default_factory=list)

    @property
    def tags(self) -> dict[str, str]:
        """The data tags of every homework run (`data.source`, `data.train_path`, ...)."""
        return data_tags(**self.files)


def taxi_files(
    raw_data_path: str | os.PathLike | None = None,
    colour: str = "green",
    months: tuple[str, str, str] = MONTHS,
    source: str = "auto",
    synthetic_rows: int | None = None,
) -> dict[str, TaxiFile]:
    """The three monthly files of the homework, keyed train / valid / test (08)."""
    return {
        key: get_taxi_file(colour, month, source, raw_data_path, synthetic_rows)
        for key, month in zip(("train", "valid", "test"), months, strict=True)
    }


def preprocess(
    raw_data_path: str | os.PathLike | None = None,
    dest_path: str | os.PathLike | None = None,
    colour: str = "green",
    months: tuple[str, str, str] = MONTHS,
    source: str = "auto",
    synthetic_rows: int | None = None,
) -> Preprocessed:
    """Q2: fit the DictVectorizer on the first month; write dv.pkl and (X, y) for the three (08)."""
    files = taxi_files(raw_data_path, colour, months, source, synthetic_rows)
    frames = {key: read_dataframe(f.path, colour) for key, f in files.items()}
    dv, X_train = fit_features(frames["train"])
    data = {
        "train.pkl": (X_train, target(frames["train"])),
        "val.pkl": (transform_features(dv, frames["valid"]), target(frames["valid"])),
        "test.pkl": (transform_features(dv, frames["test"]), target(frames["test"])),
    }
    dest = Path(dest_path) if dest_path else default_data_path()
    dest.mkdir(parents=True, exist_ok=True)
    dump_pickle(dv, dest / "dv.pkl")
    for name, xy in data.items():
        dump_pickle(xy, dest / name)
    rows = {key: len(df) for key, df in frames.items()}
    return Preprocessed(dest, files, rows, len(dv.feature_names_), [dest / name for name in FILES])


def load_datasets(data_path: str | os.PathLike | None = None, names=("train", "val", "test")):
    """The (X, y) pairs written by `preprocess`, in the order asked (08)."""
    folder = Path(data_path) if data_path else default_data_path()
    return [load_pickle(folder / f"{name}.pkl") for name in names]


def rmse(model, X, y) -> float:
    """Root mean squared error of `model` on (X, y), in minutes (08)."""
    from sklearn.metrics import root_mean_squared_error

    return float(root_mean_squared_error(y, model.predict(X)))


def train(
    data_path: str | os.PathLike | None = None, tags: dict[str, str] | None = None, n_jobs: int = -1
) -> tuple[str, float]:
    """Q3: RandomForestRegressor(max_depth=10, random_state=0) with autolog; return run id and rmse (08).

    `n_jobs` only spreads the trees over the cores; the trees are the same for any value.
    """
    import mlflow
    from sklearn.ensemble import RandomForestRegressor

    (X_train, y_train), (X_val, y_val) = load_datasets(data_path, ("train", "val"))
    mlflow.sklearn.autolog(serialization_format="cloudpickle", log_datasets=False, silent=True)
    try:
        with mlflow.start_run(
            run_name="rf-max-depth-10", tags={**(tags or {}), "model": "RandomForestRegressor"}
        ) as run:
            rf = RandomForestRegressor(max_depth=10, random_state=0, n_jobs=n_jobs)
            rf.fit(X_train, y_train)
            val_rmse = rmse(rf, X_val, y_val)
            mlflow.log_metric("rmse", val_rmse)
    finally:
        mlflow.sklearn.autolog(disable=True)
    return run.info.run_id, val_rmse


HPO_SPACE_TEXT = {
    "max_depth": "quniform(1, 20, 1), as int",
    "n_estimators": "quniform(10, 50, 1), as int",
    "min_samples_split": "quniform(2, 10, 1), as int",
    "min_samples_leaf": "quniform(1, 4, 1), as int",
    "random_state": "42",
}


def hpo_space() -> dict:
    """The homework's search space for RandomForestRegressor, as the course published it (08)."""
    from hyperopt import hp
    from hyperopt.pyll import scope

    return {
        "max_depth": scope.int(hp.quniform("max_depth", 1, 20, 1)),
        "n_estimators": scope.int(hp.quniform("n_estimators", 10, 50, 1)),
        "min_samples_split": scope.int(hp.quniform("min_samples_split", 2, 10, 1)),
        "min_samples_leaf": scope.int(hp.quniform("min_samples_leaf", 1, 4, 1)),
        "random_state": 42,
    }


def hpo(
    data_path: str | os.PathLike | None = None,
    num_trials: int = 15,
    seed: int = 42,
    tags: dict[str, str] | None = None,
    n_jobs: int = -1,
):
    """Q5: hyperopt over RandomForest, one run per trial with its params and validation `rmse` (08).

    Runs go to the current experiment (set it to HPO_EXPERIMENT first). Returns hyperopt's Trials.
    """
    import mlflow
    from hyperopt import STATUS_OK, Trials, fmin, tpe
    from sklearn.ensemble import RandomForestRegressor

    (X_train, y_train), (X_val, y_val) = load_datasets(data_path, ("train", "val"))

    def objective(params: dict) -> dict:
        with mlflow.start_run(tags={**(tags or {}), "model": "RandomForestRegressor"}):
            mlflow.log_params(params)
            rf = RandomForestRegressor(**params, n_jobs=n_jobs).fit(X_train, y_train)
            loss = rmse(rf, X_val, y_val)
            mlflow.log_metric("rmse", loss)
        return {"loss": loss, "status": STATUS_OK}

    trials = Trials()
    fmin(
        objective,
        hpo_space(),
        algo=tpe.suggest,
        max_evals=num_trials,
        trials=trials,
        rstate=np.random.default_rng(seed),
        show_progressbar=False,
    )
    return trials


def rf_params(params: dict[str, str]) -> dict[str, int]:
    """RandomForest parameters from a run's logged (string) params (08)."""
    return {p: int(float(params[p])) for p in RF_PARAMS if p in params}


def log_forest(rf, X_example) -> None:
    """Log a fitted forest as the run's model `model`, with a signature, pinned requirements (08)."""
    import mlflow
    from mlflow.models import infer_signature

    from helpers.models import model_requirements

    mlflow.sklearn.log_model(
        rf,
        name="model",
        serialization_format="cloudpickle",
        signature=infer_signature(X_example, rf.predict(X_example)),
        pip_requirements=[r for r in model_requirements() if not r.startswith("xgboost")],
    )


@dataclass
class Registered:
    """What Q6 did: the runs it evaluated, the winner and its registered version (08)."""

    run_ids: list[str]
    best_run_id: str
    test_rmse: float
    version: object


def register(
    data_path: str | os.PathLike | None = None,
    top_n: int = 5,
    hpo_experiment: str = HPO_EXPERIMENT,
    best_experiment: str = BEST_EXPERIMENT,
    model_name: str = MODEL_NAME,
    alias: str = "champion",
    tags: dict[str, str] | None = None,
    n_jobs: int = -1,
) -> Registered:
    """Q6: retrain the top `top_n` trials, score them on the test month, register the best (08).

    The course turns on autolog here; on these sparse features autolog makes a dense copy of the
    training matrix (3 GB on a real month) for every model, so params, metrics and model are
    logged explicitly instead: the same record, in a fraction of the time.
    """
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import ViewType
    from sklearn.ensemble import RandomForestRegressor

    (X_train, y_train), (X_val, y_val), (X_test, y_test) = load_datasets(data_path)
    client = MlflowClient()
    source = client.get_experiment_by_name(hpo_experiment)
    if source is None:
        raise RuntimeError(
            f"No experiment {hpo_experiment!r}: run the search first (homework-hpo, Q5)."
        )
    top = client.search_runs(
        [source.experiment_id],
        "metrics.rmse > 0",
        run_view_type=ViewType.ACTIVE_ONLY,
        max_results=top_n,
        order_by=["metrics.rmse ASC"],
    )
    if not top:
        raise RuntimeError(
            f"Experiment {hpo_experiment!r} has no run with an `rmse`: run the search first."
        )

    experiment = mlflow.set_experiment(best_experiment)
    run_ids = []
    for hpo_run in top:
        params = rf_params(hpo_run.data.params)
        tags_ = {
            **(tags or {}),
            "model": "RandomForestRegressor",
            "hpo_run_id": hpo_run.info.run_id,
        }
        with mlflow.start_run(tags=tags_) as run:
            rf = RandomForestRegressor(**params, n_jobs=n_jobs).fit(X_train, y_train)
            mlflow.log_params(params)
            mlflow.log_metrics(
                {"rmse": rmse(rf, X_val, y_val), "test_rmse": rmse(rf, X_test, y_test)}
            )
            log_forest(rf, X_val[:5])
        run_ids.append(run.info.run_id)

    # the best on the test month, among the runs just made (not older ones of the experiment)
    ids = ", ".join(f"'{r}'" for r in run_ids)
    (best,) = client.search_runs(
        [experiment.experiment_id],
        f"attributes.run_id IN ({ids})",
        order_by=["metrics.test_rmse ASC"],
        max_results=1,
    )
    (model,) = mlflow.search_logged_models(
        experiment_ids=[experiment.experiment_id],
        filter_string=f"source_run_id = '{best.info.run_id}'",
        output_format="list",
    )
    test_rmse = best.data.metrics["test_rmse"]
    version = mlflow.register_model(
        model.model_uri,
        model_name,
        tags={
            "test_rmse": f"{test_rmse:.4f}",
            "val_rmse": f"{best.data.metrics['rmse']:.4f}",
            "hpo_run_id": best.data.tags["hpo_run_id"],
        },
    )
    client.update_model_version(
        model_name,
        version.version,
        description=f"RandomForestRegressor {rf_params(best.data.params)}; the best of the top "
        f"{len(run_ids)} trials of {hpo_experiment!r} on the test month (RMSE {test_rmse:.3f}).",
    )
    client.set_registered_model_alias(model_name, alias, version.version)
    return Registered(
        run_ids, best.info.run_id, test_rmse, client.get_model_version(model_name, version.version)
    )


# --- command-line entry points (see pyproject.toml [project.scripts])


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-path",
        default=None,
        help="folder of the preprocessed files (default build/homework/output)",
    )
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="default: $MLFLOW_TRACKING_URI, else mlflow.db at the repository root",
    )
    parser.add_argument(
        "--raw-data-path",
        default=None,
        help="folder of the TLC files, to tag runs with the data used (default data/)",
    )
    parser.add_argument("--data-source", default="auto", choices=("auto", "tlc", "synthetic"))
    parser.add_argument("--colour", default="green")
    parser.add_argument(
        "--months", nargs=3, default=list(MONTHS), metavar=("TRAIN", "VALID", "TEST")
    )
    parser.add_argument("--synthetic-rows", type=int, default=None)
    parser.add_argument("--n-jobs", type=int, default=-1)


def _tags(args) -> dict[str, str]:
    files = taxi_files(
        args.raw_data_path, args.colour, tuple(args.months), args.data_source, args.synthetic_rows
    )
    return data_tags(**files)


def _setup(args, experiment: str):
    from helpers.tracking import setup_mlflow

    return setup_mlflow(experiment, args.tracking_uri)


def preprocess_main(argv: list[str] | None = None) -> int:
    """`homework-preprocess`: Q2 (08)."""
    parser = argparse.ArgumentParser(
        description="Q2: fit a DictVectorizer on the first month, write 4 pickles."
    )
    parser.add_argument(
        "--raw-data-path",
        default=None,
        help="folder of the TLC files (default data/ or $TAXI_DATA_DIR)",
    )
    parser.add_argument(
        "--dest-path", default=None, help="output folder (default build/homework/output)"
    )
    parser.add_argument("--data-source", default="auto", choices=("auto", "tlc", "synthetic"))
    parser.add_argument("--colour", default="green")
    parser.add_argument(
        "--months", nargs=3, default=list(MONTHS), metavar=("TRAIN", "VALID", "TEST")
    )
    parser.add_argument("--synthetic-rows", type=int, default=None)
    args = parser.parse_args(argv)
    out = preprocess(
        args.raw_data_path,
        args.dest_path,
        args.colour,
        tuple(args.months),
        args.data_source,
        args.synthetic_rows,
    )
    print(f"{out.n_features} features; rows {out.rows}; source {out.tags['data.source']}")
    print(
        f"{len(out.written)} files in {display_path(out.dest)}: {', '.join(p.name for p in out.written)}"
    )
    return 0


def train_main(argv: list[str] | None = None) -> int:
    """`homework-train`: Q3 (08)."""
    parser = argparse.ArgumentParser(
        description="Q3: RandomForestRegressor(max_depth=10) with autolog."
    )
    _common(parser)
    parser.add_argument("--experiment", default=TRAIN_EXPERIMENT)
    args = parser.parse_args(argv)
    _setup(args, args.experiment)
    run_id, val_rmse = train(args.data_path, _tags(args), args.n_jobs)
    import mlflow

    params = mlflow.get_run(run_id).data.params
    print(
        f"run {run_id}: min_samples_split={params['min_samples_split']}, validation RMSE {val_rmse:.3f}"
    )
    return 0


def hpo_main(argv: list[str] | None = None) -> int:
    """`homework-hpo`: Q5 (08)."""
    parser = argparse.ArgumentParser(
        description="Q5: hyperopt over RandomForestRegressor, each trial a run."
    )
    _common(parser)
    parser.add_argument("--num-trials", type=int, default=15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--experiment", default=HPO_EXPERIMENT)
    args = parser.parse_args(argv)
    _setup(args, args.experiment)
    trials = hpo(args.data_path, args.num_trials, args.seed, _tags(args), args.n_jobs)
    print(f"{len(trials.trials)} trials; best validation RMSE {min(trials.losses()):.3f}")
    return 0


def register_main(argv: list[str] | None = None) -> int:
    """`homework-register`: Q6 (08)."""
    parser = argparse.ArgumentParser(
        description="Q6: test the top trials on the third month, register the best."
    )
    _common(parser)
    parser.add_argument("--top-n", type=int, default=5)
    parser.add_argument("--hpo-experiment", default=HPO_EXPERIMENT)
    parser.add_argument("--experiment", default=BEST_EXPERIMENT)
    parser.add_argument("--model-name", default=MODEL_NAME)
    parser.add_argument("--alias", default="champion")
    args = parser.parse_args(argv)
    _setup(args, args.experiment)
    out = register(
        args.data_path,
        args.top_n,
        args.hpo_experiment,
        args.experiment,
        args.model_name,
        args.alias,
        _tags(args),
        args.n_jobs,
    )
    v = out.version
    print(f"{len(out.run_ids)} models tested; best test RMSE {out.test_rmse:.3f}")
    print(f"registered {v.name!r} version {v.version} as @{args.alias}")
    return 0


if __name__ == "__main__":  # python -m helpers.homework preprocess|train|hpo|register ...
    steps = {
        "preprocess": preprocess_main,
        "train": train_main,
        "hpo": hpo_main,
        "register": register_main,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in steps:
        print(f"usage: python -m helpers.homework {{{','.join(steps)}}} [options]")
        sys.exit(2)
    sys.exit(steps[sys.argv[1]](sys.argv[2:]))
