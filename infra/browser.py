"""A real browser for the pages the course shows: headless Chromium driven by Playwright.

It opens the MLflow UI (`scripts/screenshots.py`, the pictures in imgs/; `tests/test_mlflow_ui.py`)
and JupyterLab (`infra/lab.py`, `tests/test_jupyterlab.py`). Nothing
is downloaded at run time: Playwright drives the operating system's Chromium (Debian:
`apt-get install chromium`), never a browser build of its own (`playwright install` is not needed).

Three facts about the MLflow 3 UI shape this module (JupyterLab gets `seed={}`):
- it never reaches "network idle" (it polls), so every step waits for text on the page;
- some of what it shows is UI state kept in the browser's localStorage: the assistant side panel
  (open by default), GenAI or model-training mode, the runs table's columns, a promotion dialog
  on the models page. A fresh browser profile gets them seeded before the first page loads;
- `full_page` screenshots do not grow past the window, so the window has the size of the picture.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

# flags checked with Debian's Chromium 156 in a container (no GPU, no sandbox, no internet)
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1600, "height": 1000}

# the runs table's columns the notes talk about (column ids as the UI stores them)
RUN_COLUMNS = [
    "attributes.`Models`",
    "metrics.`rmse`",
    "params.`alpha`",
    "params.`max_depth`",
    "tags.`data.source`",
]


def find_chromium() -> str | None:
    """The Chromium executable: $CHROMIUM_PATH, else `chromium` on the PATH; None when absent."""
    candidates = [
        os.environ.get("CHROMIUM_PATH"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ]
    for cand in candidates:
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def why_no_browser() -> str | None:
    """None when the UI can be driven here, else why not and how to fix it."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return (
            "the Python package playwright is not installed: pip install -r mlflow_requirements.txt"
        )
    if find_chromium() is None:
        return (
            "no Chromium found (set CHROMIUM_PATH, or on Debian/Ubuntu: "
            "apt-get install -y chromium; .ci/chromium.sh does it in CI)"
        )
    return None


def ui_state(
    run_table_experiments: list[str] = (), columns: list[str] = RUN_COLUMNS, search_filter: str = ""
) -> dict[str, str]:
    """localStorage entries for a clean UI: model-training mode, no assistant panel, no promo dialog.

    For each experiment id in `run_table_experiments`, its runs table shows `columns`, is sorted
    by `rmse`, best first, and filtered with `search_filter` (the query in its search box).
    """
    seed = {
        "mlflow.workflowType_v1": json.dumps("machine_learning"),
        "mlflow.assistant.panelOpen_v1": "false",
        "mlflow.assistant.fab.autoOpenedOnFirstLoad_v1": "true",
        "_mlflow_model_registry_promo_modal_dismissed_v1": "true",
    }
    order = ["1", "attributes.`Run Name`", "runDateAndNestInfo", "duration", *columns]
    for experiment_id in run_table_experiments:
        state = {
            "searchFilter": search_filter,
            "orderByKey": "metrics.`rmse`",
            "orderByAsc": True,
            "startTime": "ALL",
            "lifecycleFilter": "Active",
            "datasetsFilter": [],
            "modelVersionFilter": "All Runs",
            "selectedColumns": list(columns),
            "columnOrder": order,
            "columnWidths": {"metrics.`rmse`": 170, "attributes.`Models`": 110},
            "runsExpanded": {},
            "runsPinned": [],
            "runsHidden": [],
            "runsVisibilityMap": {},
            "runsHiddenMode": "FIRST_10_RUNS",
            "viewMaximized": False,
            "runListHidden": False,
            "isAccordionReordered": False,
            "useGroupedValuesInCharts": True,
            "hideEmptyCharts": True,
            "groupBy": None,
            "groupsExpanded": {},
            "autoRefreshEnabled": False,
            "globalLineChartConfig": {
                "xAxisKey": "step",
                "lineSmoothness": 0,
                "selectedXAxisMetricKey": "",
            },
        }
        key = f'MLflowLocalStorage-1.1-ExperimentPage-["{experiment_id}"]-ReactComponentState'
        seed[key] = json.dumps(state)
    return seed


class HeadlessChromium:
    """One headless Chromium on a web app at `url` (the MLflow UI, JupyterLab), with a fresh
    profile whose localStorage is seeded with `seed` (default: `ui_state()`, for the MLflow UI).

    with HeadlessChromium("http://127.0.0.1:5000", ui_state(["1"])) as ui:
        text = ui.open("/experiments", "nyc-taxi-experiment")
        ui.screenshot("imgs/experiments_list.png")
    """

    def __init__(
        self,
        url: str,
        seed: dict[str, str] | None = None,
        viewport: dict = VIEWPORT,
        timeout: float = 60.0,
    ):
        self.url = url.rstrip("/")
        self.seed = seed if seed is not None else ui_state()
        self.viewport = viewport
        self.timeout_ms = int(timeout * 1000)
        self._playwright = self._browser = self.page = None

    def __enter__(self) -> HeadlessChromium:
        from playwright.sync_api import sync_playwright

        executable = find_chromium()
        if executable is None:
            raise RuntimeError(why_no_browser())
        self._playwright = sync_playwright().start()
        try:
            # launch() gives every browser a new, empty profile in a temporary folder
            self._browser = self._playwright.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_FLAGS
            )
            context = self._browser.new_context(
                viewport=self.viewport, device_scale_factor=1, locale="en-US", timezone_id="UTC"
            )
            context.set_default_timeout(self.timeout_ms)
            # runs before the UI's own scripts on every page load
            context.add_init_script(
                "(seed => { for (const [k, v] of Object.entries(seed)) localStorage.setItem(k, v); })"
                f"({json.dumps(self.seed)})"
            )
            self.page = context.new_page()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the browser and stop Playwright's driver."""
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None

    def open(self, route: str, *texts: str) -> str:
        """Load `#<route>` (e.g. '/models'); wait until every one of `texts` shows; return the page's text."""
        self.page.goto(f"{self.url}/#{route}")
        return self.wait_for(*texts)

    def wait_for(self, *texts: str) -> str:
        """Wait until each of `texts` is visible somewhere on the page; return the page's text."""
        for text in texts:
            self.page.get_by_text(text, exact=False).first.wait_for(state="visible")
        self.page.evaluate("document.fonts.ready")
        return self.text()

    def text(self) -> str:
        """What the page shows, as text."""
        return self.page.inner_text("body")

    def screenshot(self, path: str | os.PathLike) -> Path:
        """A PNG of the window (the viewport's size) at `path`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.mouse.move(0, self.viewport["height"] - 1)  # no hover highlight in the picture
        self.page.screenshot(path=str(path), animations="disabled", caret="hide")
        return path
