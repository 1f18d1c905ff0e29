"""The TLC's monthly trip files: their names, columns and dtypes (notebook 02).

One place for what `helpers.data` (reading real files) and `helpers.synthetic` (generating
stand-ins with the same schema) both need.
"""

from __future__ import annotations

import re

import pyarrow as pa

TLC_BASE_URL = "https://d37ci6vzurychx.cloudfront.net/trip-data"

# pickup / dropoff columns per taxi colour
DATETIME_COLUMNS = {
    "green": ("lpep_pickup_datetime", "lpep_dropoff_datetime"),
    "yellow": ("tpep_pickup_datetime", "tpep_dropoff_datetime"),
}
LOCATION_COLUMNS = ("PULocationID", "DOLocationID")


class TaxiDataError(RuntimeError):
    """A taxi file is missing, corrupt, of the wrong kind, or could not be downloaded."""


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


def taxi_filename(colour: str, month: str) -> str:
    """The TLC's name for a monthly file, e.g. green_tripdata_2023-01.parquet."""
    return f"{check_colour(colour)}_tripdata_{check_month(month)}.parquet"


def expected_columns(colour: str) -> tuple[str, ...]:
    """The columns every file of that colour must have for the course's features."""
    return (*DATETIME_COLUMNS[check_colour(colour)], *LOCATION_COLUMNS, "trip_distance")


_TS = pa.timestamp("us")
GREEN_SCHEMA = pa.schema(
    [
        ("VendorID", pa.int64()),
        ("lpep_pickup_datetime", _TS),
        ("lpep_dropoff_datetime", _TS),
        ("store_and_fwd_flag", pa.string()),
        ("RatecodeID", pa.float64()),
        ("PULocationID", pa.int64()),
        ("DOLocationID", pa.int64()),
        ("passenger_count", pa.float64()),
        ("trip_distance", pa.float64()),
        ("fare_amount", pa.float64()),
        ("extra", pa.float64()),
        ("mta_tax", pa.float64()),
        ("tip_amount", pa.float64()),
        ("tolls_amount", pa.float64()),
        ("ehail_fee", pa.null()),
        ("improvement_surcharge", pa.float64()),
        ("total_amount", pa.float64()),
        ("payment_type", pa.float64()),
        ("trip_type", pa.float64()),
        ("congestion_surcharge", pa.float64()),
    ]
)
YELLOW_SCHEMA = pa.schema(
    [
        ("VendorID", pa.int64()),
        ("tpep_pickup_datetime", _TS),
        ("tpep_dropoff_datetime", _TS),
        ("passenger_count", pa.float64()),
        ("trip_distance", pa.float64()),
        ("RatecodeID", pa.float64()),
        ("store_and_fwd_flag", pa.string()),
        ("PULocationID", pa.int64()),
        ("DOLocationID", pa.int64()),
        ("payment_type", pa.int64()),
        ("fare_amount", pa.float64()),
        ("extra", pa.float64()),
        ("mta_tax", pa.float64()),
        ("tip_amount", pa.float64()),
        ("tolls_amount", pa.float64()),
        ("improvement_surcharge", pa.float64()),
        ("total_amount", pa.float64()),
        ("congestion_surcharge", pa.float64()),
        ("airport_fee", pa.float64()),
    ]
)
SCHEMAS = {"green": GREEN_SCHEMA, "yellow": YELLOW_SCHEMA}
