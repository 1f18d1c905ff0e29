"""Run the course notebooks for the tests: papermill (infra.notebooks) or nbval, into a temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

import helpers
from infra.notebooks import NOTEBOOKS, notebook, run_notebook, with_parameters

SANITIZE = helpers.repo_root() / "tests" / "nbval_sanitize.cfg"


def run_papermill(
    prefix: str, workdir: Path, env: dict[str, str] | None = None, **params
) -> nbformat.NotebookNode:
    """Execute a notebook with papermill as Jupyter does, from notebooks/; its copy goes to `workdir`.

    Fails when the run leaves any file under notebooks/ (every path must resolve against the
    repository root, whatever the current directory). `env` is added to the environment of the notebook's kernel (and of this process meanwhile).
    """
    out = workdir / f"executed-{notebook(prefix).name}"
    before = files_under(NOTEBOOKS)
    # started in notebooks/, where Jupyter starts the kernel: paths must not depend on it
    executed = run_notebook(notebook(prefix), out, params, env=env)
    written = sorted(files_under(NOTEBOOKS) - before)
    assert not written, f"notebook {prefix} wrote into notebooks/: {written}"
    return executed


def files_under(folder: Path) -> set[str]:
    """Every file below `folder` (relative names), to see what a notebook run wrote there."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def notebook_text(nb: nbformat.NotebookNode) -> str:
    """Every text output of an executed notebook, joined."""
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", "") or out.get("data", {}).get("text/plain", ""))
    return "\n".join(t if isinstance(t, str) else "".join(t) for t in texts)


def run_nbval(
    prefix: str, workdir: Path, env: dict[str, str], **params
) -> subprocess.CompletedProcess:
    """Re-execute a committed notebook under nbval (lax: cells tagged nbval-check-output compared).

    `params` are injected as papermill does, in a cell after the `parameters` cell, so a smaller
    search can be run without touching the committed outputs of the other cells.
    """
    nb = with_parameters(notebook(prefix), params)
    copy = workdir / notebook(prefix).name
    nbformat.write(nb, copy)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--nbval-lax",
        "--nbval-sanitize-with",
        str(SANITIZE),
        "--nbval-cell-timeout",
        "900",
        "-o",
        "addopts=",
        "-o",
        "testpaths=",
        "--rootdir",
        str(workdir),
        str(copy),
    ]
    return subprocess.run(
        cmd, cwd=workdir, env={**os.environ, **env}, capture_output=True, text=True
    )
