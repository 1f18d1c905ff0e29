"""Notebook 01: the first tracked runs (papermill, generated data) and the committed notebook (nbval, real data)."""

from __future__ import annotations

from tests.mlflow_queries import runs
from tests.support import assert_nbval_passed


def test_01_baseline_run_records_data(course_store):
    (run,) = runs(course_store, "test-intro", "tags.mlflow.runName = 'baseline-mean'")
    assert run.info.run_name == "baseline-mean"
    assert run.data.metrics["rmse"] > 5
    assert run.data.tags["data.source"] == "synthetic"
    assert run.data.tags["data.train_path"].endswith("green_tripdata_2023-01.parquet")
    assert run.data.tags["data.valid_path"].endswith("green_tripdata_2023-02.parquet")
    assert "mlflow.user" in run.data.tags and "mlflow.source.name" in run.data.tags
    assert "mlflow.source.git.commit" not in run.data.tags  # a notebook's kernel has no commit


def test_01_a_script_run_records_its_git_commit(course_store):
    """What 01 says: a script in a git checkout gets the commit it ran from."""
    import subprocess

    from tests.notebook_runner import NOTEBOOKS
    from tests.support import require

    (run,) = runs(course_store, "test-intro", "tags.mlflow.runName = 'from-a-script'")
    assert run.data.tags["mlflow.source.type"] == "LOCAL"
    assert run.data.tags["mlflow.source.name"].endswith("scripts/first_run.py")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=NOTEBOOKS, capture_output=True, text=True
    ).stdout.strip()
    require(head, "the repository is not a git checkout: no commit to compare")
    assert run.data.tags["mlflow.source.git.commit"] == head


def test_notebooks_01_to_05_prose_is_a_learners_length():
    """Short prose that says why: 01-05 together at most 3,600 words of markdown, no cell over 200
    (the engineering record lives in docs/scale.md)."""
    import nbformat

    from tests.notebook_runner import NOTEBOOKS

    total, long_cells = 0, []
    for path in sorted(NOTEBOOKS.glob("0[1-5]-*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                words = len(cell.source.split())
                total += words
                if words > 200:
                    long_cells.append(f"{path.name} {cell.id}: {words} words")
    assert not long_cells, long_cells
    assert total <= 3600, f"notebooks 01-05 hold {total} words of markdown (at most 3600)"


def test_committed_notebook_reproduces_on_the_real_data(real_course):
    """nbval on the real files, after the notebooks before it in the same store (conftest)."""
    assert_nbval_passed(real_course.through("01"))
