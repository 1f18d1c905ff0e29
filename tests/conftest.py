"""Shared fixtures: every test gets its own tracking store; real data is found or skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import helpers

ROOT = helpers.repo_root()
REAL_MONTHS = ("2023-01", "2023-02", "2023-03")


def find_real_data_dir() -> Path | None:
    """$TLC_DATA_DIR, else ../shared/tlc-data beside the repository, if it holds green 2023-01..03."""
    candidates = [os.environ.get("TLC_DATA_DIR"), ROOT.parent / "shared" / "tlc-data"]
    for cand in candidates:
        if cand and all((Path(cand) / f"green_tripdata_{m}.parquet").exists() for m in REAL_MONTHS):
            return Path(cand).resolve()
    return None


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The folder with the real green 2023-01..03 files; the test is skipped without it."""
    path = find_real_data_dir()
    if path is None:
        pytest.skip("real TLC files not found: set TLC_DATA_DIR or put ../shared/tlc-data beside the repo")
    return path


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch) -> str:
    """A fresh sqlite tracking store for this test only, also exported as MLFLOW_TRACKING_URI."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory) -> Path:
    """A data folder shared by the tests that only read generated months."""
    return tmp_path_factory.mktemp("synthetic-data")
