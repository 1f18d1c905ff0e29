"""Notebook 10 (the course's W&B homework) offline: papermill on generated data, checked through
what W&B wrote on disk, with the network blocked and every connection attempt recorded; and, on
the real green 2022-01..03 files, the homework's answers computed independently of the notebook.

W&B's Go core writes an offline run only as a transaction log (`run-<id>.wandb`, plus staged
copies of artifact files): config, summary, history and artifact manifests are read from that log
with `infra.wandb_log.read_run`, and the staged files are checked against the manifests. The
notebook keeps its own record of what it logged; the tests check its answers against W&B's.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import mlflow
import nbformat
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.ensemble import RandomForestRegressor
from sklearn.feature_extraction import DictVectorizer
from sklearn.metrics import root_mean_squared_error

import helpers
from helpers import wandb_tracking
from infra import wandb_log
from tests.notebook_runner import NOTEBOOKS, files_under, notebook, run_nbval
from tests.support import require

SWEEP_COUNT = 3
EXPERIMENT = "test-wandb-comparison"
PROJECT = "test-nyc-taxi-wandb"
# the W&B homework's months (cohorts/2023/02-experiment-tracking/wandb.md): the notebook's defaults
HOMEWORK_MONTHS = ("2022-01", "2022-02", "2022-03")
# SWEEP_CONFIG of the homework's sweep.py, typed here from the course's file, not imported
COURSE_SWEEP = {
    "method": "bayes",
    "metric": {"name": "MSE", "goal": "minimize"},
    "parameters": {
        "max_depth": {"distribution": "int_uniform", "min": 1, "max": 20},
        "n_estimators": {"distribution": "int_uniform", "min": 10, "max": 50},
        "min_samples_split": {"distribution": "int_uniform", "min": 2, "max": 10},
        "min_samples_leaf": {"distribution": "int_uniform", "min": 1, "max": 4},
    },
}
SWEEP_PARAMS = set(COURSE_SWEEP["parameters"])
Q2_OPTIONS = {"54 kB": 54e3, "154 kB": 154e3, "54 MB": 54e6, "154 MB": 154e6}


def closest_option(size: int) -> str:
    """The homework's rule ("select the closest one"): the option nearest to `size`, in bytes."""
    return min(Q2_OPTIONS, key=lambda option: abs(Q2_OPTIONS[option] - size))


def offline_env(root: Path) -> dict[str, str]:
    """W&B forced offline, quiet, without crash reports, git or code capture, in `root` only."""
    return {
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_ERROR_REPORTING": "false",
        "WANDB_DISABLE_GIT": "true",
        "WANDB_DISABLE_CODE": "true",
        "WANDB_CONSOLE": "off",
        "WANDB_DIR": str(root / "wandb-home"),
        "WANDB_DATA_DIR": str(root / "wandb-data"),
        "WANDB_CACHE_DIR": str(root / "wandb-cache"),
        "WANDB_CONFIG_DIR": str(root / "wandb-config"),
        "WANDB_API_KEY": "",
        "MLFLOW_LOGGING_LEVEL": "WARNING",
    }


TOOLS_HINT = "on Debian/Ubuntu: bash .ci/network-tools.sh (strace, iproute2, util-linux) as root"


def why_no_network_namespace() -> str | None:
    """None when this process may run a command in a new, empty network namespace, else why not."""
    missing = [tool for tool in ("unshare", "ip") if not shutil.which(tool)]
    if missing:
        return f"{' and '.join(missing)} not installed ({TOOLS_HINT})"
    probe = subprocess.run(
        ["unshare", "--net", "--", "ip", "link", "set", "lo", "up"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return f"cannot create a network namespace here (needs root): {probe.stderr.strip()[:200]}"
    return None


@dataclass
class Executed:
    root: Path
    runs: list[wandb_log.LocalRun]
    notebook: nbformat.NotebookNode
    tracking_uri: str
    not_blocked_because: str | None  # None: the notebook ran with no network at all
    connections: list[str] | None  # every traced connect/sendto/sendmsg line, or None


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> Executed:
    """Notebook 10 run once by papermill, offline, on 4000 generated trips a month (2022 months)."""
    root = tmp_path_factory.mktemp("wandb-notebook")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    params = {
        "DATA_SOURCE": "synthetic",
        "SYNTHETIC_ROWS": 4000,
        "DATA_DIR": str(root / "data"),
        "TRACKING_URI": uri,
        "EXPERIMENT_NAME": EXPERIMENT,
        "WANDB_PROJECT": PROJECT,
        "OUTPUT_DIR": str(root / "output"),
        "SWEEP_COUNT": SWEEP_COUNT,
    }
    out = root / "executed-10.ipynb"
    # started in notebooks/, as Jupyter starts it: nothing may be written there
    cmd = [
        sys.executable,
        "-m",
        "papermill",
        str(notebook("10")),
        str(out),
        "--cwd",
        str(NOTEBOOKS),
    ]
    cmd += ["-k", "python3", "--no-progress-bar", "-y", json.dumps(params)]
    # no network: a fresh namespace with only the loopback (the kernel talks to papermill over it)
    not_blocked_because = why_no_network_namespace()
    if not_blocked_because is None:
        cmd = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *cmd]
    # and a record of every attempt to reach an address, by any process (W&B's Go core included)
    trace = root / "connections.strace"
    if shutil.which("strace"):
        cmd = ["strace", "-f", "-qq", "--seccomp-bpf", "-s", "1", "-o", str(trace),
               "-e", "trace=connect,sendto,sendmsg", *cmd]  # fmt: skip
    env = {**os.environ, **offline_env(root)}
    before = files_under(NOTEBOOKS)
    result = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    written = sorted(files_under(NOTEBOOKS) - before)
    assert not written, f"notebook 10 wrote into notebooks/: {written}"
    runs = wandb_log.local_runs(root / "wandb-home" / "wandb")
    connections = trace.read_text().splitlines() if trace.exists() else None
    notebook_run = nbformat.read(out, as_version=4)
    return Executed(root, runs, notebook_run, uri, not_blocked_because, connections)


def by_job(executed: Executed, job_type: str) -> list[wandb_log.LocalRun]:
    return [r for r in executed.runs if r.job_type == job_type]


def staged(artifact: wandb_log.LocalArtifact, name: str) -> Path:
    """W&B's staged copy of one file of an artifact."""
    return Path(artifact.files[name]["local_path"])


def printed(executed: Executed) -> str:
    """Everything the notebook's cells printed (stdout streams), in order."""
    return "".join(
        o.get("text", "")
        for c in executed.notebook.cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    )


def test_one_offline_run_per_step_in_one_group(executed):
    assert [r.job_type for r in executed.runs] == (
        ["preprocess", "train"] + ["sweep"] * SWEEP_COUNT + ["register"]
    )
    assert len({r.group for r in executed.runs}) == 1
    assert executed.runs[0].group.startswith("homework-")
    for run in executed.runs:
        assert run.path.name.startswith("offline-run-"), run.path.name
        assert run.offline and run.finished and not run.synced
        assert run.project == PROJECT


def test_preprocess_logs_the_homeworks_dataset_with_the_tip_as_target(executed):
    (run,) = by_job(executed, "preprocess")
    assert run.config["data_source"] == "synthetic"
    # the notebook's defaults are the W&B homework's months, generated here
    months = (run.config["train_month"], run.config["val_month"], run.config["test_month"])
    assert months == HOMEWORK_MONTHS
    (artifact,) = run.artifacts
    assert (artifact.name, artifact.type) == ("NYC-Taxi", "preprocessed_dataset")
    assert set(artifact.files) == {"dv.pkl", "train.pkl", "val.pkl", "test.pkl"}
    for entry in artifact.files.values():  # the staged copies are the bytes the manifest names
        path = Path(entry["local_path"])
        assert path.is_relative_to(executed.root / "wandb-data")
        assert path.stat().st_size == entry["size"]
        assert wandb_log.md5_base64(path) == entry["digest"]
    # preprocess_data.py's steps, done here with pandas on the generated January file
    (january,) = (executed.root / "data" / "synthetic").glob(
        "rows-*/green_tripdata_2022-01.parquet"
    )
    raw = pd.read_parquet(january)
    minutes = (raw.lpep_dropoff_datetime - raw.lpep_pickup_datetime).dt.total_seconds() / 60
    kept = raw[(minutes >= 1) & (minutes <= 60)]
    X, y = pickle.loads(staged(artifact, "train.pkl").read_bytes())
    np.testing.assert_array_equal(y, kept["tip_amount"].to_numpy())
    dv = pickle.loads(staged(artifact, "dv.pkl").read_bytes())
    pairs = kept.PULocationID.astype(str) + "_" + kept.DOLocationID.astype(str)
    assert dv.feature_names_ == sorted(f"PU_DO={p}" for p in set(pairs)) + ["trip_distance"]
    assert X.shape == (len(kept), len(dv.feature_names_))


def test_train_run_is_train_py_and_its_model_reproduces_the_logged_error(executed):
    (run,) = by_job(executed, "train")
    assert run.config == {"max_depth": 10, "random_state": 0}  # train.py's defaults
    error = run.summary["MSE"]  # the homework's key (TODO 1), an RMSE
    assert isinstance(error, float) and 0 < error < 20
    assert [row["MSE"] for row in run.history if "MSE" in row] == [error]
    (artifact,) = run.artifacts
    assert artifact.type == "model" and artifact.name == f"{PROJECT}-model"
    assert set(artifact.files) == {"regressor.pkl", "dv.pkl"}
    for name, entry in artifact.files.items():
        assert wandb_log.md5_base64(staged(artifact, name)) == entry["digest"]
    # the logged model, read back from W&B's staged copy, gives the logged error
    forest = pickle.loads(staged(artifact, "regressor.pkl").read_bytes())
    (dataset,) = by_job(executed, "preprocess")[0].artifacts
    X_val, y_val = pickle.loads(staged(dataset, "val.pkl").read_bytes())
    assert (forest.max_depth, forest.random_state, forest.n_estimators) == (10, 0, 100)
    assert root_mean_squared_error(y_val, forest.predict(X_val)) == pytest.approx(error)
    text = printed(executed)
    assert f"validation RMSE of the tip: {error:.4f}" in text
    assert "Q3: max_depth = 10" in text


def test_sweep_stand_in_one_run_and_one_model_per_trial(executed):
    trials = by_job(executed, "sweep")
    assert len(trials) == SWEEP_COUNT
    (dataset,) = by_job(executed, "preprocess")[0].artifacts
    X_val, y_val = pickle.loads(staged(dataset, "val.pkl").read_bytes())
    for run in trials:
        assert set(run.tags) == {"sweep-stand-in", "hyperopt"}
        assert set(run.config) == SWEEP_PARAMS
        for name, spec in COURSE_SWEEP["parameters"].items():
            value = run.config[name]
            assert isinstance(value, int) and spec["min"] <= value <= spec["max"]
        (artifact,) = run.artifacts
        assert (artifact.name, artifact.type) == (f"{run.id}-model", "model")
        forest = pickle.loads(staged(artifact, "regressor.pkl").read_bytes())
        assert {p: forest.get_params()[p] for p in SWEEP_PARAMS} == run.config
        assert forest.random_state == 0
        rmse = root_mean_squared_error(y_val, forest.predict(X_val))
        assert run.summary["MSE"] == pytest.approx(rmse)
    assert len({tuple(r.config[p] for p in sorted(SWEEP_PARAMS)) for r in trials}) > 1


def test_the_same_run_in_mlflow(executed):
    client = MlflowClient(executed.tracking_uri)
    mlflow.set_tracking_uri(executed.tracking_uri)
    (train,) = by_job(executed, "train")
    experiment = client.get_experiment_by_name(EXPERIMENT)
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == train.name == "rf-max-depth-10"
    assert run.data.tags["wandb.run_id"] == train.id
    assert run.data.tags["model"] == "RandomForestRegressor"
    assert run.data.params == {"max_depth": "10", "random_state": "0"}
    assert run.data.metrics["rmse"] == pytest.approx(train.summary["MSE"])
    assert run.data.tags["data.source"] == "synthetic"
    paths = {f.path for f in client.list_artifacts(run.info.run_id, "model")}
    assert paths == {"model/regressor.pkl", "model/dv.pkl"}


def test_outputs_have_no_wandb_chatter_nor_home_paths(executed):
    """W&B's own messages (paths, links) stay silent: nothing points into a home folder."""
    text = json.dumps([c.get("outputs", []) for c in executed.notebook.cells])
    assert "/root/" not in text and "/home/" not in text and "wandb: " not in text
    assert str(executed.root) not in text  # W&B's folder outside the repository: $WANDB_DIR
    assert "runs go to $WANDB_DIR/wandb/" in text
    stderr = [
        o
        for c in executed.notebook.cells
        for o in c.get("outputs", [])
        if o.get("name") == "stderr"
    ]
    assert stderr == []


def test_parameters_cell_starts_with_the_learners_knobs():
    (cell,) = [
        c
        for c in nbformat.read(notebook("10"), as_version=4).cells
        if "parameters" in c.metadata.get("tags", [])
    ]
    knobs, plumbing = cell.source.split("# --- plumbing")
    for name in ("TRAIN_MONTH", "WANDB_MODE", "SWEEP_COUNT", "MAX_DEPTH", "TRACKING_URI"):
        assert f"\n{name} = " in knobs
    for name in ("SYNTHETIC_ROWS", "OUTPUT_DIR", "WANDB_DIR", "SEED", "TAXI_COLOR", "MAX_TRIPS"):
        assert f"\n{name} = " in plumbing and f"\n{name} = " not in knobs
    assert 'TRAIN_MONTH = "2022-01"' in knobs and "SWEEP_COUNT = 5" in knobs


LOOPBACK = re.compile(r'(inet_addr\("127\.|inet_pton\(AF_INET6, "::1"|"::ffff:127\.)')


def test_no_network_connection_attempted(executed):
    """No process of the run tried to reach an address other than the loopback, nor DNS."""
    require(
        executed.connections is not None,
        f"strace is not installed: connection attempts could not be recorded ({TOOLS_HINT})",
    )
    attempts = [
        line
        for line in executed.connections
        if re.search(r"sa_family=AF_INET6?\b", line)
        and (not LOOPBACK.search(line) or "htons(53)" in line)
    ]
    assert attempts == [], "network connections attempted:\n" + "\n".join(attempts[:20])
    # the trace did see the run's own local traffic, so it was recording
    assert any("AF_UNIX" in line or LOOPBACK.search(line) for line in executed.connections)


def test_network_was_blocked(executed):
    require(
        executed.not_blocked_because is None,
        f"the notebook ran with the network reachable: {executed.not_blocked_because}",
    )
    assert executed.runs  # the notebook ran to the end with no network at all


def test_sweep_config_is_the_homeworks_sweep_py():
    assert wandb_tracking.sweep_config() == COURSE_SWEEP
    assert wandb_tracking.sweep_config("random")["method"] == "random"
    assert wandb_tracking.SWEEP_CONFIG["method"] == "bayes"  # a copy was changed, not the data
    assert wandb_tracking.SWEEP_COUNT == 5
    assert set(wandb_tracking.hyperopt_space()) == SWEEP_PARAMS
    with pytest.raises(ValueError, match="Unknown sweep method"):
        wandb_tracking.sweep_config("hyperband")


def wandb_cli_version() -> str:
    """What `wandb --version` prints: the command line installed beside this Python."""
    cli = Path(sys.executable).with_name("wandb")
    out = subprocess.run([cli, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_q1_is_what_the_wandb_command_prints(executed):
    version = wandb_cli_version()
    assert f"Q1: wandb --version says: {version}\n" in printed(executed)
    # and it is the version this repository pins
    pins = (helpers.repo_root() / "mlflow_requirements.txt").read_text()
    (pinned,) = re.findall(r"^wandb==(\S+)", pins, flags=re.M)
    assert version == f"wandb, version {pinned}"


def test_q2_is_the_one_closest_option_to_the_size_in_the_manifest(executed):
    (dataset,) = by_job(executed, "preprocess")[0].artifacts
    dv_bytes = dataset.files["dv.pkl"]["size"]
    assert dv_bytes == staged(dataset, "dv.pkl").stat().st_size
    (answer,) = re.findall(
        r"Q2: dv.pkl is (\d+) bytes \([\d.]+ kB\): closest option (\d+ [kM]B)", printed(executed)
    )
    assert int(answer[0]) == dv_bytes
    assert answer[1] == closest_option(dv_bytes)


@pytest.mark.parametrize(
    ("size", "option"),
    [
        (153_660, "154 kB"),
        (34_496, "54 kB"),
        (103_000, "54 kB"),
        (105_000, "154 kB"),
        (30e6, "54 MB"),
    ],
)
def test_closest_option_rule(size, option):
    """The rule the Q2 tests apply: the nearest option, so 103 kB is 54 kB and 105 kB is 154 kB."""
    assert closest_option(size) == option


def test_q4_importance_recomputed_from_the_wandb_logs(executed):
    """The notebook's own trial record and W&B's logs give the same parameter importance."""
    params = list(COURSE_SWEEP["parameters"])
    trials = pd.DataFrame(
        [
            {**{p: r.config[p] for p in params}, "MSE": r.summary["MSE"]}
            for r in by_job(executed, "sweep")
        ]
    )
    forest = RandomForestRegressor(n_estimators=100, random_state=42).fit(
        trials[params], trials["MSE"]
    )
    expected = params[int(forest.feature_importances_.argmax())]
    (answer,) = re.findall(
        r"Q4: the most important hyperparameter on these \d+ trials: (\w+)", printed(executed)
    )
    assert answer == expected


def test_q5_the_best_trials_model_logged_again_as_best(executed):
    (register,) = by_job(executed, "register")
    trials = by_job(executed, "sweep")
    best = min(trials, key=lambda r: r.summary["MSE"])
    assert register.config["from_run"] == best.id
    assert {p: register.config[p] for p in SWEEP_PARAMS} == best.config
    (artifact,) = register.artifacts
    (trial_artifact,) = best.artifacts
    assert (artifact.name, artifact.type) == (f"{best.id}-model", "model")
    assert "best" in artifact.aliases
    # the same bytes as the trial's model: the same artifact version once synced
    assert {n: e["digest"] for n, e in artifact.files.items()} == {
        n: e["digest"] for n, e in trial_artifact.files.items()
    }
    assert "wandb-registry-model/nyc-taxi-tip-amount" in printed(executed)


def test_answers_table_lists_each_question_with_its_options(executed):
    (table,) = [
        o["data"]["text/plain"]
        for c in executed.notebook.cells
        for o in c.get("outputs", [])
        if "answer here" in str(o.get("data", {}).get("text/plain", ""))
    ]
    for item in ("Q1", "Q2", "Q3", "Q4", "Q5", "154 kB", "4, 6, 8, 10", "All of these"):
        assert item in table, item


# --- the W&B homework on the real green 2022-01..03 files
#
# Measured once with the course's own steps (preprocess_data.py, train.py) in plain pandas and
# scikit-learn, outside the notebook; the committed outputs must show the same figures.
REAL_TRIPS = {"2022-01": 59603, "2022-02": 66097, "2022-03": 74507}  # ../shared/tlc-data/README
REAL_FEATURES = 6683  # ../shared/tlc-data/README: the DictVectorizer fitted on January 2022
REAL_DV_BYTES = 153_660  # dv.pkl as preprocess_data.py pickles it
REAL_TRAIN_RMSE = 2.4540  # RandomForestRegressor(max_depth=10, random_state=0), tip_amount


@pytest.fixture(scope="module")
def homework_dir(real_data_dir) -> Path:
    files = [real_data_dir / f"green_tripdata_{m}.parquet" for m in HOMEWORK_MONTHS]
    require(all(f.exists() for f in files), f"the W&B homework's months are not in {real_data_dir}")
    return real_data_dir


def course_read(path: Path) -> pd.DataFrame:
    """preprocess_data.py's read_dataframe, written again with pandas."""
    df = pd.read_parquet(path)
    minutes = (df.lpep_dropoff_datetime - df.lpep_pickup_datetime).dt.total_seconds() / 60
    df = df[(minutes >= 1) & (minutes <= 60)].copy()
    df["PU_DO"] = df.PULocationID.astype(str) + "_" + df.DOLocationID.astype(str)
    return df


@pytest.fixture(scope="module")
def homework_data(homework_dir):
    frames = {m: course_read(homework_dir / f"green_tripdata_{m}.parquet") for m in HOMEWORK_MONTHS}
    train, valid = frames["2022-01"], frames["2022-02"]
    dv = DictVectorizer()
    X_train = dv.fit_transform(train[["PU_DO", "trip_distance"]].to_dict(orient="records"))
    X_val = dv.transform(valid[["PU_DO", "trip_distance"]].to_dict(orient="records"))
    return frames, dv, (X_train, train.tip_amount.to_numpy()), (X_val, valid.tip_amount.to_numpy())


def test_real_q2_the_saved_dict_vectorizer_is_154_kb(homework_data):
    frames, dv, _, _ = homework_data
    assert {m: len(df) for m, df in frames.items()} == REAL_TRIPS
    assert len(dv.feature_names_) == REAL_FEATURES
    size = len(pickle.dumps(dv))  # what `pickle.dump(dv, f_out)` writes to dv.pkl
    assert size == REAL_DV_BYTES
    assert closest_option(size) == "154 kB"


def test_real_q3_train_py_defaults_reach_the_notebooks_rmse(homework_data):
    _, _, (X_train, y_train), (X_val, y_val) = homework_data
    forest = RandomForestRegressor(max_depth=10, random_state=0, n_jobs=-1).fit(X_train, y_train)
    assert root_mean_squared_error(y_val, forest.predict(X_val)) == pytest.approx(
        REAL_TRAIN_RMSE, abs=5e-5
    )


def test_real_q4_max_depth_moves_the_error_most(homework_data):
    """An independent reason for Q4: each parameter moved alone from the middle of the space to
    its two ends; the spread of the validation RMSE is widest for max_depth."""
    _, _, (X_train, y_train), (X_val, y_val) = homework_data
    middle = {"max_depth": 10, "n_estimators": 30, "min_samples_split": 6, "min_samples_leaf": 2}
    spread = {}
    for name, spec in COURSE_SWEEP["parameters"].items():
        errors = []
        for value in (spec["min"], spec["max"]):
            params = {**middle, name: value, "random_state": 0, "n_jobs": -1}
            forest = RandomForestRegressor(**params).fit(X_train, y_train)
            errors.append(root_mean_squared_error(y_val, forest.predict(X_val)))
        spread[name] = abs(errors[1] - errors[0])
    # measured: max_depth 0.0862 (1 -> 2.5384, 20 -> 2.4523); the others 0.0111 or less
    others = max(v for k, v in spread.items() if k != "max_depth")
    assert spread["max_depth"] > 5 * others, spread


def test_committed_notebook_reproduces_on_real_data(homework_dir, tmp_path):
    """nbval on the committed notebook, with its own defaults (the 2022 months, 5 trials)."""
    env = {
        **offline_env(tmp_path),
        "TAXI_DATA_DIR": str(homework_dir),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }
    result = run_nbval("10", tmp_path, env, OUTPUT_DIR=str(tmp_path / "output"))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout.splitlines()[-1]
    runs = wandb_log.local_runs(tmp_path / "wandb-home" / "wandb")
    assert [r.job_type for r in runs] == ["preprocess", "train"] + ["sweep"] * 5 + ["register"]
    (train,) = [r for r in runs if r.job_type == "train"]
    assert round(train.summary["MSE"], 4) == REAL_TRAIN_RMSE


def test_committed_outputs_answer_the_homework_on_its_months():
    nb = nbformat.read(notebook("10"), as_version=4)
    assert not [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if "text" in o)
    for month, trips in REAL_TRIPS.items():
        assert f"green_tripdata_{month}.parquet: {trips} trips" in text
    assert f"{REAL_FEATURES} features" in text
    assert f"Q2: dv.pkl is {REAL_DV_BYTES} bytes (153.7 kB): closest option 154 kB" in text
    assert f"validation RMSE of the tip: {REAL_TRAIN_RMSE:.4f}" in text
    assert "Q3: max_depth = 10" in text
    assert "Q4: the most important hyperparameter on these 5 trials: max_depth" in text
    raw = notebook("10").read_text()
    for path in ("/work/", "/tmp/", "/root/", "/home/"):
        assert path not in raw
