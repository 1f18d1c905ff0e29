"""Notebook 08: the homework's scripts against a tracking server (papermill, generated data), and
the committed notebook (nbval, real data) with the course's answers read back from its store."""

from __future__ import annotations

import time

import mlflow
import pytest
from mlflow import MlflowClient

from infra import servers, stores
from tests.mlflow_queries import runs
from tests.notebook_runner import notebook_text, run_papermill
from tests.support import NOTEBOOK_ENV, SMALL, assert_nbval_passed

RF_PARAMS = {"max_depth", "n_estimators", "min_samples_split", "min_samples_leaf", "random_state"}


@pytest.fixture(scope="module")
def store(synthetic_course, tmp_path_factory):
    """08 against a real `mlflow server` this module starts (sqlite backend, served artifacts),
    on the generated data of the session's chain."""
    here = tmp_path_factory.mktemp("notebook-08")
    store08 = stores.prepare_sqlite(here / "homework.db")
    server = servers.start_mlflow_server(
        store08, here / "work08-artifacts", here, name="homework-test"
    )
    start = time.perf_counter()
    try:
        nb08 = run_papermill(
            "08",
            here,
            NOTEBOOK_ENV,
            **SMALL,
            DATA_DIR=str(synthetic_course.root / "data"),
            TRACKING_URI=server.url,
            WORK_DIR=str(here / "work08"),
            NUM_TRIALS=3,
            TOP_N=2,
        )
    finally:
        print(f"--- server log:\n{server.log_tail(15)}")
        server.stop()
    print(f"papermill seconds, 08: {time.perf_counter() - start:.1f}")
    mlflow.set_tracking_uri(synthetic_course.uri)
    return {"here": here, "homework": MlflowClient(store08), "nb": {"08": nb08}}


def test_08_homework_steps_in_the_server_store(store):
    client = store["homework"]
    (q3,) = runs(client, "random-forest-train")
    assert q3.data.params["min_samples_split"] == "2"  # autologged: the homework's Q3 answer
    assert q3.data.params["max_depth"] == "10" and q3.data.params["random_state"] == "0"
    assert "training_score" in q3.data.metrics and q3.data.metrics["rmse"] > 0
    assert q3.data.tags["data.source"] == "synthetic"
    trials = runs(client, "random-forest-hyperopt")
    assert len(trials) == 3
    for t in trials:
        assert set(t.data.params) == RF_PARAMS and t.data.metrics["rmse"] > 0
        assert t.data.tags["data.test_month"] == "green 2023-03"
    best = runs(client, "random-forest-best-models")
    assert len(best) == 2 and all("test_rmse" in r.data.metrics for r in best)
    winner = min(best, key=lambda r: r.data.metrics["test_rmse"])
    version = client.get_model_version_by_alias("nyc-taxi-random-forest", "champion")
    assert str(version.version) == "1" and version.run_id == winner.info.run_id
    assert float(version.tags["test_rmse"]) == pytest.approx(
        winner.data.metrics["test_rmse"], abs=1e-4
    )
    assert version.description.startswith("RandomForestRegressor")
    output = store["here"] / "work08" / "output"
    assert sorted(p.name for p in output.iterdir()) == [
        "dv.pkl",
        "test.pkl",
        "train.pkl",
        "val.pkl",
    ]
    assert list((store["here"] / "work08-artifacts").rglob("MLmodel")), "artifacts not served"
    text = notebook_text(store["nb"]["08"])
    assert "Q3: min_samples_split = 2" in text and "Q2: 4 files" in text
    assert "using the tracking server given by TRACKING_URI" in text
    # the notebook shows the scripts' MLflow code, and runs the scripts themselves
    for code in (
        "mlflow.sklearn.autolog(log_datasets=False, log_models=False)",  # Q3
        "mlflow.log_params(params)",  # Q5, in the objective
        "client.set_registered_model_alias(MODEL_NAME, alias, version.version)",  # Q6
        "skops_trusted_types=SKOPS_TRUSTED_TYPES",
    ):
        assert code in text, f"notebook 08 does not show {code!r}"
    assert "3 trials; best validation RMSE" in text and "2 models tested" in text
    # the forests are saved with skops: no warning about pickle or cloudpickle anywhere
    assert "in the pickle or cloudpickle format" not in text and "CloudPickle" not in text


def test_committed_notebook_reproduces_on_the_real_data(real_course):
    """nbval on the real files, after the notebooks before it in the same store (conftest)."""
    assert_nbval_passed(real_course.through("08"))


def test_committed_homework_answers_found_by_notebook_08s_own_search(real_course):
    """The course's answers, read from the store notebook 08's scripts wrote under nbval: Q3
    min_samples_split 2, Q5 best validation RMSE 5.335 (15 trials), Q6 best test RMSE 5.567 (top 5),
    and the registered model's champion is that best run's model."""
    assert_nbval_passed(real_course.through("08"))
    client = MlflowClient(real_course.uri)

    def runs_of(name: str, order: str) -> list:
        experiment = client.get_experiment_by_name(name)
        assert experiment is not None, f"notebook 08 left no experiment {name!r}"
        return client.search_runs([experiment.experiment_id], order_by=[order])

    (q3,) = runs_of("random-forest-train", "attributes.start_time ASC")
    assert q3.data.params["min_samples_split"] == "2"  # autologged by train.py, run by 08 (Q3)
    assert q3.data.tags["data.source"] == "tlc"
    trials = runs_of("random-forest-hyperopt", "metrics.rmse ASC")
    assert len(trials) == 15
    assert trials[0].data.metrics["rmse"] == pytest.approx(5.335, abs=5e-4)
    best = runs_of("random-forest-best-models", "metrics.test_rmse ASC")
    assert len(best) == 5
    assert best[0].data.metrics["test_rmse"] == pytest.approx(5.567, abs=5e-4)
    champion = client.get_model_version_by_alias("nyc-taxi-random-forest", "champion")
    assert champion.run_id == best[0].info.run_id
