"""What the tests share besides fixtures: the CI rule, sizes, names, the notebook chain.

Fixtures and pytest hooks live in conftest.py; test modules import the rest from here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from mlflow import MlflowClient

import helpers
from infra.realdata import COURSE_MONTHS

ROOT = helpers.repo_root()
REAL_MONTHS = COURSE_MONTHS  # the real files the tests read: green 2023-01..03

# --- prerequisites: skipped with the reason outside CI, a failure under CI=true
#
# CI installs and starts everything the suite needs (.ci/run, which sets CI=true whatever the
# environment says): a prerequisite missing there means the tests that need it did not run, which
# must not pass as "skipped". Only "true" and "1" turn it on, as CI services set it.
IN_CI = os.environ.get("CI", "") in ("true", "1")


def require(condition: object, reason: str) -> None:
    """Go on when `condition` holds; else pytest.fail under CI=true, pytest.skip elsewhere.

    The reason is printed either way, so a skip outside CI says what is missing and how to get it.
    """
    if condition:
        return
    print(f"prerequisite missing: {reason}")
    if IN_CI:
        pytest.fail(f"CI=true and a prerequisite is missing: {reason}", pytrace=False)
    pytest.skip(reason)


# Speed only: log_model infers each model's pip requirements in a subprocess (5-10 s a model on
# 2 cores); no test reads the inferred list (05 pins its own), so MLflow gets 1 s and then falls
# back to the flavour's defaults.
NOTEBOOK_ENV = {"MLFLOW_LOGGING_LEVEL": "WARNING", "MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT": "1"}
SMALL = {"DATA_SOURCE": "synthetic", "SYNTHETIC_ROWS": 4000}
EXPERIMENT = "test-nyc-taxi"
REGISTERED = "test-trip-duration"


@dataclass
class Chain:
    """Notebooks run in order into one temporary tracking store."""

    root: Path
    uri: str
    env: dict[str, str] = field(default_factory=dict)
    executed: dict[str, object] = field(default_factory=dict)  # prefix -> notebook or nbval result
    seconds: dict[str, float] = field(default_factory=dict)
    plan: dict[str, dict] = field(default_factory=dict)  # prefix -> parameters, in order
    run: Callable[..., object] | None = None  # run(prefix, **parameters)

    @property
    def client(self) -> MlflowClient:
        return MlflowClient(self.uri)

    def through(self, prefix: str):
        """The run of `prefix`; it and the notebooks planned before it run first, once each."""
        for name, params in self.plan.items():
            if name not in self.executed:
                start = time.perf_counter()
                self.executed[name] = self.run(name, **params)
                self.seconds[name] = round(time.perf_counter() - start, 1)
                print(f"{name}: {self.seconds[name]} s")
            if name == prefix:
                return self.executed[name]
        raise KeyError(f"notebook {prefix} is not in the chain's plan")


# The committed notebooks re-executed by nbval on the real files: cells tagged
# `nbval-check-output` must reproduce their committed outputs exactly.
REAL_PARAMS = {
    "01": {},
    "02": {},
    # the full hyperopt search: its best trial (and 04-06 built on it) are checked figures;
    # Optuna's search beside it is tested on generated data (test_03_*)
    "03": {"ENGINE": "hyperopt"},
    "04": {
        "N_ESTIMATORS": 5
    },  # fewer trees than the committed run: its checked figure is xgboost's
    "05": {},
    "06": {},
    "07": {"SCENARIOS": [1]},  # the servers of scenarios 2 and 3 are tested on generated data
    "08": {},  # the homework's own search (15 trials, top 5): its answers are checked cells
}


def assert_nbval_passed(result) -> None:
    """nbval's run of a committed notebook passed: every cell ran, checked outputs reproduced."""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout.splitlines()[-1]


# --- running on 2 cores: `make test` runs the suite with pytest-xdist, `-n 2`
#
# The work units are the notebook chains (their tests go to one worker, so each chain runs
# once) and the other test modules (module-scoped fixtures run once). Each of notebooks 01-08
# has one file, tests/test_NN_<notebook>.py: its tests on generated data belong to the chain
# on generated data, its `test_committed_*` tests (nbval on the real files) to the real chain.
# Longest first: xdist gives each worker two units to start with, then one more whenever a
# worker runs dry. (xdist's own `--dist loadgroup` cannot be used: it renames items through
# `Item._nodeid`, which pytest 9 no longer reads, so its groups are silently ignored.)
CHAINED = tuple(f"test_{prefix}_" for prefix in REAL_PARAMS)
LONGEST_FIRST = [
    "real-course",
    "synthetic-course",
    "test_10_experiment_tracking_wandb.py",
    "test_09_distributed_tuning.py",
]


def work_unit(nodeid: str) -> str:
    """The unit of a test: its chain, else its module's file name."""
    path, _, name = nodeid.partition("::")
    module = Path(path).name
    if module.startswith(CHAINED) or module in ("test_mlflow_ui.py", "test_pictures.py"):
        return "real-course" if name.startswith("test_committed_") else "synthetic-course"
    return module
