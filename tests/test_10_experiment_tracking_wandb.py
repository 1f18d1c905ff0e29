"""Notebook 10 (Weights & Biases) offline: papermill on generated data, checked through what W&B
wrote on disk, with the network blocked and every connection attempt recorded; and nbval of the
committed notebook on the real data.

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
import pytest
from mlflow import MlflowClient
from sklearn.metrics import root_mean_squared_error

from helpers import tuning, wandb_tracking
from infra import wandb_log
from tests.notebook_runner import NOTEBOOKS, files_under, notebook, run_nbval
from tests.support import require

SWEEP_COUNT = 3
EXPERIMENT = "test-wandb-comparison"
PROJECT = "test-nyc-taxi-wandb"
SWEEP_PARAMS = set(tuning.RANDOM_FOREST_SPACE)
# the files at hand, which the committed outputs use (scripts/run_notebooks.py passes them to 10)
REAL_MONTHS = {"TRAIN_MONTH": "2023-01", "VALID_MONTH": "2023-02", "TEST_MONTH": "2023-03"}


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
    """Notebook 10 run once by papermill, offline, on 4000 generated trips a month."""
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
        "BENCH_REPEATS": 1,
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


def test_preprocess_run_logs_the_dataset_artifact(executed):
    (run,) = by_job(executed, "preprocess")
    assert {"data_source", "taxi_color", "train_month", "valid_month", "test_month"} <= set(
        run.config
    )
    assert run.config["data_source"] == "synthetic"
    # the notebook's defaults are the W&B homework's months, generated here for 2022 too
    assert (run.config["train_month"], run.config["test_month"]) == ("2022-01", "2022-03")
    (artifact,) = run.artifacts
    assert (artifact.name, artifact.type) == ("NYC-Taxi", "preprocessed_dataset")
    assert set(artifact.files) == {"dv.pkl", "train.pkl", "val.pkl", "test.pkl"}
    for entry in artifact.files.values():  # the staged copies are the bytes the manifest names
        staged = Path(entry["local_path"])
        assert staged.is_relative_to(executed.root / "wandb-data")
        assert staged.stat().st_size == entry["size"]
        assert wandb_log.md5_base64(staged) == entry["digest"]
    X, y = pickle.loads(Path(artifact.files["train.pkl"]["local_path"]).read_bytes())
    assert X.shape == (run.config["rows_train"], run.config["n_features"]) and len(y) == X.shape[0]


def test_train_run_has_rmse_and_a_model_artifact_that_reproduces_it(executed):
    (run,) = by_job(executed, "train")
    assert run.config["max_depth"] == 10 and run.config["random_state"] == 0
    assert {"n_estimators", "dataset"} <= set(run.config)
    rmse = run.summary["rmse"]
    assert isinstance(rmse, float) and 1 < rmse < 20
    assert [row["rmse"] for row in run.history if "rmse" in row] == [rmse]
    (artifact,) = run.artifacts
    assert artifact.type == "model" and artifact.name == f"{PROJECT}-model"
    assert set(artifact.files) == {"regressor.pkl", "dv.pkl"}
    staged = {name: Path(entry["local_path"]) for name, entry in artifact.files.items()}
    for name, entry in artifact.files.items():
        assert wandb_log.md5_base64(staged[name]) == entry["digest"]
    # the logged model, read back from W&B's staged copy, gives the logged RMSE
    forest = pickle.loads(staged["regressor.pkl"].read_bytes())
    (dataset,) = by_job(executed, "preprocess")[0].artifacts
    X_val, y_val = pickle.loads(Path(dataset.files["val.pkl"]["local_path"]).read_bytes())
    assert forest.max_depth == 10
    assert root_mean_squared_error(y_val, forest.predict(X_val)) == pytest.approx(rmse)


def test_sweep_stand_in_one_run_per_evaluation(executed):
    trials = by_job(executed, "sweep")
    assert len(trials) == SWEEP_COUNT
    space = tuning.RANDOM_FOREST_SPACE  # the homework's space, shared with scripts/homework/hpo.py
    for run in trials:
        assert set(run.tags) == {"sweep-stand-in", "hyperopt"}
        assert SWEEP_PARAMS <= set(run.config) and run.config["random_state"] == 0
        for name in SWEEP_PARAMS:
            value = run.config[name]
            low, high = space[name]
            assert isinstance(value, int) and low <= value <= high
        assert run.summary["rmse"] > 0
        # the forest grows ten trees a step, the RMSE logged at each: what HyperBand judges
        steps = [row for row in run.history if "rmse" in row]
        assert [row["trees"] for row in steps][-1] == run.config["n_estimators"]
        assert len(steps) == -(-run.config["n_estimators"] // 10)
        assert steps[-1]["rmse"] == run.summary["rmse"]
    assert len({tuple(r.config[p] for p in sorted(SWEEP_PARAMS)) for r in trials}) > 1


def test_the_same_run_in_mlflow(executed):
    client = MlflowClient(executed.tracking_uri)
    mlflow.set_tracking_uri(executed.tracking_uri)
    (train,) = by_job(executed, "train")
    experiment = client.get_experiment_by_name(EXPERIMENT)
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == train.name == "rf-max-depth-10"
    assert run.data.tags["wandb.run_id"] == train.id and run.data.tags["wandb.group"] == train.group
    assert run.data.params == {"max_depth": "10", "random_state": "0", "n_estimators": "100"}
    assert run.data.metrics["rmse"] == pytest.approx(train.summary["rmse"])
    assert run.data.tags["data.source"] == "synthetic"
    paths = {f.path for f in client.list_artifacts(run.info.run_id, "model")}
    assert paths == {"model/regressor.pkl", "model/dv.pkl"}


def test_overhead_measured_for_both_trackers(executed):
    text = json.dumps([c.get("outputs", []) for c in executed.notebook.cells])
    for row in ("W&B, offline", "MLflow, sqlite, synchronous", "MLflow, sqlite, synchronous=False"):
        assert row in text
    (note,) = [
        o["data"]["text/markdown"]
        for c in executed.notebook.cells
        for o in c.get("outputs", [])
        if "text/markdown" in o.get("data", {})
    ]
    assert re.search(r"W&B offline: \d+\.\d\d ms a step", note)
    assert re.search(r"MLflow on sqlite: \d+\.\d\d ms a step", note)
    # the throwaway W&B runs of the measurement are not among the notebook's runs
    assert all(r.job_type != "overhead" for r in executed.runs)


def test_outputs_have_no_wandb_chatter_nor_home_paths(executed):
    """W&B's own messages (paths, links) stay silent: nothing points into a home folder."""
    text = json.dumps([c.get("outputs", []) for c in executed.notebook.cells])
    assert "/root/" not in text and "/home/" not in text and "wandb: " not in text


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


def printed(executed: Executed) -> str:
    """Everything the notebook's cells printed (stdout streams), in order."""
    return "".join(
        o.get("text", "")
        for c in executed.notebook.cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    )


def test_sweep_config_is_bayesian_with_hyperband_over_the_homework_space():
    config = wandb_tracking.sweep_config()
    assert config["method"] == "bayes" and config["metric"] == {"name": "rmse", "goal": "minimize"}
    assert config["early_terminate"]["type"] == "hyperband"
    assert config["early_terminate"]["min_iter"] >= 1
    assert {n: (p["min"], p["max"]) for n, p in config["parameters"].items()} == dict(
        tuning.RANDOM_FOREST_SPACE
    )
    assert set(wandb_tracking.hyperopt_space()) == SWEEP_PARAMS


def test_q1_to_q3_answers_match_what_wandb_recorded(executed):
    import wandb

    text = printed(executed)
    assert f"Q1: wandb --version says: wandb, version {wandb.__version__}" in text
    (dataset,) = by_job(executed, "preprocess")[0].artifacts
    dv_bytes = dataset.files["dv.pkl"]["size"]
    (q2,) = re.findall(r"Q2: dv.pkl is (\d+) kB: closest option (\d+ [kM]B)", text)
    assert int(q2[0]) == round(dv_bytes / 1000)
    assert q2[1] in {"54 kB", "154 kB", "54 MB", "154 MB"}
    (train,) = by_job(executed, "train")
    assert (
        f"Q3: max_depth = {train.config['max_depth']}" in text and train.config["max_depth"] == 10
    )


def test_q4_importance_recomputed_from_the_wandb_logs(executed):
    """The notebook's own trial record and W&B's logs give the same parameter importance."""
    import pandas as pd
    from sklearn.ensemble import RandomForestRegressor

    params = list(tuning.RANDOM_FOREST_SPACE)
    trials = pd.DataFrame(
        [
            {**{p: r.config[p] for p in params}, "rmse": r.summary["rmse"]}
            for r in by_job(executed, "sweep")
        ]
    )
    forest = RandomForestRegressor(n_estimators=100, random_state=42).fit(
        trials[params], trials["rmse"]
    )
    expected = params[int(forest.feature_importances_.argmax())]
    (answer,) = re.findall(
        r"Q4: the most important hyperparameter on these \d+ trials: (\w+)", printed(executed)
    )
    assert answer == expected


def test_q5_best_model_logged_with_aliases_for_the_registry(executed):
    (register,) = by_job(executed, "register")
    trials = by_job(executed, "sweep")
    best = min(trials, key=lambda r: r.summary["rmse"])
    assert register.config["from_run"] == best.id
    assert {p: register.config[p] for p in SWEEP_PARAMS} == {
        p: best.config[p] for p in SWEEP_PARAMS
    }
    (artifact,) = register.artifacts
    assert (artifact.name, artifact.type) == (f"{PROJECT}-best-model", "model")
    assert set(artifact.files) == {"regressor.pkl", "dv.pkl"}
    assert "wandb-registry-model/" in printed(executed)


def test_answers_table_lists_each_question_with_its_options(executed):
    (table,) = [
        o["data"]["text/plain"]
        for c in executed.notebook.cells
        for o in c.get("outputs", [])
        if "answer here" in str(o.get("data", {}).get("text/plain", ""))
    ]
    for item in ("Q1", "Q2", "Q3", "Q4", "Q5", "154 kB", "4, 6, 8, 10", "All of these"):
        assert item in table, item


# --- the committed notebook on the real data


def test_committed_notebook_reproduces_on_real_data(real_data_dir, tmp_path):
    env = {
        **offline_env(tmp_path),
        "TAXI_DATA_DIR": str(real_data_dir),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }
    result = run_nbval(
        "10",
        tmp_path,
        env,
        OUTPUT_DIR=str(tmp_path / "output"),
        SWEEP_COUNT=2,
        BENCH_REPEATS=1,
        **REAL_MONTHS,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout.splitlines()[-1]
    runs = wandb_log.local_runs(tmp_path / "wandb-home" / "wandb")
    assert [r.job_type for r in runs] == ["preprocess", "train", "sweep", "sweep", "register"]


def test_committed_outputs_show_real_numbers():
    text = json.dumps(json.load(open(notebook("10"))))
    for figure in ("65946 trips", "62574 trips", "5702 features"):
        assert figure in text
    for path in ("/work/", "/tmp/", "/root/", "/home/"):
        assert path not in text
