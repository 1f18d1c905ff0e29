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
- the server has a token and a free port, and is always stopped: `/api/shutdown` (which shuts
  the kernels down), then SIGTERM, then SIGKILL to whatever it started and is still alive.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

import helpers
from infra import browser, servers

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


class LabStartError(RuntimeError):
    """JupyterLab did not answer; the message ends with the tail of its log."""


def prepare_root(folder: Path, prefix: str = "02", **params) -> str:
    """A lab root in `folder`: notebook `prefix` (params injected) and imgs/; its path in the lab."""
    from papermill.parameterize import parameterize_notebook

    (source,) = sorted((ROOT / "notebooks").glob(f"{prefix}-*.ipynb"))
    nb = nbformat.read(source, as_version=4)
    if params:
        # papermill expects the metadata its own runs leave; cleaned notebooks drop empty tags
        nb.metadata.setdefault("papermill", {})
        for cell in nb.cells:
            cell.metadata.setdefault("tags", [])
        nb = parameterize_notebook(nb, params)
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
    """A running JupyterLab: its base URL, token, root folder, process and log."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log_path: Path
    started: list[int] = field(default_factory=list)  # pids of its children (kernels) seen

    def page_url(self, path: str = "") -> str:
        """The address of `path` in the lab (a notebook opens in it), with the token."""
        return f"{self.url}/lab/tree/{path}?token={self.token}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def remember_children(self) -> None:
        """Note the processes the server started (its kernels), to make sure they end with it."""
        import psutil

        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return
        self.started.extend(p.pid for p in children if p.pid not in self.started)

    def stop(self, timeout: float = 20.0) -> list[int]:
        """Shut the lab and its kernels down; return the pids that had to be killed."""
        import psutil

        if self.process.poll() is None:
            self.remember_children()
            request = urllib.request.Request(
                f"{self.url}/api/shutdown",
                method="POST",
                headers={"Authorization": f"token {self.token}"},
            )
            try:
                urllib.request.urlopen(request, timeout=5).close()
                self.process.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGTERM)
                    self.process.wait(timeout)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(self.process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    self.process.wait(10)
        killed = []
        for pid in self.started:  # kernels run in sessions of their own: SIGKILL any left
            try:
                proc = psutil.Process(pid)
                proc.wait(5)
            except psutil.NoSuchProcess:
                continue
            except psutil.TimeoutExpired:
                proc.kill()
                killed.append(pid)
        return killed


@contextmanager
def jupyterlab(root: Path, state: Path, env: dict[str, str] | None = None, timeout: float = 120):
    """JupyterLab on 127.0.0.1 (free port, token) serving `root`; stopped on exit, whatever happened.

    `state` is a folder for Jupyter's own files (config, runtime, settings, the log); `env` is
    added to the environment of the server and of its kernels.
    """
    state.mkdir(parents=True, exist_ok=True)
    port, token = servers.free_port(), secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",  # it would list extensions from PyPI
    ]
    if os.geteuid() == 0:  # containers and CI run as root, which Jupyter refuses unless told
        command.append("--allow-root")
    log_path = state / "jupyterlab.log"
    full_env = {**os.environ, **private_jupyter_env(state), **(env or {})}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    lab = LabServer(f"http://127.0.0.1:{port}", token, root, process, log_path)
    try:
        wait_until_ready(lab, timeout)
        yield lab
    finally:
        lab.stop()


def wait_until_ready(lab: LabServer, timeout: float) -> float:
    """Poll the lab's `/api/status` (with the token) until it answers; return the seconds waited."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if lab.process.poll() is not None:
            raise LabStartError(
                f"jupyter lab exited with code {lab.process.returncode}. Its log ends with:\n"
                f"{lab.log_tail()}"
            )
        request = urllib.request.Request(
            f"{lab.url}/api/status", headers={"Authorization": f"token {lab.token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=2) as resp:
                if resp.status == 200:
                    return time.perf_counter() - start
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise LabStartError(
        f"jupyter lab did not answer within {timeout:.0f} s. Its log ends with:\n{lab.log_tail()}"
    )


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


def open_notebook(ui: browser.MlflowUI, lab: LabServer, path: str) -> None:
    """Open `path` in the lab and wait until its kernel is idle."""
    ui.page.goto(lab.page_url(path))
    ui.page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible")
    # the status bar says "Python 3 (ipykernel) | Idle" once the kernel has started and answered
    ui.page.locator(".jp-StatusBar-Widget", has_text="| Idle").first.wait_for(state="visible")
    ui.page.wait_for_function(f"() => ({KERNEL_STATUS_JS})() === 'idle'")
    lab.remember_children()


def run_all(ui: browser.MlflowUI, timeout: float = 600) -> list[dict]:
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


def rmse_table(ui: browser.MlflowUI) -> list[dict[str, str]]:
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


def show_rmse_table(ui: browser.MlflowUI) -> None:
    """Scroll so that the RMSE comparison table sits in the middle of the window."""
    table = ui.page.locator(".jp-OutputArea-output table", has_text="metrics.rmse").first
    table.evaluate("t => t.scrollIntoView({block: 'center'})")
    ui.page.wait_for_timeout(500)


def shoot(out: Path, params: dict[str, object], env: dict[str, str], timeout: float = 600) -> Path:
    """imgs/jupyterlab.png: notebook 02 run by Run All in JupyterLab, the RMSE table in view."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="jupyterlab-shot-") as tmp:
        tmp = Path(tmp)
        root = tmp / "course"
        path = prepare_root(root, "02", **params)
        env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}", **env}
        with jupyterlab(root, tmp / "jupyter", env) as lab:
            with browser.MlflowUI(lab.url, seed={}, viewport=VIEWPORT, timeout=120) as ui:
                open_notebook(ui, lab, path)
                cells = run_all(ui, timeout)
                errors = [c for c in cells if any("Traceback" in s for s in c["stderr"])]
                if errors or not rmse_table(ui):
                    raise RuntimeError(f"notebook 02 did not run cleanly in JupyterLab: {errors}")
                show_rmse_table(ui)
                path = ui.screenshot(Path(out) / "jupyterlab.png")
    return path
