"""Start and stop real `mlflow server` processes on 127.0.0.1 (notebooks 07 and 08, and the tests).

A server gets a free port, keeps its log in a file, is ready when `/health` answers, and is
stopped with SIGTERM to its whole process group (the CLI and its uvicorn workers).
"""

from __future__ import annotations

import atexit
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from helpers.paths import display_path

_RUNNING: weakref.WeakSet = weakref.WeakSet()


# MLflow 3's server also starts a job runner (about eight more Python processes, for GenAI
# evaluation jobs) that tracking and the registry do not use: off, unless env turns it back on.
JOBS_OFF = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


class ServerStartError(RuntimeError):
    """An `mlflow server` did not become ready; the message ends with the tail of its log."""


class ExposedServerWarning(UserWarning):
    """A server asked to listen beyond this machine: anyone who reaches it reads the store."""


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


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
class MlflowServer:
    """A running `mlflow server`: its URL, process and log file (07)."""

    url: str
    process: subprocess.Popen
    log_path: Path
    command: list[str] = field(repr=False)

    @property
    def port(self) -> int:
        return urllib.parse.urlparse(self.url).port

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log, for error messages (07)."""
        return _tail(self.log_path, lines)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM to the server's process group, SIGKILL after `timeout` s; return its exit code (07)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        # the command may exit before the process that serves (uvicorn, gunicorn) lets go of the
        # port: wait until nothing answers there, so a restart on the same port reaches a new one
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _answers(self.url):
            time.sleep(0.1)
        _RUNNING.discard(self)
        return self.process.returncode

    def __enter__(self) -> MlflowServer:
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
    """Never leave a server behind when the kernel or the test process exits."""
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
) -> float:
    """Poll `<url>/health` until it answers 200; return the seconds waited (07)."""
    start = time.perf_counter()
    cause = "no answer yet"
    while time.perf_counter() - start < timeout:
        if process is not None and process.poll() is not None:
            raise ServerStartError(
                f"mlflow server exited with code {process.returncode} before answering /health. "
                f"Its log ({log_path.name if log_path else 'not kept'}) ends with:\n"
                f"{_tail(log_path) if log_path else ''}"
            )
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return time.perf_counter() - start
                cause = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            cause = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            cause = str(getattr(exc, "reason", exc))
        time.sleep(0.25)
    raise ServerStartError(
        f"mlflow server at {url} did not answer /health within {timeout:.0f} s ({cause}). "
        f"Its log ends with:\n{_tail(log_path) if log_path else ''}"
    )


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
) -> MlflowServer:
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
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    destination = str(artifacts_destination)
    if "://" not in destination:
        Path(destination).mkdir(parents=True, exist_ok=True)
        destination = str(Path(destination).resolve())
    log_path = log_dir / f"{name}.log"
    for attempt in range(3):
        chosen = port or free_port(host)
        command = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            host,
            "--port",
            str(chosen),
            "--workers",
            str(workers),
            "--backend-store-uri",
            backend_store_uri,
            "--artifacts-destination",
            destination,
        ]
        if app_name:
            command += ["--app-name", app_name]
        command += list(extra_args or [])
        log = open(log_path, "ab")  # noqa: SIM115 - the child keeps it open
        try:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **JOBS_OFF, **(env or {})},
                start_new_session=True,
                cwd=log_dir,
            )
        finally:
            log.close()
        server = MlflowServer(f"http://{host}:{chosen}", process, log_path, command)
        _RUNNING.add(server)
        try:
            wait_until_ready(server.url, timeout, process, log_path)
            return server
        except ServerStartError:
            server.stop(timeout=10)
            in_use = "address already in use" in _tail(log_path, 20).lower()
            if port is None and in_use and attempt < 2:
                continue  # another program took the port between our check and the bind
            raise
    raise AssertionError("unreachable")


def start_model_server(
    model_uri: str,
    log_dir: str | os.PathLike,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    timeout: float = 120.0,
    name: str = "model-server",
) -> MlflowServer:
    """`mlflow models serve -m <model_uri> --env-manager local`; wait for its `/health` (06).

    The model is resolved through the current MLFLOW_TRACKING_URI (a `models:/name@alias` URI is
    looked up in the registry at start), so moving the alias takes effect at the next start.
    """
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    chosen = port or free_port(host)
    command = [
        sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri,
        "--env-manager", "local", "--host", host, "--port", str(chosen), "--workers", "1",
    ]  # fmt: skip
    path = os.environ.get("PATH", "")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # the scoring server runs `uvicorn` by name: this Python's scripts must be on PATH
            env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{path}"},
            start_new_session=True,
            cwd=log_dir,
        )
    server = MlflowServer(f"http://{host}:{chosen}", process, log_path, command)
    _RUNNING.add(server)
    try:
        wait_until_ready(server.url, timeout, process, log_path)
    except ServerStartError as exc:
        server.stop(timeout=10)
        raise ServerStartError(f"The model server for {model_uri} did not start. {exc}") from None
    return server


def sqlite_uri(path: str | os.PathLike) -> str:
    """`sqlite:///<absolute path>` for a database file (07)."""
    return f"sqlite:///{Path(path).resolve()}"


def prepare_sqlite(path: str | os.PathLike) -> str:
    """Create (or upgrade) a sqlite tracking database once, before servers or workers open it (07)."""
    uri = sqlite_uri(path)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    SqlAlchemyStore(uri, str(Path(path).parent / "mlartifacts")).engine.dispose()
    return uri


# --- basic authentication (07)


def write_auth_config(
    folder: str | os.PathLike,
    admin_password: str,
    default_permission: str = "READ",
    cache_seconds: int = 0,
) -> Path:
    """An auth config for `--app-name basic-auth`: user database in `folder`, a chosen admin password (07).

    Checking a password costs tens of milliseconds of CPU (scrypt) on every request;
    `cache_seconds` > 0 lets each server worker remember a successful check for that long.
    """
    if len(admin_password) < 12 or admin_password == "password1234":
        raise ValueError(
            "The admin password must have 12 characters or more and not be the documented default."
        )
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "basic_auth.ini"
    text = (
        "[mlflow]\n"
        f"default_permission = {default_permission}\n"
        f"database_uri = sqlite:///{folder / 'basic_auth.db'}\n"
        "admin_username = admin\n"
        f"admin_password = {admin_password}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        f"auth_cache_ttl_seconds = {int(cache_seconds)}\n"
    )
    # The password file is never readable by others, not even for a moment: mkstemp creates it
    # with mode 0600 (whatever the umask), then it replaces any older file in one step.
    fd, tmp = tempfile.mkstemp(prefix=".basic_auth.", suffix=".ini", dir=folder)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def auth_server_env(auth_config: str | os.PathLike) -> dict[str, str]:
    """Environment for a basic-auth server: its config file and a fresh Flask secret key (07)."""
    return {
        "MLFLOW_AUTH_CONFIG_PATH": str(Path(auth_config).resolve()),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(32),
    }


def new_password() -> str:
    """A random password of 24 characters (07)."""
    return secrets.token_urlsafe(18)


@contextmanager
def credentials(username: str | None, password: str | None):
    """Talk to the server as `username` inside the block (None: anonymously), then restore (07)."""
    keys = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
    saved = {k: os.environ.get(k) for k in keys}
    try:
        for key, value in zip(keys, (username, password), strict=True):
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def http_status(url: str, path: str, auth: tuple[str, str] | None = None) -> int:
    """The HTTP status of a GET on the server, with or without basic auth (07)."""
    import requests

    return requests.get(f"{url.rstrip('/')}{path}", auth=auth, timeout=10).status_code


# --- PostgreSQL (07)

POSTGRES_ENV = ("MLFLOW_POSTGRES_URI", "MLFLOW_TEST_POSTGRES_URI")

START_POSTGRES_HINT = """\
No PostgreSQL is reachable, so scenario 3 is skipped. To run it, start one and give its URI:
  docker run -d --name mlflow-pg -p 127.0.0.1:5432:5432 -e POSTGRES_USER=mlflow \\
      -e POSTGRES_PASSWORD=<choose one> -e POSTGRES_DB=mlflow postgres:15
  (or: sudo apt-get install postgresql, then create a user and a database `mlflow`)
then set POSTGRES_URI = "postgresql://mlflow:<password>@127.0.0.1:5432/mlflow"
(or export MLFLOW_POSTGRES_URI) and run the notebook again."""


def postgres_uri(uri: str | None = None) -> str | None:
    """The PostgreSQL URI to use: `uri`, else $MLFLOW_POSTGRES_URI or $MLFLOW_TEST_POSTGRES_URI (07)."""
    if uri:
        return uri
    for name in POSTGRES_ENV:
        if os.environ.get(name):
            return os.environ[name]
    return None


def mask_uri(uri: str) -> str:
    """A database URI with its password replaced by *** (safe to print) (07)."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def check_postgres(uri: str | None, timeout: float = 5.0) -> str | None:
    """None when PostgreSQL at `uri` accepts a connection, else the reason it cannot be used (07)."""
    if not uri:
        return (
            "no POSTGRES_URI given and neither "
            + " nor ".join(f"${n}" for n in POSTGRES_ENV)
            + " is set"
        )
    try:
        import psycopg
    except ImportError:
        return 'the PostgreSQL driver is not installed: pip install "psycopg[binary]"'
    plain = uri.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        with psycopg.connect(plain, connect_timeout=int(timeout)) as conn:
            conn.execute("select 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable"
        return f"{mask_uri(uri)} does not accept connections ({type(exc).__name__})"
    return None


def postgres_version(uri: str) -> str:
    """The server's version string, e.g. 'PostgreSQL 15.18' (07)."""
    import psycopg

    with psycopg.connect(uri.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        return "PostgreSQL " + conn.execute("show server_version").fetchone()[0].split()[0]


def describe(server: MlflowServer) -> str:
    """One line about a server, with no machine path: URL and log file name (07)."""
    return f"mlflow server at {server.url} (pid {server.process.pid}, log {server.log_path.name})"


__all__ = [
    "ExposedServerWarning",
    "MlflowServer",
    "ServerStartError",
    "auth_server_env",
    "check_postgres",
    "credentials",
    "describe",
    "display_path",
    "free_port",
    "http_status",
    "mask_uri",
    "new_password",
    "postgres_uri",
    "postgres_version",
    "prepare_sqlite",
    "sqlite_uri",
    "start_mlflow_server",
    "wait_until_ready",
    "write_auth_config",
]
