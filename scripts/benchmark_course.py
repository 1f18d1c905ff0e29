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
import time
from dataclasses import asdict
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import psutil

import helpers
from infra import notebooks as runner  # the notebook runner: papermill, parameters, months
from infra.memory import (
    SAMPLE_SECONDS,
    SIZES,
    PeakMemory,
    Result,
    course_table,
    format_seconds,
)

ROOT = helpers.repo_root()
OUT = ROOT / "build" / "benchmark"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
FIXED = ("DATA_SOURCE", "TAXI_COLOR", "DATA_DIR")  # set by --size and --data-dir, not by -p


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
    months = [str(params.get(name, month)) for name, month in runner.MONTHS.items()]
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
                    runner.run_notebook(
                        nb, executed / nb.name, runner.notebook_params(nb.name, params), env=env
                    )
                except runner.NotebookFailed as exc:
                    error = runner.failure(nb.name, exc)
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
    runner.add_param_option(parser)
    args = parser.parse_args(argv)
    extra = runner.parse_params(args.param)
    if fixed := [k for k in FIXED if k in extra]:
        parser.error(f"{', '.join(fixed)}: set by the benchmark (--size, --data-dir), not by -p")

    out = Path(args.out).resolve()
    data_dir = Path(args.data_dir).resolve() if args.data_dir else out / "data"
    sizes = [s for s in SIZES if s in args.size]
    notebooks = runner.course_notebooks(args.only)
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
