"""The tuning benchmark runs (smoke size), and the fast features equal the course's exactly."""

from __future__ import annotations

import importlib.util
import json
import math
import tempfile

import numpy as np
import pytest

import helpers
from helpers.features import course_fit_features, fit_features, to_records, transform_features
from tests.notebook_runner import notebook


def load_script(name: str):
    """scripts/<name>.py as a module: scripts/ is a folder of programs, not a package."""
    path = helpers.repo_root() / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"script_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


benchmark = load_script("benchmark_tuning")


def test_fast_features_equal_the_course_dictvectorizer(synthetic_dir):
    train = helpers.load_month("green", "2023-01", "synthetic", synthetic_dir, 20_000)
    valid = helpers.load_month("green", "2023-02", "synthetic", synthetic_dir, 20_000)
    dv_course, X_course = course_fit_features(train.df)
    dv_fast, X_fast = fit_features(train.df)
    assert dv_fast.feature_names_ == dv_course.feature_names_
    assert X_fast.shape == X_course.shape and (X_fast != X_course).nnz == 0
    V_course = dv_course.transform(to_records(valid.df))  # unseen pairs are ignored by both
    V_fast = transform_features(dv_fast, valid.df)
    assert (V_fast != V_course).nnz == 0
    assert X_fast.indices.dtype == np.int32
    # the fitted vectoriser still works the course's way
    assert (dv_fast.transform(to_records(valid.df)) != V_course).nnz == 0


@pytest.fixture
def temp_root(tmp_path, monkeypatch):
    """The folder Python's tempfile uses during the test: what is left there was not cleaned up."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def test_benchmark_smoke_writes_both_sides(tmp_path, temp_root, capsys):
    assert benchmark.main(["--smoke", "--out", str(tmp_path / "out")]) == 0
    assert list(temp_root.iterdir()) == [], "temporary data or MLflow store left behind"
    tmp_path = tmp_path / "out"
    result = json.loads((tmp_path / "tuning.json").read_text())
    assert result["data_source"] == "synthetic"
    for side in ("course", "default"):
        assert result[side]["trials"] == 2
        assert math.isfinite(result[side]["best_rmse"]) and result[side]["total_seconds"] > 0
        assert len(result[side]["log"]) == 2
    assert result["course"]["features"] == "onehot" and result["default"]["features"] == "zones"
    header = (tmp_path / "tuning.csv").read_text().splitlines()[0]
    assert "best_rmse" in header and "seconds_to_other_best" in header
    assert "total time ratio" in capsys.readouterr().out


def test_feature_benchmark_smoke(tmp_path, temp_root):
    assert benchmark.main(["--features-scale", "--smoke", "--out", str(tmp_path)]) == 0
    assert list(temp_root.iterdir()) == [], "the generated yellow month was left behind"
    result = json.loads((tmp_path / "features.json").read_text())
    assert result["course"]["shape"] == result["helpers"]["shape"]
    assert result["course"]["nnz"] == result["helpers"]["nnz"]


def test_benchmark_defaults_are_notebook_03_defaults():
    """Side (b) of the benchmark is the search notebook 03 runs by default."""
    import papermill as pm

    params = pm.inspect_notebook(str(notebook("03")))
    defaults = benchmark.build_parser().parse_args([])
    assert params["SEARCH"]["default"] == '"fast"'
    assert int(params["MAX_EVALS"]["default"]) == defaults.fast_trials
    assert int(params["STOP_AFTER"]["default"]) == defaults.stop_after
