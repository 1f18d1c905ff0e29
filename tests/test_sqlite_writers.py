"""scripts/sqlite_writers.py, the figure notebook 09 and the README quote about SQLite and
parallel writers, run small: into a file created first, every run of every writer arrives."""

from __future__ import annotations

import re
import subprocess
import sys

import helpers

SCRIPT = helpers.repo_root() / "scripts" / "sqlite_writers.py"


def run(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    return result.stdout


def test_writers_into_an_existing_file_lose_nothing():
    out = run("--existing", "--processes", "2", "--runs", "3", "--metrics", "2")
    assert "2 processes x 3 runs x 2 metrics into an existing file" in out
    assert "6/6 runs logged, 0 errors, 6 runs in the file" in out, out
    assert re.search(r"slowest single log_metric \d+\.\d\d s \(alone: \d+\.\d{3} s\)", out), out


def test_writers_into_a_new_file_report_what_arrived():
    out = run("--processes", "2", "--repeats", "1")
    (line,) = [line for line in out.splitlines() if line.startswith("try 1:")]
    assert re.fullmatch(r"try 1: [0-2]/2 writers logged their run; runs in the file: .+", line)
    assert re.search(
        r"2 processes into a new file, 1 tries: [01] with failed writers, [0-2] of 2 runs lost", out
    ), out
