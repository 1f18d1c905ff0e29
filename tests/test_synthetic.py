"""The synthetic stand-in: the real files' schema, deterministic, and the lessons still hold.

Offline, learners train on generated months. For the course's conclusions to carry over, the
generated data must look like the real files (schema, outliers, popular and rare zone pairs)
and order the models the same way: mean < LinearRegression < tuned xgboost.
"""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import xgboost as xgb
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error

import helpers
from helpers.synthetic import generate_table, write_synthetic_month

MODEL_ROWS = 20_000  # per month, for the model orderings
ROWS = 5_000

# Written out here, not taken from helpers.synthetic: what the generator must produce.
# Green: the schema of the TLC's green_tripdata_2023-01.parquet (read from ../shared/tlc-data).
GREEN_2023_01 = [
    ("VendorID", "int64"),
    ("lpep_pickup_datetime", "timestamp[us]"),
    ("lpep_dropoff_datetime", "timestamp[us]"),
    ("store_and_fwd_flag", "string"),
    ("RatecodeID", "double"),
    ("PULocationID", "int64"),
    ("DOLocationID", "int64"),
    ("passenger_count", "double"),
    ("trip_distance", "double"),
    ("fare_amount", "double"),
    ("extra", "double"),
    ("mta_tax", "double"),
    ("tip_amount", "double"),
    ("tolls_amount", "double"),
    ("ehail_fee", "null"),
    ("improvement_surcharge", "double"),
    ("total_amount", "double"),
    ("payment_type", "double"),
    ("trip_type", "double"),
    ("congestion_surcharge", "double"),
]
# Yellow: the columns of the TLC's data dictionary for yellow trip records (2023), in file order.
# No real yellow file is at hand on these machines: checked against the dictionary, not a file.
YELLOW_2023 = [
    ("VendorID", "int64"),
    ("tpep_pickup_datetime", "timestamp[us]"),
    ("tpep_dropoff_datetime", "timestamp[us]"),
    ("passenger_count", "double"),
    ("trip_distance", "double"),
    ("RatecodeID", "double"),
    ("store_and_fwd_flag", "string"),
    ("PULocationID", "int64"),
    ("DOLocationID", "int64"),
    ("payment_type", "int64"),
    ("fare_amount", "double"),
    ("extra", "double"),
    ("mta_tax", "double"),
    ("tip_amount", "double"),
    ("tolls_amount", "double"),
    ("improvement_surcharge", "double"),
    ("total_amount", "double"),
    ("congestion_surcharge", "double"),
    ("airport_fee", "double"),
]


def names_and_types(schema) -> list[tuple[str, str]]:
    return [(f.name, str(f.type)) for f in schema]


# --- the real files' schema ---------------------------------------------------------------------


def test_green_month_has_the_green_schema(tmp_path):
    path = write_synthetic_month(
        tmp_path / "green_tripdata_2023-01.parquet", "green", "2023-01", 500
    )
    assert names_and_types(pq.read_schema(path)) == GREEN_2023_01


def test_green_month_has_the_schema_of_the_real_files(tmp_path, real_data_dir):
    """Against the real files themselves (skipped without them, a failure under CI=true)."""
    path = write_synthetic_month(
        tmp_path / "green_tripdata_2023-01.parquet", "green", "2023-01", 500
    )
    schema = pq.read_schema(path)
    # the same month of the real data: same column names, order and types
    real = pq.read_schema(real_data_dir / "green_tripdata_2023-01.parquet")
    assert names_and_types(schema) == names_and_types(real)
    # later real months changed some types (int32 ids, double ehail_fee), not the columns
    for month in ("2023-02", "2023-03"):
        assert (
            schema.names == pq.read_schema(real_data_dir / f"green_tripdata_{month}.parquet").names
        )


def test_yellow_month_has_the_yellow_schema(tmp_path):
    path = write_synthetic_month(
        tmp_path / "yellow_tripdata_2023-01.parquet", "yellow", "2023-01", 500
    )
    schema = pq.read_schema(path)
    assert names_and_types(schema) == YELLOW_2023
    assert {"tpep_pickup_datetime", "tpep_dropoff_datetime"} <= set(schema.names)
    assert not any(name.startswith("lpep_") for name in schema.names)
    df = helpers.read_dataframe(path, "yellow")
    assert len(df) > 0 and df.duration.between(1, 60).all()


# --- deterministic ------------------------------------------------------------------------------


def test_same_seed_same_bytes(tmp_path):
    a = write_synthetic_month(
        tmp_path / "a" / "green_tripdata_2023-01.parquet", "green", "2023-01", ROWS
    )
    b = write_synthetic_month(
        tmp_path / "b" / "green_tripdata_2023-01.parquet", "green", "2023-01", ROWS
    )
    assert a.read_bytes() == b.read_bytes()

    c = write_synthetic_month(tmp_path / "c.parquet", "green", "2023-01", ROWS, seed=7)
    d = write_synthetic_month(tmp_path / "d.parquet", "green", "2023-01", ROWS, seed=7)
    assert c.read_bytes() == d.read_bytes()
    assert c.read_bytes() != a.read_bytes()  # the seed matters


def test_different_months_differ(tmp_path):
    jan = generate_table("green", "2023-01", ROWS)
    feb = generate_table("green", "2023-02", ROWS)
    assert not jan.equals(feb)
    assert not np.array_equal(jan["trip_distance"].to_numpy(), feb["trip_distance"].to_numpy())
    # each month's trips start in that month
    assert pc.min(feb["lpep_pickup_datetime"]).as_py().month == 2
    assert pc.max(jan["lpep_pickup_datetime"]).as_py().month == 1


# --- what the 1..60 minute filter is for ----------------------------------------------------------


def test_outliers_exist_and_read_dataframe_removes_them(tmp_path):
    path = write_synthetic_month(
        tmp_path / "green_tripdata_2023-01.parquet", "green", "2023-01", ROWS
    )
    raw = pq.read_table(path).to_pandas()
    minutes = (raw.lpep_dropoff_datetime - raw.lpep_pickup_datetime).dt.total_seconds() / 60

    assert (minutes == 0).any(), "no zero-length trip"
    assert (minutes < 0).any(), "no negative duration"
    assert ((minutes > 0) & (minutes < 1)).any(), "no trip of a few seconds"
    assert (minutes > 60).any(), "no trip over an hour"
    outliers = ~minutes.between(1, 60)
    assert 0.01 < outliers.mean() < 0.10  # a few percent, as in real months

    df = helpers.read_dataframe(path)
    assert len(df) == (~outliers).sum()
    assert df.duration.between(1, 60).all()


def test_popular_and_rare_zone_pairs():
    df = generate_table("green", "2023-01", MODEL_ROWS).to_pandas()
    counts = df.groupby(["PULocationID", "DOLocationID"]).size()

    assert counts.max() >= 50 * counts.median()  # a few pairs carry many trips ...
    assert (counts == 1).mean() > 0.3  # ... and many pairs are seen once
    assert df.PULocationID.between(1, 265).all() and df.DOLocationID.between(1, 265).all()


# --- the model orderings the course's lessons rely on -----------------------------------------


@pytest.fixture(scope="module")
def matrices(synthetic_dir):
    train = helpers.load_month(
        "green", "2023-01", source="synthetic", data_dir=synthetic_dir, synthetic_rows=MODEL_ROWS
    )
    valid = helpers.load_month(
        "green", "2023-02", source="synthetic", data_dir=synthetic_dir, synthetic_rows=MODEL_ROWS
    )
    assert train.source == valid.source == "synthetic"
    dv, X_train = helpers.fit_features(train.df)
    X_valid = helpers.transform_features(dv, valid.df)
    return X_train, helpers.target(train.df), X_valid, helpers.target(valid.df)


@pytest.fixture(scope="module")
def rmses(matrices) -> dict[str, float]:
    X_train, y_train, X_valid, y_valid = matrices
    out = {"mean": root_mean_squared_error(y_valid, np.full_like(y_valid, y_train.mean()))}

    lr = LinearRegression().fit(X_train, y_train)
    out["linear"] = root_mean_squared_error(y_valid, lr.predict(X_valid))

    train, valid = xgb.DMatrix(X_train, label=y_train), xgb.DMatrix(X_valid, label=y_valid)
    params = {
        "objective": "reg:squarederror",
        "max_depth": 8,
        "learning_rate": 0.1,
        "seed": 42,
        # one thread: on a 2-core machine shared with other work, two OpenMP threads can be
        # ten times slower than one
        "nthread": 1,
    }
    booster = xgb.train(
        params,
        train,
        num_boost_round=100,  # enough for the ordering; keeps the test at about a second
        evals=[(valid, "validation")],
        early_stopping_rounds=10,
        verbose_eval=False,
    )
    pred = booster.predict(valid, iteration_range=(0, booster.best_iteration + 1))
    out["xgboost"] = root_mean_squared_error(y_valid, pred)
    print({k: round(v, 3) for k, v in out.items()})
    return out


def test_linear_regression_beats_the_mean(rmses):
    assert rmses["linear"] < 0.8 * rmses["mean"], rmses


def test_tuned_xgboost_beats_linear_regression(rmses):
    assert rmses["xgboost"] < 0.95 * rmses["linear"], rmses
