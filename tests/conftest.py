"""Fixtures and hooks only: temporary tracking stores, the real data (found or skipped), notebook
chains, the CI rule on skips and the order of work units. Constants and helpers: tests/support.py."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from infra.realdata import find_real_data
from tests.notebook_runner import run_nbval, run_papermill
from tests.support import (
    EXPERIMENT,
    IN_CI,
    LONGEST_FIRST,
    NOTEBOOK_ENV,
    REAL_MONTHS,
    REAL_PARAMS,
    REGISTERED,
    SMALL,
    Chain,
    require,
    work_unit,
)


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


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The folder with the real green 2023-01..03 files; the test is skipped without it."""
    path = find_real_data(REAL_MONTHS)
    require(
        path is not None,
        "real TLC files not found: set TLC_DATA_DIR (or TAXI_DATA_DIR) or put ../shared/tlc-data "
        "beside the repo",
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
