"""The committed notebooks 01-04 re-executed by nbval on the real TLC data.

Cells tagged `nbval-check-output` (row counts, feature count, the baseline, LinearRegression and
xgboost RMSEs) must reproduce the committed outputs exactly; every other cell must run without error.
"""

from __future__ import annotations

import pytest

from tests.conftest import REAL_PARAMS


@pytest.mark.parametrize("prefix", list(REAL_PARAMS))
def test_committed_notebook_reproduces(prefix, real_course):
    """Run in order into one store by conftest.real_course (04 reads the search of 03)."""
    result = real_course.executed[prefix]
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
