"""MLflow set-up as a call, never at import (notebook 01)."""

from __future__ import annotations

import difflib
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from helpers.paths import repo_root


class TrackingServerError(RuntimeError):
    """The tracking server named by TRACKING_URI does not answer."""


class TrackingUriError(ValueError):
    """TRACKING_URI is not something MLflow can track to."""


# The schemes MLflow 3 has a tracking store for (its error for another lists the same ones, but
# only at the first call that needs the store, deep inside MLflow): checked at set-up instead.
# A database scheme may name its driver: postgresql+psycopg://, mysql+pymysql://, ...
TRACKING_SCHEMES = (
    "sqlite",
    "http",
    "https",
    "postgresql",
    "mysql",
    "mssql",
    "file",
    "databricks",
    "databricks-uc",
    "uc",
)

# MLflow's HTTP client retries a request that gets no answer 7 times with growing waits (about
# 4 minutes); a notebook whose server has died would look frozen. Set-up makes it give up in
# seconds instead (the values stay yours when these variables are already set).
FAIL_FAST_HTTP = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


def mask_uri(uri: str) -> str:
    """A URI with its password replaced by *** (safe to print) (07)."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def check_tracking_uri(uri: str) -> str:
    """Return `uri`, or raise TrackingUriError when MLflow has no store for its scheme (01).

    A plain path (no scheme) is MLflow's file store, which MLflow 3 refuses unless
    MLFLOW_ALLOW_FILE_STORE is set: an error here too, in that case only.
    """
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", uri)
    scheme = match.group(1).lower() if match and "://" in uri else ""
    base = scheme.split("+", 1)[0]
    if base in TRACKING_SCHEMES or uri in ("databricks", "databricks-uc", "uc"):
        return uri
    allow_files = os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").lower() in ("1", "true")
    if not scheme and allow_files:
        return uri
    shown = mask_uri(uri)
    close = difflib.get_close_matches(base, TRACKING_SCHEMES, n=1, cutoff=0.5)
    guess = f" Did you mean {close[0]}://?" if close else ""
    what = f"an unknown scheme {scheme!r}" if scheme else "no scheme"
    raise TrackingUriError(
        f"TRACKING_URI {shown!r} has {what}: MLflow cannot track to it.{guess} Use "
        f"sqlite:///path/to/mlflow.db (a file on this machine), http://host:port (a tracking "
        f"server) or postgresql://user:password@host:port/db; or leave TRACKING_URI empty to "
        f"use the repository's mlflow.db."
    )


def fail_fast_http(environ: dict | None = None) -> dict[str, str]:
    """Make MLflow's HTTP client give up within seconds on a dead server (FAIL_FAST_HTTP) (01).

    Variables already set are kept. Returns the values in force.
    """
    environ = os.environ if environ is None else environ
    for key, value in FAIL_FAST_HTTP.items():
        environ.setdefault(key, value)
    return {key: environ[key] for key in FAIL_FAST_HTTP}


def default_tracking_uri() -> str:
    """`sqlite:///<repository root>/mlflow.db`, whatever the current directory (01)."""
    return f"sqlite:///{repo_root() / 'mlflow.db'}"


def health_problem(url: str, timeout: float = 5.0) -> str | None:
    """None when the server at `url` answers `/health`, else why not (01; servers poll it too).

    A 401 or 403 counts as an answer: a server with authentication is up, just not open to us.
    """
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=timeout) as resp:
            return None if resp.status == 200 else f"HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        return None if exc.code in (401, 403) else f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return str(getattr(exc, "reason", exc))


START_SERVER_HINT = (
    "Start it (e.g. `mlflow server --host 127.0.0.1 --port 5000`) or leave TRACKING_URI empty "
    "to use the local mlflow.db."
)


def check_tracking_server(uri: str, timeout: float = 5.0, hint: str = START_SERVER_HINT) -> None:
    """Raise a clear error, ending with `hint`, when an http(s) URI does not answer `/health` (01)."""
    if not uri.startswith(("http://", "https://")):
        return
    cause = health_problem(uri, timeout)
    if cause is not None:
        raise TrackingServerError(
            f"The MLflow tracking server at {uri} does not answer ({cause}). {hint}"
        )


def artifact_root(tracking_uri: str) -> str | None:
    """Where a new experiment of a sqlite store keeps artifacts: `mlruns/` beside the database (01).

    Without it MLflow uses `./mlruns` of the *current directory*, so a notebook started from
    `notebooks/` and `mlflow ui` started from the root would disagree. Servers decide for
    themselves (None).
    """
    if not tracking_uri.startswith("sqlite:///"):
        return None
    db = Path(tracking_uri[len("sqlite:///") :])
    return (db.parent / "mlruns").resolve().as_uri()


def prepare_tracking(tracking_uri: str | None, experiment_name: str) -> str:
    """The tracking URI to use, checked, with `experiment_name` created if missing (02).

    `tracking_uri` None means $MLFLOW_TRACKING_URI, else the repository's mlflow.db. A URI MLflow
    has no store for is refused here, with what to write instead; for a server, MLflow's HTTP
    client is set to fail within seconds when the server stops (FAIL_FAST_HTTP). A new experiment
    of a sqlite store keeps its artifacts beside the database (`artifact_root`): `set_experiment`
    alone would put them in `./mlruns` of whatever folder the kernel started in. MLflow's global
    state is left alone: the notebook's own `mlflow.set_tracking_uri` and `set_experiment` follow.
    """
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()
    check_tracking_uri(uri)  # before importing MLflow (about a second): a typo fails at once
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    if uri.startswith(("http://", "https://")):
        fail_fast_http()
    check_tracking_server(uri)
    location = artifact_root(uri)
    client = MlflowClient(uri)
    if location and client.get_experiment_by_name(experiment_name) is None:
        try:
            client.create_experiment(experiment_name, artifact_location=location)
        except MlflowException:  # created meanwhile by another process: use that one
            pass
    return uri


def setup_mlflow(experiment_name: str, tracking_uri: str | None = None):
    """`prepare_tracking`, then `mlflow.set_tracking_uri` and `mlflow.set_experiment` (01).

    Notebook 02 writes the two MLflow calls out; the later notebooks make them in this one call.
    """
    import mlflow

    mlflow.set_tracking_uri(prepare_tracking(tracking_uri, experiment_name))
    return mlflow.set_experiment(experiment_name)
