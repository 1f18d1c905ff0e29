"""How much a notebook run takes: the peak memory of every process it starts, and the table of
time and memory per notebook and size (scripts/benchmark_course.py, tests/test_memory.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import psutil

SIZES = ("green", "yellow")  # the size is the taxi colour of the generated month
MIB = 1024 * 1024
SAMPLE_SECONDS = 0.5  # how often PeakMemory reads the processes' memory (see its docstring)


@dataclass
class Result:
    """One notebook run at one size."""

    size: str
    notebook: str
    trips: int | None  # trips in the training month (after the 1..60 minute filter)
    seconds: float
    peak_mib: float
    status: str  # "ok" | "failed"
    error: str = ""


def _pss(proc: psutil.Process) -> int:
    """The process's proportional set size in bytes (its RSS where PSS is not available)."""
    try:
        return proc.memory_full_info().pss
    except (AttributeError, psutil.AccessDenied):
        return proc.memory_info().rss


class PeakMemory:
    """The peak of the summed PSS of this process's descendants, sampled every `interval` seconds.

    Why sampling with psutil and not `resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`: ru_maxrss of
    the children is the largest RSS of any one child waited for so far, a maximum over the whole
    life of this process and not per notebook; it is not a sum (a kernel plus its model server plus
    Spark's JVM count as the biggest of them), and it misses processes nobody waited for (servers
    started by the kernel, the kernel itself until papermill reaps it). Sampling sees every live
    process of the notebook at once.

    Only processes that appear while the notebook runs are counted: papermill starts the kernel as
    a child of this process, and the kernel starts everything else. Processes already running at
    `__enter__` (leftovers of an earlier notebook) are not. A process counts from its second
    sample on: between fork and exec a new child reports its parent's RSS (the test saw a 10 MiB
    child count as 310 MiB, the size of pytest), which would add a phantom copy of the kernel
    each time it starts a program. The cost: a process that lives less than `interval` is missed,
    as a spike shorter than `interval` is. Reading a process's PSS takes the kernel a walk over
    its mappings (8-9 ms for a kernel holding a yellow month, with psutil or smaps_rollup alike),
    so the default is 0.5 s: at 0.2 s the sampler took about 8 % of a core from the notebooks.

    Each process counts with its PSS (proportional set size: a page shared by N processes counts
    1/N in each), so the sum is the memory the notebook really holds. A sum of RSS counts every
    shared page once per process: on notebook 08 (an MLflow server, the homework scripts and the
    subprocesses MLflow starts to infer requirements, each with numpy and scikit-learn mapped)
    it reported 8.5 GiB on a green month. Where PSS cannot be read (not Linux), RSS is used.
    """

    def __init__(self, interval: float = SAMPLE_SECONDS):
        self.interval = interval
        self.peak = 0  # bytes
        self.samples = 0
        self._before: set[tuple[int, float]] = set()
        self._previous: set[tuple[int, float]] = set()  # the processes of the last sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)

    @property
    def peak_mib(self) -> float:
        return self.peak / MIB

    def descendants(self) -> dict[tuple[int, float], psutil.Process]:
        """The child processes (recursively) that were not there at the start, by (pid, start)."""
        found = {}
        for proc in psutil.Process().children(recursive=True):
            try:
                key = (proc.pid, proc.create_time())
            except psutil.Error:  # ended meanwhile
                continue
            if key not in self._before:
                found[key] = proc
        return found

    def sample(self) -> int:
        """The summed PSS of the new descendants now, in bytes; the peak is kept."""
        total = 0
        procs = self.descendants()
        for key, proc in procs.items():
            if key not in self._previous:
                continue  # first seen: perhaps not exec'd yet (see the class's docstring)
            try:
                total += _pss(proc)
            except psutil.Error:  # ended between listing and reading
                pass
        self._previous = set(procs)
        self.samples += 1
        self.peak = max(self.peak, total)
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._before = set()
        self._before = set(self.descendants())
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()  # one last look, in case the run was shorter than one interval


# ---------------------------------------------------------------------------------------------
# the tables


def format_seconds(seconds: float) -> str:
    """12.3 s; 9 min 24 s."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def format_mib(mib: float) -> str:
    """850 MiB; 2.7 GiB."""
    return f"{mib:.0f} MiB" if mib < 1024 else f"{mib / 1024:.1f} GiB"


def course_table(results: list[Result], notebooks: list[str] | None = None) -> str:
    """The markdown table: a row per notebook, time and peak per size, the yellow/green time ratio.

    Only the sizes that appear in `results`, green first; the ratio only when both did. A failed
    notebook shows "failed after ..."; one its size did not reach (stopped earlier) shows "not run".
    The total row sums the times and takes the largest peak. `notebooks`: the rows (default: the
    notebooks in `results`).
    """
    sizes = [s for s in SIZES if any(r.size == s for r in results)]
    names = notebooks or list(dict.fromkeys(r.notebook for r in results))
    by_key = {(r.size, r.notebook): r for r in results}
    header = ["notebook"]
    for size in sizes:
        header += [f"{size}: time", f"{size}: peak memory"]
    both = sizes == list(SIZES)
    if both:
        header.append("time ratio")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" + "---:|" * (len(header) - 1)]

    def cells(r: Result | None) -> list[str]:
        if r is None:
            return ["not run", ""]
        time_cell = format_seconds(r.seconds)
        if r.status != "ok":
            time_cell = f"**failed** after {time_cell}"
        return [time_cell, format_mib(r.peak_mib)]

    def ratio(green: float, yellow: float) -> str:
        return f"{yellow / green:.1f}×" if green > 0 else ""

    for name in names:
        row = [name]
        for size in sizes:
            row += cells(by_key.get((size, name)))
        if both:
            g, y = by_key.get(("green", name)), by_key.get(("yellow", name))
            ok = g and y and g.status == y.status == "ok"
            row.append(ratio(g.seconds, y.seconds) if ok else "")
        lines.append("| " + " | ".join(row) + " |")

    total = ["**total**"]
    sums = {}
    for size in sizes:
        done = [r for r in results if r.size == size]
        sums[size] = sum(r.seconds for r in done)
        complete = len(done) == len(names) and all(r.status == "ok" for r in done)
        mark = "" if complete else " (incomplete)"
        total += [
            f"**{format_seconds(sums[size])}**{mark}",
            f"**{format_mib(max(r.peak_mib for r in done))}**",
        ]
    if both:
        total.append(ratio(sums["green"], sums["yellow"]))
    lines.append("| " + " | ".join(total) + " |")
    return "\n".join(lines)
