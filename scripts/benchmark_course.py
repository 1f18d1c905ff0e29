"""Benchmark: the whole course on a generated green month and a generated yellow month.

    python scripts/benchmark_course.py                          # green (66k trips), then yellow (3M)
    python scripts/benchmark_course.py --size green --only 01 02
    python scripts/benchmark_course.py --size green --only 01 -p SYNTHETIC_ROWS 4000   # a smoke run

Every notebook runs in order with papermill (as `make run` does) on GENERATED data
(DATA_SOURCE="synthetic"), each size into its own fresh temporary MLflow store. The three months
of a size are generated (or found in the cache, build/benchmark/data/) before any timing. Per
notebook: wall time and peak memory of everything it runs (the kernel and all its descendants:
MLflow and model servers, Spark's JVM and workers, scripts). A failing notebook is recorded and
its size stops; the exit code is then 1. Results: build/benchmark/course.csv, course.json and
course.md (the table, also printed); executed copies in build/benchmark/executed/<size>/.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import psutil

import helpers
from infra.notebooks import (
    MONTHS,
    NotebookFailed,
    add_param_option,
    course_notebooks,
    failure,
    notebook_params,
    parse_params,
    run_notebook,
)

ROOT = helpers.repo_root()
OUT = ROOT / "build" / "benchmark"
SIZES = ("green", "yellow")  # the size is the taxi colour of the generated month
MIB = 1024 * 1024
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
FIXED = ("DATA_SOURCE", "TAXI_COLOR", "DATA_DIR")  # set by --size and --data-dir, not by -p


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


def machine() -> dict:
    """Cores, RAM, thread variables set, platform: what the times depend on."""
    return {
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "threads": {k: os.environ[k] for k in THREAD_VARS if k in os.environ},
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def versions() -> dict:
    return {p: version(p) for p in ("mlflow", "xgboost", "scikit-learn", "papermill")}


def course_report(results: list[Result], info: dict) -> str:
    """course.md: the trips per size, the machine, the date, then the table."""
    m = info["machine"]
    trips = ", ".join(f"{size} {n:,} trips" for size, n in info["trips"].items())
    gen = ", ".join(f"{size} {format_seconds(s)}" for size, s in info["generation_seconds"].items())
    threads = ", ".join(f"{k}={v}" for k, v in m["threads"].items()) or "none set"
    lines = [
        "# The course benchmark",
        "",
        f'Generated training month (DATA_SOURCE="synthetic"): {trips}.  ',
        f"Machine: {m['cores']} cores, {m['ram_gib']} GiB RAM; thread variables: {threads}.  ",
        f"Date: {info['date']}; mlflow {info['versions']['mlflow']}, xgboost "
        f"{info['versions']['xgboost']}, scikit-learn {info['versions']['scikit-learn']}.  ",
        f"Generating the three months (not in the times below): {gen}.  ",
        *([f"Extra parameters (-p): {info['params']}."] if info["params"] else []),
        "",
        "Peak memory: the summed PSS (shared pages split between their processes) of the kernel and every process it started, sampled every "
        f"{SAMPLE_SECONDS:g} s.",
        "",
        course_table(results, info["notebooks"]),
        "",
    ]
    return "\n".join(lines)


def write_outputs(out: Path, results: list[Result], info: dict) -> None:
    """course.csv, course.json and course.md in `out` (rewritten after every notebook)."""
    out.mkdir(parents=True, exist_ok=True)
    fields = ["size", "notebook", "trips", "seconds", "peak_mib", "status"]
    with open(out / "course.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for r in results:
            writer.writerow(
                {**asdict(r), "seconds": f"{r.seconds:.2f}", "peak_mib": f"{r.peak_mib:.1f}"}
            )
    payload = {**info, "results": [asdict(r) for r in results]}
    (out / "course.json").write_text(json.dumps(payload, indent=2) + "\n")
    (out / "course.md").write_text(course_report(results, info))


# ---------------------------------------------------------------------------------------------
# the runs


def generate(size: str, params: dict, data_dir: Path) -> tuple[float, int]:
    """Generate (or find cached) the months of `size`; return (seconds, trips to train on)."""
    rows = params.get("SYNTHETIC_ROWS")
    months = [str(params.get(name, month)) for name, month in MONTHS.items()]
    start = time.perf_counter()
    files = [helpers.get_taxi_file(size, m, "synthetic", data_dir, rows) for m in months]
    seconds = time.perf_counter() - start
    trips = len(helpers.read_dataframe(files[0].path, size, only_features=True))
    return seconds, trips


def run_size(
    size: str, notebooks: list[Path], params: dict, trips: int, executed: Path, record
) -> bool:
    """Run the notebooks at one size into a fresh temporary store; False when one failed."""
    executed.mkdir(parents=True, exist_ok=True)
    store = Path(tempfile.mkdtemp(prefix=f"benchmark-{size}-"))
    env = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}",
        "MLFLOW_LOGGING_LEVEL": os.environ.get("MLFLOW_LOGGING_LEVEL", "WARNING"),
    }
    try:
        for nb in notebooks:
            name = nb.stem
            error = ""
            with PeakMemory() as memory:
                start = time.perf_counter()
                try:
                    run_notebook(nb, executed / nb.name, notebook_params(nb.name, params), env=env)
                except NotebookFailed as exc:
                    error = failure(nb.name, exc)
                except Exception as exc:  # the kernel died (out of memory?) or timed out
                    error = f"{nb.name} failed: {type(exc).__name__}: {exc}"
                seconds = time.perf_counter() - start
            status = "failed" if error else "ok"
            record(Result(size, name, trips, seconds, memory.peak_mib, status, error))
            print(f"{size:6s} {name:40s} {seconds:8.1f} s {memory.peak_mib:8.0f} MiB  {status}")
            if error:
                print(f"  {error}")
                print(f"  Open {helpers.display_path(executed / nb.name)} to see the failing cell.")
                return False
        return True
    finally:
        shutil.rmtree(store, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size", nargs="+", choices=SIZES, default=list(SIZES), help="default: green, then yellow"
    )
    parser.add_argument("--only", nargs="*", help="notebook name prefixes to run, e.g. 01 02")
    parser.add_argument("--out", default=str(OUT), help="results folder (default build/benchmark)")
    parser.add_argument(
        "--data-dir", default=None, help="cache of generated months (default <out>/data)"
    )
    add_param_option(parser)
    args = parser.parse_args(argv)
    extra = parse_params(args.param)
    if fixed := [k for k in FIXED if k in extra]:
        parser.error(f"{', '.join(fixed)}: set by the benchmark (--size, --data-dir), not by -p")

    out = Path(args.out).resolve()
    data_dir = Path(args.data_dir).resolve() if args.data_dir else out / "data"
    sizes = [s for s in SIZES if s in args.size]
    notebooks = course_notebooks(args.only)
    results: list[Result] = []
    info: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "params": extra,
        "notebooks": [nb.stem for nb in notebooks],
        "trips": {},
        "generation_seconds": {},
    }

    def record(result: Result) -> None:
        results.append(result)
        write_outputs(out, results, info)  # a benchmark stopped midway keeps what it measured

    all_ok = True
    for size in sizes:
        params = {
            "DATA_SOURCE": "synthetic",
            "TAXI_COLOR": size,
            "SYNTHETIC_ROWS": None,  # a generated month of the colour's own size
            "DATA_DIR": str(data_dir),
            **extra,
        }
        print(f"--- {size}: generating the months (or reading them from the cache)", flush=True)
        seconds, trips = generate(size, params, data_dir)
        info["trips"][size] = trips
        info["generation_seconds"][size] = round(seconds, 2)
        print(f"{size}: {trips:,} trips in the training month, ready in {seconds:.1f} s")
        all_ok &= run_size(size, notebooks, params, trips, out / "executed" / size, record)

    if not results:
        print("No notebook ran.")
        return 1
    write_outputs(out, results, info)
    print()
    print(course_table(results, info["notebooks"]))
    print(f"\nResults: {helpers.display_path(out)}/course.md, course.csv, course.json")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
