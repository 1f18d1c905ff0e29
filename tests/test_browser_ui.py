"""The MLflow UI in a real browser (headless Chromium), against a real `mlflow server` on 127.0.0.1.

The server holds what papermill runs of the notebooks leave on small generated data. The checks
read the page's text, as a learner reads the page: the experiment is listed, its runs table shows
each run with its `rmse`, the registered model shows its `champion` alias, a run page lists the
logged model. Skipped, with the reason, where there is no Chromium (`.ci/chromium.sh` installs it).

Notebooks 03 and 04 are checked through MLflow by test_notebooks.py; running them here too would
double the time of this test for pages (the compare view) that scripts/screenshots.py covers.
"""

from __future__ import annotations

import threading

import pytest
from mlflow import MlflowClient

from helpers import browser, servers
from tests.notebook_runner import NOTEBOOKS, run_papermill

REASON = browser.why_no_browser()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"browser test skipped: {REASON}")

EXPERIMENT = "test-browser-ui"
SMALL = {"DATA_SOURCE": "synthetic", "SYNTHETIC_ROWS": 4000}
# Speed only, for what this test does not check: log_model infers each model's pip requirements
# in a subprocess (5-10 s a model on 2 busy cores); after 1 s it falls back to the flavour's
# defaults (e.g. scikit-learn, skops). The server runs no background job workers.
KERNEL_ENV = {"MLFLOW_LOGGING_LEVEL": "WARNING", "MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT": "1"}
SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def has_notebook(prefix: str) -> bool:
    return any(NOTEBOOKS.glob(f"{prefix}-*.ipynb"))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A sqlite store with the runs of notebooks 02-06, served by `mlflow server` on 127.0.0.1."""
    root = tmp_path_factory.mktemp("browser-ui")
    uri = servers.prepare_sqlite(root / "mlflow.db")
    started: dict = {}

    def start() -> None:  # the server starts (about 10 s) while the notebooks run
        try:
            started["server"] = servers.start_mlflow_server(
                uri, root / "artifacts", root, name="browser-ui", env=SERVER_ENV
            )
        except Exception as exc:  # noqa: BLE001 - re-raised in the test's thread
            started["error"] = exc

    thread = threading.Thread(target=start)
    thread.start()
    try:
        common = {
            **SMALL,
            "DATA_DIR": str(root / "data"),
            "TRACKING_URI": uri,
            "EXPERIMENT_NAME": EXPERIMENT,
        }
        with pytest.MonkeyPatch.context() as env:
            for key, value in KERNEL_ENV.items():
                env.setenv(key, value)
            run_papermill("02", root, **common, ALPHAS=[0.01])
            if has_notebook("06"):  # 06 registers what 05 packages from the runs of 02-04
                run_papermill("03", root, **common, MAX_EVALS=3)
                run_papermill("04", root, **common, N_ESTIMATORS=10)
                run_papermill("05", root, **common)
                run_papermill("06", root, **common)
            else:
                browser.register_fallback_champion(uri, EXPERIMENT)
    except BaseException:
        thread.join()
        if "server" in started:  # never leave a server behind a failed notebook
            started["server"].stop()
        raise
    thread.join()
    if "error" in started:
        raise started["error"]
    server = started["server"]
    try:
        yield server.url, MlflowClient(uri)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def ui(store):
    url, client = store
    experiment = client.get_experiment_by_name(EXPERIMENT)
    with browser.MlflowUI(url, browser.ui_state([experiment.experiment_id]), timeout=45) as ui:
        yield ui


@pytest.fixture(scope="module")
def experiment_id(store) -> str:
    return store[1].get_experiment_by_name(EXPERIMENT).experiment_id


def test_experiment_of_notebook_02_is_listed(ui):
    text = ui.open("/experiments", EXPERIMENT)
    assert EXPERIMENT in text.splitlines()


def test_runs_table_shows_every_run_with_its_rmse(ui, store, experiment_id):
    runs = store[1].search_runs(
        [experiment_id], "tags.developer = 'course'", order_by=["metrics.rmse ASC"]
    )
    names = [r.info.run_name for r in runs]
    assert sorted(names) == ["lasso-alpha-0.01", "linear-regression", "ridge-alpha-0.01"]
    text = ui.open(f"/experiments/{experiment_id}/runs", *names, "rmse")
    for run in runs:
        rmse = run.data.metrics["rmse"]
        assert repr(rmse) in text or f"{rmse:.4f}" in text, (
            f"{run.info.run_name}: rmse {rmse} not shown"
        )
    # sorted by rmse (the seeded UI state), best first: the rows come in the same order
    lines = [line.strip() for line in text.splitlines()]
    positions = [lines.index(name) for name in names]
    assert positions == sorted(positions), text


def test_registered_model_shows_champion_alias(ui, store):
    client = store[1]
    (model,) = [m for m in client.search_registered_models() if "champion" in m.aliases]
    version = client.get_model_version_by_alias(model.name, "champion").version
    assert model.name in ui.open("/models", model.name).splitlines()
    ui.open(f"/models/{model.name}", "Versions", "champion")
    row = ui.page.get_by_role("row").filter(has_text="champion").first.inner_text()
    assert f"Version {version}" in row


def test_run_page_lists_the_logged_model(ui, store, experiment_id):
    client = store[1]
    (run,) = client.search_runs([experiment_id], "tags.mlflow.runName = 'linear-regression'")
    (model,) = client.search_logged_models(
        [experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'"
    )
    text = ui.open(f"/experiments/{experiment_id}/runs/{run.info.run_id}", "Logged models (1)")
    assert "linear-regression" in text and "rmse" in text
    section = text.split("Logged models (1)", 1)[1]
    assert model.name in section.split() and "Ready" in section
