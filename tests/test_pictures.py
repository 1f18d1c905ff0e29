"""The figures learners read beside the outputs are the outputs' figures.

- Pictures: `make refresh` (`scripts/run_notebooks.py --refresh-committed`) takes imgs/*.png from
  the store of the very run that gave the committed outputs, and saves beside each picture the
  text it shows (imgs/<name>.txt, first line `course_refresh: <id>`). Every RMSE-like figure of
  that text must be one the committed outputs print.
- Prose: every RMSE-like figure a markdown cell quotes must be one its notebook's committed
  outputs print, except the course's own: the homework's option lists (figures joined by ` · `,
  and the answer chosen among them) and figures marked as the course's (the word "course" in the
  80 characters before the figure on its line, or in the fenced code block that holds it).

RMSE-like: a decimal with at least 3 decimals, outside links and times of day. Two figures are the same when they
agree at the shorter one's precision (the UI's 6.034 is the output's 6.0338; 6.24759 is 6.2476).
These tests read committed files only.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from tests.notebook_runner import NOTEBOOKS

ROOT = NOTEBOOKS.parent
IMGS = ROOT / "imgs"
ALL = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
FIGURE = re.compile(r"(?<![\d.\w:])\d+\.\d{3,}(?![\d.])")  # not a time's seconds (00:41:01.834)
LINK = re.compile(r"\]\([^)]*\)|https?://\S+")
OPTIONS = re.compile(r"\d+\.\d{3,}(?:\**\s*·[\s>]*\**\d+\.\d{3,})+")  # `> ` continues a quote
FENCE = re.compile(r"```.*?```", re.S)
MIME = ("text/plain", "text/markdown", "text/html")


def figures(text: str) -> list[str]:
    """The RMSE-like figures of `text`, links left out."""
    return FIGURE.findall(LINK.sub(" ", text))


def output_text(path: Path) -> str:
    """Everything the committed outputs of a notebook print or display, as text."""
    parts = []
    for cell in json.loads(path.read_text())["cells"]:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.extend(out.get("data", {}).get(mime, "") for mime in MIME)
    return "\n".join("".join(p) if isinstance(p, list) else p for p in parts)


def same(a: str, b: str) -> bool:
    """Whether two decimals agree at the precision of the shorter one."""
    places = min(len(a.split(".")[1]), len(b.split(".")[1]))
    return abs(Decimal(a) - Decimal(b)) <= Decimal(5) / 10 ** (places + 1)


def missing(wanted: list[str], printed: list[str]) -> list[str]:
    """The figures of `wanted` that no figure of `printed` matches."""
    return [w for w in dict.fromkeys(wanted) if not any(same(w, p) for p in printed)]


def course_figures(markdown: str) -> set[str]:
    """The figures of a markdown cell that are the course's (see the module's docstring)."""
    theirs = set()
    for block in OPTIONS.findall(markdown):
        theirs.update(figures(block))
    for block in FENCE.findall(markdown):
        if "course" in block.lower():
            theirs.update(figures(block))
    for line in markdown.splitlines():
        for match in FIGURE.finditer(line):
            if "course" in line[max(0, match.start() - 80) : match.start()].lower():
                theirs.add(match.group())
    return theirs


PICTURES = sorted(IMGS.glob("*.png"))


@pytest.mark.parametrize("png", PICTURES, ids=[p.stem for p in PICTURES])
def test_picture_shows_the_figures_of_the_committed_outputs(png):
    text_file = png.with_suffix(".txt")
    assert text_file.is_file(), (
        f"imgs/{text_file.name} is missing: imgs/{png.name} was not taken by `make refresh`"
    )
    first, _, text = text_file.read_text().partition("\n")
    refresh = json.loads(ALL[0].read_text())["metadata"].get("course_refresh", {}).get("refresh")
    assert first == f"course_refresh: {refresh}", (
        f"imgs/{png.name} is not from the refresh of the committed outputs ({refresh}): {first!r}"
    )
    printed = [f for nb in ALL for f in figures(output_text(nb))]
    absent = missing(figures(text), printed)
    assert not absent, f"imgs/{png.name} shows {absent}, which no committed output prints"


@pytest.mark.parametrize("path", ALL, ids=[p.name[:2] for p in ALL])
def test_prose_figures_are_printed_by_the_notebook(path):
    printed = figures(output_text(path))
    problems = []
    for i, cell in enumerate(json.loads(path.read_text())["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        markdown = "".join(cell["source"])
        theirs = course_figures(markdown)
        ours = [f for f in figures(markdown) if f not in theirs]
        problems += [f"cell {i}: {f}" for f in missing(ours, printed)]
    assert not problems, (
        f"{path.name}: its prose quotes figures its outputs do not print (print them from a "
        f"cell, or mark them as the course's): {problems}"
    )


def test_the_rules_can_fail():
    """The matching and the course's exceptions, on made-up text."""
    assert same("6.034", "6.0338") and same("6.24759", "6.2476")
    assert not same("6.0345", "6.0385") and not same("5.0672", "5.0431")
    assert figures("utc_time_created: '2026-12-07 00:41:01.834697'") == []
    assert figures("see [BOHB](https://arxiv.org/abs/1807.01774), RMSE 6.0338, 2023.5") == [
        "6.0338"
    ]
    markdown = (
        "Options: 4.817 · **5.335** · 5.818 ·\n> 6.336\n\nThe answer: **5.335**. The course's published "
        "**7.7587**; ours 6.0345.\n\n```python\n# course, 2022\nlr = 0.09585355369315604\n```"
    )
    assert course_figures(markdown) == {
        "4.817",
        "5.335",
        "5.818",
        "6.336",
        "7.7587",
        "0.09585355369315604",
    }
    assert missing(["6.0345"], ["6.0338"]) == ["6.0345"]


def test_photograph_store_saves_each_picture_with_the_text_it_shows(synthetic_course, tmp_path):
    """infra.pictures on the store of 01-06 (small generated data, conftest.synthetic_course):
    the run page shows the rmse the run logged, the registry page its champion; each PNG is the
    window's size."""
    from infra import browser, pictures
    from tests.support import EXPERIMENT, REGISTERED, require

    require(browser.why_no_browser() is None, f"pictures: {browser.why_no_browser()}")
    only = {"run_page", "model_versions"}
    written = pictures.photograph_store(
        synthetic_course.root, tmp_path, intro_name="test-intro", course_name=EXPERIMENT, only=only
    )
    assert sorted(p.name for p in written) == ["model_versions.png", "run_page.png"]
    for png in written:
        header = png.read_bytes()[:24]
        assert header[:8] == b"\x89PNG\r\n\x1a\n"
        size = (int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big"))
        assert size == (browser.VIEWPORT["width"], browser.VIEWPORT["height"])
    client = synthetic_course.client
    experiment = client.get_experiment_by_name(EXPERIMENT)
    (first,) = client.search_runs(
        [experiment.experiment_id],
        "tags.mlflow.runName = 'linear-regression'",
        order_by=["attributes.start_time ASC"],
        max_results=1,
    )
    page = (tmp_path / "run_page.txt").read_text()
    assert "linear-regression" in page.splitlines()
    assert not missing([f"{first.data.metrics['rmse']:.4f}"], figures(page))
    registry = (tmp_path / "model_versions.txt").read_text()
    assert REGISTERED in registry and "champion" in registry
