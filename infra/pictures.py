"""The pictures in imgs/: the MLflow UI of a tracking store, a fresh `mlflow ui`, and JupyterLab.

`photograph_store` takes them all from a store the notebooks already ran into (a folder holding
`mlflow.db` and the artifacts beside it): `scripts/run_notebooks.py --refresh-committed` calls it
on the very store whose run gave the committed outputs, so the pictures show the outputs' figures;
`scripts/screenshots.py` calls it on a store of its own. Beside each `<name>.png` goes
`<name>.txt`, the text the picture shows (for tests/test_pictures.py, not for learners).

Headless Chromium (the system's: `bash .ci/chromium.sh`) through infra/browser.py.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from infra import browser, servers, stores
from infra import lab as lab_session

# every picture by name: of the store's server, of a fresh `mlflow ui`, of JupyterLab
SERVER_PICTURES = (
    "experiments_list experiment_dialogue mlflow_ui run_page run_artifacts model_artifacts "
    "run_comparison models_list model_versions system-metrics"
).split()
PICTURES = (*SERVER_PICTURES, "models_error", "jupyterlab")
# quiet MLflow, and "Created by learner" rather than this machine's account, in runs and pictures
NOTEBOOK_ENV = {"MLFLOW_LOGGING_LEVEL": "WARNING", "USER": "learner", "LOGNAME": "learner"}
REGISTERED_MODEL = "nyc-taxi-trip-duration"
# the charts' search box takes a regular expression: CPU and memory, not disk and network
SYSTEM_CHARTS = "cpu|memory"

# The text a picture shows: every text node with a box inside the window (and not hidden), in
# document order. A page's innerText would also hold what is scrolled out of the picture. Text in
# charts (<svg>: axis ticks such as 0.04000, ranges the plot computes) is left out: the tests
# compare the figures of this text with the notebooks' outputs, and a tick is no logged figure.
VISIBLE_TEXT = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const lines = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const parent = node.parentElement;
    if (!text || !parent || parent.closest('svg')) continue;
    const style = getComputedStyle(parent);
    if (style.visibility === 'hidden' || style.display === 'none' || style.opacity === '0') continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const inside = [...range.getClientRects()].some(r => r.width > 0 && r.height > 0 &&
      r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth);
    if (inside) lines.push(text);
  }
  return lines.join('\\n');
}"""


def save(ui: browser.HeadlessChromium, path: Path) -> Path:
    """`path` (a PNG of the window) and beside it `path.txt`: the text the picture shows."""
    png = ui.screenshot(path)
    png.with_suffix(".txt").write_text(ui.page.evaluate(VISIBLE_TEXT) + "\n")
    print(f"    imgs/{png.name}", flush=True)
    return png


def _one_run(client, experiment_id: str, filter_string: str):
    """The first run of the experiment matching `filter_string`: that of the notebook which
    introduces it (02's linear regression, 03's search, 04's xgboost), whatever 05-10 add later."""
    runs = client.search_runs(
        [experiment_id], filter_string, order_by=["attributes.start_time ASC"], max_results=1
    )
    if not runs:
        raise RuntimeError(f"No run matches {filter_string!r}: did notebooks 01-06 run?")
    return runs[0]


def server_pictures(
    url: str, intro_name: str, course_name: str, out: Path, only: Iterable[str] = ()
) -> list[Path]:
    """The pictures of the MLflow UI at `url` whose runs come from notebooks 01-06.

    `intro_name`: notebook 01's experiment; `course_name`: the one 02-06 share. Each picture is
    taken once the page shows its content.
    """
    from mlflow import MlflowClient

    only = set(only)
    client = MlflowClient(url)
    intro = client.get_experiment_by_name(intro_name)
    course = client.get_experiment_by_name(course_name)
    if intro is None or course is None:
        raise RuntimeError(f"No experiment {intro_name!r} or {course_name!r} in the store.")
    eid = course.experiment_id
    lr = _one_run(client, eid, "tags.mlflow.runName = 'linear-regression'")
    xgb = _one_run(client, eid, "tags.mlflow.runName = 'xgboost-best-params'")
    parent = _one_run(client, eid, "tags.hyperopt_parent = 'true'")
    trials = client.search_runs(
        [eid], f"tags.mlflow.parentRunId = '{parent.info.run_id}'", max_results=500
    )
    (xgb_model,) = client.search_logged_models(
        experiment_ids=[eid], filter_string=f"source_run_id = '{xgb.info.run_id}'"
    )
    champions = [
        m.name for m in client.search_registered_models() if "champion" in (m.aliases or {})
    ]
    if not champions:
        raise RuntimeError("No registered model has the alias 'champion': did notebook 06 run?")
    model_name = REGISTERED_MODEL if REGISTERED_MODEL in champions else champions[0]

    written: list[Path] = []
    # top-level runs only: the search's trials (03) are child runs, reached through the compare view
    seed = browser.ui_state(
        [eid, intro.experiment_id], search_filter="tags.mlflow.parentRunId IS NULL"
    )

    def want(*names: str) -> bool:  # each page is opened only for a picture asked for
        return not only or bool(only & set(names))

    with browser.HeadlessChromium(url, seed) as ui:

        def shot(name: str) -> None:
            if want(Path(name).stem):
                written.append(save(ui, out / name))

        if want("experiments_list", "experiment_dialogue"):
            ui.open("/experiments", course.name, intro.name)
            shot("experiments_list.png")
            ui.page.get_by_test_id("create-experiment-button").click()
            ui.wait_for("Create Experiment", "Artifact Location")
            ui.page.get_by_placeholder("Input an experiment name").fill("nyc-taxi-experiment-2")
            shot("experiment_dialogue.png")
            ui.page.keyboard.press("Escape")

        if want("mlflow_ui"):
            ui.open(
                f"/experiments/{eid}/runs",
                "linear-regression",
                "xgboost-best-params",
                "rmse",
                "data.source",
            )
            shot("mlflow_ui.png")

        if want("run_page"):
            ui.open(
                f"/experiments/{eid}/runs/{lr.info.run_id}",
                "linear-regression",
                "Logged models (1)",
                "rmse",
            )
            ui.page.get_by_text("Logged models (1)").first.scroll_into_view_if_needed()
            shot("run_page.png")

        if want("run_artifacts"):
            route = f"/experiments/{eid}/runs/{xgb.info.run_id}/artifacts"
            ui.open(route, "feature_importance_weight.png")
            ui.page.get_by_text("feature_importance_weight.png").first.click()
            ui.page.wait_for_function(  # the preview is an <img> of a blob: wait until decoded
                "() => [...document.querySelectorAll('img')]"
                ".some(i => i.complete && i.naturalWidth > 100)"
            )
            shot("run_artifacts.png")

        if want("model_artifacts"):
            ui.open(f"/experiments/{eid}/models/{xgb_model.model_id}/artifacts", "MLmodel")
            ui.page.get_by_text("MLmodel").first.click()
            ui.wait_for("flavors", "xgboost")
            shot("model_artifacts.png")

        if want("run_comparison"):
            ids = json.dumps([t.info.run_id for t in trials])
            ui.open(
                f'/compare-runs?runs={ids}&experiments=["{eid}"]',
                "Parallel Coordinates Plot",
                "Run details",
            )
            ui.page.locator("svg .parcoords .y-axis").first.wait_for(state="visible")
            shot("run_comparison.png")

        if want("models_list"):
            ui.open("/models", model_name, "Aliased versions")
            shot("models_list.png")

        if want("model_versions"):
            ui.open(f"/models/{model_name}", "Versions", "champion")
            shot("model_versions.png")

        if want("system-metrics"):
            system_metrics(ui, eid, parent.info.run_id, shot)
    return written


def system_metrics(
    ui: browser.HeadlessChromium, experiment_id: str, run_id: str, shot: Callable[[str], None]
) -> None:
    """system-metrics.png: the System metrics tab of run `run_id` (03's search, which logs with
    `log_system_metrics=True`), CPU and memory charts only."""
    ui.open(
        f"/experiments/{experiment_id}/runs/{run_id}/system-metrics",
        "System metrics",
        "cpu_utilization_percentage",
    )
    ui.page.get_by_placeholder("Search metric charts").fill(SYSTEM_CHARTS)
    ui.wait_for("system_memory_usage_megabytes", "system_memory_usage_percentage")
    # three plotly charts, each with its line drawn
    ui.page.wait_for_function(
        "() => document.querySelectorAll('.js-plotly-plot').length === 3 && "
        "[...document.querySelectorAll('.js-plotly-plot')].every(p => p.querySelector('path.js-line'))"
    )
    ui.page.evaluate("document.activeElement.blur()")  # no focus ring on the search box
    shot("system-metrics.png")


def plain_ui_models_page(out: Path) -> Path:
    """models_error.png: the models tab of `mlflow ui` started with no arguments in an empty folder,
    as a learner who follows the course's old notes sees it."""
    with tempfile.TemporaryDirectory(prefix="plain-mlflow-ui-") as folder:
        server = servers.launch(
            [sys.executable, "-m", "mlflow", "ui"], folder, name="ui", cwd=folder
        )
        try:
            with browser.HeadlessChromium(server.url) as ui:
                ui.open("/models", "Registered Models", "Share and manage machine learning models")
                ui.page.keyboard.press("Escape")  # the promotion dialog, should it come back
                return save(ui, out / "models_error.png")
        finally:
            server.stop()


def jupyterlab(
    out: Path, params: Mapping[str, object], env: Mapping[str, str], timeout: float = 600
) -> Path:
    """jupyterlab.png: notebook 02 (with `params`) run by JupyterLab's own Run All in headless
    Chromium, in a store of its own, the RMSE comparison table in view."""
    with tempfile.TemporaryDirectory(prefix="jupyterlab-shot-") as tmp:
        tmp = Path(tmp)
        root = tmp / "course"
        path = lab_session.prepare_root(root, "02", **params)
        env = {"MLFLOW_TRACKING_URI": stores.sqlite_uri(tmp / "mlflow.db"), **env}
        with lab_session.jupyterlab(root, tmp / "jupyter", env) as lab:
            with browser.HeadlessChromium(
                lab.url, seed={}, viewport=lab_session.VIEWPORT, timeout=120
            ) as ui:
                lab_session.open_notebook(ui, lab, path)
                cells = lab_session.run_all(ui, timeout)
                errors = [c for c in cells if any("Traceback" in s for s in c["stderr"])]
                if errors or not lab_session.rmse_table(ui):
                    raise RuntimeError(f"notebook 02 did not run cleanly in JupyterLab: {errors}")
                lab_session.show_rmse_table(ui)
                return save(ui, Path(out) / "jupyterlab.png")


def photograph_store(
    store: Path,
    out: Path,
    *,
    intro_name: str,
    course_name: str,
    lab_params: Mapping[str, object] | None = None,
    lab_env: Mapping[str, str] | None = None,
    only: Iterable[str] = (),
) -> list[Path]:
    """Every picture (or those in `only`) of the store in folder `store`, into `out`.

    `store` holds `mlflow.db`, in which notebooks 01-06 ran (their artifacts where they logged
    them); a `mlflow server` on it serves the UI. `lab_params` / `lab_env`: the data notebook 02
    reads in JupyterLab (jupyterlab.png), as the notebooks that filled the store read it.
    """
    only = set(only)
    unknown = only - set(PICTURES)
    if unknown:
        raise ValueError(f"unknown pictures {sorted(unknown)}; known: {', '.join(PICTURES)}")
    reason = browser.why_no_browser()
    if reason:
        raise RuntimeError(f"Cannot take pictures: {reason}.")
    started = time.perf_counter()
    store, out = Path(store), Path(out)
    written: list[Path] = []
    if not only or only & set(SERVER_PICTURES):
        server = servers.start_mlflow_server(
            stores.sqlite_uri(store / "mlflow.db"),
            store / "mlartifacts",
            store,
            name="pictures-server",
            env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},  # no background job workers
        )
        try:
            print("Pictures of the store's MLflow UI:", flush=True)
            written += server_pictures(server.url, intro_name, course_name, out, only)
        except BaseException:
            print(f"The server's log ends with:\n{server.log_tail(20)}")
            raise
        finally:
            server.stop()
    if not only or "models_error" in only:
        written.append(plain_ui_models_page(out))
    if not only or "jupyterlab" in only:
        print("JupyterLab: notebook 02 by Run All", flush=True)
        written.append(jupyterlab(out, lab_params or {}, {**NOTEBOOK_ENV, **(lab_env or {})}))
    print(f"{len(written)} pictures in {out.name}/ in {time.perf_counter() - started:.0f} s.")
    return written
