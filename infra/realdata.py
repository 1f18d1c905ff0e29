"""Where the real TLC files are on this machine: one search for the scripts and the tests.

The notebooks find their data themselves (`helpers.load_month`: $TAXI_DATA_DIR, else data/);
screenshots, the tuning benchmark and the tests' `real_data_dir` fixture look in more places,
all through `find_real_data`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from helpers.paths import repo_root
from helpers.schema import taxi_filename
from infra.notebooks import MONTHS

COURSE_MONTHS = tuple(MONTHS.values())  # the months every scripted run and real-data test uses


def candidate_folders(first: Iterable[str | os.PathLike | None] = ()) -> list[Path]:
    """Where to look, in order: `first`, $TLC_DATA_DIR, $TAXI_DATA_DIR, ../shared/tlc-data, data/."""
    found = [
        *first,
        os.environ.get("TLC_DATA_DIR"),
        os.environ.get("TAXI_DATA_DIR"),
        repo_root().parent / "shared" / "tlc-data",
        repo_root() / "data",
    ]
    return [Path(folder) for folder in found if folder]


def find_real_data(
    months: Iterable[str] = COURSE_MONTHS,
    colour: str = "green",
    first: Iterable[str | os.PathLike | None] = (),
) -> Path | None:
    """The first folder of `candidate_folders(first)` holding the real files of all `months`, or None."""
    names = [taxi_filename(colour, month) for month in months]
    for folder in candidate_folders(first):
        if all((folder / name).is_file() for name in names):
            return folder.resolve()
    return None
