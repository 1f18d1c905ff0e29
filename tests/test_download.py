"""Downloading a monthly file, against a real HTTP server on 127.0.0.1 (no internet needed).

What a learner checks: a good file lands under its TLC name and reads; every failure (404,
truncated, wrong kind, a server that hangs) gives a TaxiDataError that names the file, quickly,
and leaves no partial or temporary file behind; DATA_SOURCE='auto' falls back to generated data
with a visible warning, DATA_SOURCE='tlc' does not.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import helpers
from helpers.synthetic import write_synthetic_month

NAME = "green_tripdata_2023-01.parquet"
ROWS = 2_000

Action = Callable[[BaseHTTPRequestHandler], None]


class _Handler(BaseHTTPRequestHandler):
    """Serves what the test registered for a path; anything else is a 404."""

    protocol_version = "HTTP/1.0"  # the connection closes after each answer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        server: TaxiServer = self.server  # type: ignore[assignment]
        path = self.path.lstrip("/")
        server.hits[path] += 1
        action = server.routes.get(path)
        if action is None:
            self.send_error(404, "Not Found")
        else:
            action(self)

    def log_message(self, format: str, *args) -> None:  # keep pytest's output clean
        pass


class TaxiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Action] = {}
        self.hits: Counter[str] = Counter()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def send_bytes(body: bytes, content_length: int | None = None) -> Action:
    """Answer 200 with `body`, announcing `content_length` bytes (default: the true length)."""

    def action(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header(
            "Content-Length", str(len(body) if content_length is None else content_length)
        )
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()

    return action


@pytest.fixture
def server() -> Iterator[TaxiServer]:
    srv = TaxiServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def green_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("served") / NAME
    return write_synthetic_month(path, "green", "2023-01", n_rows=ROWS).read_bytes()


@pytest.fixture(scope="module")
def yellow_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("served-yellow") / "yellow_tripdata_2023-01.parquet"
    return write_synthetic_month(path, "yellow", "2023-01", n_rows=ROWS).read_bytes()


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


def listing(folder: Path) -> list[str]:
    """Every entry of the folder, dotfiles included (temporary downloads start with a dot)."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def assert_names_the_file(message: str) -> None:
    """The error names the file the learner asked for, never the deleted temporary copy."""
    assert NAME in message
    assert ".part" not in message and "Delete it" not in message


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def download(base_url: str, data_dir: Path, *, timeout: float = 5, retries: int = 1) -> Path:
    """The green January file from `base_url`, without a progress bar."""
    return helpers.download_taxi_file(
        "green", "2023-01", data_dir, base_url=base_url, timeout=timeout, retries=retries,
        progress=False,
    )  # fmt: skip


def download_error(base_url: str, data_dir: Path, **options) -> str:
    """The message of the TaxiDataError a failing download raises; it leaves no file behind."""
    with pytest.raises(helpers.TaxiDataError) as err:
        download(base_url, data_dir, **options)
    message = str(err.value)
    assert_names_the_file(message)
    assert listing(data_dir) == []
    return message


def test_good_file_lands_under_its_tlc_name_and_reads(server, green_bytes, data_dir):
    server.routes[NAME] = send_bytes(green_bytes)

    path = download(server.base_url, data_dir)

    assert path == data_dir / NAME
    assert listing(data_dir) == [NAME]  # no temporary file left beside it
    assert path.read_bytes() == green_bytes
    df = helpers.read_dataframe(path, "green")
    assert 0 < len(df) <= ROWS
    assert df.duration.between(1, 60).all()


def test_404_names_the_file_and_is_not_retried(server, data_dir):
    start = time.monotonic()
    message = download_error(server.base_url, data_dir, retries=3)

    assert NAME in message and "404" in message
    assert server.hits[NAME] == 1, "a 404 will not go away: it must not be retried"
    assert time.monotonic() - start < 3


def test_connection_cut_before_content_length_is_reached(server, green_bytes, data_dir):
    # announces the whole file, sends half of it, closes the connection
    half = green_bytes[: len(green_bytes) // 2]
    server.routes[NAME] = send_bytes(half, content_length=len(green_bytes))

    start = time.monotonic()
    message = download_error(server.base_url, data_dir, retries=2)

    assert "2 attempts" in message
    assert server.hits[NAME] == 2  # retried, but only as often as asked
    assert time.monotonic() - start < 6


def test_half_a_parquet_file_is_rejected(server, green_bytes, data_dir):
    # a complete HTTP answer whose body is not a whole parquet file
    server.routes[NAME] = send_bytes(green_bytes[: len(green_bytes) // 2])

    message = download_error(server.base_url, data_dir)

    assert "not a readable parquet file" in message


def test_server_that_never_answers_times_out(data_dir):
    # the kernel completes the TCP handshake, but nobody ever reads or answers
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]

        start = time.monotonic()
        message = download_error(f"http://127.0.0.1:{port}", data_dir, timeout=1)
        elapsed = time.monotonic() - start

    assert elapsed < 5, f"timeout=1 took {elapsed:.1f} s to give up"
    assert "Timeout" in message


def test_yellow_file_served_as_green_is_rejected(server, yellow_bytes, data_dir):
    server.routes[NAME] = send_bytes(yellow_bytes)

    message = download_error(server.base_url, data_dir)

    assert "not a green taxi file" in message
    assert "TAXI_COLOR='yellow'" in message


def test_auto_falls_back_to_synthetic_with_a_warning(data_dir):
    start = time.monotonic()
    with pytest.warns(UserWarning, match="GENERATED data") as record:
        taxi_file = helpers.get_taxi_file(
            "green",
            "2023-01",
            source="auto",
            data_dir=data_dir,
            synthetic_rows=ROWS,
            base_url=f"http://127.0.0.1:{closed_port()}",
            timeout=2,
            retries=1,
        )

    assert time.monotonic() - start < 10
    assert taxi_file.source == "synthetic"
    assert NAME in str(record[0].message)
    assert taxi_file.path.exists() and taxi_file.path.name == NAME
    assert taxi_file.path.parent != data_dir  # generated data never poses as the real file
    assert listing(data_dir) == ["synthetic"]
    assert len(helpers.read_dataframe(taxi_file.path)) > 0


def test_tlc_source_raises_instead_of_generating(data_dir):
    with pytest.raises(helpers.TaxiDataError) as err:
        helpers.get_taxi_file(
            "green",
            "2023-01",
            source="tlc",
            data_dir=data_dir,
            base_url=f"http://127.0.0.1:{closed_port()}",
            timeout=2,
            retries=1,
        )

    assert NAME in str(err.value)
    assert 'DATA_SOURCE="synthetic"' in str(err.value)  # says how to work offline
    assert listing(data_dir) == []
