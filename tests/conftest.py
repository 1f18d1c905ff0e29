"""Shared fixtures: temporary tracking stores, the real data (found or skipped), notebook chains."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from mlflow import MlflowClient

import helpers
from tests.notebook_runner import run_nbval, run_papermill

ROOT = helpers.repo_root()
REAL_MONTHS = ("2023-01", "2023-02", "2023-03")

# --- prerequisites: skipped with the reason outside CI, a failure under CI=true
#
# CI installs and starts everything the suite needs (.ci/run): a prerequisite missing there means
# the tests that need it did not run, which must not pass as "skipped".
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


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


def pytest_sessionfinish(session, exitstatus):
    """Under CI=true, a run with skipped tests fails: CI runs all it claims to run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if not IN_CI or reporter is None or hasattr(session.config, "workerinput"):
        return
    skipped = len(reporter.stats.get("skipped", []))
    if skipped and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Under CI=true, the last lines say how many tests ran and how many were skipped."""
    if not IN_CI:
        return
    stats = terminalreporter.stats
    ran = sum(
        1
        for key in ("passed", "failed", "error")
        for rep in stats.get(key, [])
        if getattr(rep, "when", "call") == "call" or key == "error"
    )
    skipped = len(stats.get("skipped", []))
    line = f"CI=true: {ran} tests ran, {skipped} skipped"
    if skipped:
        terminalreporter.write_line(f"{line}: CI fails when a test is skipped", red=True)
    else:
        terminalreporter.write_line(line, green=True)


def find_real_data_dir() -> Path | None:
    """$TLC_DATA_DIR, else ../shared/tlc-data beside the repository, if it holds green 2023-01..03."""
    candidates = [os.environ.get("TLC_DATA_DIR"), ROOT.parent / "shared" / "tlc-data"]
    for cand in candidates:
        if cand and all((Path(cand) / f"green_tripdata_{m}.parquet").exists() for m in REAL_MONTHS):
            return Path(cand).resolve()
    return None


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The folder with the real green 2023-01..03 files; the test is skipped without it."""
    path = find_real_data_dir()
    require(
        path is not None,
        "real TLC files not found: set TLC_DATA_DIR or put ../shared/tlc-data beside the repo",
    )
    return path


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch) -> str:
    """A fresh sqlite tracking store for this test only, also exported as MLFLOW_TRACKING_URI."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory) -> Path:
    """A data folder shared by the tests that only read generated months."""
    return tmp_path_factory.mktemp("synthetic-data")


# --- notebook chains shared by several test modules (each runs once per session)
#
# 05 and 06 work on the runs of 02-04, and the browser test shows them all: one small chain on
# generated data and one chain on the real files are enough for every module, instead of each
# module re-running 02-04 into a store of its own. The stores are temporary; tests only read them.

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


@pytest.fixture(scope="module")
def course_store(synthetic_course) -> MlflowClient:
    """The store in which 01..06 ran in order on generated data, as MLflow's current store."""
    import mlflow

    mlflow.set_tracking_uri(synthetic_course.uri)
    return synthetic_course.client


@pytest.fixture(scope="session")
def synthetic_course(tmp_path_factory) -> Chain:
    """01-06 under papermill on 4000 generated trips a month, started in notebooks/ as Jupyter does."""
    root = tmp_path_factory.mktemp("course-synthetic")
    chain = Chain(root, f"sqlite:///{root / 'mlflow.db'}")
    common = {**SMALL, "DATA_DIR": str(root / "data"), "TRACKING_URI": chain.uri}
    steps = (
        ("01", {"EXPERIMENT_NAME": "test-intro"}),
        ("02", {"EXPERIMENT_NAME": EXPERIMENT, "ALPHAS": [0.01, 1.0]}),
        ("03", {"EXPERIMENT_NAME": EXPERIMENT, "MAX_EVALS": 4}),
        ("04", {"EXPERIMENT_NAME": EXPERIMENT, "N_ESTIMATORS": 10}),
        ("05", {"EXPERIMENT_NAME": EXPERIMENT}),
        (
            "06",
            {
                "EXPERIMENT_NAME": EXPERIMENT,
                "REGISTERED_MODEL": REGISTERED,
                "MAX_RMSE": 20.0,
                "WORK_DIR": str(root / "work06"),
            },
        ),
    )
    for prefix, params in steps:
        start = time.perf_counter()
        chain.executed[prefix] = run_papermill(prefix, root, NOTEBOOK_ENV, **common, **params)
        chain.seconds[prefix] = round(time.perf_counter() - start, 1)
    # 06 again: a second run must register nothing twice and keep the champion (test_06_*)
    chain.executed["06-again"] = run_papermill(
        "06", root, NOTEBOOK_ENV, **common, **dict(steps)["06"]
    )
    print("papermill seconds, generated data:", chain.seconds)
    return chain


@pytest.fixture(scope="module")
def store(synthetic_course) -> dict:
    """The chain's store, data folder and executed notebooks, the store MLflow points at (the
    tests of 05 and 06; those of 07 and 08 have a `store` of their own, in their modules)."""
    import mlflow

    mlflow.set_tracking_uri(synthetic_course.uri)
    return {
        "root": synthetic_course.root,
        "client": synthetic_course.client,
        "nb": synthetic_course.executed,
        "uri": synthetic_course.uri,
    }


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


@pytest.fixture(scope="session")
def real_course(real_data_dir, tmp_path_factory) -> Chain:
    """The committed 01-08 under nbval on the real files, in order into one store (05 and 06 work
    on the runs of 02-04), each when a test first asks for it: `real_course.through("05")`."""
    root = tmp_path_factory.mktemp("course-real")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    # no inference timeout here: its warning would print in cells whose output nbval compares
    env = {"MLFLOW_LOGGING_LEVEL": "WARNING", "TAXI_DATA_DIR": str(real_data_dir)}
    env["MLFLOW_TRACKING_URI"] = uri

    def run(prefix: str, **params):
        work = {"WORK_DIR": str(root / f"work{prefix}")} if prefix in ("07", "08") else {}
        return run_nbval(prefix, root, env, **params, **work)

    return Chain(root, uri, env, plan=REAL_PARAMS, run=run)


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
    if module.startswith(CHAINED) or module == "test_browser_ui.py":
        return "real-course" if name.startswith("test_committed_") else "synthetic-course"
    return module


def pytest_collection_modifyitems(config, items):
    """Longest units first (a stable sort: the order inside a unit is kept)."""
    rank = {unit: i for i, unit in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(work_unit(item.nodeid), len(rank)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        """xdist's per-module scheduling, with the chains as units and their order kept."""

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    config.option.loadscopereorder = False  # keep LONGEST_FIRST, not "most tests first"
    return UnitScheduling(config, log)
