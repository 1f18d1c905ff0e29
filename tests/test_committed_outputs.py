"""What a reader of the committed notebooks sees: one clean run, real numbers, no warnings.

These tests read the committed files only (no kernel): they are the checks of
`scripts/run_notebooks.py --refresh-committed`, which runs every notebook in order into one fresh
store and stamps each with `metadata.course_refresh`.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from tests.notebook_runner import NOTEBOOKS, notebook

ALL = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
IDS = [p.name[:2] for p in ALL]
FIGURES = NOTEBOOKS.parent / "docs" / "figures.md"  # the table of committed figures

# Lines a committed output may hold although they match WARNING / Warning: / Traceback.
# Each entry says why it cannot be removed at the cause. Keep this list short.
ALLOWED: list[re.Pattern] = []  # none needed today: every warning was removed at its cause
NOISE = re.compile(r"WARNING|Warning:|Traceback|INFO mlflow")  # INFO: a fresh store's set-up


def load(path) -> dict:
    return json.loads(path.read_text())


def output_lines(nb: dict) -> list[tuple[int, str]]:
    """(cell index, line) for every line of every output, tracebacks included."""
    lines = []
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                lines.append((i, f"Traceback: {out.get('ename')}: {out.get('evalue')}"))
            data = out.get("data", {})
            # displayed Markdown (08's answers, 09's comparison) is what a reader sees
            text = out.get("text") or data.get("text/markdown") or data.get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else text
            lines.extend((i, line) for line in text.splitlines())
    return lines


def output_text(path) -> str:
    return "\n".join(line for _, line in output_lines(load(path)))


def test_all_committed_outputs_come_from_one_run_in_order():
    """Same refresh id everywhere, positions 1..N in file order, each started after the one before.

    A notebook refreshed on its own (`--only 04`) gets another refresh id; one refreshed before
    its predecessor (or a mix of two refreshes) breaks the order of times.
    """
    stamps = [load(p)["metadata"].get("course_refresh") for p in ALL]
    missing = [p.name for p, s in zip(ALL, stamps, strict=True) if not s]
    assert not missing, f"not from `run_notebooks.py --refresh-committed`: {missing}"
    assert len({s["refresh"] for s in stamps}) == 1, {
        p.name: s["refresh"] for p, s in zip(ALL, stamps, strict=True)
    }
    assert [s["position"] for s in stamps] == list(range(1, len(ALL) + 1))
    assert {s["of"] for s in stamps} == {len(ALL)}
    for before, after in zip(stamps, stamps[1:], strict=False):
        assert datetime.fromisoformat(before["finished"]) <= datetime.fromisoformat(
            after["started"]
        ), (before, after)


def test_later_notebooks_see_what_earlier_ones_logged():
    """06 lists the experiments of the store it ran in: 01's and 02's are there, so one store."""
    text = output_text(notebook("06"))
    for name in ("nyc-taxi-intro", "nyc-taxi-experiment"):
        assert name in text, f"06 does not list {name!r}: it ran in another store than 01-05"


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_no_warning_or_traceback_in_committed_outputs(path):
    found = [
        f"cell {i}: {line[:160]}"
        for i, line in output_lines(load(path))
        if NOISE.search(line) and not any(a.search(line) for a in ALLOWED)
    ]
    assert not found, "\n".join(found)


# Every notebook trains a model: 01 its baseline (the training mean), 02-10 their regressions and
# searches (08 through the homework's scripts, 10 for W&B and MLflow side by side).
TRAINS = ALL
# the headline figure: the word RMSE and a number with at least 3 decimals on one line, e.g.
# "validation RMSE: 6.0338"; a year, a trip or feature count or a bare decimal do not count
HEADLINE = re.compile(r"\bRMSE\b.*\d\.\d{3}|\d\.\d{3}.*\bRMSE\b")


def checked_lines(path) -> list[str]:
    """The output lines of the cells nbval compares (tagged nbval-check-output)."""
    return [
        line
        for cell in load(path)["cells"]
        if "nbval-check-output" in cell.get("metadata", {}).get("tags", [])
        for _, line in output_lines({"cells": [cell]})
    ]


def test_the_headline_rule_takes_an_rmse_and_nothing_else():
    assert HEADLINE.search("validation RMSE: 6.0338")
    assert HEADLINE.search("15 trials logged; best validation RMSE 5.3350")
    for line in ("65946 trips", "2023-01", "5702 features", "rmse 6.0338", "RMSE 6.03", "6.0338"):
        assert not HEADLINE.search(line), line


@pytest.mark.parametrize("path", TRAINS, ids=[p.name[:2] for p in TRAINS])
def test_every_notebook_that_trains_checks_an_rmse(path):
    """nbval compares at least one cell per training notebook whose output shows an RMSE."""
    checked = checked_lines(path)
    assert any(HEADLINE.search(line) for line in checked), (
        f"{path.name}: no cell tagged nbval-check-output prints an RMSE with 3 decimals or more; "
        f"checked: {checked}"
    )


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_no_machine_paths_in_committed_outputs(path):
    text = output_text(path)
    for fragment in ("/work/", "/tmp/", "/root/", "/home/", "pytest-of"):
        assert fragment not in text, f"{path.name} shows a machine path ({fragment})"


# What a reader must see beyond docs/figures.md's table (tests/test_committed_outputs.py is the one
# place that reads committed outputs; the table's figures are checked below)
SHOWN = {
    "02": ["65946 trips", "62574 trips", "5702 features", "validation RMSE: 6.0338"],
    "05": ["validation RMSE 6.0338"],
    "06": ["test RMSE: 6.2476"],
    "07": ["validation RMSE 6.0338", "no credentials: 401", "PERMISSION_DENIED"],
    "08": [
        "5702 features",
        "1 · 3 · **4** · 7 (computed: 4)",
        "min_samples_split=2",
        "best validation RMSE 5.3354",
        "best test RMSE 5.5674",
        "Q5 2.2855 → **2.185**",
    ],
}


@pytest.mark.parametrize("prefix", sorted(SHOWN))
def test_committed_outputs_show_the_real_figures(prefix):
    text = output_text(notebook(prefix))
    for figure in SHOWN[prefix]:
        assert figure in text, f"{notebook(prefix).name} does not show {figure!r}"


def readme_figures() -> list[tuple[str, str, str]]:
    """(figure, value, notebook prefix) rows of docs/figures.md's table of committed figures."""
    section = FIGURES.read_text().split("# What the committed notebooks show", 1)[1]
    section = section.split("\n#", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"\d\d", cells[2]):
            rows.append((cells[0], cells[1], cells[2]))
    return rows


def test_readme_figures_are_those_the_notebooks_show():
    rows = readme_figures()
    assert len(rows) >= 8, "the figures table of docs/figures.md was not found"
    for figure, value, prefix in rows:
        text = output_text(notebook(prefix))
        for number in re.findall(r"\d+(?:\.\d+)?", value):
            assert re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", text), (
                f"docs/figures.md: {figure} = {value}, but notebook {prefix} does not show {number}"
            )
