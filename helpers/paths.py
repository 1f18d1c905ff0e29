"""Where things live: paths are built from the repository root, never from the current directory."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The repository root (the folder that holds `helpers/`); used by every notebook."""
    return Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    """The data folder: `$TAXI_DATA_DIR` if set, else `data/` at the repository root (01)."""
    env = os.environ.get("TAXI_DATA_DIR")
    return Path(env).expanduser().resolve() if env else repo_root() / "data"


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """A data folder given as a parameter; relative paths are taken from the repository root (02)."""
    if data_dir is None or str(data_dir) == "":
        return default_data_dir()
    path = Path(data_dir).expanduser()
    return path if path.is_absolute() else (repo_root() / path).resolve()


def display_path(path: str | os.PathLike) -> str:
    """A path as a learner should see it: relative to the repository root when inside it (02)."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(repo_root()))
    except ValueError:
        return str(path)
