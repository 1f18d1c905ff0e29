"""Strip execution noise from the committed notebooks; keep outputs and cell tags (infra/cleaning.py).

python scripts/clean_notebooks.py           # clean notebooks/*.ipynb in place
python scripts/clean_notebooks.py --check   # exit 1 and name the files that are not clean
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infra.cleaning import clean_files, dirty
from infra.notebooks import NOTEBOOKS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say which files are not clean")
    parser.add_argument("paths", nargs="*", help="notebooks (default notebooks/*.ipynb)")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.paths] or sorted(NOTEBOOKS.glob("*.ipynb"))
    if args.check:
        unclean = dirty(paths)
        if unclean:
            names = ", ".join(p.name for p in unclean)
            print(f"Not clean: {names}. Run `make clean-notebooks` and commit the result.")
            return 1
        return 0
    print(f"cleaned {len(clean_files(paths))} of {len(paths)} notebooks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
