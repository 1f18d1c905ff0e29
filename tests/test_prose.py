"""A learner's length: no markdown cell of a notebook over 200 words, at most 8,000 words of
markdown across the ten notebooks. Measurements, scale notes and test detail go to docs/.

Words are counted as `str.split` counts them (links, code spans and table cells included): the
count a reader's eye meets, not a linguist's.
"""

from __future__ import annotations

import nbformat
import pytest

from tests.notebook_runner import NOTEBOOKS

ALL = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
MAX_CELL_WORDS = 200
MAX_TOTAL_WORDS = 8_000


def markdown_words(path) -> list[tuple[str, int]]:
    """(cell id, words) for every markdown cell of a notebook."""
    nb = nbformat.read(path, as_version=4)
    return [
        (c.get("id", "?"), len(c.source.split())) for c in nb.cells if c.cell_type == "markdown"
    ]


def test_there_are_ten_notebooks():
    assert len(ALL) == 10, [p.name for p in ALL]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name[:2])
def test_no_markdown_cell_over_200_words(path):
    long = [(cell, words) for cell, words in markdown_words(path) if words > MAX_CELL_WORDS]
    assert not long, (
        f"{path.name}: markdown cells over {MAX_CELL_WORDS} words {long}: say why in fewer "
        "words, and move measurements and engineering notes to docs/"
    )


def test_all_notebooks_together_at_most_8000_words():
    per_notebook = {p.name[:2]: sum(w for _, w in markdown_words(p)) for p in ALL}
    total = sum(per_notebook.values())
    assert total <= MAX_TOTAL_WORDS, (
        f"{total} words of markdown in the notebooks (at most {MAX_TOTAL_WORDS}): {per_notebook}"
    )
