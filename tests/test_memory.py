"""The course benchmark's table and memory sampler, infra.memory (no notebook runs here, no timing)."""

from __future__ import annotations

import subprocess
import sys

from infra.memory import PeakMemory, Result, course_table


def fake_results(sizes=("green", "yellow")) -> list:
    """Two notebooks per size; yellow takes 40 times as long and 8 times the memory."""
    out = []
    for size in sizes:
        factor = 40 if size == "yellow" else 1
        trips = 3_000_000 if size == "yellow" else 66_000
        out.append(Result(size, "01-intro", trips, 5.0 * factor, 300.0 * factor / 5, "ok"))
        out.append(Result(size, "02-start", trips, 10.0 * factor, 400.0 * factor / 5, "ok"))
    return out


def rows(table: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()]


def test_table_with_both_sizes_has_ratio_and_total():
    table = rows(course_table(fake_results()))
    assert table[0] == [
        "notebook",
        "green: time",
        "green: peak memory",
        "yellow: time",
        "yellow: peak memory",
        "time ratio",
    ]
    assert table[2] == ["01-intro", "5.0 s", "60 MiB", "3 min 20 s", "2.3 GiB", "40.0×"]
    assert table[3][0] == "02-start" and table[3][-1] == "40.0×"
    # total: times summed (15 s, 10 min), memory the largest peak, not a sum
    assert table[4] == ["**total**", "**15.0 s**", "**80 MiB**", "**10 min 0 s**", "**3.1 GiB**",
                        "40.0×"]  # fmt: skip


def test_table_with_one_size_has_only_its_columns():
    table = rows(course_table(fake_results(("yellow",))))
    assert table[0] == ["notebook", "yellow: time", "yellow: peak memory"]
    assert [r[0] for r in table[2:]] == ["01-intro", "02-start", "**total**"]
    assert all(len(r) == 3 for r in table)


def test_failed_notebook_is_shown_failed_and_the_rest_not_run():
    results = fake_results()
    results[2] = Result("yellow", "01-intro", 3_000_000, 75.0, 900.0, "failed", "cell 4: boom")
    del results[3]  # the size stopped: yellow's 02 never ran
    table = rows(course_table(results))
    assert table[2][3:] == ["**failed** after 1 min 15 s", "900 MiB", ""]  # no ratio
    assert table[3][3:5] == ["not run", ""]
    assert table[4][3] == "**1 min 15 s** (incomplete)"


def test_peak_memory_sees_a_child_process_allocating_200_mb():
    code = "b = bytearray(200_000_000); import time; time.sleep(1.5)"
    with PeakMemory(interval=0.1) as memory:
        subprocess.run([sys.executable, "-c", code], check=True)
    assert memory.samples >= 3
    assert memory.peak_mib >= 180, f"peak {memory.peak_mib:.0f} MiB"
    # a process that was already running is not the notebook's
    leftover = subprocess.Popen([sys.executable, "-c", code])
    try:
        with PeakMemory(interval=0.1) as memory:
            subprocess.run([sys.executable, "-c", "import time; time.sleep(0.5)"], check=True)
        assert memory.peak_mib < 100, f"peak {memory.peak_mib:.0f} MiB"
    finally:
        leftover.kill()
        leftover.wait()
