"""NYC TLC trip files: find them, download them safely, or generate a stand-in; then read a month.

Introduced in notebook 02.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from helpers.paths import display_path, resolve_data_dir
from helpers.schema import (
    DATETIME_COLUMNS,
    LOCATION_COLUMNS,
    TLC_BASE_URL,
    TaxiDataError,
    expected_columns,
    taxi_filename,
)
from helpers.synthetic import synthetic_file

DATA_SOURCES = ("auto", "tlc", "synthetic")
OFFLINE_HINT = 'run with DATA_SOURCE="synthetic" to work offline on generated data'


class _NotRetryable(TaxiDataError):
    """A download failure that another attempt cannot fix (403/404, a file of the wrong kind)."""


class _Damaged(TaxiDataError, ValueError):
    """A file that is not whole parquet. A ValueError too: pooch retries a download that is."""


# SHA-256 of the months the course uses, as the TLC publishes them. Only sums computed here are
# recorded: green 2022-01..03 (the 2023 cohort's homework and the W&B homework) and 2023-01..03,
# checked against the files in ../shared/tlc-data (`sha256sum -c SHA256SUMS`). The other months
# the notebooks name (green 2021-01..03 for the course's own and the 2022 cohort's
# numbers, yellow months) could not be downloaded on the machine that wrote this list, so they
# are unknown: accepted once they read as whole parquet files with the expected columns.
KNOWN_SHA256 = {
    "green_tripdata_2022-01.parquet": (
        "6a9efa68165ed2c52ec130cc9d8098b9e8a876f4316c17ddcbc170e46c45ad1d"
    ),
    "green_tripdata_2022-02.parquet": (
        "4e2fb2eb988955311e2110475eb32308ed2b2a1d601dca73965f3adf731245c4"
    ),
    "green_tripdata_2022-03.parquet": (
        "3911283dcf1cf9f705871aa7b5fee94ca58404a068289e1f4d4937e05ebb1af5"
    ),
    "green_tripdata_2023-01.parquet": (
        "f2955152517cf6b9234393d8b70c0d345560667a1f284b663c1b968442feb50b"
    ),
    "green_tripdata_2023-02.parquet": (
        "56b965fd855aaa16b257f7a6d3b4005865416a6b02a3350825d4f1f56e56b03c"
    ),
    "green_tripdata_2023-03.parquet": (
        "56e53e8c0f7e323eb68ee0eeed78f39eb6926875a58246fbaf5081b0cbd8c8fe"
    ),
}


def check_source(source: str) -> str:
    """Return a data source, or raise a clear error for one that does not exist."""
    if source not in DATA_SOURCES:
        raise TaxiDataError(
            f"Unknown DATA_SOURCE {source!r}: use one of {', '.join(DATA_SOURCES)}."
        )
    return source


# files read whole once in this process, by (path, size, mtime): a later use reads the footer only
_READ_WHOLE: set[tuple[str, int, int]] = set()


def _read_whole(path: Path, label: str, advice: str) -> None:
    """Decode every page of the file once, batch by batch (bounded memory, even for a yellow
    month): a footer can be intact while the body is damaged (an interrupted copy, a bad disk)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _READ_WHOLE:
        return
    try:
        for _ in pq.ParquetFile(path).iter_batches(batch_size=1 << 16):
            pass
    except Exception as exc:  # pyarrow raises OSError, ArrowInvalid, ... for a damaged page
        raise _damaged(label, exc, advice) from exc
    _READ_WHOLE.add(key)


def _damaged(label: str, exc: Exception, advice: str) -> _Damaged:
    first = (str(exc).strip().splitlines() or [""])[0]
    return _Damaged(
        f"{label} is a damaged file: its footer reads but its data does not "
        f"({type(exc).__name__}: {first}).{advice}"
    )


def check_parquet(
    path: Path, colour: str, downloaded_as: str | None = None, whole: bool = True
) -> None:
    """Raise TaxiDataError unless `path` opens as parquet with the columns of `colour` taxis.

    `downloaded_as`: the file's TLC name when `path` is a temporary download, so that the
    message names the file the learner asked for, not the temporary copy (already deleted).
    `whole`: also read every page, once per file and process (see `_read_whole`).
    """
    label = f"{downloaded_as} as downloaded" if downloaded_as else path.name
    advice = "" if downloaded_as else " Delete it and run again to download a fresh copy."
    try:
        names = set(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise _Damaged(
            f"{label} is not a readable parquet file ({type(exc).__name__}: {exc}).{advice}"
        ) from exc
    missing = [c for c in expected_columns(colour) if c not in names]
    if missing:
        other = [c for c, cols in DATETIME_COLUMNS.items() if c != colour and set(cols) <= names]
        hint = (
            f" It looks like a {other[0]} taxi file: set TAXI_COLOR={other[0]!r}." if other else ""
        )
        raise _NotRetryable(
            f"{label} is not a {colour} taxi file: it lacks {', '.join(missing)}.{hint}"
        )
    if whole:
        _read_whole(path, label, advice)


def _downloader(name: str, colour: str, timeout: float, progress: bool):
    """pooch's HTTP downloader, plus what pooch leaves to its caller: a 403 or 404 stops at once
    (pooch would retry it), and the file must be whole parquet of the right colour before pooch
    checks its hash and moves it under its name (a damaged one is retried like a bad transfer)."""
    import pooch
    import requests

    http = pooch.HTTPDownloader(progressbar=progress, timeout=timeout, chunk_size=1 << 16)

    def download(url: str, output_file: str, pooch_instance) -> None:
        try:
            http(url, output_file, pooch_instance)
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status in (403, 404):
                raise _NotRetryable(
                    f"{name} could not be downloaded: {url} answered {status} (not published). "
                    f"Check TAXI_COLOR and the month; the TLC publishes months about two months "
                    f"late."
                ) from None
            raise
        check_parquet(Path(output_file), colour, downloaded_as=name)

    return download


def _hash_mismatch_message(name: str, url: str, folder: Path, cause: str) -> str:
    return (
        f"{name} was downloaded from {url}, but it is not the file the course knows: {cause} "
        f"Nothing was saved. The TLC sometimes republishes a month with corrections; if it did, "
        f"this file is fine but newer than the course's, and your numbers may differ a little "
        f"from the course's. To use it: download it with your browser into "
        f"{display_path(folder)} (a file already there is used as it is, after the parquet and "
        f"column checks), or {OFFLINE_HINT}."
    )


def download_taxi_file(
    colour: str,
    month: str,
    data_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    retries: int = 3,
    progress: bool = True,
) -> Path:
    """Download one monthly file into the data folder, atomically; raise TaxiDataError on failure.

    pooch fetches it (progress bar, timeout, `retries` attempts, SHA-256 check for the months in
    KNOWN_SHA256) into a private temporary folder beside the target; the file is moved under its
    TLC name only once it is whole parquet with the expected columns and, when known, the hash.
    """
    import pooch
    import requests

    name = taxi_filename(colour, month)
    folder = resolve_data_dir(data_dir)
    target = folder / name
    base_url = (base_url or os.environ.get("TAXI_BASE_URL") or TLC_BASE_URL).rstrip("/")
    timeout = float(timeout or os.environ.get("TAXI_DOWNLOAD_TIMEOUT", 30))
    url = f"{base_url}/{name}"
    known = KNOWN_SHA256.get(name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".part", dir=folder))
    except OSError as exc:
        raise TaxiDataError(f"Cannot create the data folder {display_path(folder)}: {exc}") from exc

    fetcher = pooch.create(
        path=staging,
        base_url=f"{base_url}/",
        registry={name: f"sha256:{known}" if known else None},
        retry_if_failed=max(retries, 1) - 1,
    )
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # pooch's INFO lines name the private temporary folder
    try:
        fetched = fetcher.fetch(name, downloader=_downloader(name, colour, timeout, progress))
        os.replace(fetched, target)
        return target
    except _NotRetryable as exc:
        raise TaxiDataError(str(exc)) from None
    except _Damaged as exc:
        cause = str(exc)
    except ValueError as exc:  # pooch: the SHA-256 differs from KNOWN_SHA256's, after retries
        raise TaxiDataError(
            _hash_mismatch_message(name, url, folder, str(exc).split(". ")[0] + ".")
        ) from None
    except (requests.RequestException, OSError) as exc:
        cause = f"{type(exc).__name__}: {exc}"
    finally:
        logger.setLevel(level)
        shutil.rmtree(staging, ignore_errors=True)
    raise TaxiDataError(
        f"{name} is not in {display_path(folder)} and could not be downloaded from {url} "
        f"after {retries} attempts: {cause.rstrip('.')}. Put the file there by hand, "
        f"set DATA_DIR to a folder that has it, or {OFFLINE_HINT}."
    )


@dataclass(frozen=True)
class TaxiFile:
    """One monthly file and where it came from: 'tlc' (real) or 'synthetic' (generated)."""

    colour: str
    month: str
    path: Path
    source: str
    notes: list[str] = field(default_factory=list, compare=False)

    @property
    def name(self) -> str:
        return self.path.name


def get_taxi_file(
    colour: str,
    month: str,
    source: str = "auto",
    data_dir: str | os.PathLike | None = None,
    synthetic_rows: int | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    retries: int = 3,
) -> TaxiFile:
    """Find a monthly file for DATA_SOURCE 'tlc', 'synthetic' or 'auto' (local, download, generate)."""
    name = taxi_filename(colour, month)
    check_source(source)
    folder = resolve_data_dir(data_dir)
    if source == "synthetic":
        return TaxiFile(
            colour, month, synthetic_file(colour, month, folder, synthetic_rows), "synthetic"
        )
    local = folder / name
    if local.exists():
        check_parquet(local, colour)
        return TaxiFile(colour, month, local, "tlc")
    try:
        path = download_taxi_file(colour, month, folder, base_url, timeout, retries)
        return TaxiFile(colour, month, path, "tlc", [f"downloaded {name}"])
    except TaxiDataError as exc:
        if source == "tlc":
            raise
        message = (
            f"DATA_SOURCE='auto': {name} is not in {display_path(folder)} and could not be "
            f"downloaded; using GENERATED data instead (numbers will differ from the course). "
            f"Cause: {exc}"
        )
        warnings.warn(message, UserWarning, stacklevel=2)
        path = synthetic_file(colour, month, folder, synthetic_rows)
        return TaxiFile(colour, month, path, "synthetic", [message])


def read_dataframe(
    path: str | os.PathLike, colour: str = "green", only_features: bool = False
) -> pd.DataFrame:
    """Read a month: duration in minutes, keep 1..60 minutes, location ids as strings (02).

    `only_features=True` reads just the columns the features need (faster on yellow months).
    """
    path = Path(path)
    if not path.exists():
        raise TaxiDataError(f"{path.name} does not exist in {display_path(path.parent)}.")
    check_parquet(path, colour, whole=False)  # the read below decodes the pages it needs
    pickup, dropoff = DATETIME_COLUMNS[colour]
    try:
        df = pd.read_parquet(
            path, columns=list(expected_columns(colour)) if only_features else None
        )
    except Exception as exc:  # a damaged page: pyarrow's OSError, ArrowInvalid, ...
        advice = " Delete it and run again to download a fresh copy."
        raise TaxiDataError(str(_damaged(path.name, exc, advice))) from exc
    duration = (df[dropoff] - df[pickup]).dt.total_seconds() / 60
    df = df.assign(duration=duration)
    df = df[(df.duration >= 1) & (df.duration <= 60)].copy()
    if df.empty:
        raise TaxiDataError(
            f"{path.name} has no trip between 1 and 60 minutes long: nothing to train on. "
            f"Check that it is a real {colour} taxi month."
        )
    for col in LOCATION_COLUMNS:
        # files store ids as int64 (recent) or strings (some re-exports): make both strings
        df[col] = (
            df[col].astype("Int64").astype(str)
            if df[col].dtype.kind in "iuf"
            else df[col].astype(str)
        )
    return df


@dataclass
class TaxiMonth:
    """A month read for training: the frame and the file it came from.

    `trips_in_month` is set when `df` is a sample (see `sample_month`): the month's own count.
    """

    file: TaxiFile
    df: pd.DataFrame
    trips_in_month: int | None = None

    @property
    def source(self) -> str:
        return self.file.source

    @property
    def sampled(self) -> bool:
        return self.trips_in_month is not None


SAMPLE_SEED = 42


def sample_month(month: TaxiMonth, max_trips: int | None) -> TaxiMonth:
    """At most `max_trips` trips of `month`: a seeded random sample of a bigger month (02).

    A month with `max_trips` trips or fewer (a green month: 66 thousand), or `max_trips=None`,
    comes back unchanged, so the green numbers do not depend on it. A yellow month (3 million
    trips) comes back as the same `max_trips` rows on every machine; `data_tags` records it.
    """
    if max_trips is None or len(month.df) <= max_trips:
        return month
    if max_trips < 1:
        raise ValueError(f"max_trips must be a positive number of trips or None, not {max_trips}.")
    sample = month.df.sample(n=int(max_trips), random_state=SAMPLE_SEED).sort_index()
    return TaxiMonth(month.file, sample, trips_in_month=len(month.df))


def load_month(
    colour: str,
    month: str,
    source: str = "auto",
    data_dir: str | os.PathLike | None = None,
    synthetic_rows: int | None = None,
) -> TaxiMonth:
    """Find (or fetch, or generate) a month and read it, ready for features (02)."""
    taxi_file = get_taxi_file(colour, month, source, data_dir, synthetic_rows)
    return TaxiMonth(taxi_file, read_dataframe(taxi_file.path, colour))


def data_tags(**months: TaxiMonth | TaxiFile) -> dict[str, str]:
    """Tags that record which data a run used, e.g. data_tags(train=..., valid=...) (02)."""
    files = {k: (m.file if isinstance(m, TaxiMonth) else m) for k, m in months.items()}
    sources = sorted({f.source for f in files.values()})
    tags = {"data.source": "+".join(sources)}
    for key, f in files.items():
        tags[f"data.{key}_path"] = display_path(f.path)
        tags[f"data.{key}_month"] = f"{f.colour} {f.month}"
    for key, m in months.items():
        if isinstance(m, TaxiMonth) and m.sampled:  # a month too big to fit on whole
            tags[f"data.{key}_sample"] = (
                f"{len(m.df)} of {m.trips_in_month} trips (seed {SAMPLE_SEED})"
            )
    return tags
