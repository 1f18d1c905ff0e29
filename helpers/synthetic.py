"""Synthetic TLC trip data: the real files' schema, a city's structure, and a fixed seed.

Used when the real files are neither present nor downloadable (offline machines, tests).
Introduced in notebook 02.

The city is the same every month (zones, their positions, traffic), so a model fitted on one
generated month transfers to the next, as it does on real data. What the course's lessons need
is built in:

- popular and rare pickup/dropoff zone pairs (zone popularity is Zipf-like, trips go mostly to
  nearby zones);
- duration driven by the zone pair and the distance: speed depends on both zones' congestion and
  grows with distance, so duration is *not* additive in pair and distance (trees beat a linear
  model), plus multiplicative noise (time of day, traffic lights);
- the outliers the 1-60 minute filter exists for: zero, negative and few-second trips,
  multi-hour trips, and zero or absurd distances.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from helpers.schema import SCHEMAS, check_colour, check_month, taxi_filename

N_ZONES = 265
CITY_SEED = 20230101  # the city's layout: fixed, so every month describes the same city
GREEN_ROWS = 68_000  # about one real green month
YELLOW_ROWS = 3_000_000  # about one real yellow month


def month_seed(colour: str, month: str) -> int:
    """The default seed of a month: stable across machines and Python runs."""
    return zlib.crc32(f"{colour}:{month}".encode())


def _city() -> dict[str, np.ndarray]:
    """Zones: position (miles), popularity, congestion; the same for every month."""
    rng = np.random.default_rng(CITY_SEED)
    centre = rng.normal(0, 2.0, size=(N_ZONES, 2))  # a dense core ...
    outer = rng.uniform(-12, 12, size=(N_ZONES, 2))  # ... and outer boroughs
    is_core = rng.random(N_ZONES) < 0.35
    xy = np.where(is_core[:, None], centre, outer)
    popularity = 1.0 / np.arange(1, N_ZONES + 1) ** 1.1
    popularity = popularity[rng.permutation(N_ZONES)]
    popularity[rng.choice(N_ZONES, 30, replace=False)] *= 0.01  # zones green taxis rarely serve
    popularity /= popularity.sum()
    # congestion: slow core, fast periphery, and a zone-specific part
    congestion = np.exp(0.35 * is_core + rng.normal(0, 0.25, N_ZONES))
    return {"xy": xy, "popularity": popularity, "congestion": congestion}


def generate_table(
    colour: str = "green",
    month: str = "2023-01",
    n_rows: int | None = None,
    seed: int | None = None,
) -> pa.Table:
    """Generate one month of trips with the real schema of `colour` files (deterministic)."""
    check_colour(colour)
    check_month(month)
    n = int(n_rows or (GREEN_ROWS if colour == "green" else YELLOW_ROWS))
    rng = np.random.default_rng(month_seed(colour, month) if seed is None else seed)
    city = _city()
    xy, popularity, congestion = city["xy"], city["popularity"], city["congestion"]

    # --- where: pickup by popularity; dropoff mostly near the pickup, sometimes anywhere
    pu = rng.choice(N_ZONES, size=n, p=popularity)
    k_near = 12
    dist_zz = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    nearest = np.argsort(dist_zz, axis=1)[:, :k_near]  # includes the zone itself
    near_pick = nearest[pu, rng.integers(0, k_near, size=n)]
    far_pick = rng.choice(N_ZONES, size=n, p=popularity)
    do = np.where(rng.random(n) < 0.7, near_pick, far_pick)

    # --- how far: straight line times a detour factor, plus a little within-zone travel
    straight = dist_zz[pu, do]
    distance = straight * rng.uniform(1.15, 1.45, n) + rng.gamma(2.0, 0.35, n)
    distance = np.round(distance, 2)

    # --- how long: speed grows with distance (highways), falls with both zones' congestion
    speed_mph = (7.0 + 23.0 * (1 - np.exp(-distance / 4.0))) / np.sqrt(
        congestion[pu] * congestion[do]
    )
    duration_min = 2.0 + 60.0 * distance / speed_mph
    duration_min *= rng.lognormal(0.0, 0.22, n)  # time of day, lights, the driver

    # --- outliers the 1..60 minute filter exists for (about 3% of rows, as in real months)
    kind = rng.random(n)
    duration_min = np.where(kind < 0.010, 0.0, duration_min)  # dropoff == pickup
    duration_min = np.where(
        (kind >= 0.010) & (kind < 0.018), rng.uniform(0.05, 0.95, n), duration_min
    )
    duration_min = np.where((kind >= 0.018) & (kind < 0.020), -rng.uniform(1, 90, n), duration_min)
    duration_min = np.where(
        (kind >= 0.020) & (kind < 0.029), rng.uniform(61, 1439, n), duration_min
    )
    distance = np.where((kind >= 0.029) & (kind < 0.034), 0.0, distance)  # meter not run
    distance = np.where((kind >= 0.034) & (kind < 0.0341), rng.uniform(1e3, 1.2e5, n), distance)

    # --- when: uniformly over the month, second resolution
    year, mon = (int(x) for x in month.split("-"))
    start = np.datetime64(f"{year:04d}-{mon:02d}-01T00:00:00", "s")
    end = np.datetime64(f"{year + (mon == 12):04d}-{mon % 12 + 1:02d}-01T00:00:00", "s")
    span = int((end - start) / np.timedelta64(1, "s"))
    pickup = start + rng.integers(0, span, n).astype("timedelta64[s]")
    dropoff = pickup + np.round(duration_min * 60).astype("timedelta64[s]")

    # --- the money columns and flags: plausible, not modelled
    fare = np.round(3.0 + 2.5 * np.minimum(distance, 200) + 0.5 * np.clip(duration_min, 0, 300), 1)
    extra = rng.choice([0.0, 1.0, 2.5], n, p=[0.5, 0.35, 0.15])
    tip = np.round(np.where(rng.random(n) < 0.6, fare * rng.uniform(0.1, 0.3, n), 0.0), 2)
    congestion_fee = np.where(rng.random(n) < 0.3, 2.75, 0.0)
    total = np.round(fare + extra + 0.5 + tip + 1.0 + congestion_fee, 2)
    common = {
        "VendorID": rng.choice([1, 2], n, p=[0.15, 0.85]).astype(np.int64),
        "store_and_fwd_flag": np.where(rng.random(n) < 0.003, "Y", "N"),
        "RatecodeID": rng.choice([1.0, 2.0, 5.0], n, p=[0.95, 0.02, 0.03]),
        "PULocationID": (pu + 1).astype(np.int64),
        "DOLocationID": (do + 1).astype(np.int64),
        "passenger_count": rng.choice([1.0, 2.0, 3.0, 5.0], n, p=[0.85, 0.1, 0.03, 0.02]),
        "trip_distance": distance,
        "fare_amount": fare,
        "extra": extra,
        "mta_tax": np.full(n, 0.5),
        "tip_amount": tip,
        "tolls_amount": np.where(rng.random(n) < 0.02, 6.55, 0.0),
        "improvement_surcharge": np.full(n, 1.0),
        "total_amount": total,
        "congestion_surcharge": congestion_fee,
    }
    payment = rng.choice([1, 2, 3], n, p=[0.65, 0.33, 0.02])
    if colour == "green":
        columns = {
            **common,
            "lpep_pickup_datetime": pickup.astype("datetime64[us]"),
            "lpep_dropoff_datetime": dropoff.astype("datetime64[us]"),
            "ehail_fee": pa.nulls(n),
            "payment_type": payment.astype(np.float64),
            "trip_type": rng.choice([1.0, 2.0], n, p=[0.97, 0.03]),
        }
    else:
        columns = {
            **common,
            "tpep_pickup_datetime": pickup.astype("datetime64[us]"),
            "tpep_dropoff_datetime": dropoff.astype("datetime64[us]"),
            "payment_type": payment.astype(np.int64),
            "airport_fee": np.where(rng.random(n) < 0.05, 1.25, 0.0),
        }
    schema = SCHEMAS[colour]
    return pa.table({f.name: columns[f.name] for f in schema}, schema=schema)


def write_synthetic_month(
    path: str | os.PathLike,
    colour: str = "green",
    month: str = "2023-01",
    n_rows: int | None = None,
    seed: int | None = None,
) -> Path:
    """Write a generated month to `path` atomically (same seed, same bytes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = generate_table(colour, month, n_rows, seed)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        pq.write_table(table, tmp, compression="snappy")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def synthetic_file(
    colour: str, month: str, data_dir: str | os.PathLike, n_rows: int | None = None
) -> Path:
    """The generated stand-in for a month under `<data_dir>/synthetic/`, made once per size."""
    n = int(n_rows or (GREEN_ROWS if colour == "green" else YELLOW_ROWS))
    folder = Path(data_dir) / "synthetic" / f"rows-{n}"
    path = folder / taxi_filename(colour, month)
    if not path.exists():
        write_synthetic_month(path, colour, month, n)
    return path
