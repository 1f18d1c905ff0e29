"""Benchmark: the course's hyperopt search against notebook 03's default search, side by side.

    python scripts/benchmark_tuning.py                      # real green 2023-01 -> 2023-02 if found
    python scripts/benchmark_tuning.py --course-trials 10 --fast-trials 50
    python scripts/benchmark_tuning.py --smoke              # tiny, generated data (the test suite)
    python scripts/benchmark_tuning.py --features-scale     # feature preparation on 3M trips

Both searches run on the same data, on this machine, one after the other, each trial logged to a
temporary MLflow store as notebook 03 does. Results: a table on stdout, and
build/benchmark/tuning.csv + tuning.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import helpers
from helpers import tuning
from infra.notebooks import MONTHS, notebook, notebook_parameters
from infra.realdata import find_real_data

ROOT = helpers.repo_root()
MONTHS_USED = (MONTHS["TRAIN_MONTH"], MONTHS["VALID_MONTH"])


def find_data(data_dir: str | None, smoke: bool) -> tuple[str, Path | None]:
    """('tlc', folder) when the real green training and validation files are found, else
    ('synthetic', None)."""
    folder = None if smoke else find_real_data(MONTHS_USED, first=[data_dir])
    return ("tlc", folder) if folder else ("synthetic", None)


def run_side(
    name: str,
    search: str,
    trials: int,
    train,
    valid,
    seed: int = 42,
    num_boost_round: int | None = None,
    stop_after: int | None = None,
) -> dict:
    """Run one search as notebook 03 does (features, space, early stopping, MLflow child runs)."""
    import mlflow
    import numpy as np
    from hyperopt import STATUS_OK, Trials, fmin, tpe
    from hyperopt.early_stop import no_progress_loss

    setup = tuning.search_setup(search)
    rounds = num_boost_round or setup.num_boost_round
    start = time.perf_counter()
    preprocessor = tuning.make_features(setup.features, train.df)
    dtrain, dvalid = tuning.make_dmatrices(preprocessor, train.df, valid.df)
    prep_seconds = time.perf_counter() - start
    log: list[dict] = []

    def objective(params: dict) -> dict:
        t0 = time.perf_counter()
        with mlflow.start_run(nested=True):
            mlflow.log_params(params)
            _, rmse = tuning.train_trial(setup, params, dtrain, dvalid, rounds)
            mlflow.log_metric("rmse", rmse)
        now = time.perf_counter()
        log.append(
            {
                "trial": len(log) + 1,
                "seconds": now - t0,
                "elapsed": now - start,
                "rmse": float(rmse),
                "max_depth": int(params["max_depth"]),
            }
        )
        return {"loss": rmse, "status": STATUS_OK}

    with mlflow.start_run(run_name=f"benchmark-{name}"):
        fmin(
            objective,
            setup.space,
            algo=tpe.suggest,
            max_evals=trials,
            trials=Trials(),
            rstate=np.random.default_rng(seed),
            early_stop_fn=no_progress_loss(stop_after) if stop_after else None,
            show_progressbar=True,
        )
    total = time.perf_counter() - start
    best = min(r["rmse"] for r in log)
    return {
        "side": name,
        "search": search,
        "features": setup.features,
        "trials": len(log),
        "prep_seconds": prep_seconds,
        "total_seconds": total,
        "best_rmse": best,
        "trial_seconds_mean": sum(r["seconds"] for r in log) / len(log),
        "trial_seconds_min": min(r["seconds"] for r in log),
        "trial_seconds_max": max(r["seconds"] for r in log),
        "log": log,
    }


def first_reach(side: dict, target: float) -> float | None:
    """Seconds after its start at which `side` first had a trial with rmse <= target."""
    for row in side["log"]:
        if row["rmse"] <= target + 1e-9:
            return row["elapsed"]
    return None


def tuning_benchmark(args) -> dict:
    """Both searches; generated data and the MLflow store live in a temporary folder, removed."""
    import mlflow

    previous_uri = mlflow.get_tracking_uri()
    with tempfile.TemporaryDirectory(prefix="bench-tuning-") as tmp:
        try:
            return _tuning_benchmark(args, Path(tmp))
        finally:
            mlflow.end_run()
            mlflow.set_tracking_uri(previous_uri)  # not the store about to be deleted


def _tuning_benchmark(args, tmp: Path) -> dict:
    import mlflow

    source, folder = find_data(args.data_dir, args.smoke)
    rows = 3000 if args.smoke else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data_dir = folder or tmp / "data"
        train = helpers.load_month("green", MONTHS_USED[0], source, data_dir, rows)
        valid = helpers.load_month("green", MONTHS_USED[1], source, data_dir, rows)
    print(
        f"data: {source} green {MONTHS_USED[0]} -> {MONTHS_USED[1]} "
        f"({len(train.df)} / {len(valid.df)} trips)"
        + ("" if source == "tlc" else "  [GENERATED: the real files were not found]")
    )
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    mlflow.set_experiment("benchmark-tuning")

    rounds = 50 if args.smoke else None
    course = run_side("course", "course", args.course_trials, train, valid, num_boost_round=rounds)
    fast = run_side(
        "default",
        "fast",
        args.fast_trials,
        train,
        valid,
        num_boost_round=rounds,
        stop_after=args.stop_after,
    )
    for side, other in ((course, fast), (fast, course)):
        side["seconds_to_other_best"] = first_reach(side, other["best_rmse"])
    result = {
        "data_source": source,
        "train_rows": len(train.df),
        "valid_rows": len(valid.df),
        "cpu_count": os.cpu_count(),
        "course": course,
        "default": fast,
        "total_time_ratio_course_over_default": course["total_seconds"] / fast["total_seconds"],
        "default_seconds_to_course_best": fast["seconds_to_other_best"],
        "goal_met": bool(
            fast["seconds_to_other_best"] is not None
            and fast["seconds_to_other_best"] <= course["total_seconds"] / 10
            and fast["total_seconds"] <= 600
            and fast["best_rmse"] <= course["best_rmse"]
        ),
    }
    return result


def print_and_write(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    fields = [
        "side",
        "search",
        "features",
        "trials",
        "prep_seconds",
        "total_seconds",
        "trial_seconds_mean",
        "trial_seconds_min",
        "trial_seconds_max",
        "best_rmse",
        "seconds_to_other_best",
    ]
    sides = [result["course"], result["default"]]

    def fmt(v):
        if v is None:
            return "never"
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    print(f"\n{'':24s}{'course':>14s}{'default (03)':>14s}")
    for f in fields[1:]:
        print(f"{f:24s}{fmt(sides[0][f]):>14s}{fmt(sides[1][f]):>14s}")
    ratio = result["total_time_ratio_course_over_default"]
    print(f"\ntotal time ratio (course / default): {ratio:.1f}x; goal met: {result['goal_met']}")
    with open(out / "tuning.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(sides)
    (out / "tuning.json").write_text(json.dumps(result, indent=1))
    print(
        f"written: {helpers.display_path(out / 'tuning.csv')}, {helpers.display_path(out / 'tuning.json')}"
    )


# --- feature preparation at yellow-taxi scale -------------------------------------------------


def _course_read_dataframe(path: str):
    """The course's read_dataframe, verbatim but for the yellow columns."""
    import pandas as pd

    df = pd.read_parquet(path)
    df["duration"] = df.tpep_dropoff_datetime - df.tpep_pickup_datetime
    df.duration = df.duration.apply(lambda td: td.total_seconds() / 60)
    df = df[(df.duration >= 1) & (df.duration <= 60)]
    categorical = ["PULocationID", "DOLocationID"]
    df[categorical] = df[categorical].astype(str)
    return df


def _prepare(way: str, path: str) -> None:
    """Child process: prepare features one way, print seconds and shape as JSON."""
    start = time.perf_counter()
    if way == "course":
        from sklearn.feature_extraction import DictVectorizer

        df = _course_read_dataframe(path)
        df["PU_DO"] = df["PULocationID"] + "_" + df["DOLocationID"]
        dicts = df[["PU_DO", "trip_distance"]].to_dict(orient="records")
        X = DictVectorizer().fit_transform(dicts)
    else:
        df = helpers.read_dataframe(path, "yellow", only_features=True)
        _, X = helpers.fit_features(df)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "way": way,
                "seconds": seconds,
                "peak_gib": peak_kib / 2**20,
                "shape": list(X.shape),
                "nnz": int(X.nnz),
            }
        )
    )


def features_benchmark(args) -> dict:
    from helpers.synthetic import write_synthetic_month

    rows = 20_000 if args.smoke else args.rows
    results = {}
    # the generated month (45 MB at full size) lives in a temporary folder, removed afterwards
    with tempfile.TemporaryDirectory(prefix="bench-yellow-") as folder:
        path = Path(folder) / "yellow_tripdata_2023-01.parquet"
        t0 = time.perf_counter()
        write_synthetic_month(path, "yellow", "2023-01", rows)
        print(
            f"generated yellow month: {rows} trips, {path.stat().st_size / 2**20:.0f} MB "
            f"in {time.perf_counter() - t0:.0f} s"
        )
        for way in ("course", "helpers"):
            proc = subprocess.run(
                [sys.executable, __file__, "--_prepare", way, str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
            results[way] = json.loads(proc.stdout.strip().splitlines()[-1])
            r = results[way]
            print(
                f"{way:8s} {r['seconds']:7.1f} s   peak RSS {r['peak_gib']:.2f} GiB   "
                f"matrix {r['shape'][0]}x{r['shape'][1]} ({r['nnz']} non-zeros)"
            )
    speedup = results["course"]["seconds"] / results["helpers"]["seconds"]
    print(f"speed-up: {speedup:.1f}x")
    result = {"rows": rows, **results, "speedup": speedup}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "features.json").write_text(json.dumps(result, indent=1))
    return result


# --- threads under a busy neighbour -------------------------------------------------------------


def start_neighbour() -> list[subprocess.Popen]:
    """A busy neighbour: one CPU-burning process per core, at the lowest priority (`nice -n 19`)."""
    burn = [sys.executable, "-c", "while True: pass"]
    return [
        subprocess.Popen(["nice", "-n", "19", *burn], stdout=subprocess.DEVNULL)
        for _ in range(os.cpu_count() or 1)
    ]


def stop_neighbour(procs: list[subprocess.Popen]) -> None:
    """End the neighbour's processes (only those this script started)."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=10)


def threads_case(threads: int | None, busy: bool, dtrain, dvalid, args) -> dict:
    """Notebook 03's hyperopt search (space, seed, early stop) with `nthread` = threads."""
    import numpy as np
    from hyperopt import STATUS_OK, Trials, fmin, tpe
    from hyperopt.early_stop import no_progress_loss

    setup = tuning.search_setup("fast", threads=threads)
    rounds = 50 if args.smoke else None
    rmses: list[float] = []

    def objective(params: dict) -> dict:
        _, rmse = tuning.train_trial(setup, params, dtrain, dvalid, rounds)
        rmses.append(rmse)
        return {"loss": rmse, "status": STATUS_OK}

    neighbour = start_neighbour() if busy else []
    try:
        start = time.perf_counter()
        fmin(
            objective,
            setup.space,
            algo=tpe.suggest,
            max_evals=args.fast_trials,
            trials=Trials(),
            rstate=np.random.default_rng(42),
            early_stop_fn=no_progress_loss(args.stop_after, args.stop_percent),
            show_progressbar=True,
        )
        seconds = time.perf_counter() - start
    finally:
        stop_neighbour(neighbour)
    return {
        "nthread": "unset (all cores)" if threads is None else threads,
        "neighbour": "busy (nice -n 19, all cores)" if busy else "none",
        "trials": len(rmses),
        "seconds": round(seconds, 1),
        "seconds_per_trial": round(seconds / len(rmses), 2),
        "best_rmse": round(min(rmses), 4),
    }


def threads_benchmark(args) -> list[dict]:
    """03's search with nthread unset and with one thread fewer than the cores (at least 1),
    each alone and beside a busy neighbour, in one run; a table on stdout and threads.csv/json."""
    source, folder = find_data(args.data_dir, args.smoke)
    rows = 3000 if args.smoke else None
    with tempfile.TemporaryDirectory(prefix="bench-threads-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data_dir = folder or Path(tmp) / "data"
        train = helpers.load_month("green", "2023-01", source, data_dir, rows)
        valid = helpers.load_month("green", "2023-02", source, data_dir, rows)
        setup = tuning.search_setup("fast", threads=None)
        preprocessor = tuning.make_features(setup.features, train.df)
        dtrain, dvalid = tuning.make_dmatrices(preprocessor, train.df, valid.df)
    cores = os.cpu_count() or 1
    print(f"data: {source} green 2023-01 -> 2023-02 ({len(train.df)} trips); {cores} cores")
    table = []
    for threads in (None, max(cores - 1, 1)):
        for busy in (False, True):
            table.append(threads_case(threads, busy, dtrain, dvalid, args))
            print(table[-1], flush=True)
    fields = list(table[0])
    lines = ["| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    lines += ["| " + " | ".join(str(row[f]) for f in fields) + " |" for row in table]
    print("\n" + "\n".join(lines))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "threads.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(table)
    meta = {"data_source": source, "train_rows": len(train.df), "cpu_count": cores}
    (out / "threads.json").write_text(json.dumps({**meta, "cases": table}, indent=1))
    print(f"written: {helpers.display_path(out / 'threads.csv')}")
    return table


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    defaults = notebook_parameters(notebook("03"))  # side (b) is the search 03 runs by default
    parser.add_argument("--course-trials", type=int, default=10)
    parser.add_argument(
        "--fast-trials",
        type=int,
        default=defaults["MAX_EVALS"],
        help="default: notebook 03's MAX_EVALS (%(default)s)",
    )
    parser.add_argument(
        "--stop-after",
        type=int,
        default=defaults["STOP_AFTER"],
        help="default: notebook 03's STOP_AFTER (%(default)s)",
    )
    parser.add_argument(
        "--stop-percent",
        type=float,
        default=tuning.STOP_PERCENT,
        help="the least improvement (percent of the best rmse) that resets the --stop-after count",
    )
    parser.add_argument(
        "--threads-under-load",
        action="store_true",
        help="only 03's search with nthread unset and cores-1, alone and beside a busy neighbour",
    )
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(ROOT / "build" / "benchmark"))
    parser.add_argument("--smoke", action="store_true", help="tiny generated data, 2 trials a side")
    parser.add_argument(
        "--features-scale",
        action="store_true",
        help="only the feature-preparation benchmark on a yellow-sized month",
    )
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--_prepare", nargs=2, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args._prepare:
        _prepare(*args._prepare)
        return 0
    if args.features_scale:
        features_benchmark(args)
        return 0
    if args.threads_under_load:
        if args.smoke:
            args.fast_trials = 2
        threads_benchmark(args)
        return 0
    if args.smoke:
        args.course_trials, args.fast_trials = 2, 2
    result = tuning_benchmark(args)
    print_and_write(result, Path(args.out))
    assert all(math.isfinite(result[s]["best_rmse"]) for s in ("course", "default"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
