"""JupyterLab for real: a private server on 127.0.0.1 and a notebook run by its own *Run All*.

Used by `tests/test_jupyterlab.py` (notebook 02 runs in headless Chromium, the page is checked)
and `scripts/screenshots.py` (imgs/jupyterlab.png). Nothing of the user's is touched and nothing
is written into the repository:

- the lab's root is a temporary folder holding a copy of the notebook under `notebooks/` (with
  the run's parameters injected after its `parameters` cell, as papermill does) and a copy of
  `imgs/`, so the notebook's pictures show as they do in the repository;
- Jupyter's config, data, runtime and settings folders and IPython's are temporary too, with
  settings for a quiet page (no news or update prompts) that keeps every cell in the DOM;
- the kernel is the `python3` of the environment that runs this module (the repository's .venv),
  so `import helpers` works and paths resolve against the repository root; it inherits `env`
  (e.g. MLFLOW_TRACKING_URI pointing at a temporary store);
- the server is started, waited for (`/api/status`) and stopped by infra.servers, as MLflow's
  are: a token and a free port, and always stopped: `/api/shutdown` (which shuts the kernels
  down), then SIGTERM, then SIGKILL to whatever it started and is still alive.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat

import helpers
from infra import browser, notebooks, servers

ROOT = helpers.repo_root()

# user settings of the lab (JUPYTERLAB_SETTINGS_DIR): no news or update prompts (they would ask
# the internet), no notifications over the page, every cell kept in the DOM (windowing off), so
# the page can be checked cell by cell
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
VIEWPORT = {"width": 1600, "height": 1000}


class LabStartError(servers.ServerStartError):
    """JupyterLab did not answer; the message ends with the tail of its log."""


def prepare_root(folder: Path, prefix: str = "02", **params) -> str:
    """A lab root in `folder`: notebook `prefix` (params injected) and imgs/; its path in the lab."""
    source = notebooks.notebook(prefix)
    nb = notebooks.with_parameters(source, params)
    (folder / "notebooks").mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "notebooks" / source.name)
    shutil.copytree(ROOT / "imgs", folder / "imgs", dirs_exist_ok=True)
    return f"notebooks/{source.name}"


def private_jupyter_env(folder: Path) -> dict[str, str]:
    """Environment variables that keep Jupyter's and IPython's state in `folder`, with LAB_SETTINGS."""
    env = {
        "JUPYTER_CONFIG_DIR": folder / "config",
        "JUPYTER_DATA_DIR": folder / "data",
        "JUPYTER_RUNTIME_DIR": folder / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": folder / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": folder / "lab-workspaces",
        "IPYTHONDIR": folder / "ipython",
    }
    for path in env.values():
        path.mkdir(parents=True, exist_ok=True)
    for name, values in LAB_SETTINGS.items():
        path = env["JUPYTERLAB_SETTINGS_DIR"] / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return {key: str(value) for key, value in env.items()}


@dataclass
class LabServer:
    """A running JupyterLab: the process (infra.servers.Server), its token and root folder."""

    server: servers.Server
    token: str
    root: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def started(self) -> list[int]:
        """The pids of the processes the lab started that were seen (its kernels)."""
        return self.server.started

    @property
    def killed(self) -> list[int]:
        """The pids that were still alive after the lab stopped, and had to be killed."""
        return self.server.killed

    def page_url(self, path: str = "") -> str:
        """The address of `path` in the lab (a notebook opens in it), with the token."""
        return f"{self.url}/lab/tree/{path}?token={self.token}"

    def log_tail(self, lines: int = 40) -> str:
        return self.server.log_tail(lines)

    def remember_children(self) -> None:
        """Note the processes the lab started (its kernels), to make sure they end with it."""
        self.server.remember_children()

    def stop(self, timeout: float = 20.0) -> int | None:
        """Shut the lab and its kernels down (/api/shutdown, then signals); return its exit code."""
        return self.server.stop(timeout)


def _api(url: str, token: str, route: str, method: str = "GET", timeout: float = 2) -> int:
    """The HTTP status of the lab's `route`, asked with the token."""
    request = urllib.request.Request(
        f"{url}{route}", method=method, headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        return resp.status


def _status_problem(token: str):
    """JupyterLab's readiness check for infra.servers: None once `/api/status` answers 200."""

    def problem(url: str) -> str | None:
        try:
            status = _api(url, token, "/api/status")
        except (urllib.error.URLError, OSError) as exc:
            return str(getattr(exc, "reason", exc))
        return None if status == 200 else f"HTTP {status}"

    return problem


def _lab_address(host: str, port: int) -> list[str]:
    """Where JupyterLab listens: its own options, and no port of its choosing (infra.servers picks)."""
    return [f"--ServerApp.ip={host}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]


@contextmanager
def jupyterlab(root: Path, state: Path, env: dict[str, str] | None = None, timeout: float = 120):
    """JupyterLab on 127.0.0.1 (free port, token) serving `root`; stopped on exit, whatever happened.

    `state` is a folder for Jupyter's own files (config, runtime, settings, the log
    jupyterlab.log); `env` is added to the environment of the server and of its kernels.
    """
    state.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",  # it would list extensions from PyPI
    ]
    if os.geteuid() == 0:  # containers and CI run as root, which Jupyter refuses unless told
        command.append("--allow-root")
    try:
        server = servers.launch(
            command,
            state,
            name="jupyterlab",
            env={**private_jupyter_env(state), **(env or {})},
            cwd=root,
            timeout=timeout,
            address=_lab_address,
            ready=_status_problem(token),
            shutdown=lambda url: _api(url, token, "/api/shutdown", "POST", timeout=5),
        )
    except servers.ServerStartError as exc:
        raise LabStartError(str(exc)) from None
    lab = LabServer(server, token, root)
    try:
        yield lab
    finally:
        lab.stop()


# --- the page: what JupyterLab shows, read from its DOM

# per code cell: its prompt ("[3]:", "[*]:", "[ ]:"), its stderr outputs, whether it shows an error
CELLS_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')].map(cell => ({
    prompt: (cell.querySelector('.jp-InputArea-prompt') || {}).innerText || '',
    stderr: [...cell.querySelectorAll(
        '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]')].map(e => e.innerText),
}))"""

# the kernel's state as the notebook's toolbar shows it ("idle", "busy", ...)
KERNEL_STATUS_JS = """() => {
    const el = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) '
        + '.jp-Notebook-ExecutionIndicator');
    return el ? (el.getAttribute('data-status') || '') : '';
}"""


def open_notebook(ui: browser.HeadlessChromium, lab: LabServer, path: str) -> None:
    """Open `path` in the lab and wait until its kernel is idle."""
    ui.page.goto(lab.page_url(path))
    ui.page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible")
    # the status bar says "Python 3 (ipykernel) | Idle" once the kernel has started and answered
    ui.page.locator(".jp-StatusBar-Widget", has_text="| Idle").first.wait_for(state="visible")
    ui.page.wait_for_function(f"() => ({KERNEL_STATUS_JS})() === 'idle'")
    lab.remember_children()


def run_all(ui: browser.HeadlessChromium, timeout: float = 600) -> list[dict]:
    """Run → Run All Cells from the menu bar; wait until no cell is pending and the kernel is idle.

    Returns each code cell's prompt and stderr texts as the page shows them (CELLS_JS).
    """
    page = ui.page
    # the notebook's tab: the notebook becomes the current widget, with no click inside a cell
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current").first.click()
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    # started: some cell is pending or numbered
    page.wait_for_function(
        f"() => ({CELLS_JS})().some(c => /\\[(\\*|\\d+)\\]/.test(c.prompt))",
        timeout=30_000,
    )
    # finished: nothing pending, the kernel idle
    page.wait_for_function(
        f"() => !({CELLS_JS})().some(c => c.prompt.includes('*'))"
        f" && ({KERNEL_STATUS_JS})() === 'idle'",
        timeout=timeout * 1000,
        polling=500,
    )
    return page.evaluate(CELLS_JS)


def rmse_table(ui: browser.HeadlessChromium) -> list[dict[str, str]]:
    """The rows of the output table with a `metrics.rmse` column (notebook 02's comparison)."""
    return ui.page.evaluate(
        """() => {
        for (const table of document.querySelectorAll('.jp-OutputArea-output table')) {
            const head = [...table.querySelectorAll('thead th')].map(th => th.innerText.trim());
            if (!head.includes('metrics.rmse')) continue;
            return [...table.querySelectorAll('tbody tr')].map(tr => {
                const cells = [...tr.children].map(td => td.innerText.trim());
                return Object.fromEntries(head.map((h, i) => [h || 'index', cells[i]]));
            });
        }
        return [];
    }"""
    )


def show_rmse_table(ui: browser.HeadlessChromium) -> None:
    """Scroll so that the RMSE comparison table sits in the middle of the window."""
    table = ui.page.locator(".jp-OutputArea-output table", has_text="metrics.rmse").first
    table.evaluate("t => t.scrollIntoView({block: 'center'})")
    ui.page.wait_for_timeout(500)
