"""Regenerate the pictures in imgs/ from a live MLflow server and a real browser (infra/pictures.py).

    python scripts/screenshots.py [--data-source auto|tlc|synthetic] [--data-dir DIR] [--max-evals N]
    python scripts/screenshots.py --store DIR   # only the pictures, of a store notebooks 01-06 filled
    python scripts/screenshots.py --url http://127.0.0.1:5000   # the UI's pictures of a running server
    python scripts/screenshots.py --only jupyterlab,system-metrics   # only these pictures

The committed pictures come from `scripts/run_notebooks.py --refresh-committed`, which takes them
from the store of the run that gave the committed outputs. This script makes them on its own:
1. Finds the real TLC files (infra.realdata: --data-dir, $TLC_DATA_DIR, $TAXI_DATA_DIR,
   ../shared/tlc-data, data/) and copies them
   into build/screenshots/data (so runs record a path relative to the repository), or generates
   data when there are none (--data-source auto).
2. Runs notebooks 01-06 with papermill into a fresh sqlite store in a temporary folder, with a
   smaller search than the defaults.
3. infra.pictures.photograph_store: `mlflow server` on that store, headless Chromium (the
   system's; nothing is downloaded) through the pages the notes talk about, 1600x1000 PNGs into
   imgs/ with the text each shows beside it (<name>.txt); a plain `mlflow ui` in an empty folder
   (models_error.png); notebook 02 by JupyterLab's Run All (jupyterlab.png).

Kernels run with USER=LOGNAME=learner so that "Created by" shows no account name of this machine.
Needs Chromium: `bash .ci/chromium.sh` (Debian/Ubuntu: apt-get install -y chromium), or CHROMIUM_PATH.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import helpers
from infra import browser, stores
from infra.notebooks import (
    NotebookFailed,
    add_param_option,
    course_notebooks,
    failure,
    notebook_parameters,
    parse_params,
    run_notebook,
)
from infra.pictures import NOTEBOOK_ENV, PICTURES, photograph_store, server_pictures
from infra.realdata import COURSE_MONTHS, find_real_data

ROOT = helpers.repo_root()
IMGS = ROOT / "imgs"
WORK = ROOT / "build" / "screenshots"


def prepare_data(source: str, data_dir: str | None) -> tuple[str, Path]:
    """('tlc' or 'synthetic', the data folder the notebooks read), copying real files if found."""
    folder = WORK / "data"
    folder.mkdir(parents=True, exist_ok=True)
    real = find_real_data(first=[data_dir]) if source != "synthetic" else None
    if real is None:
        if source == "tlc":
            raise SystemExit(
                "--data-source tlc: the real green 2023-01..03 files were not found (give --data-dir)."
            )
        return "synthetic", folder
    for month in COURSE_MONTHS:
        name = helpers.taxi_filename("green", month)
        if (
            not (folder / name).exists()
            or (folder / name).stat().st_size != (real / name).stat().st_size
        ):
            shutil.copyfile(real / name, folder / name)
    return "tlc", folder


def pictured_notebooks() -> list[Path]:
    """Notebooks 01-06: the runs, models and registry the pictures show."""
    return course_notebooks(["01", "02", "03", "04", "05", "06"])


def run_notebooks(workdir: Path, params: dict[str, object]) -> dict[str, dict]:
    """Run notebooks 01-06 in order; return each one's parameters as run, keyed '01', ..."""
    used = {}
    for nb in pictured_notebooks():
        known = notebook_parameters(nb)
        given = {k: v for k, v in params.items() if k in known}
        shown = {k: v for k, v in given.items() if k not in ("DATA_DIR", "TRACKING_URI")}
        print(f"--- {nb.name} {shown}", flush=True)
        start = time.perf_counter()
        try:
            run_notebook(nb, workdir / nb.name, given, cwd=workdir)
        except NotebookFailed as exc:
            raise SystemExit(failure(nb.name, exc)) from exc
        print(f"    {time.perf_counter() - start:.0f} s", flush=True)
        used[nb.name[:2]] = {**known, **given}
    return used


def experiment_names(used: dict[str, dict]) -> dict[str, str]:
    """The experiments of 01 and of 02-06 (photograph_store's intro_name, course_name)."""
    return {
        "intro_name": used["01"]["EXPERIMENT_NAME"],
        "course_name": used["02"]["EXPERIMENT_NAME"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-source", default="auto", choices=helpers.DATA_SOURCES)
    parser.add_argument("--data-dir", default=None, help="folder with the real TLC files")
    parser.add_argument(
        "--max-evals", type=int, default=15, help="hyperopt trials in notebook 03 (default 15)"
    )
    parser.add_argument(
        "--n-estimators",
        type=int,
        default=20,
        help="trees per ensemble in notebook 04 (default 20)",
    )
    parser.add_argument("--synthetic-rows", type=int, default=None, help="rows per generated month")
    parser.add_argument("--out", default=str(IMGS), help="where the PNGs go (default imgs/)")
    parser.add_argument(
        "--store",
        default=None,
        help="only take the pictures, of this folder's mlflow.db, which notebooks 01-06 filled\n"
        "with their default experiment names; runs no notebook",
    )
    parser.add_argument(
        "--url",
        default=None,
        help="only take the MLflow UI's pictures, of this running server whose runs come from\n"
        "notebooks 01-06 with their default experiment names",
    )
    parser.add_argument(
        "--only", default="", help=f"only these pictures, comma-separated: {', '.join(PICTURES)}"
    )
    add_param_option(parser)
    args = parser.parse_args(argv)
    only = {name.strip().removesuffix(".png") for name in args.only.split(",") if name.strip()}
    if only - set(PICTURES):
        parser.error(
            f"--only: unknown {sorted(only - set(PICTURES))}; known: {', '.join(PICTURES)}"
        )
    reason = browser.why_no_browser()
    if reason:
        print(f"Cannot take screenshots: {reason}.")
        return 2
    out = Path(args.out)
    defaults = {nb.name[:2]: notebook_parameters(nb) for nb in pictured_notebooks()}
    if args.url:
        server_pictures(args.url, **experiment_names(defaults), out=out, only=only)
        return 0
    os.environ.update(NOTEBOOK_ENV)  # the notebooks' kernels inherit these
    if args.store:  # notebook 02 in JupyterLab (jupyterlab.png) reads the data given here
        lab = {"DATA_SOURCE": args.data_source}
        if args.data_dir:
            lab["DATA_DIR"] = str(Path(args.data_dir).resolve())
        if args.synthetic_rows:
            lab["SYNTHETIC_ROWS"] = args.synthetic_rows
        names = experiment_names(defaults)
        photograph_store(Path(args.store), out, **names, lab_params=lab, only=only)
        return 0

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source, data_dir = prepare_data(args.data_source, args.data_dir)
    kind = "real TLC files" if source == "tlc" else "GENERATED (synthetic)"
    print(f"Data: {kind} in {helpers.display_path(data_dir)}")
    data: dict[str, object] = {"DATA_SOURCE": source, "DATA_DIR": str(data_dir)}
    if source == "synthetic" and args.synthetic_rows:
        data["SYNTHETIC_ROWS"] = args.synthetic_rows
    with tempfile.TemporaryDirectory(prefix="mlflow-screenshots-") as tmp:
        tmp = Path(tmp)
        names = experiment_names(defaults)
        if not only or only - {"jupyterlab", "models_error"}:  # pictures of the store's runs
            uri = stores.sqlite_uri(tmp / "mlflow.db")
            os.environ["MLFLOW_TRACKING_URI"] = uri
            params = {**data, "TRACKING_URI": uri, "MAX_EVALS": args.max_evals}
            params.update({"N_ESTIMATORS": args.n_estimators, **parse_params(args.param)})
            names = experiment_names(run_notebooks(tmp, params))
        photograph_store(tmp, out, **names, lab_params=data, only=only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
