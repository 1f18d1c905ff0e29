"""The course's reference numbers on the real TLC green files (2023-01..03).

Skipped, with the reason printed, when the files are not found ($TLC_DATA_DIR,
$TAXI_DATA_DIR, ../shared/tlc-data beside the repository, data/: infra.realdata). Reference figures: ../shared/tlc-data/README.md.
"""

from __future__ import annotations

import pytest
from sklearn.linear_model import Lasso, LinearRegression, Ridge
from sklearn.metrics import root_mean_squared_error

import helpers
from tests.support import REAL_MONTHS

pytestmark = pytest.mark.realdata

MONTHS = dict(zip(("train", "valid", "test"), REAL_MONTHS, strict=True))


@pytest.fixture(scope="module")
def months(real_data_dir) -> dict[str, helpers.TaxiMonth]:
    return {
        key: helpers.load_month("green", month, source="tlc", data_dir=real_data_dir)
        for key, month in MONTHS.items()
    }


@pytest.fixture(scope="module")
def features(months):
    dv, X_train = helpers.fit_features(months["train"].df)
    X = {key: helpers.transform_features(dv, m.df) for key, m in months.items() if key != "train"}
    y = {key: helpers.target(m.df) for key, m in months.items()}
    return dv, X_train, X, y


def test_row_counts_after_the_1_to_60_minute_filter(months):
    counts = {key: len(m.df) for key, m in months.items()}
    assert counts == {"train": 65946, "valid": 62574, "test": 69392}
    for m in months.values():
        assert m.source == "tlc"
        assert m.df.duration.between(1, 60).all()
        assert m.df.PULocationID.map(type).eq(str).all()


def test_vectoriser_has_5702_features(features):
    dv, X_train, _, _ = features
    assert len(dv.feature_names_) == 5702
    assert X_train.shape == (65946, 5702)


def test_linear_regression_rmse(features):
    """Converged (tol=1e-10): the same figures on every CPU and thread count (../shared README)."""
    _, X_train, X, y = features
    lr = LinearRegression(tol=1e-10).fit(X_train, y["train"])
    assert root_mean_squared_error(y["valid"], lr.predict(X["valid"])) == pytest.approx(
        6.03384, abs=5e-5
    )
    assert root_mean_squared_error(y["test"], lr.predict(X["test"])) == pytest.approx(
        6.24759, abs=5e-5
    )


@pytest.mark.parametrize("alpha, rmse", [(0.01, 6.0311), (0.1, 6.0114), (1.0, 6.0085)])
def test_ridge_rmse_converged(features, alpha, rmse):
    """Ridge's sparse solver stops early at its default tol=1e-4; at 1e-10 it does not."""
    _, X_train, X, y = features
    ridge = Ridge(alpha=alpha, tol=1e-10).fit(X_train, y["train"])
    assert root_mean_squared_error(y["valid"], ridge.predict(X["valid"])) == pytest.approx(
        rmse, abs=5e-5
    )


def test_lasso_fits_on_int32_indices(features):
    _, X_train, X, y = features
    lasso = Lasso(alpha=0.01).fit(X_train, y["train"])
    assert root_mean_squared_error(y["valid"], lasso.predict(X["valid"])) == pytest.approx(
        8.2314, abs=5e-4
    )


def test_data_tags_record_the_real_files(months):
    tags = helpers.data_tags(train=months["train"], valid=months["valid"])
    assert tags["data.source"] == "tlc"
    assert tags["data.train_path"].endswith("green_tripdata_2023-01.parquet")
    assert tags["data.valid_path"].endswith("green_tripdata_2023-02.parquet")
    assert tags["data.train_month"] == "green 2023-01"
    assert tags["data.valid_month"] == "green 2023-02"
