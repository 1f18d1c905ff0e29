"""Search spaces and tuning: xgboost (03, 04) and the homework's random forest (08, 10).

Two ways to turn a trip into numbers for the trees:

- "onehot" (the course's): `PU_DO` one-hot plus `trip_distance` through a DictVectorizer, a
  sparse matrix with thousands of columns (5702 on green 2023-01);
- "zones" (the default here): the pickup zone id, the dropoff zone id and `trip_distance` as
  three numeric columns. Trees split on zone ids directly, so a depth-8 tree can isolate a pair;
  histograms are built over 3 columns instead of thousands, which makes each boosting round
  tens of times cheaper.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import pandas as pd
from hyperopt import hp
from hyperopt.pyll import scope

# the transformers live in helpers.features; notebooks 03, 04 and 09 call tuning.make_features
from helpers.features import make_features, target  # noqa: F401

# The homework's search over RandomForestRegressor, written once as data: each parameter's
# inclusive integer bounds. scripts/homework/hpo.py turns it into a hyperopt space (08),
# helpers/wandb_tracking.py into the W&B sweep's parameters (10); `random_state` is fixed by each of them.
RANDOM_FOREST_SPACE: dict[str, tuple[int, int]] = {
    "max_depth": (1, 20),
    "n_estimators": (10, 50),
    "min_samples_split": (2, 10),
    "min_samples_leaf": (1, 4),
}


# Each search space is written once, as data: parameter -> (kind, low, high), where kind is "int"
# (whole numbers low..high) or "log" (log-uniform between low and high). hyperopt's `hp` space,
# Optuna's suggestions (both shown in notebook 03) and the printed table are derived from it.
COMMON = {
    "reg_alpha": ("log", math.exp(-5), math.exp(-1)),
    "reg_lambda": ("log", math.exp(-6), math.exp(-1)),
    "min_child_weight": ("log", math.exp(-1), math.exp(3)),
}
SPACES = {
    # the course's space as published
    "course": {
        "max_depth": ("int", 4, 100),
        "learning_rate": ("log", math.exp(-3), 1.0),
        **COMMON,
    },
    # the default: same parameters, bounds where good trees on 3 columns live
    "fast": {"max_depth": ("int", 4, 14), "learning_rate": ("log", 0.02, 0.3), **COMMON},
}
# the same in every trial: `reg:squarederror`, the current name of the course's `reg:linear`
# (which xgboost 3 still accepts, with a deprecation warning)
FIXED = {"objective": "reg:squarederror", "seed": 42}


def xgb_threads_from_env() -> int | None:
    """xgboost's threads a trial: $XGB_THREADS if set (a whole number >= 1), else None (all cores).

    With the `hist` method the trees are the same on any thread count, so this changes only the
    time a search takes; docs/threads.md measures it alone and beside a busy neighbour.
    """
    value = os.environ.get("XGB_THREADS", "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"XGB_THREADS={value!r}: give a whole number of threads (1 or more).")
    return int(value)


# None: xgboost's default (`nthread` unset: as many threads as cores). search_setup passes it on.
XGB_THREADS: int | None = xgb_threads_from_env()


# Notebook 03 ends a search after STOP_AFTER trials in a row that did not beat the best by at
# least STOP_PERCENT percent: hyperopt's `no_progress_loss(STOP_AFTER, STOP_PERCENT)`, and
# `NoProgressStop` below for Optuna. Without the percentage, a search whose trials keep gaining a
# few ten-thousandths (generated data rewards ever longer boosting by hair-widths) runs all its
# trials; 0.5 % of a 4-5 minute RMSE is about 1.5 seconds a trip, less than the months differ.
STOP_AFTER = 20
STOP_PERCENT = 0.5


class NoProgressStop:
    """Optuna's callback for hyperopt's `no_progress_loss(stop_after, percent)` rule (03).

    The same rule, trial for trial: the first trial sets the reference; a trial whose value is
    below the reference by more than `percent` % of it becomes the new reference, any other adds
    one to a count; the study stops when the count reaches `stop_after`. Written here because
    Optuna has no such callback (its pruners stop trials, not studies).
    """

    def __init__(self, stop_after: int = STOP_AFTER, percent: float = STOP_PERCENT):
        if stop_after < 1 or percent < 0:
            raise ValueError(
                f"stop_after must be >= 1 and percent >= 0, not {stop_after}, {percent}"
            )
        self.stop_after, self.percent = stop_after, percent
        self.reference: float | None = None
        self.without_progress = 0

    def update(self, value: float | None) -> bool:
        """Count one finished trial's value (None: failed); True when the search should stop."""
        if self.reference is None:
            self.reference, self.without_progress = value, 1
        elif value is None or value < self.reference - abs(self.reference) * self.percent / 100:
            self.reference, self.without_progress = value, 0
        else:
            self.without_progress += 1
        return self.without_progress >= self.stop_after

    def __call__(self, study, trial) -> None:
        if self.update(trial.value):
            study.stop()


def stopping_trial(
    losses: list[float], stop_after: int = STOP_AFTER, percent: float = STOP_PERCENT
) -> int:
    """How many of `losses` (in trial order) a search runs before the rule above stops it."""
    rule = NoProgressStop(stop_after, percent)
    for number, loss in enumerate(losses, start=1):
        if rule.update(loss):
            return number
    return len(losses)


def hyperopt_space(bounds: dict[str, tuple]) -> dict:
    """hyperopt's space for `bounds`: `scope.int(hp.quniform)` and `hp.loguniform` (03)."""
    space = {}
    for name, (kind, low, high) in bounds.items():
        if kind == "int":
            space[name] = scope.int(hp.quniform(name, low, high, 1))
        else:
            space[name] = hp.loguniform(name, math.log(low), math.log(high))
    return {**space, **FIXED}


def optuna_params(trial, bounds: dict[str, tuple]) -> dict:
    """Optuna's suggestions for the same `bounds`: `suggest_int` and `suggest_float(log=True)` (03)."""
    params = {}
    for name, (kind, low, high) in bounds.items():
        if kind == "int":
            params[name] = trial.suggest_int(name, low, high)
        else:
            params[name] = trial.suggest_float(name, low, high, log=True)
    return {**params, **FIXED}


@dataclass(frozen=True)
class SearchSetup:
    """Everything a search needs besides its data: features, space, rounds (03)."""

    name: str
    features: str
    bounds: dict
    num_boost_round: int
    early_stopping_rounds: int
    extra_params: dict
    sample_num_boost_round: int = 100  # on a sample of a bigger month (a yellow one): fewer rounds

    def rounds(self, sampled: bool) -> int:
        """Boosting rounds a trial may take: fewer when the search trains on a sample (03, 09)."""
        return self.sample_num_boost_round if sampled else self.num_boost_round

    @property
    def space(self) -> dict:
        """hyperopt's space (03)."""
        return hyperopt_space(self.bounds)

    def describe(self) -> dict[str, str]:
        """The space in words, one line per parameter, for printing (03)."""
        words = {"int": "int {:g}..{:g}", "log": "log-uniform {:.3g}..{:.3g}"}
        table = {n: words[k].format(lo, hi) for n, (k, lo, hi) in self.bounds.items()}
        return {**table, **{k: str(v) for k, v in FIXED.items()}}


def params_from_run(params: dict[str, str]) -> dict:
    """xgboost parameters from a run's logged (string) params, typed as the objective had them (04)."""
    typed = {}
    for key in ("max_depth", "seed"):
        if key in params:
            typed[key] = int(float(params[key]))
    for key in ("learning_rate", "reg_alpha", "reg_lambda", "min_child_weight"):
        if key in params:
            typed[key] = float(params[key])
    if "objective" in params:
        typed["objective"] = params["objective"]
    return typed


def search_setup(
    name: str = "fast", device: str = "cpu", threads: int | None | str = "default"
) -> SearchSetup:
    """The search called `name`: 'fast' (default) or 'course' (as the course wrote it) (03).

    `threads`: xgboost's `nthread` in every trial; "default" takes XGB_THREADS, None leaves it
    unset (all cores).
    """
    if name not in SPACES:
        raise ValueError(f"Unknown search {name!r}: use 'fast' or 'course'.")
    threads = XGB_THREADS if threads == "default" else threads
    extra = {"device": device} if device != "cpu" else {}
    if threads is not None:
        extra["nthread"] = int(threads)
    if name == "fast":
        extra = {"tree_method": "hist", **extra}
    features = "zones" if name == "fast" else "onehot"
    return SearchSetup(name, features, SPACES[name], 1000, 50, extra)


def make_dmatrix(preprocessor, df: pd.DataFrame):
    """xgboost's DMatrix of trips for a fitted preprocessor, with the duration as label (03)."""
    import xgboost as xgb

    names = [str(n) for n in preprocessor.get_feature_names_out()]
    names = names if len(names) < 100 else None
    return xgb.DMatrix(preprocessor.transform(df), label=target(df), feature_names=names)


def make_dmatrices(preprocessor, train_df: pd.DataFrame, valid_df: pd.DataFrame):
    """xgboost's training and validation DMatrix for a fitted preprocessor (03)."""
    return make_dmatrix(preprocessor, train_df), make_dmatrix(preprocessor, valid_df)


def train_trial(
    setup: SearchSetup, params: dict, dtrain, dvalid, num_boost_round: int | None = None
):
    """One trial of notebook 03's objective, without logging: the booster and its validation RMSE.

    Notebook 03 writes this out in its objective; the benchmark and the tests call it (03).
    """
    import xgboost as xgb
    from sklearn.metrics import root_mean_squared_error

    booster = xgb.train(
        {**params, **setup.extra_params},
        dtrain,
        num_boost_round=num_boost_round or setup.num_boost_round,
        evals=[(dvalid, "validation")],
        early_stopping_rounds=setup.early_stopping_rounds,
        verbose_eval=False,
    )
    y_pred = booster.predict(dvalid, iteration_range=(0, booster.best_iteration + 1))
    return booster, float(root_mean_squared_error(dvalid.get_label(), y_pred))
