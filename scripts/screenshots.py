"""Regenerate the pictures of the MLflow UI in imgs/ from a live server and a real browser.

    python scripts/screenshots.py [--data-source auto|tlc|synthetic] [--data-dir DIR] [--max-evals N]
    make screenshots          # about 6.5 minutes on 2 cores with the real data
    python scripts/screenshots.py --url http://127.0.0.1:5000   # only the pictures, of a running server
    python scripts/screenshots.py --only jupyterlab,system-metrics   # only these pictures

1. Finds the real TLC files (infra.realdata: --data-dir, $TLC_DATA_DIR, $TAXI_DATA_DIR, ../shared/tlc-data, data/) and copies them
   into build/screenshots/data (so runs record a path relative to the repository), or generates
   data when there are none (--data-source auto).
2. Starts `mlflow server` on 127.0.0.1 (a free port) on a fresh sqlite store with served
   artifacts, both in a temporary folder.
3. Runs notebooks 01-06 (those present) with papermill against that server, with a smaller search
   than the defaults. Until notebook 06 (model registry) exists, a clearly labelled stand-in
   registers the best model of 02 with the alias `champion`.
4. Drives headless Chromium (the system's; nothing is downloaded) through the pages the notes
   talk about and writes 1600x1000 PNGs into imgs/, each after the page shows its content.
5. Starts a plain `mlflow ui` in an empty folder, as a learner who follows the old notes does,
   for the models tab they see there (models_error.png).
6. Runs notebook 02 in JupyterLab by its own Run All, in headless Chromium (jupyterlab.png;
   scripts/extra_pictures.py, which also takes system-metrics.png in step 4).

Kernels run with USER=LOGNAME=learner so that "Created by" shows no account name of this machine.
Needs Chromium: `apt-get install -y chromium` (Debian/Ubuntu), or CHROMIUM_PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import extra_pictures  # scripts/extra_pictures.py: this script's folder is on sys.path

import helpers
from infra import browser, servers, stores
from infra.notebooks import (
    NotebookFailed,
    add_param_option,
    course_notebooks,
    failure,
    notebook_parameters,
    parse_params,
    run_notebook,
)
from infra.realdata import COURSE_MONTHS, find_real_data

ROOT = helpers.repo_root()
IMGS = ROOT / "imgs"
WORK = ROOT / "build" / "screenshots"
# every picture by name (--only): of the live server, of a fresh `mlflow ui`, of JupyterLab
PICTURES = (
    "experiments_list experiment_dialogue mlflow_ui run_page run_artifacts model_artifacts "
    "run_comparison models_list model_versions system-metrics models_error jupyterlab"
).split()


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
    """Notebooks 01-04, and 05-06 once 06 (the model registry, which builds on 05) exists."""
    found = {p.name[:2]: p for p in course_notebooks()}
    wanted = ["01", "02", "03", "04"] + (["05", "06"] if "06" in found else [])
    return [found[p] for p in wanted if p in found]


def run_notebooks(workdir: Path, params: dict[str, object]) -> dict[str, dict]:
    """Run the course notebooks in order; return each one's parameters as run, keyed '01', ..."""
    used = {}
    for nb in pictured_notebooks():
        known = notebook_parameters(nb)
        given = {k: v for k, v in params.items() if k in known}
        shown = {k: v for k, v in given.items() if k != "DATA_DIR"}
        print(f"--- {nb.name} {shown}", flush=True)
        start = time.perf_counter()
        try:
            run_notebook(nb, workdir / nb.name, given, cwd=workdir)
        except NotebookFailed as exc:
            raise SystemExit(failure(nb.name, exc)) from exc
        print(f"    {time.perf_counter() - start:.0f} s", flush=True)
        used[nb.name[:2]] = {**known, **given}
    return used


def one_run(client, experiment_id: str, filter_string: str):
    runs = client.search_runs([experiment_id], filter_string, max_results=1)
    if not runs:
        raise SystemExit(f"No run matches {filter_string!r}: did the notebooks run?")
    return runs[0]


def logged_model_id(client, experiment_id: str, run_id: str) -> str:
    (model,) = client.search_logged_models(
        experiment_ids=[experiment_id], filter_string=f"source_run_id = '{run_id}'"
    )
    return model.model_id


def take_screenshots(
    url: str, client, used: dict[str, dict], out: Path, only: set[str] = frozenset()
) -> list[Path]:
    """Every picture of the live server at `url` (or those in `only`); each waits for its content."""
    intro = client.get_experiment_by_name(used["01"]["EXPERIMENT_NAME"])
    course = client.get_experiment_by_name(used["02"]["EXPERIMENT_NAME"])
    eid = course.experiment_id
    lr = one_run(client, eid, "tags.mlflow.runName = 'linear-regression'")
    xgb = one_run(client, eid, "tags.mlflow.runName = 'xgboost-best-params'")
    parent = one_run(client, eid, "tags.hyperopt_parent = 'true'")
    trials = client.search_runs(
        [eid], f"tags.mlflow.parentRunId = '{parent.info.run_id}'", max_results=500
    )
    xgb_model = logged_model_id(client, eid, xgb.info.run_id)
    registered = [m for m in client.search_registered_models() if "champion" in (m.aliases or {})]
    if not registered:
        raise SystemExit("No registered model has the alias 'champion'.")
    model_name = registered[0].name

    written = []
    # top-level runs only: the search's trials (03) are child runs, reached through the compare view
    seed = browser.ui_state(
        [eid, intro.experiment_id], search_filter="tags.mlflow.parentRunId IS NULL"
    )
    with browser.HeadlessChromium(url, seed) as ui:

        def shot(name: str) -> None:
            if only and Path(name).stem not in only:
                return
            written.append(ui.screenshot(out / name))
            print(f"    imgs/{name}", flush=True)

        ui.open("/experiments", course.name, intro.name)
        shot("experiments_list.png")

        ui.page.get_by_test_id("create-experiment-button").click()
        ui.wait_for("Create Experiment", "Artifact Location")
        ui.page.get_by_placeholder("Input an experiment name").fill("nyc-taxi-experiment-2")
        shot("experiment_dialogue.png")
        ui.page.keyboard.press("Escape")

        ui.open(
            f"/experiments/{eid}/runs",
            "linear-regression",
            "xgboost-best-params",
            "rmse",
            "data.source",
        )
        shot("mlflow_ui.png")

        ui.open(
            f"/experiments/{eid}/runs/{lr.info.run_id}",
            "linear-regression",
            "Logged models (1)",
            "rmse",
        )
        ui.page.get_by_text("Logged models (1)").first.scroll_into_view_if_needed()
        shot("run_page.png")

        ui.open(
            f"/experiments/{eid}/runs/{xgb.info.run_id}/artifacts", "feature_importance_weight.png"
        )
        ui.page.get_by_text("feature_importance_weight.png").first.click()
        ui.page.wait_for_function(  # the preview is an <img> of a blob: wait until it is decoded
            "() => [...document.querySelectorAll('img')].some(i => i.complete && i.naturalWidth > 100)"
        )
        shot("run_artifacts.png")

        ui.open(f"/experiments/{eid}/models/{xgb_model}/artifacts", "MLmodel")
        ui.page.get_by_text("MLmodel").first.click()
        ui.wait_for("flavors", "xgboost")
        shot("model_artifacts.png")

        ids = json.dumps([t.info.run_id for t in trials])
        ui.open(
            f'/compare-runs?runs={ids}&experiments=["{eid}"]',
            "Parallel Coordinates Plot",
            "Run details",
        )
        ui.page.locator("svg .parcoords .y-axis").first.wait_for(state="visible")
        shot("run_comparison.png")

        ui.open("/models", model_name, "Aliased versions")
        shot("models_list.png")

        ui.open(f"/models/{model_name}", "Versions", "champion")
        shot("model_versions.png")

        extra_pictures.system_metrics(ui, eid, parent.info.run_id, shot)
    return written


def plain_ui_models_page(out: Path) -> Path:
    """models_error.png: the models tab of `mlflow ui` started with no arguments in an empty folder."""
    with tempfile.TemporaryDirectory(prefix="plain-mlflow-ui-") as folder:
        server = servers.launch(
            [sys.executable, "-m", "mlflow", "ui"], folder, name="ui", cwd=folder
        )
        try:
            with browser.HeadlessChromium(server.url) as ui:
                ui.open("/models", "Registered Models", "Share and manage machine learning models")
                ui.page.keyboard.press("Escape")  # the promotion dialog, should it come back
                path = ui.screenshot(out / "models_error.png")
                print("    imgs/models_error.png", flush=True)
        finally:
            server.stop()
    return path


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
        "--url",
        default=None,
        help="only take the pictures, of this running server whose runs come from the notebooks\n"
        "(with their default experiment names); skips the data, the store and the notebooks",
    )
    parser.add_argument(
        "--only",
        default="",
        help=f"only these pictures, comma-separated: {', '.join(PICTURES)}",
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
    started = time.perf_counter()
    out = Path(args.out)
    if args.url:
        from mlflow import MlflowClient

        used = {nb.name[:2]: notebook_parameters(nb) for nb in pictured_notebooks()}
        take_screenshots(args.url, MlflowClient(args.url), used, out, only)
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source, data_dir = prepare_data(args.data_source, args.data_dir)
    print(
        f"Data: {'real TLC files' if source == 'tlc' else 'GENERATED (synthetic)'} in {helpers.display_path(data_dir)}"
    )

    # the notebooks' kernels inherit these: quiet MLflow, and a neutral user name in the UI
    os.environ.update({"MLFLOW_LOGGING_LEVEL": "WARNING", "USER": "learner", "LOGNAME": "learner"})
    if only and only <= {"jupyterlab", "models_error"}:  # no notebooks, no tracking server
        return other_pictures(out, only, source, data_dir, args.synthetic_rows, [], started)
    with tempfile.TemporaryDirectory(prefix="mlflow-screenshots-") as tmp:
        tmp = Path(tmp)
        server = servers.start_mlflow_server(
            stores.sqlite_uri(tmp / "mlflow.db"),
            tmp / "artifacts",
            tmp,
            name="screenshots-server",
            env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},  # no background job workers
        )
        try:
            print(f"Tracking server: {server.url} (fresh store in a temporary folder)")
            os.environ["MLFLOW_TRACKING_URI"] = server.url
            params: dict[str, object] = {
                "DATA_SOURCE": source,
                "DATA_DIR": str(data_dir),
                "TRACKING_URI": server.url,
                "MAX_EVALS": args.max_evals,
                "N_ESTIMATORS": args.n_estimators,
            }
            if source == "synthetic" and args.synthetic_rows:
                params["SYNTHETIC_ROWS"] = args.synthetic_rows
            params.update(parse_params(args.param))
            used = run_notebooks(tmp, params)

            from mlflow import MlflowClient

            client = MlflowClient(server.url)
            print("Screenshots:")
            written = take_screenshots(server.url, client, used, out, only)
        except BaseException:
            print(f"The server's log ends with:\n{server.log_tail(20)}")
            raise
        finally:
            server.stop()
    return other_pictures(out, only, source, data_dir, args.synthetic_rows, written, started)


def other_pictures(
    out: Path,
    only: set[str],
    source: str,
    data_dir: Path,
    synthetic_rows: int | None,
    written: list[Path],
    started: float,
) -> int:
    """The pictures that need no tracking server (a fresh `mlflow ui`, JupyterLab); the summary."""
    if not only or "models_error" in only:
        written.append(plain_ui_models_page(out))
    if not only or "jupyterlab" in only:
        print("JupyterLab: notebook 02 by Run All", flush=True)
        written.append(extra_pictures.jupyterlab(out, source, data_dir, synthetic_rows))
    print(
        f"{len(written)} pictures in {helpers.display_path(out)}/ from {'real' if source == 'tlc' else 'generated'} data "
        f"in {time.perf_counter() - started:.0f} s."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
