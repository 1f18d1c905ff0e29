"""Notebook 02 in JupyterLab for real: a private lab, headless Chromium, the lab's own *Run All*.

The lab serves a temporary copy of notebook 02 (generated data, a temporary tracking store, the
small sizes of the other tests), with private Jupyter folders and a token. The browser opens the
notebook, picks Run → Run All Cells from the menu bar, and waits until no cell is pending and the
kernel is idle. The checks read the page as a learner does: every code cell has an execution
number, no cell shows a traceback, the comparison table lists every run with the `rmse` MLflow
holds. The server and its kernel are stopped whatever happens (infra/lab.py).
Skipped, with the reason, without Chromium or JupyterLab; a failure under CI=true.
"""

from __future__ import annotations

import importlib.util
import re
import time
from dataclasses import dataclass, field

import nbformat
import psutil
import pytest
from mlflow import MlflowClient

from infra import browser
from infra import lab as lab_session
from tests.notebook_runner import files_under, notebook
from tests.support import NOTEBOOK_ENV, ROOT, SMALL, require

EXPERIMENT = "test-jupyterlab"


@dataclass
class LabRun:
    """What the page showed after Run All, and what was left once the lab was stopped."""

    code_cells: int  # in the notebook the lab served
    cells: list[dict]  # per code cell in the page: prompt and stderr texts
    table: list[dict[str, str]]  # the rows of the rmse comparison table
    tracking_uri: str
    seconds: float
    kernel_pids: list[int] = field(default_factory=list)
    killed: list[int] = field(default_factory=list)
    server_exit: int | None = None
    written: list[str] = field(default_factory=list)  # files that appeared in the repository


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory) -> LabRun:
    reason = browser.why_no_browser()
    require(reason is None, f"JupyterLab browser test: {reason}")
    require(
        importlib.util.find_spec("jupyterlab") is not None,
        "JupyterLab browser test: jupyterlab is not installed: pip install -r mlflow_requirements.txt",
    )
    tmp = tmp_path_factory.mktemp("jupyterlab")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    data = tmp / "data"
    root = tmp / "course"
    path = lab_session.prepare_root(
        root, "02", **SMALL, DATA_DIR=str(data), EXPERIMENT_NAME=EXPERIMENT, ALPHAS=[0.01, 1.0]
    )
    served = nbformat.read(root / path, as_version=4)
    env = {**NOTEBOOK_ENV, "MLFLOW_TRACKING_URI": uri, "TAXI_DATA_DIR": str(data)}
    before = files_under(ROOT / "notebooks") | files_under(ROOT / "imgs")
    start = time.perf_counter()
    with lab_session.jupyterlab(root, tmp / "jupyter", env) as lab:
        with browser.HeadlessChromium(
            lab.url, seed={}, viewport=lab_session.VIEWPORT, timeout=120
        ) as ui:
            try:
                lab_session.open_notebook(ui, lab, path)
                cells = lab_session.run_all(ui, timeout=600)
                table = lab_session.rmse_table(ui)
            finally:  # what the page showed, for whoever reads a failure
                lab.remember_children()
                ui.page.screenshot(path=str(tmp / "jupyterlab-page.png"), full_page=True)
                print(f"page at the end: {tmp / 'jupyterlab-page.png'}")
    run = LabRun(
        code_cells=sum(c.cell_type == "code" for c in served.cells),
        cells=cells,
        table=table,
        tracking_uri=uri,
        seconds=round(time.perf_counter() - start, 1),
        kernel_pids=list(lab.started),
        killed=list(lab.killed),
        server_exit=lab.server.process.returncode,
    )
    after = files_under(ROOT / "notebooks") | files_under(ROOT / "imgs")
    run.written = sorted(after - before)
    print(f"JupyterLab: notebook 02 ran by Run All in {run.seconds} s")
    return run


def test_run_all_executes_every_code_cell(lab_run):
    prompts = [c["prompt"].strip() for c in lab_run.cells]
    assert len(prompts) == lab_run.code_cells, prompts
    numbers = [re.fullmatch(r"\[(\d+)\]:", p) for p in prompts]
    assert all(numbers), f"cells not executed: {prompts}"
    assert [int(m.group(1)) for m in numbers] == list(range(1, len(prompts) + 1)), prompts


def test_no_cell_shows_an_error(lab_run):
    failed = [
        (i, text)
        for i, cell in enumerate(lab_run.cells)
        for text in cell["stderr"]
        if "Traceback" in text or "Error" in text
    ]
    assert not failed, "\n\n".join(f"code cell {i}:\n{text}" for i, text in failed)


def test_rmse_table_shows_every_run_as_mlflow_has_it(lab_run):
    client = MlflowClient(lab_run.tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs(
        [experiment.experiment_id], "tags.developer = 'course'", order_by=["metrics.rmse ASC"]
    )
    assert len(runs) == 6
    shown = [(row["tags.mlflow.runName"], row["metrics.rmse"]) for row in lab_run.table]
    expected = [(r.info.run_name, f"{r.data.metrics['rmse']:.4f}") for r in runs]
    # the table rounds to 4 decimals; pandas drops trailing zeros
    assert [(n, float(v)) for n, v in shown] == [(n, float(v)) for n, v in expected]
    assert {row["tags.data.source"] for row in lab_run.table} == {"synthetic"}


def test_lab_and_kernel_are_stopped(lab_run):
    assert lab_run.server_exit is not None
    assert lab_run.kernel_pids, "no kernel process was seen"
    assert not [pid for pid in lab_run.kernel_pids if psutil.pid_exists(pid)]
    assert lab_run.killed == [], "the kernels had to be killed: /api/shutdown did not stop them"


def test_nothing_is_written_into_the_repository(lab_run):
    assert notebook("02").exists()
    assert lab_run.written == []
