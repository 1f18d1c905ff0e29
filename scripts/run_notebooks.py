"""The main job: run every notebook in order with papermill, tracked in MLflow.

    python scripts/run_notebooks.py [--data-source auto|tlc|synthetic] [--data-dir DIR]
    python scripts/run_notebooks.py --refresh-committed --data-dir DIR   # maintainers: make refresh

Executed copies go to build/executed/ (ignored by git); runs go to mlflow.db at the repository
root unless MLFLOW_TRACKING_URI says otherwise.

--refresh-committed runs every notebook in order into one fresh temporary store on the real
files, then photographs that same store (infra/pictures.py: the MLflow UI of a live server on it,
headless Chromium), and only when all of it worked writes the outputs back into notebooks/
(cleaned, stamped with the refresh) and the pictures, with the text each shows, into imgs/.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path

import helpers
from infra import browser, pictures, stores
from infra.cleaning import write_clean
from infra.notebooks import (
    MONTHS,
    NotebookFailed,
    add_param_option,
    course_notebooks,
    failure,
    notebook,
    notebook_parameters,
    notebook_params,
    parse_params,
    run_notebook,
)

ROOT = helpers.repo_root()
STORE_NAME = "mlops-zoomcamp-02"  # the refresh's store, in the temporary folder


def resolve_source(source: str, data_dir: str | None, colour: str, months: list[str]) -> str:
    """Find, download or generate the data once, so every notebook uses the same source."""
    if source != "auto":
        return source
    used = set()
    for month in months:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            used.add(helpers.get_taxi_file(colour, month, "auto", data_dir).source)
    return "tlc" if used == {"tlc"} else "synthetic"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--data-source", default="auto", choices=helpers.DATA_SOURCES)
    parser.add_argument(
        "--data-dir", default=None, help="folder with the TLC files (default data/)"
    )
    parser.add_argument("--out", default=str(ROOT / "build" / "executed"))
    parser.add_argument("--only", nargs="*", help="notebook name prefixes to run, e.g. 01 02")
    parser.add_argument(
        "--refresh-committed",
        action="store_true",
        help="maintainers: run on real data in a fresh temporary tracking store and write the\n"
        "outputs back into notebooks/ (cleaned), as the committed notebooks must show, and\n"
        "the pictures of that run's store into imgs/",
    )
    parser.add_argument(
        "--no-pictures",
        action="store_true",
        help="with --refresh-committed: leave imgs/ as it is (then pictures and outputs differ;\n"
        "so does --only)",
    )
    parser.add_argument("--imgs", default=str(ROOT / "imgs"), help=argparse.SUPPRESS)
    add_param_option(parser)
    args = parser.parse_args(argv)

    notebooks = course_notebooks(args.only)
    # the pictures show the runs of 01-06 (and the outputs beside them): only from a whole refresh
    pictures_too = args.refresh_committed and not args.no_pictures and not args.only
    extra = parse_params(args.param)
    # the colour and months the notebooks will read (`-p TAXI_COLOR yellow`: yellow files, and
    # generated yellow data when they are missing)
    colour = str(extra.get("TAXI_COLOR", "green"))
    months = [str(extra.get(name, month)) for name, month in MONTHS.items()]
    source = resolve_source(args.data_source, args.data_dir, colour, months)
    if source == "synthetic":
        print("=" * 78)
        print("The real TLC files are not in the data folder and cannot be downloaded:")
        print("running every notebook on GENERATED data (DATA_SOURCE='synthetic').")
        print("Numbers will differ from the course's. See README, 'Where the data comes from'.")
        print("=" * 78)
    else:
        print(f"Data source: {source} (real TLC files)")
    if args.refresh_committed:
        if source != "tlc":
            print("--refresh-committed needs the real TLC files (DATA_DIR or TAXI_DATA_DIR).")
            return 2
        reason = browser.why_no_browser() if pictures_too else None
        if reason:  # before the long run, not after it
            print(f"--refresh-committed takes the pictures too, and cannot: {reason}.")
            print("(--no-pictures refreshes the outputs alone, and leaves imgs/ stale.)")
            return 2
        # the committed 07 shows all three scenarios: its third needs a PostgreSQL
        reason = stores.check_postgres(stores.postgres_uri())
        if reason:
            print(f"--refresh-committed runs scenario 3 of notebook 07, and cannot: {reason}.")
            print(
                "Start one: bash .ci/postgres.sh start DIR; export MLFLOW_TEST_POSTGRES_URI=$(cat DIR/uri)"
            )
            return 2
        # one fixed folder, not a random one: the pictures of the artifact pages show its path
        # (file:///tmp/mlops-zoomcamp-02/mlruns/...), the same at every refresh
        store = Path(tempfile.gettempdir()) / STORE_NAME
        try:
            store.mkdir()
        except FileExistsError:
            print(f"{store} exists: another refresh runs, or one was killed (then remove it).")
            return 2
        atexit.register(shutil.rmtree, store, ignore_errors=True)  # also after a failing notebook
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store / 'mlflow.db'}"
        # quiet MLflow, and "Created by learner" in the runs the pictures show
        os.environ.update(pictures.NOTEBOOK_ENV)
        if args.data_dir:
            os.environ["TAXI_DATA_DIR"] = str(Path(args.data_dir).resolve())

    # committed notebooks keep their own parameters cell: the data is found through TAXI_DATA_DIR
    params: dict = {} if args.refresh_committed else {"DATA_SOURCE": source}
    if args.data_dir and not args.refresh_committed:
        params["DATA_DIR"] = str(Path(args.data_dir).resolve())
    params.update(extra)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    timings = []
    refresh_id = uuid.uuid4().hex[:12]
    provenance: dict[Path, dict] = {}
    for position, nb in enumerate(notebooks, start=1):
        print(f"\n--- {nb.name}")
        start = time.perf_counter()
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        try:
            run_notebook(nb, out / nb.name, notebook_params(nb.name, params), progress_bar=True)
        except NotebookFailed as exc:
            print(f"\n{failure(nb.name, exc)}")
            print(f"Open {helpers.display_path(out / nb.name)} to see the failing cell.")
            return 1
        timings.append((nb.name, time.perf_counter() - start))
        provenance[nb] = {
            "refresh": refresh_id,
            "position": position,
            "of": len(notebooks),
            "started": started,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }

    if args.refresh_committed:
        if pictures_too:
            # the pictures of this run's store, into a folder of their own first: a failure here
            # leaves notebooks/ and imgs/ as they were
            shots = Path(tempfile.mkdtemp(prefix="committed-pictures-"))
            atexit.register(shutil.rmtree, shots, ignore_errors=True)
            start = time.perf_counter()
            names = {p: notebook_parameters(notebook(p))["EXPERIMENT_NAME"] for p in ("01", "02")}
            pictures.photograph_store(
                store,
                shots,
                intro_name=str(extra.get("EXPERIMENT_NAME", names["01"])),
                course_name=str(extra.get("EXPERIMENT_NAME", names["02"])),
                lab_env={k: v for k, v in os.environ.items() if k == "TAXI_DATA_DIR"},
            )
            timings.append(("pictures (infra/pictures.py)", time.perf_counter() - start))
        # only now, when every notebook ran: a failure above leaves the committed ones untouched
        for nb, stamp in provenance.items():
            write_back(out / nb.name, nb, stamp)
        if pictures_too:
            imgs = Path(args.imgs)
            for shot in sorted(shots.iterdir()):
                if (
                    shot.suffix == ".txt"
                ):  # which refresh the picture shows (tests/test_pictures.py)
                    text = f"course_refresh: {refresh_id}\n{shot.read_text()}"
                    (imgs / shot.name).write_text(text)
                else:
                    shutil.copyfile(shot, imgs / shot.name)

    print("\nAll notebooks ran:")
    for name, seconds in timings:
        print(f"  {name:45s} {seconds:7.1f} s")
    print(f"Executed copies: {helpers.display_path(out)}/")
    if args.refresh_committed:
        print("Outputs written back into notebooks/; the runs' temporary store is removed.")
        if pictures_too:
            print("Pictures of that store, and the text each shows, written into imgs/.")
        return 0
    uri = os.environ.get("MLFLOW_TRACKING_URI") or helpers.default_tracking_uri()
    if uri == helpers.default_tracking_uri():
        print(f"Runs are in {helpers.display_path(ROOT / 'mlflow.db')}.")
        print("Open the MLflow UI with:  make ui   (then browse http://127.0.0.1:5000)")
    else:
        print(f"Runs are in {uri} (MLFLOW_TRACKING_URI).")
    return 0


def write_back(executed: Path, committed: Path, stamp: dict) -> None:
    """Copy an executed notebook over the committed one, stamped with its refresh, and clean it.

    The stamp (`metadata.course_refresh`: one id per refresh, position, start and end) lets
    tests/test_committed_outputs.py prove that all committed outputs come from one run, in order.
    """
    nb = json.loads(executed.read_text())
    nb["metadata"]["course_refresh"] = stamp
    write_clean(nb, committed)
    # papermill's injected-parameters cell (notebook 10's months) as `make lint` wants it: ruff is
    # the project's formatter, run as its own command line (it has no Python API)
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(committed)], check=True)


if __name__ == "__main__":
    sys.exit(main())
