"""What happens when several processes log to one SQLite tracking file at once (notebook 09).

    python scripts/sqlite_writers.py                 # 4 processes, each its first run, into a
                                                     # new file; 5 times
    python scripts/sqlite_writers.py --existing      # 8 processes x 20 runs x 10 metrics into a
                                                     # file created beforehand
    python scripts/sqlite_writers.py --together      # writers released at once by a barrier

Parallel hyperopt trials are such processes. A new file is created by whichever process comes
first, and MLflow creates its tables on first use: processes that do it together collide. An
existing file takes one writer at a time; MLflow waits up to 20 s for the lock
(`PRAGMA busy_timeout`), so writes queue. Files go to a temporary folder, deleted afterwards.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path


def _writer(uri: str, experiment_id: str, runs: int, metrics: int, queue, start) -> None:
    """Log `runs` runs of `metrics` metrics each; report (runs done, errors, slowest call).

    With a `start` barrier (--together) every writer waits there once MLflow is imported: they
    begin at the same moment instead of as their imports happen to finish.
    """
    warnings.simplefilter("ignore")
    from mlflow import MlflowClient

    if start is not None:
        start.wait(120)
    done, errors, slowest = 0, [], 0.0
    for _ in range(runs):
        try:
            client = MlflowClient(uri)
            run = client.create_run(experiment_id)
            for m in range(metrics):
                start = time.perf_counter()
                client.log_metric(run.info.run_id, f"m{m}", float(m))
                slowest = max(slowest, time.perf_counter() - start)
            client.set_terminated(run.info.run_id)
            done += 1
        except Exception as exc:  # noqa: BLE001 - counting failures is the point
            errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:100]}")
    queue.put((done, errors, slowest))


def _race(
    uri: str, experiment_id: str, processes: int, runs: int, metrics: int, together: bool = False
) -> list:
    """Start all writers at once (`together`: released by a barrier); return their reports."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    start = ctx.Barrier(processes) if together else None
    workers = [
        ctx.Process(target=_writer, args=(uri, experiment_id, runs, metrics, queue, start))
        for _ in range(processes)
    ]
    for w in workers:
        w.start()
    reports = [queue.get() for _ in workers]
    for w in workers:
        w.join()
    return reports


def _runs_in(uri: str) -> str:
    from mlflow import MlflowClient

    try:
        return str(len(MlflowClient(uri).search_runs(["0"], max_results=50_000)))
    except Exception as exc:  # noqa: BLE001 - an unreadable file is a result
        return f"unreadable ({type(exc).__name__})"


def fresh(folder: Path, processes: int, repeats: int, together: bool = False) -> None:
    """`processes` processes log their first run into a new file at the same time."""
    failed_tries, lost, unreadable, causes = 0, 0, 0, Counter()
    for i in range(repeats):
        uri = f"sqlite:///{folder / f'fresh-{i}.db'}"
        reports = _race(uri, "0", processes, 1, 1, together)
        errors = [e for _, errs, _ in reports for e in errs]
        failed_tries += bool(errors)
        causes.update(e.split(":")[0] + ":" + e.split(":")[1][:60] for e in errors)
        ok = sum(done for done, _, _ in reports)
        found = _runs_in(uri)
        lost += processes - ok
        unreadable += found.startswith("unreadable")
        print(f"try {i + 1}: {ok}/{processes} writers logged their run; runs in the file: {found}")
    print(
        f"{processes} processes into a new file, {repeats} tries: {failed_tries} with failed "
        f"writers, {lost} of {processes * repeats} runs lost, {unreadable} file(s) left unreadable"
    )
    for cause, n in causes.most_common(4):
        print(f"  {n} x {cause}")


def existing(folder: Path, processes: int, runs: int, metrics: int) -> None:
    """`processes` processes log `runs` runs of `metrics` metrics into a file created first."""
    from infra.stores import prepare_sqlite

    uri = prepare_sqlite(folder / "existing.db")
    alone = _race(prepare_sqlite(folder / "alone.db"), "0", 1, 2, metrics)[0][2]
    start = time.perf_counter()
    reports = _race(uri, "0", processes, runs, metrics)
    seconds = time.perf_counter() - start
    errors = sum(len(errs) for _, errs, _ in reports)
    slowest = max(s for _, _, s in reports)
    print(
        f"{processes} processes x {runs} runs x {metrics} metrics into an existing file: "
        f"{sum(d for d, _, _ in reports)}/{processes * runs} runs logged, {errors} errors, "
        f"{_runs_in(uri)} runs in the file, {seconds:.0f} s (process start included); "
        f"slowest single log_metric {slowest:.2f} s (alone: {alone:.3f} s)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--existing", action="store_true", help="log into a file created first")
    parser.add_argument("--processes", type=int, help="writers at once (default 4, or 8)")
    parser.add_argument("--repeats", type=int, default=5, help="tries with a new file")
    parser.add_argument("--runs", type=int, default=20, help="runs per writer (--existing)")
    parser.add_argument("--metrics", type=int, default=10, help="metrics per run (--existing)")
    parser.add_argument(
        "--together",
        action="store_true",
        help="release the writers by a barrier once MLflow is imported (the figures in the "
        "README were measured without it); the tests use it: the collision then happens in "
        "every try, even with 2 processes",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # no INFO lines from every writer
    with tempfile.TemporaryDirectory(prefix="sqlite-writers-") as tmp:
        if args.existing:
            existing(Path(tmp), args.processes or 8, args.runs, args.metrics)
        else:
            fresh(Path(tmp), args.processes or 4, args.repeats, args.together)
    return 0


if __name__ == "__main__":
    sys.exit(main())
