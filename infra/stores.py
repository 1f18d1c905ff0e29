"""The stores a tracking server runs on: a sqlite file made once, a PostgreSQL database (07).

`create_database` / `drop_database` give each test its own database on the server named by
$MLFLOW_TEST_POSTGRES_URI (.ci/postgres.sh).
"""

from __future__ import annotations

import os
import urllib.parse
import uuid
from pathlib import Path

from helpers.tracking import mask_uri


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


def with_database(uri: str, name: str) -> str:
    """`uri` pointing at database `name`."""
    parts = urllib.parse.urlsplit(uri)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def create_database(base_uri: str, prefix: str) -> str:
    """CREATE DATABASE <prefix>_<random>; return its URI (tests; the CI role may create databases)."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base_uri, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(base_uri, name)


def drop_database(base_uri: str, uri: str) -> None:
    """DROP DATABASE (after its server has stopped)."""
    import psycopg

    name = urllib.parse.urlsplit(uri).path.lstrip("/")
    with psycopg.connect(base_uri, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
