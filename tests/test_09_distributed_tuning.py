"""Notebook 09 (hyperopt's SparkTrials on a local Spark) checked through what it leaves in MLflow.

- papermill on generated data, `local[2]`, against a real `mlflow server` this module starts:
  one parent run per engine, one child run with `rmse` per evaluation, no failed trial, the best
  RMSE reported equal to the minimum of the children, the SparkTrials trials run in Spark's
  Python workers and not in the notebook's process. `MAX_TRIPS` is smaller than the generated
  month, as a yellow month is bigger than the default: the search runs on seeded samples with
  100 boosting rounds, and says so in its params and tags; the month prepared by Spark and by
  pandas gives the same trips, logged as a run;
- the same notebook with no Java runtime (same server, another experiment): it says what to
  install, skips Spark, and completes; its month is smaller than `MAX_TRIPS` (as green is), so
  it is searched whole with the default rounds. This one needs no Java, so it runs everywhere:
  on a machine without Java for real, elsewhere with JAVA_HOME pointing at an empty folder;
- nbval of the committed notebook on the real data, with a small search: the notebook starts its
  own server over the store it is given.

Spark needs Java 17+: without it the Spark tests are skipped, with the reason printed, and fail
under CI=true (.ci/run installs Java).
"""

from __future__ import annotations

import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from mlflow import MlflowClient

from infra import servers, stores
from infra import spark as local_spark
from tests.notebook_runner import notebook, notebook_text, run_nbval, run_papermill
from tests.support import require

MAX_EVALS = 4
SMALL = {"DATA_SOURCE": "synthetic", "SYNTHETIC_ROWS": 4000}
MAX_TRIPS = 1500  # smaller than the generated month (about 3800 trips), as yellow is than 100_000
EXPERIMENT = "test-distributed-tuning"
NO_JAVA = "test-distributed-tuning-no-java"
SEARCHED = {"max_depth", "learning_rate", "reg_alpha", "reg_lambda", "min_child_weight"}
QUIET = {"MLFLOW_LOGGING_LEVEL": "WARNING"}


def outputs_text(nb: nbformat.NotebookNode) -> str:
    """The notebook's text outputs and the markdown its cells display (display(Markdown(...)))."""
    shown = [
        out.get("data", {}).get("text/markdown", "")
        for cell in nb.cells
        for out in cell.get("outputs", [])
    ]
    return notebook_text(nb) + "\n" + "\n".join("".join(s) for s in shown)


def require_java() -> None:
    """Skip (fail under CI=true), saying why and what to install, when Spark has no Java."""
    java = local_spark.find_java()
    require(
        isinstance(java, local_spark.JavaRuntime),
        f"notebook 09 needs Java {local_spark.MIN_JAVA}+ for Spark: {java}; "
        "install it with apt-get install openjdk-17-jre-headless (or bash .ci/java.sh)",
    )


@dataclass
class Search:
    parent: object
    children: list


def searches(client: MlflowClient, experiment: str) -> dict[str, Search]:
    """engine -> its parent run and child runs, asserting one parent per engine."""
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"experiment {experiment!r} missing"
    parents = client.search_runs([exp.experiment_id], "tags.hyperopt_parent = 'true'")
    engines = [p.data.tags["engine"] for p in parents]
    assert len(engines) == len(set(engines)), f"more than one parent per engine: {engines}"
    found = {}
    for parent in parents:
        children = client.search_runs(
            [exp.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
        )
        found[parent.data.tags["engine"]] = Search(parent, children)
    return found


def check_search(search: Search, engine: str, evals: int, source: str) -> None:
    """One child per evaluation, each finished with rmse; the parent reports the best of them."""
    parent, children = search.parent, search.children
    assert parent.info.status == "FINISHED"
    assert parent.data.params["max_evals"] == str(evals)
    assert len(children) == evals, f"{engine}: {len(children)} child runs for {evals} evaluations"
    for child in children:
        assert child.info.status == "FINISHED", f"{engine}: a trial ended {child.info.status}"
        assert child.data.metrics["rmse"] > 0
        assert SEARCHED <= set(child.data.params)
        assert child.data.tags["engine"] == engine
        assert child.data.tags["data.source"] == source
    assert parent.data.metrics["failed_trials"] == 0
    best = min(children, key=lambda r: r.data.metrics["rmse"])
    assert parent.data.metrics["best_rmse"] == pytest.approx(best.data.metrics["rmse"])
    assert parent.data.tags["best_run_id"] == best.info.run_id


def same_points(a: Search, b: Search) -> None:
    """Up to 20 evaluations, TPE draws the same random points for both engines."""

    def points(search):
        return sorted(
            (int(r.data.params["max_depth"]), round(float(r.data.params["learning_rate"]), 6))
            for r in search.children
        )

    assert points(a) == points(b)
    best_a = min(r.data.metrics["rmse"] for r in a.children)
    best_b = min(r.data.metrics["rmse"] for r in b.children)
    assert best_a == pytest.approx(best_b, abs=1e-3)


@dataclass
class Executed:
    root: Path
    client: MlflowClient
    notebook: nbformat.NotebookNode
    seconds: float


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One `mlflow server` for the module's papermill runs (each in an experiment of its own)."""
    root = tmp_path_factory.mktemp("spark-notebook")
    store = stores.prepare_sqlite(root / "server.db")
    server = servers.start_mlflow_server(store, root / "artifacts", root, name="spark-test")
    yield root, server, MlflowClient(store)
    server.stop()


@pytest.fixture(scope="module")
def executed(server) -> Executed:
    """Notebook 09 by papermill on 4000 generated trips a month, searched on samples of
    MAX_TRIPS, with Java: Trials, then SparkTrials on local[2], logging to the module's server;
    then the training month prepared by pandas and by Spark."""
    require_java()
    root, srv, client = server
    start = time.perf_counter()
    nb = run_papermill(
        "09",
        root,
        QUIET,
        **SMALL,
        MAX_TRIPS=MAX_TRIPS,
        NUM_BOOST_ROUND=None,  # the notebook's own choice: 100 rounds on a sample
        DATA_DIR=str(root / "data"),
        TRACKING_URI=srv.url,
        EXPERIMENT_NAME=EXPERIMENT,
        MAX_EVALS=MAX_EVALS,
        SPARK_MASTER="local[2]",
        PARALLELISM=2,
        WORK_DIR=str(root / "work"),
    )
    seconds = round(time.perf_counter() - start, 1)
    print(f"papermill of 09 on generated data, with Java: {seconds} s")
    return Executed(root, client, nb, seconds)


@pytest.fixture(scope="module")
def no_java(server) -> Executed:
    """The same notebook with no Java runtime: JAVA_HOME pointing at an empty folder (Spark uses
    $JAVA_HOME/bin/java when it is set). Needs no Java, so it is never skipped. The default
    MAX_TRIPS and NUM_BOOST_ROUND: the month is searched whole, with up to 1000 rounds."""
    root, srv, client = server
    start = time.perf_counter()
    nb = run_papermill(
        "09",
        root,
        {**QUIET, "JAVA_HOME": str(root / "no-java")},
        **SMALL,
        DATA_DIR=str(root / "data"),
        TRACKING_URI=srv.url,
        EXPERIMENT_NAME=NO_JAVA,
        MAX_EVALS=2,
        WORK_DIR=str(root / "work-no-java"),
    )
    seconds = round(time.perf_counter() - start, 1)
    print(f"papermill of 09 on generated data, without Java: {seconds} s")
    return Executed(root, client, nb, seconds)


def test_one_parent_and_one_child_run_per_evaluation(executed):
    found = searches(executed.client, EXPERIMENT)
    assert sorted(found) == ["SparkTrials", "Trials"]
    for engine, search in found.items():
        check_search(search, engine, MAX_EVALS, "synthetic")
    spark = found["SparkTrials"].parent
    assert spark.data.params["spark_master"] == "local[2]"
    assert spark.data.params["parallelism"] == "2"
    assert spark.data.params["threads_per_trial"] == "1"


def test_a_month_bigger_than_max_trips_is_searched_on_a_sample(executed):
    """Both months sampled to MAX_TRIPS, 100 rounds a trial: the parents' params and every run's
    tags say so; the sample's size is taken from the whole month, which Spark counted."""
    trips = int(prepare_run(executed).data.params["trips"])
    assert trips > MAX_TRIPS
    found = searches(executed.client, EXPERIMENT)
    for engine, search in found.items():
        params = search.parent.data.params
        assert params["max_trips"] == str(MAX_TRIPS), engine
        assert params["num_boost_round"] == "100", engine
        for run in [search.parent, *search.children]:
            tags = run.data.tags
            assert tags["data.train_sample"] == f"{MAX_TRIPS} of {trips} trips (seed 42)", engine
            assert tags["data.valid_sample"].startswith(f"{MAX_TRIPS} of "), engine
    text = outputs_text(executed.notebook)
    assert (
        f"the search uses seeded samples (MAX_TRIPS): {MAX_TRIPS} and {MAX_TRIPS} trips, "
        "at most 100 boosting rounds a trial"
    ) in text


def prepare_run(executed: Executed):
    """The one run of the measured step: the training month prepared by pandas and by Spark."""
    exp = executed.client.get_experiment_by_name(EXPERIMENT)
    (run,) = executed.client.search_runs(
        [exp.experiment_id], "attributes.run_name = 'spark-prepare-green'"
    )
    return run


def test_spark_and_pandas_prepare_the_same_trips(executed):
    """Read, duration, 1..60 minutes, PU_DO: the same trip count by both engines, both timed."""
    run = prepare_run(executed)
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    assert run.info.status == "FINISHED"
    assert params["engine"] == "spark" and params["spark_master"] == "local[2]"
    trips = int(params["trips"])
    assert 3000 < trips <= SMALL["SYNTHETIC_ROWS"]
    assert metrics["pandas_trips"] == metrics["spark_trips"] == trips
    assert metrics["pandas_seconds"] > 0 and metrics["spark_seconds"] > 0
    assert int(params["zone_pairs"]) > 0
    # the whole training month, not the search's sample
    assert tags["data.train_month"] == "green 2023-01" and "data.train_sample" not in tags
    assert f"green_tripdata_2023-01.parquet: {trips} trips either way" in outputs_text(
        executed.notebook
    )


def test_sparktrials_trials_ran_in_spark_workers(executed):
    found = searches(executed.client, EXPERIMENT)
    driver = found["SparkTrials"].parent.data.tags["driver_pid"]
    workers = {r.data.tags["worker_pid"] for r in found["SparkTrials"].children}
    assert driver not in workers, "a SparkTrials trial ran in the notebook's own process"
    assert {r.data.tags["worker_pid"] for r in found["Trials"].children} == {driver}


def test_both_engines_evaluate_the_same_points(executed):
    found = searches(executed.client, EXPERIMENT)
    same_points(found["Trials"], found["SparkTrials"])
    text = outputs_text(executed.notebook)
    assert f"{MAX_EVALS} of {MAX_EVALS} points identical" in text
    assert f"SparkTrials: {MAX_EVALS} trials, best validation RMSE " in text
    assert "Total Trials:" not in text  # hyperopt-spark's INFO tally on stderr: silenced
    assert "trials log to the tracking server given by TRACKING_URI" in text


def test_spark_console_output_stays_out_of_the_notebook(executed):
    text = outputs_text(executed.notebook)
    for noise in ("log4j", "WARN ", "Stage 0", "NativeCodeLoader", "View run", "pid "):
        assert noise not in text, f"{noise!r} printed in the notebook"
    assert (executed.root / "work" / "spark.log").exists()


def test_without_java_the_notebook_says_what_to_install_and_completes(no_java):
    """JAVA_HOME pointing at nothing: Spark is skipped, the Trials search still runs and logs."""
    text = outputs_text(no_java.notebook)
    assert "SPARK SKIPPED: no Java runtime found" in text
    assert "apt-get install -y openjdk-17-jre-headless" in text
    assert "SparkTrials was skipped (no Java)" in text
    found = searches(no_java.client, NO_JAVA)
    assert sorted(found) == ["Trials"]
    check_search(found["Trials"], "Trials", 2, "synthetic")
    # a month smaller than MAX_TRIPS (as green is) is searched whole, with the default rounds
    parent = found["Trials"].parent
    assert parent.data.params["max_trips"] == "100000"
    assert parent.data.params["num_boost_round"] == "1000"
    for run in [parent, *found["Trials"].children]:
        assert not [t for t in run.data.tags if t.endswith("_sample")], run.data.tags
    exp = no_java.client.get_experiment_by_name(NO_JAVA)
    runs = no_java.client.search_runs([exp.experiment_id], "attributes.run_name LIKE 'spark-%'")
    assert not runs, "the Spark preparation ran without Java"


def test_find_java_reports_what_is_missing_or_too_old(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "none"))
    assert local_spark.find_java().startswith("no Java runtime found")
    old = tmp_path / "old" / "bin" / "java"
    old.parent.mkdir(parents=True)
    old.write_text("#!/bin/sh\necho 'java version \"1.8.0_392\"' >&2\n")
    old.chmod(old.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "old"))
    reason = local_spark.find_java()
    assert "Java 8 found" in reason and "needs Java 17 or later" in reason


def test_master_cores():
    assert local_spark.master_cores("local[2]") == 2
    assert local_spark.master_cores("local") == 1
    assert local_spark.master_cores("local[*]") == (os.cpu_count() or 1)
    assert local_spark.master_cores("spark://host:7077") is None


def test_committed_notebook_reproduces_on_the_real_data(real_data_dir, tmp_path):
    """nbval with the committed 20 evaluations per engine (its checked cell shows both searches'
    best RMSE, which 4 evaluations would not reach); the notebook starts a server over the sqlite
    store it gets."""
    require_java()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**QUIET, "TAXI_DATA_DIR": str(real_data_dir), "MLFLOW_TRACKING_URI": uri}
    start = time.perf_counter()
    result = run_nbval("09", tmp_path, env, WORK_DIR=str(tmp_path / "work"))
    print(f"nbval of 09 on the real data: {time.perf_counter() - start:.1f} s")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout.splitlines()[-1]
    found = searches(MlflowClient(uri), "nyc-taxi-distributed-tuning")
    assert sorted(found) == ["SparkTrials", "Trials"]
    for engine, search in found.items():
        check_search(search, engine, 20, "tlc")
    same_points(found["Trials"], found["SparkTrials"])


def test_committed_outputs_show_real_numbers_and_the_comparison():
    text = json.dumps(json.load(open(notebook("09"))))
    for figure in (
        "65946 training and 62574 validation trips (tlc)",
        "20 of 20 points identical",
        "On this machine (2 cores, `local[2]`): `Trials`",
        "SparkTrials: 20 trials, best validation RMSE 4.9275",
        "Trials: 20 trials, best validation RMSE 4.9275",
    ):
        assert figure in text, f"{notebook('09').name} does not show {figure!r}"
    assert "pid " not in text and "Total Trials" not in text
    for path in ("/work/", "/tmp/", "/root/", "/home/", "pytest-of"):
        assert path not in text, f"{notebook('09').name} shows a machine path ({path})"
