"""Real `mlflow server` processes on 127.0.0.1: lifecycle, basic auth (on SQLite and on PostgreSQL),
and many writers on PostgreSQL. Without a PostgreSQL ($MLFLOW_TEST_POSTGRES_URI, which .ci/run
sets) the PostgreSQL tests are skipped with the reason, and fail under CI=true."""

from __future__ import annotations

import multiprocessing
import os
import socket
import stat
import subprocess
import sys
import time
import warnings
from pathlib import Path

import psutil
import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException

from infra import auth, servers, stores
from tests.support import require

WORKERS, RUNS_PER_WORKER, METRICS_PER_RUN = 8, 20, 10


def test_server_starts_on_a_free_port_and_stops_with_sigterm(tmp_path):
    uri = stores.prepare_sqlite(tmp_path / "mlflow.db")
    server = servers.start_mlflow_server(uri, tmp_path / "artifacts", tmp_path, name="lifecycle")
    try:
        assert server.url.startswith("http://127.0.0.1:") and server.running
        assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
        client = MlflowClient(server.url)
        run = client.create_run(client.create_experiment("lifecycle"))
        client.log_text(run.info.run_id, "hello", "notes/hello.txt")
        assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
        assert list((tmp_path / "artifacts").rglob("hello.txt")), (
            "artifacts not served to the folder"
        )
    finally:
        print(server.log_tail(20))
        code = server.stop()
    assert code is not None and not server.running
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/health", timeout=2)
    assert "Uvicorn running" in server.log_path.read_text(), "the log is kept after stopping"


def test_a_server_that_cannot_start_says_why(tmp_path):
    with pytest.raises(servers.ServerStartError, match="exited with code"):
        servers.start_mlflow_server(
            "nosuchdb://nowhere", tmp_path / "artifacts", tmp_path, name="broken", timeout=60
        )
    assert (tmp_path / "broken.log").stat().st_size > 0


def require_postgres() -> str:
    """The base URI of a reachable PostgreSQL, or skip (fail under CI) saying why."""
    base = stores.postgres_uri()
    reason = stores.check_postgres(base)
    require(
        reason is None,
        f"no PostgreSQL for the tests ({reason}): `bash .ci/postgres.sh start /tmp/pg` and "
        "export MLFLOW_TEST_POSTGRES_URI=$(cat /tmp/pg/uri)",
    )
    return base


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def auth_server(request, tmp_path_factory):
    """A basic-auth server on the backend named by the parameter (each started once a module)."""
    kind = request.param
    base = require_postgres() if kind == "postgresql" else None
    root = tmp_path_factory.mktemp(f"auth-server-{kind}")
    backend = (
        stores.create_database(base, "auth_test")
        if base
        else stores.prepare_sqlite(root / "mlflow.db")
    )
    admin = auth.new_password()
    # cache password checks: the concurrency test sends hundreds of authenticated requests
    config = auth.write_auth_config(root / "auth", admin, cache_seconds=300)
    server = servers.start_mlflow_server(
        backend,
        root / "artifacts",
        root,
        workers=2,
        app_name="basic-auth",
        env=auth.auth_server_env(config),
        name=f"auth-{kind}",
    )
    print(f"basic-auth server on {kind}: {servers.mask_uri(backend)}")
    yield {"server": server, "admin": admin, "backend": backend, "kind": kind}
    print(f"--- auth server log ({server.log_path}):\n{server.log_tail(30)}")
    server.stop()
    if base:
        stores.drop_database(base, backend)


def backend_of(server_info) -> str:
    """The backend store the server was started with, read from its own command line."""
    command = server_info["server"].command
    return command[command.index("--backend-store-uri") + 1]


def test_no_credentials_401_and_reader_cannot_create_a_run(auth_server):
    server, admin = auth_server["server"], auth_server["admin"]
    # the server runs on the backend the test is named for
    assert backend_of(auth_server).startswith(auth_server["kind"] + ":")
    probe = "/api/2.0/mlflow/experiments/search?max_results=1"
    assert auth.http_status(server.url, probe) == 401
    assert auth.http_status(server.url, probe, auth=("admin", "wrong-password-123")) == 401
    assert auth.http_status(server.url, probe, auth=("admin", admin)) == 200

    from mlflow.server import get_app_client

    reader_password = auth.new_password()
    with auth.credentials("admin", admin):
        get_app_client("basic-auth", tracking_uri=server.url).create_user("reader", reader_password)
        experiment_id = MlflowClient(server.url).create_experiment("read-only-check")
        MlflowClient(server.url).create_run(experiment_id)  # the admin may write
    with auth.credentials("reader", reader_password):
        client = MlflowClient(server.url)
        assert len(client.search_runs([experiment_id])) == 1  # default permission: READ
        with pytest.raises(MlflowException) as denied:
            client.create_run(experiment_id)
    assert denied.value.error_code == "PERMISSION_DENIED"
    # the anonymous client is refused by the server (401), not by a connection error
    assert server.running
    with auth.credentials(None, None), pytest.raises(MlflowException) as anonymous:
        MlflowClient(server.url).search_experiments()
    message = str(anonymous.value)
    assert "error code 401" in message and "not authenticated" in message.lower(), message


def _log_runs(url: str, experiment_id: str, worker: int, queue) -> None:
    """One writer process: RUNS_PER_WORKER runs, each with METRICS_PER_RUN metrics and a param."""
    try:
        client = MlflowClient(url)
        for i in range(RUNS_PER_WORKER):
            run = client.create_run(experiment_id, run_name=f"w{worker}-r{i}")
            now = int(time.time() * 1000)
            metrics = [
                Metric(f"m{j}", worker * 1000 + i + j / 10, now, 0) for j in range(METRICS_PER_RUN)
            ]
            client.log_batch(
                run.info.run_id, metrics=metrics, params=[Param("worker", str(worker))]
            )
            client.set_terminated(run.info.run_id)
        queue.put((worker, None))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        queue.put((worker, repr(exc)))


# concurrent writers need a PostgreSQL backend (SQLite takes one writer at a time)
@pytest.mark.parametrize("auth_server", ["postgresql"], indirect=True)
def test_eight_processes_twenty_runs_each_lose_nothing_on_postgres(auth_server):
    assert backend_of(auth_server).startswith("postgresql:")
    server, admin = auth_server["server"], auth_server["admin"]
    with auth.credentials("admin", admin):
        experiment_id = MlflowClient(server.url).create_experiment("many-writers")
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        start = time.perf_counter()
        procs = [
            ctx.Process(target=_log_runs, args=(server.url, experiment_id, w, queue))
            for w in range(WORKERS)
        ]
        for p in procs:
            p.start()
        results = dict(queue.get(timeout=300) for _ in procs)
        for p in procs:
            p.join(60)
        seconds = time.perf_counter() - start
        print(f"{WORKERS} processes x {RUNS_PER_WORKER} runs in {seconds:.1f} s")
        assert all(err is None for err in results.values()), results
        runs = MlflowClient(server.url).search_runs([experiment_id], max_results=1000)

    assert len(runs) == WORKERS * RUNS_PER_WORKER
    assert sorted(r.info.run_name for r in runs) == sorted(
        f"w{w}-r{i}" for w in range(WORKERS) for i in range(RUNS_PER_WORKER)
    )
    for run in runs:
        worker, i = (int(x[1:]) for x in run.info.run_name.split("-"))
        assert run.info.status == "FINISHED" and run.data.params == {"worker": str(worker)}
        assert run.data.metrics == {
            f"m{j}": pytest.approx(worker * 1000 + i + j / 10) for j in range(METRICS_PER_RUN)
        }
    # and in the database itself: every metric row is there, once
    import psycopg

    with psycopg.connect(auth_server["backend"]) as conn:
        (count,) = conn.execute(
            "select count(*) from metrics m join runs r on m.run_uuid = r.run_uuid "
            "where r.experiment_id = %s",
            (int(experiment_id),),
        ).fetchone()
    assert count == WORKERS * RUNS_PER_WORKER * METRICS_PER_RUN


def test_postgres_uri_is_masked_when_printed():
    uri = "postgresql://mlflow:s3cret@127.0.0.1:5432/mlflow"
    assert servers.mask_uri(uri) == "postgresql://mlflow:***@127.0.0.1:5432/mlflow"
    assert "s3cret" not in stores.check_postgres("postgresql://mlflow:s3cret@127.0.0.1:1/x")


def test_weak_admin_passwords_are_refused(tmp_path):
    with pytest.raises(ValueError):
        auth.write_auth_config(tmp_path, "short")
    with pytest.raises(ValueError):
        auth.write_auth_config(tmp_path, "password1234")
    assert os.stat(auth.write_auth_config(tmp_path, auth.new_password())).st_mode & 0o077 == 0


def test_auth_config_is_created_private_not_made_private_afterwards(tmp_path, monkeypatch):
    """Mode 0600 from its creation: with a permissive umask and every chmod made a no-op, the
    file with the admin password is still readable by its owner only, and so is a rewrite of an
    older, world-readable one."""
    old = tmp_path / "basic_auth.ini"
    old.write_text("[mlflow]\n")
    old.chmod(0o644)
    monkeypatch.setattr(os, "chmod", lambda *a, **k: None)
    monkeypatch.setattr(os, "fchmod", lambda *a, **k: None)
    monkeypatch.setattr(Path, "chmod", lambda *a, **k: None)
    previous = os.umask(0)
    try:
        path = auth.write_auth_config(tmp_path, auth.new_password())
    finally:
        os.umask(previous)
    assert path == old
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "admin_password = " in path.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["basic_auth.ini"]  # no temporary left


def test_a_server_beyond_localhost_warns_that_it_exposes_the_store(tmp_path):
    # a backend that cannot start: the warning comes first, nothing listens for long
    with pytest.warns(servers.ExposedServerWarning) as record:
        with pytest.raises(servers.ServerStartError):
            servers.start_mlflow_server(
                "nosuchdb://me:s3cret@nowhere",
                tmp_path / "artifacts",
                tmp_path,
                host="0.0.0.0",
                name="exposed",
                timeout=60,
            )
    message = str(record[0].message)
    assert "0.0.0.0" in message and "exposes its tracking store" in message
    assert "s3cret" not in message and "host='127.0.0.1'" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error", servers.ExposedServerWarning)  # 127.0.0.1: no warning
        with pytest.raises(servers.ServerStartError):
            servers.start_mlflow_server(
                "nosuchdb://nowhere", tmp_path / "artifacts", tmp_path, name="local", timeout=60
            )


def http_server(tmp_path, **kwargs) -> servers.Server:
    """`python -m http.server` through infra.servers.launch: its own address options and
    readiness check (it has no /health: its directory listing answers)."""

    def listing(url: str) -> str | None:
        try:
            return None if requests.get(url, timeout=2).status_code == 200 else "not yet"
        except requests.RequestException as exc:
            return str(exc)

    return servers.launch(
        [sys.executable, "-m", "http.server"],
        tmp_path,
        name="http",
        address=lambda host, port: ["--bind", host, str(port)],
        ready=listing,
        **kwargs,
    )


def test_launch_takes_another_port_when_one_is_taken_meanwhile(tmp_path, monkeypatch):
    """A free port can be taken between the check and the bind: launch picks another one."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    ports = iter([taken.getsockname()[1]])
    real_free_port = servers.free_port
    monkeypatch.setattr(servers, "free_port", lambda host: next(ports, None) or real_free_port())
    try:
        with http_server(tmp_path) as server:
            assert server.port != taken.getsockname()[1]
            assert requests.get(server.url, timeout=5).status_code == 200
        assert "already in use" in server.log_path.read_text().lower()  # the first try's log
    finally:
        taken.close()
    assert not server.running


def test_a_process_its_owner_forgets_is_stopped_at_exit(tmp_path):
    """infra.servers stops what it started when the Python that started it exits."""
    code = (
        "import sys, pathlib, requests\n"
        "from infra import servers\n"
        "from tests.test_servers import http_server\n"
        "server = http_server(pathlib.Path(sys.argv[1]))\n"
        "print(server.process.pid, flush=True)\n"  # and exit without stopping it
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    pid = int(done.stdout.split()[-1])
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
