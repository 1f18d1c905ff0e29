"""The homework's four scripts (scripts/homework/), run as a learner runs them, on generated data.

Each script runs in a subprocess against a sqlite tracking store of its own (notebook 08's test
runs them against a real `mlflow server`); the checks read what they left in MLflow.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import pytest
from hyperopt import STATUS_OK, Trials, fmin, space_eval, tpe
from mlflow import MlflowClient
from sklearn.metrics import root_mean_squared_error

import helpers
from helpers.tuning import RANDOM_FOREST_SPACE

SCRIPTS = helpers.repo_root() / "scripts" / "homework"
FILES = ["dv.pkl", "test.pkl", "train.pkl", "val.pkl"]
SYNTHETIC = ["--data-source", "synthetic", "--synthetic-rows", "3000"]
RF_PARAMS = {"max_depth", "n_estimators", "min_samples_split", "min_samples_leaf", "random_state"}


def run_script(name: str, *args, cwd: Path, uri: str | None = None) -> subprocess.CompletedProcess:
    """`python scripts/homework/<name> args` from `cwd`, as typed in a terminal."""
    env = {**os.environ, "MLFLOW_LOGGING_LEVEL": "WARNING"}
    env.pop("MLFLOW_TRACKING_URI", None)
    tracking = ["--tracking-uri", uri] if uri else []
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / name), *map(str, args), *tracking],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(f"{name}: {time.perf_counter() - start:.1f} s, exit code {done.returncode}")
    return done


def load_script(name: str):
    """A homework script as a module (its functions, without running main)."""
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), SCRIPTS / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def homework(tmp_path_factory):
    """The four steps in order: preprocess, train (Q3), hpo (Q5, 3 trials), register (Q6, top 2)."""
    here = tmp_path_factory.mktemp("homework")
    uri = f"sqlite:///{here / 'mlflow.db'}"
    out, data = here / "output", here / "data"
    tags = ["--tag", "data.source=synthetic", "--tag", "data.test_month=green 2023-03"]
    steps = {
        "preprocess_data.py": ["--raw-data-path", data, "--dest-path", out, *SYNTHETIC],
        "train.py": ["--data-path", out, *tags],
        "hpo.py": ["--data-path", out, "--num-trials", 3, *tags],
        "register_model.py": ["--data-path", out, "--top-n", 2, "--alias", "best", *tags],
    }
    done = {}
    for name, args in steps.items():
        done[name] = run_script(name, *args, cwd=here, uri=None if name[0] == "p" else uri)
        assert done[name].returncode == 0, done[name].stderr[-3000:]
    return {"here": here, "out": out, "client": MlflowClient(uri), "uri": uri, "done": done}


def runs_of(client: MlflowClient, experiment: str) -> list:
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"experiment {experiment!r} missing"
    return client.search_runs([exp.experiment_id], order_by=["metrics.rmse ASC"])


def test_preprocess_writes_four_files(homework):
    out = homework["out"]
    assert sorted(p.name for p in out.iterdir()) == FILES
    assert "4 files" in homework["done"]["preprocess_data.py"].stdout
    dv = pickle.loads((out / "dv.pkl").read_bytes())
    X_train, y_train = pickle.loads((out / "train.pkl").read_bytes())
    X_test, y_test = pickle.loads((out / "test.pkl").read_bytes())
    assert X_train.shape == (len(y_train), len(dv.feature_names_)) and dv.feature_names_[-1] == (
        "trip_distance"
    )
    assert X_test.shape[1] == X_train.shape[1] and 1 <= y_test.min() and y_test.max() <= 60
    # nothing left beside the output: the temporary folder was renamed into place
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".output")) == []
    assert oct(out.stat().st_mode & 0o777) != oct(0o700)


def test_preprocess_writes_all_or_none(homework, tmp_path):
    out = homework["out"]
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    # March damaged: the step stops with the file's name and the output keeps its old files
    raw = tmp_path / "raw"
    raw.mkdir()
    for month in ("2023-01", "2023-02"):
        name = f"green_tripdata_{month}.parquet"
        (raw / name).write_bytes(
            (homework["here"] / "data" / "synthetic" / "rows-3000" / name).read_bytes()
        )
    (raw / "green_tripdata_2023-03.parquet").write_bytes(b"not a parquet file")
    failed = run_script(
        "preprocess_data.py",
        "--raw-data-path",
        raw,
        "--dest-path",
        out,
        "--data-source",
        "tlc",
        cwd=tmp_path,
    )
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "green_tripdata_2023-03.parquet is not a readable parquet file" in failed.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    # writing fails at the third file: none of the new files arrives, nothing is left behind
    write_all_or_none = load_script("preprocess_data.py").write_all_or_none
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        write_all_or_none({"dv.pkl": 1, "train.pkl": 2, "val.pkl": lambda: 3, "test.pkl": 4}, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".output")] == []
    new = tmp_path / "new" / "output"
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        write_all_or_none({"dv.pkl": 1, "train.pkl": lambda: 2}, new)
    assert list(new.parent.iterdir()) == []

    # a folder that holds other files is not replaced
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    refused = run_script(
        "preprocess_data.py",
        *["--raw-data-path", homework["here"] / "data", "--dest-path", busy, *SYNTHETIC],
        cwd=tmp_path,
    )
    assert refused.returncode != 0 and "holds other files (notes.txt)" in refused.stderr
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]


def test_train_autologs_the_forest(homework):
    (run,) = runs_of(homework["client"], "random-forest-train")
    params = run.data.params
    assert params["min_samples_split"] == "2"  # autologged default: the answer to Q3
    assert params["max_depth"] == "10" and params["random_state"] == "0"
    assert "training_score" in run.data.metrics and run.data.metrics["rmse"] > 0
    assert run.data.tags["data.source"] == "synthetic"
    assert "min_samples_split=2" in homework["done"]["train.py"].stdout
    # rmse is the forest's on February: refit with the logged params and compare
    X_val, y_val = pickle.loads((homework["out"] / "val.pkl").read_bytes())
    X_train, y_train = pickle.loads((homework["out"] / "train.pkl").read_bytes())
    from sklearn.ensemble import RandomForestRegressor

    rf = RandomForestRegressor(max_depth=10, random_state=0).fit(X_train, y_train)
    rmse = root_mean_squared_error(y_val, rf.predict(X_val))
    assert run.data.metrics["rmse"] == pytest.approx(rmse, abs=1e-9)


def test_hpo_logs_one_run_per_trial(homework):
    trials = runs_of(homework["client"], "random-forest-hyperopt")
    assert len(trials) == 3
    for t in trials:
        assert set(t.data.params) == RF_PARAMS and t.data.params["random_state"] == "42"
        for name, (low, high) in RANDOM_FOREST_SPACE.items():
            assert low <= int(t.data.params[name]) <= high
        assert t.data.metrics["rmse"] > 0 and t.data.tags["data.source"] == "synthetic"
    best = min(t.data.metrics["rmse"] for t in trials)
    assert f"best validation RMSE {best:.3f}" in homework["done"]["hpo.py"].stdout


def test_register_tests_the_top_trials_and_sets_the_alias(homework):
    client = homework["client"]
    trials = runs_of(client, "random-forest-hyperopt")
    retested = runs_of(client, "random-forest-best-models")
    assert len(retested) == 2
    assert {r.data.tags["hpo_run_id"] for r in retested} == {t.info.run_id for t in trials[:2]}
    winner = min(retested, key=lambda r: r.data.metrics["test_rmse"])
    version = client.get_model_version_by_alias("nyc-taxi-random-forest", "best")
    assert str(version.version) == "1" and version.run_id == winner.info.run_id
    assert set(client.get_registered_model("nyc-taxi-random-forest").aliases) == {"best"}
    assert version.description.startswith("RandomForestRegressor")
    assert float(version.tags["test_rmse"]) == pytest.approx(
        winner.data.metrics["test_rmse"], abs=1e-4
    )
    out = homework["done"]["register_model.py"]
    assert "registered 'nyc-taxi-random-forest' version 1 as @best" in out.stdout
    # saved with skops, not pickle: no warning about pickle, and it loads with its trusted types
    assert "pickle" not in out.stderr.lower(), out.stderr
    mlflow.set_tracking_uri(homework["uri"])
    model = mlflow.sklearn.load_model("models:/nyc-taxi-random-forest@best")
    X_test, y_test = pickle.loads((homework["out"] / "test.pkl").read_bytes())
    assert root_mean_squared_error(y_test, model.predict(X_test)) == pytest.approx(
        winner.data.metrics["test_rmse"], abs=1e-9
    )


def test_every_homework_run_logs_its_files_as_datasets(homework):
    """The UI's Datasets column: which file trained and scored each run, its digest its bytes'."""
    client, out = homework["client"], homework["out"]
    digests = {
        name: hashlib.sha256((out / name).read_bytes()).hexdigest()[:8]
        for name in ("train.pkl", "val.pkl", "test.pkl")
    }
    assert len(set(digests.values())) == 3
    expected = {
        "random-forest-train": {"training": "train.pkl", "validation": "val.pkl"},
        "random-forest-hyperopt": {"training": "train.pkl", "validation": "val.pkl"},
        "random-forest-best-models": {
            "training": "train.pkl",
            "validation": "val.pkl",
            "test": "test.pkl",
        },
    }
    for experiment, files in expected.items():
        runs = runs_of(client, experiment)
        assert runs
        for run in runs:
            inputs = {
                next(t.value for t in d.tags if t.key == "mlflow.data.context"): d.dataset
                for d in run.inputs.dataset_inputs
            }
            assert {c: d.name for c, d in inputs.items()} == files, experiment
            for dataset in inputs.values():
                assert dataset.digest == digests[dataset.name]
                assert json.loads(dataset.source)["uri"] == str(out / dataset.name)


def test_scripts_say_what_to_do_when_the_server_is_down(tmp_path):
    done = run_script("train.py", cwd=tmp_path, uri="http://127.0.0.1:9")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "The MLflow tracking server at http://127.0.0.1:9 does not answer" in done.stderr
    missing = run_script("hpo.py", "--data-path", tmp_path, cwd=tmp_path, uri="sqlite:///x.db")
    assert missing.returncode == 1 and "run scripts/homework/preprocess_data.py" in missing.stderr


def test_the_first_trials_do_not_depend_on_the_losses():
    """TPE draws its first 20 points at random from `rstate`: with the homework's seed the 15
    trials are the same whatever the data, so a short search repeats the start of the full one."""
    space = load_script("hpo.py").search_space()

    def points(n: int, loss) -> list[dict]:
        trials = Trials()
        fmin(
            lambda p: {"loss": loss(p), "status": STATUS_OK},
            space,
            algo=tpe.suggest,
            max_evals=n,
            trials=trials,
            rstate=np.random.default_rng(42),
            show_progressbar=False,
        )
        return [
            space_eval(space, {k: v[0] for k, v in t["misc"]["vals"].items()})
            for t in trials.trials
        ]

    full = points(15, lambda p: p["max_depth"])
    assert points(3, lambda p: -p["n_estimators"]) == full[:3]
    # the homework's best trial on the real files (validation RMSE 5.335) is the 11th
    assert full[10] == {
        "max_depth": 19,
        "min_samples_leaf": 2,
        "min_samples_split": 2,
        "n_estimators": 11,
        "random_state": 42,
    }
