"""Downloading a monthly file, against a real HTTP server on 127.0.0.1 (no internet needed).

What a learner checks: a good file lands under its TLC name and reads; every failure (403, 404,
truncated, damaged, wrong kind, another file than the course's, a server that hangs) gives a
TaxiDataError that names the file, quickly, and leaves no partial or temporary file behind;
DATA_SOURCE='auto' falls back to generated data with a visible warning, DATA_SOURCE='tlc' does not.

Most tests download a month the course has no SHA-256 for (2019-07: accepted after the parquet and
column checks); the months in helpers.data.KNOWN_SHA256 are checked against their sums.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pooch
import pytest

import helpers
from helpers.data import KNOWN_SHA256
from helpers.synthetic import write_synthetic_month

MONTH = "2019-07"  # a month with no known SHA-256
NAME = f"green_tripdata_{MONTH}.parquet"
KNOWN = "green_tripdata_2023-01.parquet"  # a month whose SHA-256 the course knows
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
    return write_synthetic_month(path, "green", MONTH, n_rows=ROWS).read_bytes()


def damaged(body: bytes) -> bytes:
    """The same file with 2000 bytes of its data pages overwritten: the footer still reads."""
    footer = int.from_bytes(body[-8:-4], "little")
    middle = (len(body) - 8 - footer) // 2
    return body[:middle] + b"\xff" * 2000 + body[middle + 2000 :]


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


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def download(
    base_url: str, data_dir: Path, *, timeout: float = 5, retries: int = 1, month: str = MONTH
) -> Path:
    """A green month (default: one with no known hash) from `base_url`, without a progress bar."""
    return helpers.download_taxi_file(
        "green", month, data_dir, base_url=base_url, timeout=timeout, retries=retries,
        progress=False,
    )  # fmt: skip


def download_error(base_url: str, data_dir: Path, name: str = NAME, **options) -> str:
    """The message of the TaxiDataError a failing download raises; it leaves no file behind."""
    with pytest.raises(helpers.TaxiDataError) as err:
        download(base_url, data_dir, **options)
    message = str(err.value)
    assert name in message
    assert ".part" not in message and "Delete it" not in message
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


def test_403_is_not_published_either_and_is_not_retried(server, data_dir):
    # the TLC's storage answers 403, not 404, for a file it does not have
    server.routes[NAME] = lambda handler: handler.send_error(403, "Forbidden")

    start = time.monotonic()
    message = download_error(server.base_url, data_dir, retries=3)
    elapsed = time.monotonic() - start

    assert "answered 403 (not published)" in message
    assert "Check TAXI_COLOR and the month" in message
    assert server.hits[NAME] == 1, "a 403 will not go away: it must not be retried"
    assert elapsed < 3, f"a 403 took {elapsed:.1f} s to report"


def test_damaged_body_is_retried_then_reported_as_damaged(server, green_bytes, data_dir):
    server.routes[NAME] = send_bytes(damaged(green_bytes))

    message = download_error(server.base_url, data_dir, retries=2)

    assert "damaged file" in message and "footer reads but its data does not" in message
    assert "2 attempts" in message
    assert server.hits[NAME] == 2


# --- the months whose SHA-256 the course knows


def test_known_sums_are_the_published_files(real_data_dir):
    """Each sum in KNOWN_SHA256 is that of the TLC's file (the copies in ../shared/tlc-data)."""
    # the 2024/2025 cohorts' months, and the 2023 cohort's and the W&B homework's
    assert set(KNOWN_SHA256) == {
        f"green_tripdata_{year}-0{m}.parquet" for year in (2022, 2023) for m in (1, 2, 3)
    }
    for name, known in KNOWN_SHA256.items():
        assert pooch.file_hash(str(real_data_dir / name)) == known, name


def test_known_month_with_the_published_bytes_lands(server, real_data_dir, data_dir):
    body = (real_data_dir / KNOWN).read_bytes()
    server.routes[KNOWN] = send_bytes(body)

    path = download(server.base_url, data_dir, month="2023-01")

    assert path == data_dir / KNOWN and listing(data_dir) == [KNOWN]
    assert path.read_bytes() == body


def test_known_month_with_other_bytes_says_the_tlc_may_have_republished_it(
    server, tmp_path, data_dir
):
    # a good green parquet file, but not the bytes the course knows for 2023-01
    other = write_synthetic_month(tmp_path / "other" / KNOWN, "green", "2023-01", ROWS)
    server.routes[KNOWN] = send_bytes(other.read_bytes())

    start = time.monotonic()
    message = download_error(server.base_url, data_dir, KNOWN, month="2023-01", retries=2)
    elapsed = time.monotonic() - start

    assert "is not the file the course knows" in message
    assert KNOWN_SHA256[KNOWN] in message and pooch.file_hash(str(other)) in message
    assert "republishes a month" in message and "Nothing was saved" in message
    assert "download it with your browser into" in message  # says what to do
    assert server.hits[KNOWN] == 2, "a bad transfer may be the cause: retried as asked"
    assert elapsed < 5


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
            MONTH,
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
            MONTH,
            source="tlc",
            data_dir=data_dir,
            base_url=f"http://127.0.0.1:{closed_port()}",
            timeout=2,
            retries=1,
        )

    assert NAME in str(err.value)
    assert 'DATA_SOURCE="synthetic"' in str(err.value)  # says how to work offline
    assert listing(data_dir) == []
