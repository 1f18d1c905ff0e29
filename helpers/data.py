"""NYC TLC trip files: find them, download them safely, or generate a stand-in; then read a month.

Introduced in notebook 02.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from helpers.paths import display_path, resolve_data_dir

TLC_BASE_URL = "https://d37ci6vzurychx.cloudfront.net/trip-data"

# pickup / dropoff columns per taxi colour
DATETIME_COLUMNS = {
    "green": ("lpep_pickup_datetime", "lpep_dropoff_datetime"),
    "yellow": ("tpep_pickup_datetime", "tpep_dropoff_datetime"),
}
LOCATION_COLUMNS = ("PULocationID", "DOLocationID")
DATA_SOURCES = ("auto", "tlc", "synthetic")
OFFLINE_HINT = 'run with DATA_SOURCE="synthetic" to work offline on generated data'


class TaxiDataError(RuntimeError):
    """A taxi file is missing, corrupt, of the wrong kind, or could not be downloaded."""


class _NotRetryable(TaxiDataError):
    """A download failure that another attempt cannot fix (404, a file of the wrong kind)."""


def check_colour(colour: str) -> str:
    """Return the taxi colour, or raise a clear error for one the course does not know."""
    if colour not in DATETIME_COLUMNS:
        raise TaxiDataError(
            f"Unknown taxi colour {colour!r}: use one of {', '.join(sorted(DATETIME_COLUMNS))}."
        )
    return colour


def check_month(month: str) -> str:
    """Return a month as 'YYYY-MM', or raise a clear error for anything else."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", str(month))
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise TaxiDataError(f"Malformed month {month!r}: write it as 'YYYY-MM', e.g. '2023-01'.")
    if not 2009 <= int(match.group(1)) <= 2100:
        raise TaxiDataError(f"Month {month!r} is outside the TLC's records (2009 onwards).")
    return str(month)


def check_source(source: str) -> str:
    """Return a data source, or raise a clear error for one that does not exist."""
    if source not in DATA_SOURCES:
        raise TaxiDataError(
            f"Unknown DATA_SOURCE {source!r}: use one of {', '.join(DATA_SOURCES)}."
        )
    return source


def taxi_filename(colour: str, month: str) -> str:
    """The TLC's name for a monthly file, e.g. green_tripdata_2023-01.parquet."""
    return f"{check_colour(colour)}_tripdata_{check_month(month)}.parquet"


def expected_columns(colour: str) -> tuple[str, ...]:
    """The columns every file of that colour must have for the course's features."""
    return (*DATETIME_COLUMNS[check_colour(colour)], *LOCATION_COLUMNS, "trip_distance")


def check_parquet(path: Path, colour: str, downloaded_as: str | None = None) -> None:
    """Raise TaxiDataError unless `path` opens as parquet with the columns of `colour` taxis.

    `downloaded_as`: the file's TLC name when `path` is a temporary download, so that the
    message names the file the learner asked for, not the temporary copy (already deleted).
    """
    label = f"{downloaded_as} as downloaded" if downloaded_as else path.name
    try:
        names = set(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises several types for a broken file
        advice = "" if downloaded_as else " Delete it and run again to download a fresh copy."
        raise TaxiDataError(
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


def download_taxi_file(
    colour: str,
    month: str,
    data_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    retries: int = 3,
    progress: bool = True,
) -> Path:
    """Download one monthly file into the data folder, atomically; raise TaxiDataError on failure."""
    import requests
    from tqdm.auto import tqdm

    name = taxi_filename(colour, month)
    folder = resolve_data_dir(data_dir)
    target = folder / name
    base_url = (base_url or os.environ.get("TAXI_BASE_URL") or TLC_BASE_URL).rstrip("/")
    timeout = float(timeout or os.environ.get("TAXI_DOWNLOAD_TIMEOUT", 30))
    url = f"{base_url}/{name}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TaxiDataError(f"Cannot create the data folder {display_path(folder)}: {exc}") from exc

    cause = "no attempt made"
    for attempt in range(1, retries + 1):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
        tmp = Path(tmp_name)
        try:
            with (
                os.fdopen(fd, "wb") as out,
                requests.get(url, stream=True, timeout=timeout) as resp,
            ):
                if resp.status_code == 404:
                    raise _NotRetryable(
                        f"{name} could not be downloaded: {url} answered 404 (not published). "
                        f"Check TAXI_COLOR and the month; the TLC publishes months about two months late."
                    )
                resp.raise_for_status()
                total = int(resp.headers.get("content-length") or 0) or None
                with tqdm(
                    total=total, unit="B", unit_scale=True, desc=name, disable=not progress
                ) as bar:
                    for chunk in resp.iter_content(chunk_size=1 << 16):
                        out.write(chunk)
                        bar.update(len(chunk))
                if total is not None and out.tell() != total:
                    raise TaxiDataError(f"truncated: got {out.tell()} of {total} bytes")
            check_parquet(tmp, colour, downloaded_as=name)
            os.replace(tmp, target)
            return target
        except TaxiDataError as exc:
            tmp.unlink(missing_ok=True)
            if isinstance(exc, _NotRetryable):
                raise TaxiDataError(str(exc)) from None
            cause = str(exc)
        except (requests.RequestException, OSError) as exc:
            tmp.unlink(missing_ok=True)
            cause = f"{type(exc).__name__}: {exc}"
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if attempt < retries:
            time.sleep(min(0.5 * 2**attempt, 4))
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
        from helpers.synthetic import synthetic_file

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
        from helpers.synthetic import synthetic_file

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
    check_parquet(path, colour)
    pickup, dropoff = DATETIME_COLUMNS[colour]
    df = pd.read_parquet(path, columns=list(expected_columns(colour)) if only_features else None)
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
    """A month read for training: the frame and the file it came from."""

    file: TaxiFile
    df: pd.DataFrame

    @property
    def source(self) -> str:
        return self.file.source


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
    return tags
