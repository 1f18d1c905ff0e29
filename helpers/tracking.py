"""MLflow set-up as a call, never at import (notebook 01)."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

from helpers.paths import repo_root


class TrackingServerError(RuntimeError):
    """The tracking server named by TRACKING_URI does not answer."""


def default_tracking_uri() -> str:
    """`sqlite:///<repository root>/mlflow.db`, whatever the current directory (01)."""
    return f"sqlite:///{repo_root() / 'mlflow.db'}"


def check_tracking_server(uri: str, timeout: float = 5.0) -> None:
    """Raise a clear error when an http(s) tracking URI does not answer `/health` (01)."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as resp:
            if resp.status == 200:
                return
            cause = f"HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):  # a server with authentication answers, just not to us
            return
        cause = f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        cause = str(getattr(exc, "reason", exc))
    raise TrackingServerError(
        f"The MLflow tracking server at {uri} does not answer ({cause}). Start it "
        f"(e.g. `mlflow server --host 127.0.0.1 --port 5000`) or leave TRACKING_URI empty to "
        f"use the local mlflow.db."
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


def setup_mlflow(experiment_name: str, tracking_uri: str | None = None):
    """Point MLflow at `tracking_uri` (default: the repository's mlflow.db) and set the experiment (01)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()
    check_tracking_server(uri)
    mlflow.set_tracking_uri(uri)
    location = artifact_root(uri)
    client = mlflow.MlflowClient()
    if location and client.get_experiment_by_name(experiment_name) is None:
        try:
            client.create_experiment(experiment_name, artifact_location=location)
        except MlflowException:  # created meanwhile by another process: use that one
            pass
    return mlflow.set_experiment(experiment_name)
