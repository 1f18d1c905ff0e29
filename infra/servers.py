"""Start, wait for, log and stop every process the course starts on 127.0.0.1.

`mlflow server`, `mlflow models serve`, `mlflow ui` (notebooks 06-09, scripts/screenshots.py, the
tests) and JupyterLab (infra/lab.py) all go through one function, `launch`: a free port (chosen
again when another program takes it between the check and the bind), the log in a file, ready
when the readiness check passed in says so (MLflow: `/health`, `helpers.tracking.health_problem`;
JupyterLab: `/api/status`), stopped with an optional polite request, then SIGTERM and SIGKILL to
its whole process group (the CLI and its workers) and to any descendant that left the group
(Jupyter's kernels), and stopped at exit should its owner forget.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from helpers.tracking import health_problem, mask_uri

_RUNNING: weakref.WeakSet = weakref.WeakSet()


# MLflow 3's server also starts a job runner (about eight more Python processes, for GenAI
# evaluation jobs) that tracking and the registry do not use: off, unless env turns it back on.
JOBS_OFF = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


class ServerStartError(RuntimeError):
    """A process did not become ready; the message ends with the tail of its log."""


class ExposedServerWarning(UserWarning):
    """A server asked to listen beyond this machine: anyone who reaches it reads the store."""


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")

# how `launch` tells a command where to listen: MLflow's CLIs take --host and --port
Address = Callable[[str, int], list[str]]
# a readiness check: None when the process at this URL is ready, else why not (shown on timeout)
Ready = Callable[[str], "str | None"]


def mlflow_address(host: str, port: int) -> list[str]:
    """`--host <host> --port <port>`, as `mlflow server`, `mlflow ui` and `mlflow models serve` take."""
    return ["--host", host, "--port", str(port)]


def mlflow_health(url: str) -> str | None:
    """None when `<url>/health` answers, else why not: MLflow's readiness check."""
    return health_problem(url, timeout=2)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (07)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Server:
    """A running process the course started: its URL, process, log file, and how to stop it (07)."""

    url: str
    process: subprocess.Popen
    log_path: Path
    command: list[str] = field(repr=False)
    # asked first when stopping (JupyterLab's /api/shutdown, which also ends its kernels)
    shutdown: Callable[[], None] | None = field(default=None, repr=False)
    started: list[int] = field(default_factory=list)  # pids of descendants seen (kernels, workers)
    killed: list[int] = field(default_factory=list)  # descendants still alive after the stop
    ready: bool = False  # it answered its readiness check (so the port is its own)

    @property
    def port(self) -> int:
        return urllib.parse.urlparse(self.url).port

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the process's log, for error messages (07)."""
        return _tail(self.log_path, lines)

    def remember_children(self) -> None:
        """Note the processes this one started so far, so that they end with it."""
        import psutil

        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return
        self.started.extend(p.pid for p in children if p.pid not in self.started)

    def stop(self, timeout: float = 30.0) -> int | None:
        """Stop the process and everything it started; return its exit code (07).

        The polite request first (if any), then SIGTERM to the process group and SIGKILL after
        `timeout` s; descendants that run in sessions of their own and outlive it are killed
        (their pids land in `killed`).
        """
        if self.process.poll() is None:
            self.remember_children()
            if self.shutdown is not None:
                try:
                    self.shutdown()
                    self.process.wait(timeout)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            self._signal_group(timeout)
        self._end_descendants()
        # the command may exit before the process that serves (uvicorn, gunicorn) lets go of the
        # port: wait until nothing answers there, so a restart on the same port reaches a new one
        # (not after a start that failed: then what answers there may be another program)
        deadline = time.monotonic() + timeout
        while self.ready and time.monotonic() < deadline and _answers(self.url):
            time.sleep(0.1)
        _RUNNING.discard(self)
        return self.process.returncode

    def _signal_group(self, timeout: float) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(10)

    def _end_descendants(self) -> None:
        import psutil

        for pid in self.started:
            try:
                proc = psutil.Process(pid)
                proc.wait(5)
            except psutil.NoSuchProcess:
                continue
            except psutil.TimeoutExpired:
                proc.kill()
                self.killed.append(pid)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __hash__(self) -> int:
        return id(self)


def _answers(url: str) -> bool:
    """Whether something accepts TCP connections at the host and port of `url`."""
    parsed = urllib.parse.urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=0.5):
            return True
    except OSError:
        return False


@atexit.register
def _stop_all() -> None:
    """Never leave a process behind when the kernel or the test process exits."""
    for server in list(_RUNNING):
        try:
            server.stop(timeout=10)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def wait_until_ready(
    url: str,
    timeout: float = 90.0,
    process: subprocess.Popen | None = None,
    log_path: Path | None = None,
    ready: Ready = mlflow_health,
) -> float:
    """Poll `ready(url)` until it returns None; return the seconds waited (07).

    Fails at once, with the tail of the log, when the process exits first.
    """
    program = _program(process)
    start = time.perf_counter()
    cause = "no answer yet"
    while time.perf_counter() - start < timeout:
        if process is not None and process.poll() is not None:
            raise ServerStartError(
                f"{program} exited with code {process.returncode} before it was ready. Its log "
                f"({log_path.name if log_path else 'not kept'}) ends with:\n"
                f"{_tail(log_path) if log_path else ''}"
            )
        cause = ready(url)
        if cause is None:
            return time.perf_counter() - start
        time.sleep(0.25)
    log = _tail(log_path) if log_path else ""
    raise ServerStartError(
        f"{program} at {url} was not ready within {timeout:.0f} s ({cause}). "
        f"Its log ends with:\n{log}"
    )


def _program(process: subprocess.Popen | None) -> str:
    """'mlflow server', 'mlflow models serve', 'jupyter lab': the command's words after `-m`."""
    args = [str(a) for a in (getattr(process, "args", None) or [])]
    if "-m" not in args:
        return "the server"
    words = args[args.index("-m") + 1 :]
    return " ".join(words[: 3 if words[1:2] == ["models"] else 2])


def launch(
    command: list[str],
    log_dir: str | os.PathLike,
    *,
    name: str,
    host: str = "127.0.0.1",
    port: int | None = None,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
    timeout: float = 90.0,
    address: Address = mlflow_address,
    ready: Ready = mlflow_health,
    shutdown: Callable[[str], None] | None = None,
) -> Server:
    """Run `command + address(host, port)` in its own process group; wait until `ready` (07).

    The log goes to `<log_dir>/<name>.log` (kept after the process stops); the process starts in
    `cwd` (default `log_dir`). With no `port`, a free one is chosen, and chosen again should
    another program take it between the check and the bind. `shutdown(url)`, if given, is the
    polite stop tried before the signals.
    """
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    # `mlflow models serve` runs `uvicorn` by name: this Python's scripts must be on PATH
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    for attempt in range(3):
        chosen = port or free_port(host)
        full = [*command, *address(host, chosen)]
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                full,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PATH": path, **JOBS_OFF, **(env or {})},
                start_new_session=True,
                cwd=cwd or log_dir,
            )
        url = f"http://{host}:{chosen}"
        polite = (lambda u=url: shutdown(u)) if shutdown else None
        server = Server(url, process, log_path, full, shutdown=polite)
        _RUNNING.add(server)
        try:
            wait_until_ready(server.url, timeout, process, log_path, ready)
            server.ready = True
            return server
        except ServerStartError:
            server.stop(timeout=10)
            # "Address already in use" (uvicorn), "The port ... is already in use" (Jupyter)
            in_use = "already in use" in _tail(log_path, 20).lower()
            if port is None and in_use and attempt < 2:
                continue
            raise
    raise AssertionError("unreachable")


def start_mlflow_server(
    backend_store_uri: str,
    artifacts_destination: str | os.PathLike,
    log_dir: str | os.PathLike,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    workers: int = 1,
    app_name: str | None = None,
    env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    timeout: float = 90.0,
    name: str = "mlflow-server",
) -> Server:
    """Start `mlflow server` on a free port with served artifacts; wait for `/health` (07).

    `artifacts_destination` is a folder (or any URI the server understands, e.g. s3://...);
    clients upload and download artifacts through the server, so they need no access to it.
    The log goes to `<log_dir>/<name>.log` and is kept after the server stops.
    A `host` other than 127.0.0.1 / localhost warns (ExposedServerWarning): the store is then
    open to the network.
    """
    if host not in LOCAL_HOSTS:
        protection = (
            "only the basic-auth passwords protect it"
            if app_name == "basic-auth"
            else "with no password: anyone can read, change and delete runs and models"
        )
        warnings.warn(
            f"mlflow server on {host} listens beyond this machine: it exposes its tracking store "
            f"({mask_uri(backend_store_uri)}) and artifacts to every computer that can reach "
            f"this one, {protection}. Use host='127.0.0.1' unless others must connect, and then "
            f"put it behind authentication (app_name='basic-auth') and a firewall.",
            ExposedServerWarning,
            stacklevel=2,
        )
    destination = str(artifacts_destination)
    if "://" not in destination:
        Path(destination).mkdir(parents=True, exist_ok=True)
        destination = str(Path(destination).resolve())
    command = [
        sys.executable, "-m", "mlflow", "server", "--workers", str(workers),
        "--backend-store-uri", backend_store_uri, "--artifacts-destination", destination,
    ]  # fmt: skip
    if app_name:
        command += ["--app-name", app_name]
    command += list(extra_args or [])
    return launch(command, log_dir, name=name, host=host, port=port, env=env, timeout=timeout)


def start_model_server(
    model_uri: str,
    log_dir: str | os.PathLike,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    timeout: float = 120.0,
    name: str = "model-server",
) -> Server:
    """`mlflow models serve -m <model_uri> --env-manager local`; wait for its `/health` (06).

    The model is resolved through the current MLFLOW_TRACKING_URI (a `models:/name@alias` URI is
    looked up in the registry at start), so moving the alias takes effect at the next start.
    """
    command = [
        sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri,
        "--env-manager", "local", "--workers", "1",
    ]  # fmt: skip
    try:
        return launch(command, log_dir, name=name, host=host, port=port, timeout=timeout)
    except ServerStartError as exc:
        raise ServerStartError(f"The model server for {model_uri} did not start. {exc}") from None


def describe(server: Server) -> str:
    """One line about a server, with no machine path: URL and log file name (07)."""
    return f"mlflow server at {server.url} (pid {server.process.pid}, log {server.log_path.name})"
