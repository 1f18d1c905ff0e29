"""The committed notebooks 01-04 re-executed by nbval on the real TLC data.

Cells tagged `nbval-check-output` (row counts, feature count, LinearRegression RMSE) must
reproduce the committed outputs exactly; every other cell must run without error.
"""

from __future__ import annotations

import pytest

from tests.notebook_runner import run_nbval

# notebook prefix -> parameters injected for the re-run (a smaller search than the committed one)
NOTEBOOKS = {"01": {}, "02": {}, "03": {"MAX_EVALS": 5}, "04": {"N_ESTIMATORS": 20}}


@pytest.fixture(scope="module")
def nbval_env(real_data_dir, tmp_path_factory):
    """One temporary store for 01..04 in order (04 reads the search of 03)."""
    root = tmp_path_factory.mktemp("nbval")
    return root, {
        "TAXI_DATA_DIR": str(real_data_dir),
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "MLFLOW_LOGGING_LEVEL": "WARNING",
    }


@pytest.mark.parametrize("prefix", list(NOTEBOOKS))
def test_committed_notebook_reproduces(prefix, nbval_env):
    root, env = nbval_env
    result = run_nbval(prefix, root, env, **NOTEBOOKS[prefix])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout.splitlines()[-1]


def test_committed_notebooks_are_clean():
    """Committed notebooks carry no execution metadata (run `make clean-notebooks` if this fails)."""
    import subprocess
    import sys

    from tests.notebook_runner import NOTEBOOKS as NOTEBOOK_DIR

    script = NOTEBOOK_DIR.parent / "scripts" / "clean_notebooks.py"
    result = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_committed_outputs_show_real_numbers():
    """A reader on GitHub sees the real figures: 65946/62574 trips, 5702 features, RMSE 6.0345."""
    import json

    from tests.notebook_runner import notebook

    text = json.dumps(json.load(open(notebook("02"))))
    for figure in ("65946 trips", "62574 trips", "5702 features", "validation RMSE: 6.0345"):
        assert figure in text
    for path in ("/work/", "/tmp/", "/root/", "/home/"):
        assert path not in text
