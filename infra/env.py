"""Environment variables set for a block of code, then restored (notebook runs, credentials)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


@contextmanager
def environment(values: Mapping[str, str | None] | None) -> Iterator[None]:
    """`values` in os.environ inside the block (None: the variable is unset), then as before."""
    saved = {key: os.environ.get(key) for key in values or {}}
    try:
        _apply(values or {})
        yield
    finally:
        _apply(saved)


def _apply(values: Mapping[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
