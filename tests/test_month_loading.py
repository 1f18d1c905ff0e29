"""Reading a month, the features and the MLflow set-up: what a learner runs in notebooks 01-02.

Bad input must give a clear helpers.TaxiDataError (or TrackingServerError), not a pandas or
pyarrow traceback; good input must give what the course expects.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import Lasso

import helpers
from helpers.synthetic import generate_table, write_synthetic_month
from helpers.tracking import TrackingUriError

# computed here, not by helpers.repo_root(): the tests compare the helpers' paths with it
ROOT = Path(__file__).resolve().parents[1]
ROWS = 3_000


@pytest.fixture(scope="module")
def green_path(synthetic_dir) -> Path:
    return write_synthetic_month(
        synthetic_dir / "test_data" / "green_tripdata_2023-01.parquet", "green", "2023-01", ROWS
    )


def write_variant(path: Path, table: pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


# --- clear errors for bad input ---------------------------------------------------------------


def test_unknown_colour(tmp_path):
    with pytest.raises(helpers.TaxiDataError, match="Unknown taxi colour 'blue'") as err:
        helpers.load_month("blue", "2023-01", source="synthetic", data_dir=tmp_path)
    assert "green" in str(err.value) and "yellow" in str(err.value)  # says what is allowed


@pytest.mark.parametrize("month", ["2023-13", "23-01", "January", "2023-1", ""])
def test_malformed_month(month, tmp_path):
    with pytest.raises(helpers.TaxiDataError, match="YYYY-MM"):
        helpers.load_month("green", month, source="synthetic", data_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing generated for a bad month


def test_unknown_data_source(tmp_path):
    with pytest.raises(helpers.TaxiDataError, match="Unknown DATA_SOURCE 's3'") as err:
        helpers.load_month("green", "2023-01", source="s3", data_dir=tmp_path)
    for source in helpers.DATA_SOURCES:
        assert source in str(err.value)


def test_yellow_file_read_as_green_suggests_taxi_color(tmp_path):
    path = write_synthetic_month(
        tmp_path / "yellow_tripdata_2023-01.parquet", "yellow", "2023-01", 200
    )
    with pytest.raises(helpers.TaxiDataError) as err:
        helpers.read_dataframe(path, "green")
    message = str(err.value)
    assert path.name in message
    assert "not a green taxi file" in message
    assert "TAXI_COLOR='yellow'" in message


def test_yellow_content_under_a_green_name_is_caught_before_reading(tmp_path):
    # someone saved a yellow month as green_tripdata_...: the local file is checked, not trusted
    write_synthetic_month(tmp_path / "green_tripdata_2023-01.parquet", "yellow", "2023-01", 200)
    with pytest.raises(helpers.TaxiDataError, match="TAXI_COLOR='yellow'"):
        helpers.get_taxi_file("green", "2023-01", source="tlc", data_dir=tmp_path)


def test_month_with_every_row_filtered_out(tmp_path):
    table = generate_table("green", "2023-01", 200)
    table = table.set_column(
        table.schema.get_field_index("lpep_dropoff_datetime"),
        "lpep_dropoff_datetime",
        table["lpep_pickup_datetime"],  # every trip lasts 0 minutes
    )
    path = write_variant(tmp_path / "green_tripdata_2023-01.parquet", table)
    with pytest.raises(helpers.TaxiDataError, match="no trip between 1 and 60 minutes") as err:
        helpers.read_dataframe(path)
    assert path.name in str(err.value)


def test_missing_file(tmp_path):
    path = tmp_path / "green_tripdata_2023-01.parquet"
    with pytest.raises(helpers.TaxiDataError, match="does not exist") as err:
        helpers.read_dataframe(path)
    assert path.name in str(err.value)


def test_corrupt_file(tmp_path):
    path = tmp_path / "green_tripdata_2023-01.parquet"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(helpers.TaxiDataError, match="not a readable parquet file") as err:
        helpers.read_dataframe(path)
    assert path.name in str(err.value)
    assert "Delete it" in str(err.value)  # a local file: says how to recover


def damaged_copy(source: Path, path: Path) -> Path:
    """`source` with 2000 bytes of its data pages overwritten: its footer (the schema) still reads."""
    body = source.read_bytes()
    footer = int.from_bytes(body[-8:-4], "little")
    middle = (len(body) - 8 - footer) // 2
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body[:middle] + b"\xff" * 2000 + body[middle + 2000 :])
    assert pq.read_schema(path).names == pq.read_schema(source).names  # the footer is intact
    return path


def test_damaged_body_with_an_intact_footer(green_path, tmp_path):
    path = damaged_copy(green_path, tmp_path / "green_tripdata_2023-01.parquet")
    for attempt in (
        lambda: helpers.read_dataframe(path),
        lambda: helpers.get_taxi_file("green", "2023-01", source="tlc", data_dir=tmp_path),
        lambda: helpers.load_month("green", "2023-01", source="auto", data_dir=tmp_path),
    ):
        with pytest.raises(helpers.TaxiDataError) as err:
            attempt()
        message = str(err.value)
        assert message.startswith(f"{path.name} is a damaged file"), message
        assert "Delete it and run again" in message
    assert path.exists()  # a learner's file is never deleted behind their back


# --- read_dataframe: what the course's notebook 02 expects ------------------------------------


def test_read_dataframe_duration_in_minutes_within_1_to_60(green_path):
    raw = pq.read_table(green_path).to_pandas()
    df = helpers.read_dataframe(green_path)

    assert 0 < len(df) < len(raw)  # the outliers went, most trips stayed
    assert len(df) > 0.9 * len(raw)
    assert df.duration.between(1, 60).all()
    expected = (df.lpep_dropoff_datetime - df.lpep_pickup_datetime).dt.total_seconds() / 60
    np.testing.assert_allclose(df.duration.to_numpy(), expected.to_numpy())


@pytest.mark.parametrize("id_type", [pa.int64(), pa.int32(), pa.string()])
def test_location_ids_are_strings_whatever_the_stored_type(id_type, tmp_path):
    # recent TLC files store int64 (2023-01) or int32 (2023-02 on); some re-exports store strings
    table = generate_table("green", "2023-01", 500)
    for col in ("PULocationID", "DOLocationID"):
        i = table.schema.get_field_index(col)
        table = table.set_column(i, pa.field(col, id_type), pc.cast(table[col], id_type))
    path = write_variant(tmp_path / "green_tripdata_2023-01.parquet", table)

    df = helpers.read_dataframe(path)

    original = generate_table("green", "2023-01", 500).to_pandas()
    for col in ("PULocationID", "DOLocationID"):
        values = df[col].tolist()
        assert all(isinstance(v, str) for v in values), col
        assert all(v.isdigit() for v in values), f"{col}: ids like '166', not '166.0'"
        assert values == original.loc[df.index, col].astype(str).tolist()
    assert (
        helpers.add_pu_do(df).PU_DO.iloc[0]
        == f"{df.PULocationID.iloc[0]}_{df.DOLocationID.iloc[0]}"
    )


# --- features: int32 indices so that Lasso fits ------------------------------------------------


def test_int32_indices_keeps_the_matrix(green_path):
    df = helpers.read_dataframe(green_path)
    X64 = DictVectorizer().fit_transform(helpers.to_records(df))
    X32 = helpers.int32_indices(X64)

    assert X32.indices.dtype == np.int32 and X32.indptr.dtype == np.int32
    assert X32.shape == X64.shape
    assert (X32 != X64).nnz == 0


def test_fit_features_gives_int32_and_lasso_fits(green_path):
    df = helpers.read_dataframe(green_path)
    dv, X = helpers.fit_features(df)
    X_again = helpers.transform_features(dv, df)

    for M in (X, X_again):
        assert M.indices.dtype == np.int32 and M.indptr.dtype == np.int32
    assert X.shape == (len(df), len(dv.feature_names_))
    assert "trip_distance" in dv.feature_names_
    assert any(name.startswith("PU_DO=") for name in dv.feature_names_)

    y = helpers.target(df)
    lasso = Lasso(alpha=0.01).fit(X, y)  # raises on int64 indices with scikit-learn >= 1.9
    assert np.isfinite(lasso.predict(X_again)).all()


def notebook_02_dicts(df):
    """The trips as notebook 02 (and the course) turns them into dictionaries."""
    df = df.assign(PU_DO=df["PULocationID"] + "_" + df["DOLocationID"])
    return df[["PU_DO", "trip_distance"]].to_dict(orient="records")


def test_the_columnar_features_equal_notebook_02s_dictvectorizer(synthetic_dir):
    """helpers' columnar path (yellow scale, notebooks 03-05, 08) gives notebook 02's matrices.

    Fitted the same way, the vocabularies match; a fitted DictVectorizer transforms validation
    trips, unseen zone pairs included, into the same matrix as `dv.transform` of the dicts, both
    with `helpers.transform_features` and with the packaged model's own code (trip_model.py).
    """
    from helpers.trip_model import TripDurationModel

    train = helpers.load_month("green", "2023-01", "synthetic", synthetic_dir, 6000).df
    valid = helpers.load_month("green", "2023-02", "synthetic", synthetic_dir, 6000).df
    dv = DictVectorizer()
    X_course = dv.fit_transform(notebook_02_dicts(train))
    V_course = dv.transform(notebook_02_dicts(valid))
    unseen = set(valid["PULocationID"] + "_" + valid["DOLocationID"]) - set(
        train["PULocationID"] + "_" + train["DOLocationID"]
    )
    assert unseen, "the months must differ in some zone pairs for this test to mean anything"

    dv_fast, X_fast = helpers.fit_features(train)
    assert dv_fast.feature_names_ == dv.feature_names_ and dv_fast.vocabulary_ == dv.vocabulary_
    assert X_fast.shape == X_course.shape and (X_fast != X_course).nnz == 0
    V_fast = helpers.transform_features(dv, valid)  # notebook 02 on a validation month > MAX_TRIPS
    assert V_fast.shape == V_course.shape and (V_fast != V_course).nnz == 0

    packaged = TripDurationModel()
    packaged.dv = dv
    trips = valid.astype({"PULocationID": int, "DOLocationID": int})  # as in the TLC files
    V_model = packaged.features(trips)
    assert V_model.shape == V_course.shape and (V_model != V_course).nnz == 0


# --- MLflow set-up ------------------------------------------------------------------------------


@pytest.fixture
def isolated_mlflow(tracking_uri, monkeypatch):
    """setup_mlflow sets process-wide MLflow state: give it back after the test."""
    import mlflow.tracking._tracking_service.utils as tracking_utils
    import mlflow.tracking.fluent as fluent

    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    # the URI an earlier test set in this process is forgotten: MLflow reads this test's store
    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
    monkeypatch.setattr(fluent, "_active_experiment_id", fluent._active_experiment_id)
    return tracking_uri


def test_setup_mlflow_creates_the_experiment(isolated_mlflow, tmp_path):
    import mlflow
    from mlflow.tracking import MlflowClient

    experiment = helpers.setup_mlflow("nyc-taxi-test", isolated_mlflow)

    assert experiment.name == "nyc-taxi-test"
    assert mlflow.get_tracking_uri() == isolated_mlflow
    assert (tmp_path / "mlflow.db").exists()
    stored = MlflowClient(isolated_mlflow).get_experiment_by_name("nyc-taxi-test")
    assert stored is not None and stored.experiment_id == experiment.experiment_id

    # called again (a notebook re-run): the same experiment, not a new one
    again = helpers.setup_mlflow("nyc-taxi-test")  # the URI now comes from MLFLOW_TRACKING_URI
    assert again.experiment_id == experiment.experiment_id


def test_setup_mlflow_with_a_server_that_is_not_running(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"

    start = time.monotonic()
    with pytest.raises(helpers.TrackingServerError) as err:
        helpers.setup_mlflow("x", uri)

    assert time.monotonic() - start < 5
    message = str(err.value)
    assert uri in message
    assert "mlflow server --host 127.0.0.1 --port" in message  # says how to start one


def test_tracking_uri_with_an_unknown_scheme_is_refused_at_set_up(isolated_mlflow):
    import mlflow

    start = time.monotonic()
    with pytest.raises(TrackingUriError) as err:
        helpers.setup_mlflow("x", "htp://127.0.0.1:5000")
    elapsed = time.monotonic() - start

    message = str(err.value)
    assert "unknown scheme 'htp'" in message and "Did you mean http://?" in message
    assert "sqlite:///" in message and "leave TRACKING_URI empty" in message  # what to write
    assert elapsed < 1, f"took {elapsed:.1f} s"
    assert mlflow.get_tracking_uri() == isolated_mlflow  # MLflow was not pointed at it
    # SQLAlchemy's name is postgresql://; the password is not printed
    with pytest.raises(TrackingUriError) as err:
        helpers.setup_mlflow("x", "postgres://me:s3cret@127.0.0.1/db")
    assert "Did you mean postgresql://?" in str(err.value) and "s3cret" not in str(err.value)


def test_set_up_for_a_server_makes_mlflow_fail_fast(monkeypatch):
    for key in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "3")  # a learner's own choice
    with pytest.raises(helpers.TrackingServerError):
        helpers.setup_mlflow("x", f"http://127.0.0.1:{free_port()}")
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "2"
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "30"
    assert os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] == "3"  # kept


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_default_tracking_uri_ignores_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TAXI_DATA_DIR", raising=False)

    uri = helpers.default_tracking_uri()

    # ROOT is this file's grandparent: the folder with README.md and helpers/
    assert (ROOT / "README.md").exists() and (ROOT / "helpers" / "tracking.py").exists()
    assert uri == f"sqlite:///{ROOT / 'mlflow.db'}"
    assert str(tmp_path) not in uri
    assert helpers.default_data_dir() == ROOT / "data"


def test_import_helpers_has_no_side_effects(tmp_path):
    code = "import sys; import helpers; print('mlflow' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert result.stdout.strip().splitlines()[-1] == "False", "import helpers imported mlflow"
    assert not (tmp_path / "mlflow.db").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no mlflow.db, mlruns/, data/ ...


# MLflow's advice for model signatures (integer columns cannot hold missing values), printed by
# both sides on the integer-id frame: not what this test is about
@pytest.mark.filterwarnings("ignore:Hint. Inferred schema contains integer column")
def test_a_months_dataset_has_the_schema_mlflow_would_infer(green_path):
    """helpers.pandas_dataset finds the schema per column (fast at 3M trips): MLflow's, exactly."""
    import mlflow.data
    from mlflow.data.sources import LocalArtifactDatasetSource

    month = helpers.read_dataframe(green_path)
    frames = {
        "month's columns": month[helpers.datasets.COLUMNS],
        "raw trips, integer ids": month[helpers.datasets.COLUMNS].astype(
            {"PULocationID": "int64", "DOLocationID": "int64"}
        ),
        "missing values after row 1000": month[helpers.datasets.COLUMNS].assign(
            trip_distance=lambda df: df.trip_distance.where(df.index < 2000)
        ),
    }
    source = LocalArtifactDatasetSource(str(green_path))
    for label, df in frames.items():
        ours = helpers.pandas_dataset(df, source=source, name="m", targets="duration")
        theirs = mlflow.data.from_pandas(df, source=source, name="m", targets="duration")
        assert ours.schema == theirs.schema, label
        assert ours.to_dict() == theirs.to_dict(), label  # digest, profile, schema: what is logged
