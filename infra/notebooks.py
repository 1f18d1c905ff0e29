"""The one notebook runner: papermill, as Jupyter runs a notebook (`make run`, `make screenshots`, tests).

`run_notebook` executes a notebook with the `python3` kernel, started in a chosen folder
(notebooks/ by default, where Jupyter starts it), with parameters injected after the cell tagged
`parameters` and, for the duration of the run, extra environment variables for the kernel.
"""

from __future__ import annotations

import argparse
import ast
import os
from collections.abc import Mapping
from pathlib import Path

import papermill as pm

from helpers.paths import repo_root
from infra.env import environment

NOTEBOOKS = repo_root() / "notebooks"

NotebookFailed = pm.PapermillExecutionError  # a cell raised: its exec_count, ename and evalue

# The months of notebooks 01-09 (the 2024/2025 MLflow homework's files). Notebook 10 keeps its own
# defaults, the W&B homework's months (green 2022-01..03), in every scripted run.
MONTHS = {"TRAIN_MONTH": "2023-01", "VALID_MONTH": "2023-02", "TEST_MONTH": "2023-03"}
NOTEBOOK_PARAMS: dict[str, dict[str, str]] = {}


def course_notebooks(prefixes: list[str] | None = None) -> list[Path]:
    """The committed notebooks `NN-*.ipynb` in reading order; only those of `prefixes` if given."""
    found = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    return [nb for nb in found if not prefixes or nb.name.startswith(tuple(prefixes))]


def notebook(prefix: str) -> Path:
    """The committed notebook whose name starts with `prefix` (e.g. '03')."""
    (path,) = sorted(NOTEBOOKS.glob(f"{prefix}-*.ipynb"))
    return path


def notebook_params(name: str, params: Mapping[str, object]) -> dict[str, object]:
    """The parameters one notebook gets in a scripted run: its fixed ones (NOTEBOOK_PARAMS), then
    `params`."""
    fixed = [p for prefix, p in NOTEBOOK_PARAMS.items() if name.startswith(prefix)]
    return {**(fixed[0] if fixed else {}), **params}


def notebook_parameters(path: Path) -> dict[str, object]:
    """The names and default values of a notebook's `parameters` cell (None where not a literal).

    papermill reads the cell (`inspect_notebook`); its defaults come back as source text.
    """
    out = {}
    for name, info in pm.inspect_notebook(str(path)).items():
        try:
            out[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            out[name] = None
    return out


def with_parameters(path: str | os.PathLike, params: Mapping[str, object]):
    """The notebook at `path` with `params` injected after its `parameters` cell, as papermill
    does (a run outside papermill: nbval, JupyterLab); unchanged without `params`."""
    import nbformat
    from papermill.parameterize import parameterize_notebook

    nb = nbformat.read(path, as_version=4)
    if not params:
        return nb
    # papermill expects the metadata its own runs leave; cleaned notebooks drop empty tags
    nb.metadata.setdefault("papermill", {})
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
    return parameterize_notebook(nb, dict(params))


def run_notebook(
    path: str | os.PathLike,
    output: str | os.PathLike,
    params: Mapping[str, object] | None = None,
    *,
    cwd: str | os.PathLike = NOTEBOOKS,
    env: Mapping[str, str] | None = None,
    progress_bar: bool = False,
):
    """Execute `path` into `output` with papermill; return the executed notebook.

    The kernel starts in `cwd` (notebooks/, as Jupyter starts it, unless told otherwise) with
    `env` added to its environment. A failing cell raises NotebookFailed.
    """
    with environment(env):
        return pm.execute_notebook(
            str(path),
            str(output),
            parameters=dict(params or {}),
            cwd=str(cwd),
            kernel_name="python3",
            progress_bar=progress_bar,
        )


def failure(name: str, exc: NotebookFailed) -> str:
    """One line on the failing cell of a notebook run."""
    return f"{name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}"


def add_param_option(parser: argparse.ArgumentParser) -> None:
    """`-p NAME VALUE`, repeatable: a notebook parameter (scripts/run_notebooks.py, screenshots.py)."""
    parser.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="extra notebook parameter (value parsed as a Python literal when possible)",
    )


def parse_params(pairs: list[list[str]]) -> dict[str, object]:
    """The `-p` pairs as notebook parameters: Python literals where they parse, else strings."""
    params: dict[str, object] = {}
    for name, value in pairs:
        try:
            params[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[name] = value
    return params
