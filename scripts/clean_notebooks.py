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
KEEP_NB_METADATA = ("kernelspec", "language_info")
KEEP_CELL_METADATA = ("tags",)


def clean(nb: dict) -> dict:
    """Return the notebook without execution metadata, counts or papermill state."""
    nb = json.loads(json.dumps(nb))
    nb["metadata"] = {k: v for k, v in nb.get("metadata", {}).items() if k in KEEP_NB_METADATA}
    nb["metadata"].get("language_info", {}).pop("version", None)
    for i, cell in enumerate(nb["cells"]):
        meta = {k: v for k, v in cell.get("metadata", {}).items() if k in KEEP_CELL_METADATA}
        if meta.get("tags") == []:
            meta.pop("tags")
        cell["metadata"] = meta
        cell["id"] = f"cell-{i:03d}"
        if cell["cell_type"] == "code":
            cell["execution_count"] = None
            for out in cell.get("outputs", []):
                if "execution_count" in out:
                    out["execution_count"] = None
                # memory addresses change every run
                if out.get("output_type") in ("execute_result", "display_data"):
                    text = out.get("data", {}).get("text/plain")
                    if isinstance(text, list):
                        out["data"]["text/plain"] = [re.sub(r" at 0x[0-9a-f]+", "", t) for t in text]
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
