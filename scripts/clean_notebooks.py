"""Strip execution noise from the committed notebooks; keep outputs and cell tags.

python scripts/clean_notebooks.py           # clean notebooks/*.ipynb in place
python scripts/clean_notebooks.py --check   # exit 1 and name the files that are not clean
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEEP_NB_METADATA = ("kernelspec", "language_info", "course_refresh")  # see run_notebooks.py
KEEP_CELL_METADATA = ("tags",)


PROGRESS = re.compile(r"\d+%\|")


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


def clean(nb: dict) -> dict:
    """Return the notebook without execution metadata, counts or papermill state."""
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
            for out in cell.get("outputs", []):
                if "execution_count" in out:
                    out["execution_count"] = cell["execution_count"]
                # memory addresses change every run
                if out.get("output_type") in ("execute_result", "display_data"):
                    text = out.get("data", {}).get("text/plain")
                    if isinstance(text, list):
                        out["data"]["text/plain"] = [
                            re.sub(r" at 0x[0-9a-f]+", "", t) for t in text
                        ]
                    elif isinstance(text, str):
                        out["data"]["text/plain"] = re.sub(r" at 0x[0-9a-f]+", "", text)
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    return nb


def dump(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    parser.add_argument("paths", nargs="*")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.paths] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    dirty = []
    for path in paths:
        text = path.read_text()
        cleaned = dump(clean(json.loads(text)))
        if cleaned != text:
            dirty.append(path)
            if not args.check:
                path.write_text(cleaned)
    if args.check and dirty:
        names = ", ".join(p.name for p in dirty)
        print(f"Not clean: {names}. Run `make clean-notebooks` and commit the result.")
        return 1
    if not args.check:
        print(f"cleaned {len(dirty)} of {len(paths)} notebooks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
