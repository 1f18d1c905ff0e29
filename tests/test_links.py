"""Links that lead on: every relative link in the notebooks' markdown, the README and docs/
resolves to a file of the repository, each notebook links the one before and the one after at its top and its
bottom, and the README links every notebook.

Web links (https://...) are not fetched: the tests run offline.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

from helpers import repo_root

ROOT = repo_root()
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))  # the engineering record the README links

# [text](target "title") and ![alt](target); HTML href="..." and src="..."
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)  # links inside code are not links


def links(markdown: str) -> list[str]:
    """Every link target in a piece of markdown, code spans and fenced blocks left out."""
    text = CODE.sub("", markdown)
    return MARKDOWN_LINK.findall(text) + HTML_LINK.findall(text)


def relative(target: str) -> bool:
    """True for a link into the repository: no scheme (https:, mailto:), not a bare #anchor."""
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and bool(parts.path)


def markdown_of(path: Path) -> str:
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return path.read_text()


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """The relative links of `path` that name no file or folder of the repository (`root`)."""
    broken = []
    for target in links(markdown_of(path)):
        if not relative(target):
            continue
        resolved = (path.parent / unquote(urlsplit(target).path)).resolve()
        if not resolved.is_relative_to(root) or not resolved.exists():
            broken.append(target)
    return broken


def test_link_pattern_finds_links_and_skips_code():
    text = "see [02](02-x.ipynb), ![pic](../imgs/a.png) and `[no](code.ipynb)`\n<img src='b.png'>"
    assert links(text) == ["02-x.ipynb", "../imgs/a.png", "b.png"]
    assert relative("02-x.ipynb#setup") and not relative("https://mlflow.org/docs/")
    assert not relative("#setup") and not relative("mailto:someone@example.org")


def test_a_broken_link_is_reported(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("here")
    page.write_text("[ok](there.md) [ok too](there.md#part) [gone](missing.ipynb)")
    (tmp_path / "repo").mkdir()
    outside = tmp_path / "repo" / "page.md"
    outside.write_text("[up and out](../there.md)")
    assert broken_links(page, root=tmp_path) == ["missing.ipynb"]
    assert broken_links(outside, root=tmp_path / "repo") == ["../there.md"]


@pytest.mark.parametrize(
    "path", [README, *DOCS, *NOTEBOOKS], ids=lambda p: str(p.relative_to(ROOT))
)
def test_every_relative_link_resolves(path):
    assert broken_links(path) == [], f"{path.name} links to files that do not exist"


@pytest.mark.parametrize("index", range(len(NOTEBOOKS)), ids=lambda i: NOTEBOOKS[i].name[:2])
def test_each_notebook_links_the_previous_and_the_next_at_top_and_bottom(index):
    nb = nbformat.read(NOTEBOOKS[index], as_version=4)
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    expected = {"../README.md"}
    if index > 0:
        expected.add(NOTEBOOKS[index - 1].name)
    if index + 1 < len(NOTEBOOKS):
        expected.add(NOTEBOOKS[index + 1].name)
    for where, cell in (("top", markdown[0]), ("bottom", markdown[-1])):
        found = {urlsplit(t).path for t in links(cell)}
        assert expected <= found, f"{where} of {NOTEBOOKS[index].name} misses {expected - found}"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[-1].cell_type == "markdown"


def test_readme_links_every_notebook():
    linked = {Path(urlsplit(t).path).name for t in links(README.read_text())}
    missing = [p.name for p in NOTEBOOKS if p.name not in linked]
    assert not missing, f"README.md does not link {missing}"


def test_readme_and_the_docs_index_link_every_page_of_docs():
    index = ROOT / "docs" / "README.md"
    linked = {(ROOT / urlsplit(t).path).resolve() for t in links(README.read_text())}
    linked |= {(index.parent / urlsplit(t).path).resolve() for t in links(index.read_text())}
    missing = [p.name for p in DOCS if p.resolve() not in linked]
    assert not missing, f"neither README.md nor docs/README.md links docs/{missing}"
