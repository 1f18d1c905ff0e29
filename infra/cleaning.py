"""Strip execution noise from committed notebooks; keep outputs and cell tags (`make clean-notebooks`).

Used by scripts/clean_notebooks.py (its command line), scripts/run_notebooks.py
(`--refresh-committed` writes executed notebooks back through `write_clean`) and
tests/test_notebook_files.py (`dirty`).

Why not nbstripout's API: nbstripout removes a deny-list of metadata keys and keeps outputs as they
are. The committed notebooks need the opposite on every point: an allow-list of notebook metadata
(`course_refresh` stays, anything a new Jupyter adds goes), execution counts renumbered 1..N as
a clean top-to-bottom run gives them (nbval treats a cell without one as never run), stable cell
ids, progress bars squashed to their last state and memory addresses removed from reprs. That is
all of this module; nbstripout would add a dependency and do none of it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

KEEP_NB_METADATA = ("kernelspec", "language_info", "course_refresh")  # see run_notebooks.py
KEEP_CELL_METADATA = ("tags",)
PROGRESS = re.compile(r"\d+%\|")
ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def squash_streams(outputs: list[dict]) -> list[dict]:
    """Merge consecutive stream outputs and keep only the last state of each progress bar."""
    merged: list[dict] = []
    for out in outputs:
        if (
            out.get("output_type") == "stream"
            and merged
            and merged[-1].get("output_type") == "stream"
            and merged[-1]["name"] == out["name"]
        ):
            merged[-1]["text"] = "".join(merged[-1]["text"]) + "".join(out["text"])
        else:
            merged.append(out)
    for out in merged:
        if out.get("output_type") != "stream":
            continue
        lines = [line.rsplit("\r", 1)[-1] for line in "".join(out["text"]).split("\n")]
        kept = [
            line
            for i, line in enumerate(lines)
            if not (PROGRESS.search(line) and i + 1 < len(lines) and PROGRESS.search(lines[i + 1]))
        ]
        out["text"] = "\n".join(kept)
    return merged


def _no_addresses(text: str | list[str]) -> str | list[str]:
    """A repr without ` at 0x7f...` (memory addresses change every run)."""
    if isinstance(text, list):
        return [ADDRESS.sub("", t) for t in text]
    return ADDRESS.sub("", text)


def clean(nb: dict) -> dict:
    """Return a copy of the notebook without execution metadata, counts or papermill state."""
    nb = json.loads(json.dumps(nb))
    nb["metadata"] = {k: v for k, v in nb.get("metadata", {}).items() if k in KEEP_NB_METADATA}
    nb["metadata"].get("language_info", {}).pop("version", None)
    count = 0
    for i, cell in enumerate(nb["cells"]):
        meta = {k: v for k, v in cell.get("metadata", {}).items() if k in KEEP_CELL_METADATA}
        if meta.get("tags") == []:
            meta.pop("tags")
        cell["metadata"] = meta
        cell["id"] = f"cell-{i:03d}"
        if cell["cell_type"] == "code":
            # nbval needs execution counts (a cell without one counts as never run): number the
            # code cells 1..N as a clean top-to-bottom run does, whatever the run that made them
            count += 1
            cell["execution_count"] = count if cell.get("execution_count") is not None else None
            cell["outputs"] = squash_streams(cell.get("outputs", []))
            for out in cell["outputs"]:
                if "execution_count" in out:
                    out["execution_count"] = cell["execution_count"]
                if out.get("output_type") in ("execute_result", "display_data"):
                    text = out.get("data", {}).get("text/plain")
                    if text is not None:
                        out["data"]["text/plain"] = _no_addresses(text)
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    return nb


def dump(nb: dict) -> str:
    """The notebook as the committed files store it: sorted keys, one-space indent."""
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def cleaned_text(path: Path) -> tuple[str, str]:
    """(the file's text, the text it has once clean)."""
    text = Path(path).read_text()
    return text, dump(clean(json.loads(text)))


def dirty(paths: Iterable[Path]) -> list[Path]:
    """The notebooks among `paths` that are not clean."""
    return [p for p in paths if len(set(cleaned_text(p))) == 2]


def clean_files(paths: Iterable[Path]) -> list[Path]:
    """Clean each notebook in place; return those that changed."""
    changed = []
    for path in paths:
        text, cleaned = cleaned_text(path)
        if cleaned != text:
            Path(path).write_text(cleaned)
            changed.append(Path(path))
    return changed


def write_clean(nb: dict, path: Path) -> None:
    """Write the notebook `nb` to `path`, cleaned."""
    Path(path).write_text(dump(clean(nb)))
