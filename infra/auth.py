"""Basic authentication for `mlflow server --app-name basic-auth` (notebook 07 and the tests).

A config file with a chosen admin password (never readable by others), the server's environment,
new passwords, and talking to the server as one user or another.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from infra.env import environment


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


def credentials(username: str | None, password: str | None):
    """Talk to the server as `username` inside the block (None: anonymously), then restore (07)."""
    return environment({"MLFLOW_TRACKING_USERNAME": username, "MLFLOW_TRACKING_PASSWORD": password})


def http_status(url: str, path: str, auth: tuple[str, str] | None = None) -> int:
    """The HTTP status of a GET on the server, with or without basic auth (07)."""
    import requests

    return requests.get(f"{url.rstrip('/')}{path}", auth=auth, timeout=10).status_code
