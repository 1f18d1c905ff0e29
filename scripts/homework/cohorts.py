"""The MLflow homework of each cohort of the course, as data: what its handed-out scripts decide.

The four scripts beside this file take `--cohort YEAR` and read everything else from here:
months, target, features, search library, search space, seeds, trial count, experiment and
metric names, registered model. A new cohort is a new entry of COHORTS, not new code.
Notebook 08 reads the questions and options too, to answer every cohort in one run.

Sources: DataTalksClub/mlops-zoomcamp, `cohorts/<year>/02-experiment-tracking/homework.md` and its
`homework/*.py` (2022: `02-experiment-tracking/homework/` as of May 2022).
"""

from __future__ import annotations

import argparse
import os
import pickle
from dataclasses import dataclass, field, replace

# the homework's search space, written once (notebook 10's sweep uses it too): inclusive bounds of
# whole numbers, the same in every cohort; each cohort draws them in its own order
from helpers.tuning import RANDOM_FOREST_SPACE

COURSE = "https://github.com/DataTalksClub/mlops-zoomcamp/blob/main"
TRACKING_URI = "http://127.0.0.1:5000"  # the course's server, the scripts' default
START_SERVER = (
    "Start it in another terminal (mlflow server --backend-store-uri sqlite:///mlflow.db "
    "--default-artifact-root ./artifacts) or pass --tracking-uri."
)


@dataclass(frozen=True)
class Question:
    """One question of a homework page: what it asks, how 08 computes it, its options."""

    number: int
    text: str
    kind: str  # what 08 measures: files, dv_size, param_count, param:<name>, server_option, ...
    options: tuple[str, ...] = ()  # as the page prints them


@dataclass(frozen=True)
class Cohort:
    """What one cohort's homework page and handed-out scripts fix."""

    year: int
    months: tuple[str, str, str]  # train, validation, test
    target: str  # the column y is taken from: `duration` (minutes) or `tip_amount`
    search: str  # "hyperopt" (TPE, rstate default_rng(seed)) or "optuna" (TPESampler(seed))
    num_trials: int  # hpo.py's default: the homework says "run the script without parameters"
    # the order the search draws its parameters in: with a seed, it decides the trials
    param_order: tuple[str, ...]
    fixed_params: dict = field(default_factory=lambda: {"random_state": 42})
    registered_model: str = "nyc-taxi-trip-duration"
    val_file: str = "val.pkl"
    val_metric: str = "val_rmse"  # register_model.py's name for the validation RMSE
    questions: tuple[Question, ...] = ()
    colour: str = "green"
    categorical: tuple[str, ...] = ("PU_DO",)
    numerical: tuple[str, ...] = ("trip_distance",)
    train_params: dict = field(default_factory=lambda: {"max_depth": 10, "random_state": 0})
    seed: int = 42
    top_n: int = 5
    hpo_experiment: str = "random-forest-hyperopt"
    best_experiment: str = "random-forest-best-models"
    train_experiment: str = "random-forest-train"

    @property
    def page(self) -> str:
        return f"{COURSE}/cohorts/{self.year}/02-experiment-tracking/homework.md"

    @property
    def files(self) -> tuple[str, ...]:
        return ("dv.pkl", "train.pkl", self.val_file, "test.pkl")

    @property
    def space(self) -> dict[str, tuple[int, int]]:
        return {name: RANDOM_FOREST_SPACE[name] for name in self.param_order}

    def recipe(self) -> tuple:
        """Everything that decides the numbers: cohorts with the same recipe get the same ones."""
        return (self.colour, self.months, self.target, self.search, self.num_trials,
                self.param_order, tuple(self.fixed_params.items()), self.seed, self.top_n,
                self.categorical, self.numerical, tuple(self.train_params.items()))  # fmt: skip


Q1 = Question(1, "`mlflow --version`: what's the version that you have?", "version")
FILES = Question(2, "How many files were saved to `OUTPUT_FOLDER`?", "files", ("1", "3", "4", "7"))
SERVER = Question(
    4,
    "In addition to `backend-store-uri`, what else do you need to pass to properly configure "
    "the server?",
    "server_option",
    ("default-artifact-root", "serve-artifacts", "artifacts-only", "artifacts-destination"),
)
HYPEROPT_ORDER = ("max_depth", "n_estimators", "min_samples_split", "min_samples_leaf")
BEST_VAL = "What's the best validation RMSE that you got?"
BEST_TEST = "What is the test RMSE of the best model?"
# 2024 and 2025: the same months, scripts, questions and options
QUESTIONS_2024 = (
    Q1,
    FILES,
    Question(
        3,
        "What is the value of the `min_samples_split` parameter?",
        "param:min_samples_split",
        ("2", "4", "8", "10"),
    ),  # fmt: skip
    SERVER,
    Question(5, BEST_VAL, "best_val_rmse", ("4.817", "5.335", "5.818", "6.336")),
    Question(6, BEST_TEST, "best_test_rmse", ("5.060", "5.567", "6.061", "6.568")),
)

COHORTS: dict[int, Cohort] = {
    2022: Cohort(
        2022,
        ("2021-01", "2021-02", "2021-03"),
        "duration",
        "hyperopt",
        50,
        HYPEROPT_ORDER,
        val_file="valid.pkl",
        val_metric="valid_rmse",
        questions=(
            Q1,
            FILES,
            Question(
                3,
                "How many parameters are automatically logged by MLflow?",
                "param_count",
                ("19", "17", "10", "20"),
            ),
            SERVER,
            Question(5, BEST_VAL, "best_val_rmse", ("6.128", "6.628", "7.128", "7.628")),
            Question(6, BEST_TEST, "best_test_rmse", ("6.1", "6.55", "7.93", "15.1")),
        ),
    ),  # fmt: skip
    2023: Cohort(
        2023,
        ("2022-01", "2022-02", "2022-03"),
        "tip_amount",
        "optuna",
        10,
        ("n_estimators", "max_depth", "min_samples_split", "min_samples_leaf"),
        fixed_params={"random_state": 42, "n_jobs": -1},
        registered_model="nyc-taxi-tip-amount",
        questions=(
            Q1,
            Question(
                2,
                "What's the size of the saved `DictVectorizer` file?",
                "dv_size",
                ("54 Kb", "154 Kb", "54 Mb", "154 Mb"),
            ),
            Question(
                3,
                "What is the value of the `max_depth` parameter?",
                "param:max_depth",
                ("4", "6", "8", "10"),
            ),
            Question(4, BEST_VAL, "best_val_rmse", ("1.85", "2.15", "2.45", "2.85")),
            Question(5, BEST_TEST, "best_test_rmse", ("1.885", "2.185", "2.555", "2.955")),
            Question(
                6,
                "What information does the model registry contain about each model?",
                "registry_info",
                (
                    "Version number",
                    "Source experiment",
                    "Model signature",
                    "All the above answers are correct",
                ),
            ),
        ),
    ),  # fmt: skip
    2024: Cohort(
        2024,
        ("2023-01", "2023-02", "2023-03"),
        "duration",
        "hyperopt",
        15,
        HYPEROPT_ORDER,
        questions=QUESTIONS_2024,
    ),
}
# 2025 hands out the 2024 homework again; its page says "Yellow Taxi", but its scripts and
# options are those of the green files
COHORTS[2025] = replace(COHORTS[2024], year=2025)
NEWEST = max(COHORTS)


def cohort_argument(parser: argparse.ArgumentParser) -> None:
    """`--cohort YEAR`: whose homework to do (default the newest)."""
    parser.add_argument(
        "--cohort",
        type=int,
        default=NEWEST,
        choices=sorted(COHORTS),
        help=f"the cohort whose homework to do (default {NEWEST}): it decides months, target, "
        "search and names",
    )


def data_path_argument(parser: argparse.ArgumentParser) -> None:
    """`--data_path`: where preprocess_data.py wrote its files (train.py, hpo.py, register_model.py)."""
    parser.add_argument(
        "--data_path",
        "--data-path",
        default="./output",
        help="folder of the files preprocess_data.py wrote (default: ./output)",
    )


def tracking_arguments(parser: argparse.ArgumentParser) -> None:
    """`--tracking-uri` and `--tag`, shared by the three scripts that log to MLflow."""
    parser.add_argument(
        "--tracking-uri",
        "--tracking_uri",
        default=None,
        help=f"the tracking server (default: $MLFLOW_TRACKING_URI, else {TRACKING_URI})",
    )
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a tag for every run, e.g. where the data came from (repeatable)",
    )


def connect(args: argparse.Namespace, experiment: str) -> dict[str, str]:
    """Point MLflow at the server (stop with a clear message when none answers), set the
    experiment; return the tags every run gets (`--tag`s and the cohort)."""
    import mlflow

    import helpers

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or TRACKING_URI
    try:
        helpers.check_tracking_server(uri, hint=START_SERVER)
    except helpers.TrackingServerError as exc:
        raise SystemExit(str(exc)) from None
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(experiment)
    tags = dict(tag.split("=", 1) for tag in args.tag)
    return {**tags, "cohort": str(args.cohort), "model": "RandomForestRegressor"}


def load_pickle(path: str):
    if not os.path.exists(path):
        raise SystemExit(f"{path} does not exist: run preprocess_data.py first (Q2).")
    with open(path, "rb") as f_in:
        return pickle.load(f_in)
