"""What every committed notebook shares: one `parameters` cell with the public names, and no
execution metadata."""

from __future__ import annotations

import pytest

from tests.notebook_runner import NOTEBOOKS

CONTRACT = {
    "DATA_SOURCE",
    "DATA_DIR",
    "TAXI_COLOR",
    "TRAIN_MONTH",
    "VALID_MONTH",
    "TEST_MONTH",
    "TRACKING_URI",
    "EXPERIMENT_NAME",
}


@pytest.mark.parametrize(
    "path", sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")), ids=lambda p: p.name[:2]
)
def test_every_notebook_has_the_public_parameters(path):
    """One `parameters` cell per notebook, holding the public names, all parseable by papermill."""
    import nbformat
    import papermill as pm

    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: exactly one cell must be tagged `parameters`"
    params = pm.inspect_notebook(str(path))
    if path.name.startswith("08-"):
        # the homework's months, colour and experiments are each cohort's
        # (scripts/homework/cohorts.py): 08 chooses cohorts, not months
        assert {"DATA_SOURCE", "DATA_DIR", "TRACKING_URI", "COHORT_YEARS"} <= set(params)
        assert params["DATA_SOURCE"]["default"] == '"auto"'
        return
    assert CONTRACT <= set(params), f"{path.name} lacks {sorted(CONTRACT - set(params))}"
    assert params["DATA_SOURCE"]["default"] == '"auto"'
    # the MLflow homework's months (2023), except the W&B homework's own (notebook 10)
    month = '"2022-01"' if path.name.startswith("10-") else '"2023-01"'
    assert params["TRAIN_MONTH"]["default"] == month


def test_committed_notebooks_are_clean():
    """Committed notebooks carry no execution metadata (run `make clean-notebooks` if this fails)."""
    from infra.cleaning import dirty

    unclean = dirty(sorted(NOTEBOOKS.glob("*.ipynb")))
    assert not unclean, f"not clean: {[p.name for p in unclean]}; run `make clean-notebooks`"


def test_cleaning_finds_and_removes_execution_noise(tmp_path):
    """A notebook with papermill metadata and timing is dirty; cleaning makes it clean, outputs kept."""
    import json

    from infra.cleaning import clean_files, dirty

    source = sorted(NOTEBOOKS.glob("02-*.ipynb"))[0]
    nb = json.loads(source.read_text())
    nb["metadata"]["papermill"] = {"duration": 12.5}
    nb["cells"][0]["metadata"]["execution"] = {"iopub.status.busy": "2026-12-01T00:00:00Z"}
    path = tmp_path / source.name
    path.write_text(json.dumps(nb))
    assert dirty([path]) == [path]
    assert clean_files([path]) == [path]
    assert dirty([path]) == []
    assert path.read_text() == source.read_text()
