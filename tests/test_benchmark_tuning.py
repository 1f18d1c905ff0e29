"""scripts/benchmark_tuning.py, run as a learner runs it (smoke size): both sides written, nothing left behind."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import helpers

SCRIPT = helpers.repo_root() / "scripts" / "benchmark_tuning.py"


def run_script(*args: str, tmp_root) -> subprocess.CompletedProcess:
    """The script in a child process whose temporary files go to `tmp_root` ($TMPDIR)."""
    tmp_root.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp_root)}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_benchmark_smoke_writes_both_sides(tmp_path):
    done = run_script("--smoke", "--out", str(tmp_path / "out"), tmp_root=tmp_path / "tmp")
    assert list((tmp_path / "tmp").iterdir()) == [], "temporary data or MLflow store left behind"
    out = tmp_path / "out"
    result = json.loads((out / "tuning.json").read_text())
    assert result["data_source"] == "synthetic"
    for side in ("course", "default"):
        assert result[side]["trials"] == 2
        assert math.isfinite(result[side]["best_rmse"]) and result[side]["total_seconds"] > 0
        assert len(result[side]["log"]) == 2
    assert result["course"]["features"] == "onehot" and result["default"]["features"] == "zones"
    header = (out / "tuning.csv").read_text().splitlines()[0]
    assert "best_rmse" in header and "seconds_to_other_best" in header
    assert "total time ratio" in done.stdout


def test_feature_benchmark_smoke(tmp_path):
    args = ["--features-scale", "--smoke", "--out", str(tmp_path / "out")]
    run_script(*args, tmp_root=tmp_path / "tmp")
    assert list((tmp_path / "tmp").iterdir()) == [], "the generated yellow month was left behind"
    result = json.loads((tmp_path / "out" / "features.json").read_text())
    assert result["course"]["shape"] == result["helpers"]["shape"]
    assert result["course"]["nnz"] == result["helpers"]["nnz"]


def test_benchmark_defaults_are_notebook_03_defaults():
    """Side (b) is the search notebook 03 runs by default: the script reads 03's parameters cell."""
    import papermill as pm

    from infra.notebooks import notebook

    params = pm.inspect_notebook(str(notebook("03")))
    usage = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert params["SEARCH"]["default"] == '"fast"'
    assert f"notebook 03's MAX_EVALS ({params['MAX_EVALS']['default']})" in usage
    assert f"notebook 03's STOP_AFTER ({params['STOP_AFTER']['default']})" in usage
