"""A fresh PostgreSQL database per test, on the server named by $MLFLOW_TEST_POSTGRES_URI (.ci/postgres.sh)."""

from __future__ import annotations

import urllib.parse
import uuid


def with_database(uri: str, name: str) -> str:
    """`uri` pointing at database `name`."""
    parts = urllib.parse.urlsplit(uri)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def create_database(base_uri: str, prefix: str) -> str:
    """CREATE DATABASE <prefix>_<random>; return its URI (the CI role may create databases)."""
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
