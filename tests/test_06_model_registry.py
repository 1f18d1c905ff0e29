"""Notebook 06: versions, aliases, evaluation, promotion and serving (papermill, generated data); the
packaged models in a fresh virtualenv; and the committed notebook (nbval, real data)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

import helpers
from tests.mlflow_queries import dataset_inputs, model_of, runs, trips
from tests.notebook_runner import notebook_text
from tests.support import EXPERIMENT, REGISTERED, assert_nbval_passed


def test_06_registry_versions_aliases_tags_and_promotion(store):
    client = store["client"]
    versions = sorted(
        client.search_model_versions(f"name = '{REGISTERED}'"), key=lambda v: int(v.version)
    )
    assert [int(v.version) for v in versions] == [1, 2]
    v1, v2 = (client.get_model_version(REGISTERED, v.version) for v in versions)
    assert v1.tags["model_type"] == "LinearRegression" and v2.tags["model_type"] == "xgboost"
    # the challenger (xgboost) beat the champion (linear regression) on the test month: promoted
    assert client.get_model_version_by_alias(REGISTERED, "champion").version == v2.version
    assert client.get_model_version_by_alias(REGISTERED, "previous").version == v1.version
    assert set(client.get_registered_model(REGISTERED).aliases) == {"champion", "previous"}
    assert (v1.tags["status"], v2.tags["status"]) == ("retired", "champion")
    assert float(v2.tags["test_rmse"]) < float(v1.tags["test_rmse"])
    for v in (v1, v2):
        assert {"validation_rmse", "test_rmse", "train_month", "valid_month"} <= set(v.tags)
        assert "packaged with its preprocessing" in v.description
    assert client.get_registered_model(REGISTERED).description
    evaluations = runs(client, f"{EXPERIMENT}-evaluation")
    # two runs of 06, each scored every version by its alias: champion and challenger, then
    # (after the promotion) champion and previous
    assert sorted(r.data.tags["alias"] for r in evaluations) == sorted(
        ["champion", "challenger", "champion", "previous"]
    )
    assert all(r.data.tags["data.test_month"] == "green 2023-03" for r in evaluations)


def test_06_runs_twice_without_moving_the_champion(store, synthetic_course):
    """The second run of 06 (conftest.synthetic_course) registers nothing and keeps the aliases."""
    first = notebook_text(synthetic_course.executed["06"])
    again = notebook_text(synthetic_course.executed["06-again"])
    assert "2 candidate versions of 'test-trip-duration', 2 registered now" in first
    # register_model's own progress lines on stderr are silenced at their source
    assert "Successfully registered model" not in first + again
    assert "Created version" not in first + again
    assert "promoted version 2" in first
    assert "2 candidate versions of 'test-trip-duration', 0 registered now" in again
    assert "the champion stays: version 2 is the best on the test month" in again
    client = store["client"]
    tags = {
        int(v.version): client.get_model_version(REGISTERED, v.version).tags["status"]
        for v in client.search_model_versions(f"name = '{REGISTERED}'")
    }
    assert tags == {1: "retired", 2: "champion"}  # exactly one champion, the aliased one


def test_06_champion_predicts_what_05_logged(store):
    client = store["client"]
    (xgb_run,) = runs(client, EXPERIMENT, "tags.packaging = 'pyfunc' and tags.model = 'xgboost'")
    sample = trips(store).head(200)
    logged = mlflow.pyfunc.load_model(model_of(client, xgb_run).model_uri).predict(sample)
    champion = mlflow.pyfunc.load_model(f"models:/{REGISTERED}@champion").predict(sample)
    np.testing.assert_array_equal(champion, logged)


def test_06_evaluations_with_evaluate_and_the_alias_follows_the_best(course_store):
    evaluations = runs(course_store, f"{EXPERIMENT}-evaluation")
    assert len(evaluations) >= 2
    for run in evaluations:
        assert {"root_mean_squared_error", "mean_absolute_error", "r2_score"} <= set(
            run.data.metrics
        )
        assert dataset_inputs(run)["test"] == "green_tripdata_2023-03"
        artifacts = {f.path for f in course_store.list_artifacts(run.info.run_id)}
        assert "predicted_vs_actual.png" in artifacts, artifacts
    versions = course_store.search_model_versions(f"name = '{REGISTERED}'")
    test_rmse = {
        int(v.version): float(
            course_store.get_model_version(REGISTERED, v.version).tags["test_rmse"]
        )
        for v in versions
    }
    champion = course_store.get_model_version_by_alias(REGISTERED, "champion")
    assert int(champion.version) == min(test_rmse, key=test_rmse.get)
    latest = {}
    for run in sorted(evaluations, key=lambda r: r.info.start_time):
        latest[int(run.data.tags["version"])] = run.data.metrics["root_mean_squared_error"]
    assert {v: round(r, 4) for v, r in latest.items()} == test_rmse


def test_06_serves_the_champion_over_http(course_store, synthetic_course, tmp_path, monkeypatch):
    """On the wire: the champion served by `mlflow models serve` predicts what pyfunc predicts,
    and a body that is not JSON gets the server's 4xx with a message."""
    import numpy as np
    import requests

    import helpers
    from helpers import models
    from infra import servers

    text = notebook_text(synthetic_course.executed["06"])
    assert "minutes over HTTP" in text and "server stopped: True" in text
    # the command a learner would type, shown before the notebook starts it
    assert (
        f'mlflow models serve -m "models:/{REGISTERED}@champion" --env-manager local '
        "--host 127.0.0.1 --port "
    ) in text
    assert "pid " not in text and "/tmp/" not in text
    month = helpers.load_month(
        "green", "2023-03", "synthetic", synthetic_course.root / "data", 4000
    )
    trips = models.raw_trips(month.df).head(50)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", synthetic_course.uri)  # the server resolves the alias
    server = servers.start_model_server(f"models:/{REGISTERED}@champion", tmp_path)
    try:
        body = {"dataframe_split": trips.to_dict(orient="split", index=False)}
        answer = requests.post(f"{server.url}/invocations", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        expected = mlflow.pyfunc.load_model(f"models:/{REGISTERED}@champion").predict(trips)
        np.testing.assert_allclose(answer.json()["predictions"], expected, rtol=1e-6)
        bad = requests.post(
            f"{server.url}/invocations",
            data="{not json",
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        assert 400 <= bad.status_code < 500 and bad.json()["message"], bad.text
    finally:
        server.stop()
    assert not server.running


def predict_in_fresh_virtualenv(model_dirs: dict[str, Path], place: Path) -> dict[str, np.ndarray]:
    """Load and predict with each model in a new virtualenv made from its own requirements.txt.

    Runs from `place` (outside the repository) with a clean PYTHONPATH, so `helpers` cannot be
    imported there, on the trips of `place`/trips.csv; returns {name: predictions}.
    """
    (requirements,) = {(d / "requirements.txt").read_text() for d in model_dirs.values()}
    (place / "requirements.txt").write_text(requirements)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p
    )
    venv = place / "venv"
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, cwd=place, env=env)
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", "requirements.txt"],
        cwd=place,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert pip.returncode == 0, pip.stderr[-3000:]
    script = textwrap.dedent(
        f"""
        import importlib.util, sys
        import mlflow.pyfunc, numpy as np, pandas as pd
        assert importlib.util.find_spec("helpers") is None, "helpers is importable here"
        trips = pd.read_csv("trips.csv")
        for name in {list(model_dirs)!r}:
            np.save(name + ".npy", mlflow.pyfunc.load_model(name).predict(trips))
        """
    )
    for name, folder in model_dirs.items():
        if folder != place / name:
            folder.rename(place / name)
    done = subprocess.run(
        [str(python), "-c", script], cwd=place, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {name: np.load(place / f"{name}.npy") for name in model_dirs}


def test_05_06_models_load_in_a_fresh_virtualenv(store, tmp_path_factory):
    """The champion (06) and the packaged linear regression (05), copied outside the repository,
    predict in a virtualenv made from their own requirements.txt what they predict here."""
    start = time.perf_counter()
    mlflow.set_tracking_uri(store["uri"])
    place = tmp_path_factory.mktemp("portable-model")
    assert helpers.repo_root() not in place.parents
    (lr_run,) = runs(
        store["client"], EXPERIMENT, "tags.packaging = 'pyfunc' and tags.model = 'LinearRegression'"
    )
    uris = {
        "champion": f"models:/{REGISTERED}@champion",
        "linear": model_of(store["client"], lr_run).model_uri,
    }
    dirs = {
        name: Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(place / name)))
        for name, uri in uris.items()
    }
    for folder in dirs.values():  # the model's own files only: no copy of this repository
        files = {p.name for p in folder.rglob("*") if p.is_file()}
        assert "trip_model.py" in files and not {"helpers", "code"} & {
            p.name for p in folder.iterdir()
        }
        assert "python_model.pkl" not in files
    trips(store).head(200).to_csv(place / "trips.csv", index=False)
    sample = pd.read_csv(place / "trips.csv")
    here = {name: mlflow.pyfunc.load_model(uri).predict(sample) for name, uri in uris.items()}
    there = predict_in_fresh_virtualenv(dirs, place)
    for name in uris:
        np.testing.assert_array_equal(there[name], here[name])
    print(f"fresh virtualenv, install and predict: {time.perf_counter() - start:.0f} s")


def test_committed_notebook_reproduces_on_the_real_data(real_course):
    """nbval on the real files, after the notebooks before it in the same store (conftest)."""
    assert_nbval_passed(real_course.through("06"))
