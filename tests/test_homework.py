"""The homework's command-line steps (homework-preprocess, -train, -hpo, -register) on generated data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
from hyperopt import STATUS_OK, Trials, fmin, space_eval, tpe
from mlflow import MlflowClient

from helpers import homework

SYNTHETIC = ["--data-source", "synthetic", "--synthetic-rows", "3000"]


def test_commands_run_the_homework_without_jupyter(tmp_path, monkeypatch, capsys):
    data, out = tmp_path / "data", tmp_path / "output"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    # the installed entry point, as an instructor would type it
    script = Path(sys.executable).parent / "homework-preprocess"
    done = subprocess.run(
        [str(script), "--raw-data-path", str(data), "--dest-path", str(out), *SYNTHETIC],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "4 files" in done.stdout and "source synthetic" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == ["dv.pkl", "test.pkl", "train.pkl", "val.pkl"]

    common = ["--data-path", str(out), "--raw-data-path", str(data), *SYNTHETIC]
    assert homework.train_main(common) == 0
    assert "min_samples_split=2" in capsys.readouterr().out
    assert homework.hpo_main([*common, "--num-trials", "3"]) == 0
    assert "3 trials" in capsys.readouterr().out
    assert homework.register_main([*common, "--top-n", "2", "--alias", "best"]) == 0
    assert "registered 'nyc-taxi-random-forest' version 1 as @best" in capsys.readouterr().out

    client = MlflowClient(uri)
    trials = client.search_runs(
        [client.get_experiment_by_name(homework.HPO_EXPERIMENT).experiment_id]
    )
    assert len(trials) == 3 and all(t.data.tags["data.source"] == "synthetic" for t in trials)
    version = client.get_model_version_by_alias(homework.MODEL_NAME, "best")
    X_test, y_test = homework.load_pickle(out / "test.pkl")
    model = mlflow.sklearn.load_model(f"models:/{homework.MODEL_NAME}@best")
    assert homework.rmse(model, X_test, y_test) == pytest.approx(
        float(version.tags["test_rmse"]), abs=1e-4
    )


def test_the_first_trials_do_not_depend_on_the_losses():
    """TPE draws its first 20 points at random from `rstate`: with the homework's seed the 15
    trials are the same whatever the data, so a short search repeats the start of the full one."""

    def points(n: int, loss) -> list[dict]:
        trials = Trials()
        space = homework.hpo_space()
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
