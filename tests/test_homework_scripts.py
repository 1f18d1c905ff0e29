"""The homework's scripts (scripts/homework/), run as a learner runs them, on generated data.

Every script runs in a subprocess with `scripts/homework` as its working folder, with the
course's flags verbatim (`--raw_data_path`, `--dest_path`, `--data_path`, `--num_trials`,
`--top_n`), against a real `mlflow server` that this module starts (sqlite backend, served
artifacts), found through $MLFLOW_TRACKING_URI as a learner's shell would give it. The checks
read what the scripts left in MLflow.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hyperopt import STATUS_OK, Trials, fmin, hp, space_eval, tpe
from hyperopt.pyll import scope
from mlflow import MlflowClient
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import root_mean_squared_error

import helpers
from helpers.synthetic import generate_table
from infra import servers, stores

SCRIPTS = helpers.repo_root() / "scripts" / "homework"
ROWS = 3000
# the homework's space as its pages print it (hpo.py of 2022-2025): inclusive integer bounds
SPACE = {"max_depth": (1, 20), "n_estimators": (10, 50), "min_samples_split": (2, 10),
         "min_samples_leaf": (1, 4)}  # fmt: skip
MONTHS = {
    2022: ["2021-01", "2021-02", "2021-03"],
    2023: ["2022-01", "2022-02", "2022-03"],
    2024: ["2023-01", "2023-02", "2023-03"],
    2025: ["2023-01", "2023-02", "2023-03"],
}


def run_script(name: str, *args, uri: str | None = None) -> subprocess.CompletedProcess:
    """`python <name> args` typed in scripts/homework, the server given by MLFLOW_TRACKING_URI."""
    env = {**os.environ, "MLFLOW_LOGGING_LEVEL": "WARNING"}
    env.pop("MLFLOW_TRACKING_URI", None)
    if uri:
        env["MLFLOW_TRACKING_URI"] = uri
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, name, *map(str, args)],
        cwd=SCRIPTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    print(f"{name} {' '.join(map(str, args))}: {time.perf_counter() - start:.1f} s, "
          f"exit code {done.returncode}")  # fmt: skip
    return done


def ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def generated_months(folder: Path, months: list[str]) -> Path:
    """Generated green months under their TLC names, as a learner's download folder holds them."""
    folder.mkdir(parents=True, exist_ok=True)
    for month in months:
        path = folder / helpers.taxi_filename("green", month)
        if not path.exists():
            pq.write_table(generate_table("green", month, ROWS), path)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    here = tmp_path_factory.mktemp("homework-server")
    store = stores.prepare_sqlite(here / "mlflow.db")
    with servers.start_mlflow_server(store, here / "artifacts", here, name="homework") as srv:
        yield {"url": srv.url, "client": MlflowClient(srv.url), "here": here}


@pytest.fixture(scope="module")
def course(server, tmp_path_factory):
    """The newest cohort's homework, the course's command lines verbatim (3 trials, top 2)."""
    here = tmp_path_factory.mktemp("homework-2025")
    raw, out = generated_months(here / "raw", MONTHS[2025]), here / "output"
    url = server["url"]
    done = {
        "preprocess": ok(run_script("preprocess_data.py", "--raw_data_path", raw, "--dest_path", out)),
        "train": ok(run_script("train.py", "--data_path", out, uri=url)),
        "hpo": ok(run_script("hpo.py", "--data_path", out, "--num_trials", 3, uri=url)),
        "register": ok(run_script("register_model.py", "--data_path", out, "--top_n", 2, uri=url)),
    }  # fmt: skip
    return {**server, "out": out, "raw": raw, "done": done}


def runs_of(client: MlflowClient, experiment: str, cohort: int, order="metrics.rmse ASC") -> list:
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"experiment {experiment!r} missing"
    return client.search_runs([exp.experiment_id], f"tags.cohort = '{cohort}'", order_by=[order])


def test_preprocess_writes_four_files_of_the_newest_cohort(course):
    out = course["out"]
    assert sorted(p.name for p in out.iterdir()) == ["dv.pkl", "test.pkl", "train.pkl", "val.pkl"]
    assert "green_tripdata_2023-01.parquet" in course["done"]["preprocess"]
    dv = pickle.loads((out / "dv.pkl").read_bytes())
    X_train, y_train = pickle.loads((out / "train.pkl").read_bytes())
    X_test, y_test = pickle.loads((out / "test.pkl").read_bytes())
    assert X_train.shape == (len(y_train), len(dv.feature_names_))
    assert dv.feature_names_[-1] == "trip_distance"
    assert X_test.shape[1] == X_train.shape[1] and 1 <= y_test.min() and y_test.max() <= 60
    # y is the trip duration in minutes of the trips the course keeps (1 to 60 minutes)
    df = pd.read_parquet(course["raw"] / "green_tripdata_2023-01.parquet")
    minutes = (df.lpep_dropoff_datetime - df.lpep_pickup_datetime).dt.total_seconds() / 60
    assert np.allclose(y_train, minutes[(minutes >= 1) & (minutes <= 60)].to_numpy())
    # nothing left beside the output: the temporary folder was renamed into place
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".output")] == []
    assert oct(out.stat().st_mode & 0o777) != oct(0o700)


def test_preprocess_writes_all_or_none(course, tmp_path):
    out = course["out"]
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    # March damaged: the step stops with the file's name and the output keeps its old files
    raw = tmp_path / "raw"
    raw.mkdir()
    for month in ("2023-01", "2023-02"):
        name = f"green_tripdata_{month}.parquet"
        (raw / name).write_bytes((course["raw"] / name).read_bytes())
    (raw / "green_tripdata_2023-03.parquet").write_bytes(b"not a parquet file")
    failed = run_script("preprocess_data.py", "--raw_data_path", raw, "--dest_path", out)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "green_tripdata_2023-03.parquet is not a readable parquet file" in failed.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".output")] == []

    # a folder that holds other files is not replaced
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    refused = run_script(
        "preprocess_data.py", "--raw_data_path", course["raw"], "--dest_path", busy
    )
    assert refused.returncode != 0 and "holds other files (notes.txt)" in refused.stderr
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]


def test_train_autologs_the_forest(course):
    (run,) = runs_of(course["client"], "random-forest-train", 2025)
    params = run.data.params
    assert params["min_samples_split"] == "2"  # autologged default: the 2024/2025 answer to Q3
    assert params["max_depth"] == "10" and params["random_state"] == "0"
    assert len(params) == len(RandomForestRegressor().get_params())  # 2022's Q3: all of them
    assert "training_score" in run.data.metrics
    # rmse is the forest's on February: refit with the logged params and compare
    X_train, y_train = pickle.loads((course["out"] / "train.pkl").read_bytes())
    X_val, y_val = pickle.loads((course["out"] / "val.pkl").read_bytes())
    rf = RandomForestRegressor(max_depth=10, random_state=0).fit(X_train, y_train)
    rmse = root_mean_squared_error(y_val, rf.predict(X_val))
    assert run.data.metrics["rmse"] == pytest.approx(rmse, abs=1e-9)
    assert f"validation RMSE {rmse:.4f}" in course["done"]["train"]


def hyperopt_points(n: int, loss=lambda p: p["max_depth"]) -> list[dict]:
    """hyperopt's first n points over the homework's space, seeded as hpo.py of 2022/2024/2025."""
    space = {k: scope.int(hp.quniform(k, lo, hi, 1)) for k, (lo, hi) in SPACE.items()}
    space["random_state"] = 42
    trials = Trials()
    fmin(lambda p: {"loss": loss(p), "status": STATUS_OK}, space, algo=tpe.suggest,
         max_evals=n, trials=trials, rstate=np.random.default_rng(42), show_progressbar=False)  # fmt: skip
    return [space_eval(space, {k: v[0] for k, v in t["misc"]["vals"].items()})
            for t in trials.trials]  # fmt: skip


def optuna_points(n: int) -> list[dict]:
    """Optuna's first n points as the 2023 hpo.py draws them (TPESampler(seed=42), its order)."""
    order = ["n_estimators", "max_depth", "min_samples_split", "min_samples_leaf"]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=42))
    study.optimize(lambda t: sum(t.suggest_int(k, *SPACE[k]) for k in order), n_trials=n)
    return [{**t.params, "random_state": 42, "n_jobs": -1} for t in study.trials]


def logged(run) -> list:
    return sorted((k, int(v)) for k, v in run.data.params.items())


def as_sets(points) -> list:
    return sorted(sorted(p.items()) if isinstance(p, dict) else p for p in points)


def test_hpo_logs_one_run_per_trial(course):
    trials = runs_of(course["client"], "random-forest-hyperopt", 2025)
    assert len(trials) == 3
    assert as_sets(logged(t) for t in trials) == as_sets(hyperopt_points(3))
    for t in trials:
        assert t.data.metrics["rmse"] > 0 and t.data.tags["model"] == "RandomForestRegressor"
    best = min(t.data.metrics["rmse"] for t in trials)
    assert f"3 trials (hyperopt); best validation RMSE {best:.4f}" in course["done"]["hpo"]


def test_register_tests_the_top_trials_and_sets_the_alias(course):
    client = course["client"]
    trials = runs_of(client, "random-forest-hyperopt", 2025)
    retested = runs_of(client, "random-forest-best-models", 2025, "metrics.test_rmse ASC")
    assert len(retested) == 2
    assert {r.data.tags["hpo_run_id"] for r in retested} == {t.info.run_id for t in trials[:2]}
    assert all(set(r.data.metrics) == {"val_rmse", "test_rmse"} for r in retested)
    winner = retested[0]
    version = client.get_model_version_by_alias("nyc-taxi-trip-duration", "champion")
    assert version.run_id == winner.info.run_id and version.tags["cohort"] == "2025"
    assert float(version.tags["test_rmse"]) == pytest.approx(
        winner.data.metrics["test_rmse"], abs=1e-4
    )
    out = course["done"]["register"]
    assert f"registered 'nyc-taxi-trip-duration' version {version.version} as @champion" in out
    # saved with skops, and it loads with its trusted types; it scores what the run says
    mlflow.set_tracking_uri(course["url"])
    model = mlflow.sklearn.load_model("models:/nyc-taxi-trip-duration@champion")
    X_test, y_test = pickle.loads((course["out"] / "test.pkl").read_bytes())
    assert root_mean_squared_error(y_test, model.predict(X_test)) == pytest.approx(
        winner.data.metrics["test_rmse"], abs=1e-9
    )


def test_every_run_logs_its_files_as_datasets(course):
    """The UI's Datasets column: which file trained and scored each run, its digest its bytes'."""
    client, out = course["client"], course["out"]
    digests = {
        name: hashlib.sha256((out / name).read_bytes()).hexdigest()[:8]
        for name in ("train.pkl", "val.pkl", "test.pkl")
    }
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
        for run in runs_of(client, experiment, 2025):
            inputs = {
                next(t.value for t in d.tags if t.key == "mlflow.data.context"): d.dataset
                for d in run.inputs.dataset_inputs
            }
            assert {c: d.name for c, d in inputs.items()} == files, experiment
            for dataset in inputs.values():
                assert dataset.digest == digests[dataset.name]
                assert json.loads(dataset.source)["uri"] == str(out / dataset.name)


@pytest.mark.parametrize("year", [2022, 2023])
def test_each_cohort_its_months_target_search_and_names(server, tmp_path, year):
    """--cohort YEAR: the cohort's months, target, files, search library, metric and model names."""
    raw, out = generated_months(tmp_path / "raw", MONTHS[year]), tmp_path / "output"
    url, client, cohort = server["url"], server["client"], ["--cohort", year]
    prep = ok(run_script("preprocess_data.py", "--raw_data_path", raw, "--dest_path", out, *cohort))
    val = "valid.pkl" if year == 2022 else "val.pkl"  # the 2022 scripts' name
    assert sorted(p.name for p in out.iterdir()) == sorted(["dv.pkl", "train.pkl", val, "test.pkl"])
    for month in MONTHS[year]:
        assert f"green_tripdata_{month}.parquet" in prep
    _, y_train = pickle.loads((out / "train.pkl").read_bytes())
    df = pd.read_parquet(raw / f"green_tripdata_{MONTHS[year][0]}.parquet")
    minutes = (df.lpep_dropoff_datetime - df.lpep_pickup_datetime).dt.total_seconds() / 60
    kept = df[(minutes >= 1) & (minutes <= 60)]
    target = "tip_amount" if year == 2023 else "duration"
    expected = kept.tip_amount if year == 2023 else minutes[(minutes >= 1) & (minutes <= 60)]
    assert np.allclose(y_train, expected.to_numpy()), f"y is not {target}"

    ok(run_script("train.py", "--data_path", out, *cohort, uri=url))
    hpo = ok(run_script("hpo.py", "--data_path", out, "--num_trials", 2, *cohort, uri=url))
    ok(run_script("register_model.py", "--data_path", out, "--top_n", 1, *cohort, uri=url))

    trials = runs_of(client, "random-forest-hyperopt", year)
    library = "optuna" if year == 2023 else "hyperopt"
    assert f"2 trials ({library})" in hpo
    points = optuna_points(2) if year == 2023 else hyperopt_points(2)
    assert as_sets(logged(t) for t in trials) == as_sets(points)
    (best,) = runs_of(client, "random-forest-best-models", year)
    val_metric = "valid_rmse" if year == 2022 else "val_rmse"
    assert set(best.data.metrics) == {val_metric, "test_rmse"}
    model = "nyc-taxi-tip-amount" if year == 2023 else "nyc-taxi-trip-duration"
    versions = client.search_model_versions(f"name = '{model}'")
    assert [v.run_id for v in versions if v.tags.get("cohort") == str(year)] == [best.info.run_id]
    (train_run,) = runs_of(client, "random-forest-train", year)
    assert train_run.data.params["max_depth"] == "10"  # the 2023 cohort's Q3


def test_cohort_2024_is_2025s_homework(tmp_path):
    """2024 and 2025: the same months, target and files (their pages ask the same questions)."""
    raw = generated_months(tmp_path / "raw", MONTHS[2024])
    for year in (2024, 2025):
        out = tmp_path / f"output-{year}"
        prep = ok(run_script("preprocess_data.py", "--raw_data_path", raw, "--dest_path", out,
                             "--cohort", year))  # fmt: skip
        assert "target duration" in prep
    for name in ("dv.pkl", "train.pkl", "val.pkl", "test.pkl"):
        assert (tmp_path / "output-2024" / name).read_bytes() == (
            tmp_path / "output-2025" / name
        ).read_bytes()
    help_text = ok(run_script("hpo.py", "--help"))
    assert "--cohort {2022,2023,2024,2025}" in help_text and "--num_trials" in help_text


def test_scripts_say_what_to_do_when_the_server_is_down(tmp_path):
    done = run_script("train.py", "--data_path", tmp_path, "--tracking-uri", "http://127.0.0.1:9")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "The MLflow tracking server at http://127.0.0.1:9 does not answer" in done.stderr
    assert "mlflow server --backend-store-uri sqlite:///mlflow.db" in done.stderr
    missing = run_script("hpo.py", "--data_path", tmp_path, uri=f"sqlite:///{tmp_path}/x.db")
    assert missing.returncode == 1 and "run preprocess_data.py first" in missing.stderr
    wrong = run_script("hpo.py", "--cohort", "2021")
    assert wrong.returncode == 2 and "invalid choice: 2021" in wrong.stderr


def test_the_first_trials_do_not_depend_on_the_losses():
    """TPE draws its first points at random from the seed (hyperopt: 20, Optuna: 10), so a
    short search repeats the start of the full one, whatever the data."""
    full = hyperopt_points(15)
    assert hyperopt_points(3, loss=lambda p: -p["n_estimators"]) == full[:3]
    # the 2024/2025 homework's best trial on the real files (validation RMSE 5.3354) is the 11th
    assert full[10] == {"max_depth": 19, "min_samples_leaf": 2, "min_samples_split": 2,
                        "n_estimators": 11, "random_state": 42}  # fmt: skip
    assert optuna_points(10)[:3] == optuna_points(3)
