"""scripts/sqlite_writers.py, the figure notebook 09 and the README quote about SQLite and
parallel writers, run small: into a new file, writers that start together lose runs (the README's
"35 of the 40 runs were lost"); into a file created first, every run of every writer arrives."""

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


SUMMARY = re.compile(
    r"(\d+) processes into a new file, (\d+) tries: (\d+) with failed writers, (\d+) of (\d+) "
    r"runs lost, (\d+) file\(s\) left unreadable"
)
TRY = re.compile(r"try (\d+): (\d+)/(\d+) writers logged their run; runs in the file: (.+)")


def test_the_readme_figure_is_what_the_script_reports():
    """docs/servers.md quotes the script's summary of 4 processes x 10 tries: most runs lost."""
    readme = " ".join((helpers.repo_root() / "docs" / "servers.md").read_text().split())
    match = re.search(
        r"4 processes log their first run into a new SQLite file at the same time: over 10 tries, "
        r"(\d+) of the 40 runs were lost .*? and (\d+) of the 10 files could no longer be read",
        readme,
    )
    assert match, "docs/servers.md no longer quotes scripts/sqlite_writers.py's figure"
    lost, unreadable = int(match.group(1)), int(match.group(2))
    assert 40 / 2 < lost <= 40 and 0 <= unreadable <= 10  # most runs lost


def test_writers_that_start_together_on_a_new_file_lose_runs():
    """The README's finding, small: 2 writers released at once into a new file, twice. The first
    to create MLflow's tables wins; the other fails on tables or columns that already exist."""
    out = run("--processes", "2", "--repeats", "2", "--together")
    (summary,) = SUMMARY.findall(out)
    processes, tries, failed_tries, lost, total, unreadable = map(int, summary)
    assert (processes, tries, total) == (2, 2, 4), out
    assert lost >= 1 and failed_tries >= 1, f"no run lost: the collision did not happen\n{out}"
    # the summary adds up the tries it printed
    rows = TRY.findall(out)
    assert [int(r[0]) for r in rows] == [1, 2], out
    assert lost == sum(int(total) - int(ok) for _, ok, total, _ in rows), out
    assert unreadable == sum(found.startswith("unreadable") for *_, found in rows), out
    assert re.search(r"\d+ x (OperationalError|CommandError|IntegrityError)", out), out
