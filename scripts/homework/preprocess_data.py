"""Q2 of the homework: turn a cohort's three monthly files into a DictVectorizer and three datasets.

    cd scripts/homework
    python preprocess_data.py --raw_data_path <TAXI_DATA_FOLDER> --dest_path ./output

Reads the cohort's January, February and March (`--cohort`, default the newest: green 2023),
keeps trips of 1 to 60 minutes, fits a DictVectorizer on January (`PU_DO` one-hot +
`trip_distance`) and writes four files: dv.pkl, train.pkl, val.pkl (valid.pkl in 2022) and
test.pkl, each dataset a pickled `(X, y)` with y the cohort's target (`duration` in minutes, or
`tip_amount` for 2023).

The four files are written all or none: into a temporary folder beside the destination, which is
renamed into place once every file is complete.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import pandas as pd
from cohorts import COHORTS, Cohort, cohort_argument
from sklearn.feature_extraction import DictVectorizer

import helpers


def dump_pickle(obj, path: Path) -> None:
    with open(path, "wb") as f_out:
        pickle.dump(obj, f_out)


def preprocess(df: pd.DataFrame, dv: DictVectorizer, cohort: Cohort, fit_dv: bool = False):
    df = df.assign(PU_DO=df["PULocationID"].astype(str) + "_" + df["DOLocationID"].astype(str))
    dicts = df[[*cohort.categorical, *cohort.numerical]].to_dict(orient="records")
    return dv.fit_transform(dicts) if fit_dv else dv.transform(dicts)


def write_all_or_none(objects: dict[str, object], dest: Path) -> None:
    """Pickle every object into a new folder beside `dest`, then rename that folder to `dest`."""
    if dest.exists():
        others = sorted(p.name for p in dest.iterdir() if p.name not in objects)
        if others:
            raise SystemExit(
                f"{dest} holds other files ({', '.join(others[:5])}): give --dest-path a new or "
                f"empty folder, or one written by this script."
            )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes a private folder; the output is an ordinary one
    old = dest.parent / f"{tmp.name}-old"
    try:
        for name, obj in objects.items():
            dump_pickle(obj, tmp / name)
        if dest.exists():
            dest.rename(old)  # the previous files stay whole until the new ones are in place
        tmp.rename(dest)
    except BaseException:
        if old.exists() and not dest.exists():
            old.rename(dest)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def run_data_prep(
    raw_data_path: str | None,
    dest_path: Path,
    cohort: Cohort,
    data_source: str = "auto",
    synthetic_rows: int | None = None,
    max_trips: int | None = None,
) -> None:
    # the TLC files: found in raw_data_path, else downloaded, else generated (--data-source);
    # a month of more than max_trips trips (a yellow one) is cut to a seeded sample of max_trips
    frames = {}
    for key, month in zip(("train", "val", "test"), cohort.months, strict=True):
        taxi_month = helpers.load_month(
            cohort.colour, month, data_source, raw_data_path, synthetic_rows
        )
        taxi_month = helpers.sample_month(taxi_month, max_trips)
        frames[key] = taxi_month.df
        source = taxi_month.source
        if taxi_month.sampled:
            source += f", a seeded sample of its {taxi_month.trips_in_month}"
        print(f"{key}: {len(frames[key])} trips from {taxi_month.file.name} ({source})")

    # fit the DictVectorizer on the first month, apply it to the others
    dv = DictVectorizer()
    X_train = preprocess(frames["train"], dv, cohort, fit_dv=True)
    X_val = preprocess(frames["val"], dv, cohort)
    X_test = preprocess(frames["test"], dv, cohort)
    y = {key: df[cohort.target].to_numpy() for key, df in frames.items()}

    dv_file, train_file, val_file, test_file = cohort.files
    write_all_or_none(
        {
            dv_file: dv,
            train_file: (X_train, y["train"]),
            val_file: (X_val, y["val"]),
            test_file: (X_test, y["test"]),
        },
        dest_path,
    )
    print(
        f"{len(dv.feature_names_)} features, target {cohort.target}; {len(cohort.files)} files "
        f"in {os.path.relpath(dest_path)}: {', '.join(cohort.files)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--raw_data_path",
        "--raw-data-path",
        default=None,
        help="folder of the TLC parquet files (default: $TAXI_DATA_DIR or data/ of the repository)",
    )
    parser.add_argument(
        "--dest_path",
        "--dest-path",
        type=Path,
        default=Path("output"),
        help="where to write the four files (default: ./output, as the course's scripts read)",
    )
    cohort_argument(parser)
    parser.add_argument(
        "--data-source",
        "--data_source",
        default="auto",
        choices=helpers.DATA_SOURCES,
        help="auto: local file, else download, else generated; tlc: real files only; "
        "synthetic: generated data",
    )
    parser.add_argument(
        "--synthetic-rows", type=int, default=None, help="rows of a generated month"
    )
    parser.add_argument(
        "--max-trips",
        "--max_trips",
        type=int,
        default=None,
        help="keep at most this many trips a month, a seeded sample (a yellow month has 3 million)",
    )
    args = parser.parse_args()
    try:
        run_data_prep(
            args.raw_data_path,
            args.dest_path.resolve(),
            COHORTS[args.cohort],
            args.data_source,
            args.synthetic_rows,
            args.max_trips,
        )
    except helpers.TaxiDataError as exc:
        raise SystemExit(str(exc)) from None


if __name__ == "__main__":
    main()
