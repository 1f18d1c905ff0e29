"""Two pictures `make screenshots` adds to imgs/: system metrics in the MLflow UI, and JupyterLab.

- system-metrics.png: the *System metrics* tab of notebook 03's hyperopt parent run (it logs with
  `log_system_metrics=True`, one sample a second), filtered to the CPU and memory charts.
- jupyterlab.png: notebook 02 run by JupyterLab's own Run All in headless Chromium, the RMSE
  comparison table in view (infra/lab.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from infra import browser
from infra import lab as lab_session

# the charts' search box takes a regular expression: CPU and memory, not disk and network
SYSTEM_CHARTS = "cpu|memory"


def system_metrics(
    ui: browser.MlflowUI, experiment_id: str, run_id: str, shot: Callable[[str], None]
) -> None:
    """system-metrics.png: the System metrics tab of run `run_id`, CPU and memory charts only."""
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


def jupyterlab(out: Path, data_source: str, data_dir: Path, synthetic_rows: int | None) -> Path:
    """jupyterlab.png: notebook 02 on the screenshots' data, run in JupyterLab by Run All."""
    params: dict[str, object] = {"DATA_SOURCE": data_source, "DATA_DIR": str(data_dir)}
    if data_source == "synthetic" and synthetic_rows:
        params["SYNTHETIC_ROWS"] = synthetic_rows
    # quiet MLflow, and a neutral user name, as for the notebooks of the other pictures
    env = {"MLFLOW_LOGGING_LEVEL": "WARNING", "USER": "learner", "LOGNAME": "learner"}
    path = lab_session.shoot(out, params, env)
    print(f"    imgs/{path.name}", flush=True)
    return path
