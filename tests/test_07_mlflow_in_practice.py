"""Notebook 07: one person, a team server, PostgreSQL with basic auth (papermill, generated data),
and the committed notebook (nbval, real data: scenario 1)."""

from __future__ import annotations

import re
import time

import mlflow
import pytest
from mlflow import MlflowClient

from infra import stores
from tests.mlflow_queries import runs
from tests.notebook_runner import notebook_text, run_papermill
from tests.support import NOTEBOOK_ENV, SMALL, assert_nbval_passed, require


def postgres_contents(uri: str) -> dict:
    """What scenario 3 left in its PostgreSQL database, read from MLflow's own tables (runs,
    experiments, tags, latest_metrics, registered_model_aliases, model_versions) with psycopg."""
    import psycopg

    with psycopg.connect(uri) as conn:
        runs = conn.execute(
            """select r.run_uuid, r.name, r.status, e.name, t.value, m.value
            from runs r join experiments e on e.experiment_id = r.experiment_id
            left join tags t on t.run_uuid = r.run_uuid and t.key = 'scenario'
            left join latest_metrics m on m.run_uuid = r.run_uuid and m.key = 'rmse'
            where r.lifecycle_stage = 'active'"""
        ).fetchall()
        aliases = conn.execute(
            """select a.name, a.alias, a.version, v.run_id
            from registered_model_aliases a join model_versions v
            on v.name = a.name and v.version = a.version"""
        ).fetchall()
    columns = ("run_id", "name", "status", "experiment", "scenario", "rmse")
    return {
        "runs": [dict(zip(columns, row, strict=True)) for row in runs],
        "aliases": {(name, alias): (version, run_id) for name, alias, version, run_id in aliases},
    }


@pytest.fixture(scope="module")
def store(synthetic_course, tmp_path_factory):
    """07 in a store of its own, with its own servers (scenario 3 on a fresh PostgreSQL database
    when one is reachable), on the generated data of the session's chain."""
    here = tmp_path_factory.mktemp("notebook-07")
    uri07 = f"sqlite:///{here / 'mlflow.db'}"
    base = stores.postgres_uri()
    no_postgres = stores.check_postgres(base)
    pg = stores.create_database(base, "nb07") if no_postgres is None else None
    start = time.perf_counter()
    try:
        nb07 = run_papermill(
            "07",
            here,
            NOTEBOOK_ENV,
            **SMALL,
            DATA_DIR=str(synthetic_course.root / "data"),
            TRACKING_URI=uri07,
            EXPERIMENT_NAME="test-in-practice",
            WORK_DIR=str(here / "work07"),
            POSTGRES_URI=pg or "postgresql://nobody:none@127.0.0.1:1/none",
        )
        in_postgres = postgres_contents(pg) if pg else None
    finally:
        if pg:
            stores.drop_database(base, pg)
    print(f"papermill seconds, 07: {time.perf_counter() - start:.1f}")
    mlflow.set_tracking_uri(synthetic_course.uri)
    return {
        "here": here,
        "client07": MlflowClient(uri07),
        "postgres": pg,
        "no_postgres": no_postgres,  # why scenario 3 could not run, or None
        "in_postgres": in_postgres,  # what scenario 3 left in its database, read before the drop
        "nb": {"07": nb07},
    }


def test_07_scenarios_1_and_2(store):
    text = notebook_text(store["nb"]["07"])
    client = store["client07"]
    # scenario 1: the notebook's sqlite store
    (run1,) = runs(client, "test-in-practice", "tags.scenario = '1-local-sqlite'")
    assert run1.data.tags["data.source"] == "synthetic" and run1.data.metrics["rmse"] > 0
    assert (
        str(client.get_model_version_by_alias("nyc-taxi-trip-duration", "champion").version) == "1"
    )
    # scenario 2: the server's own sqlite file and artifact folder, written through HTTP only
    work = store["here"] / "work07" / "scenario-2"
    server_store = MlflowClient(stores.sqlite_uri(work / "mlflow.db"))
    names = sorted(r.info.run_name for r in runs(server_store, "test-in-practice"))
    assert names == ["colleague-baseline", "linear-regression-2-team-server"]
    assert (
        str(server_store.get_model_version_by_alias("nyc-taxi-trip-duration", "champion").version)
        == "1"
    )
    assert list((work / "artifacts").rglob("MLmodel")), "no model in the server's artifact folder"
    assert "stopped the scenario 2 server (exit code 0)" in text
    assert "Uvicorn running" in (work / "scenario-2.log").read_text()
    assert "/tmp/" not in text and "pytest-of" not in text
    assert "pid " not in text and not re.search(r"127\.0\.0\.1:\d{5}", text)  # no random ports
    assert "Successfully registered model" not in text  # silenced at its source
    assert "CloudPickle" not in text  # the packaged model is logged from code (05)
    if not store["postgres"]:  # the notebook tells the learner why and how to start one
        assert "SCENARIO 3 SKIPPED" in text and "docker run" in text


def test_07_scenario_3_postgresql_and_basic_auth(store):
    """Needs a PostgreSQL (skipped with the reason without one; a failure under CI=true)."""
    require(
        store["postgres"],
        f"notebook 07's scenario 3 needs a PostgreSQL: {store['no_postgres']}; "
        "`bash .ci/postgres.sh start /tmp/pg` and export MLFLOW_TEST_POSTGRES_URI=$(cat /tmp/pg/uri)",
    )
    # in PostgreSQL itself, before the database was dropped: alice's one run, and the alias
    (run,) = store["in_postgres"]["runs"]
    assert run["experiment"] == "test-in-practice" and run["scenario"] == "3-postgres-auth"
    assert run["status"] == "FINISHED" and run["rmse"] > 0
    aliases = store["in_postgres"]["aliases"]
    assert aliases == {("nyc-taxi-trip-duration", "champion"): (1, run["run_id"])}
    # what the learner sees of the authentication (the users live in the server's auth database)
    text = notebook_text(store["nb"]["07"])
    assert "SCENARIO 3 SKIPPED" not in text
    assert "no credentials: 401" in text
    assert "reader may not create a run: PERMISSION_DENIED" in text
    assert "reader sees 1 run(s) and loads @champion: True" in text
    assert "stopped the scenario 3 server (exit code 0)" in text


def test_committed_notebook_reproduces_on_the_real_data(real_course):
    """nbval on the real files, after the notebooks before it in the same store (conftest)."""
    assert_nbval_passed(real_course.through("07"))
