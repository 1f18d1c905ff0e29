"""The course's features: one-hot pickup_dropoff zone pair plus trip distance (notebook 02).

Notebook 02 builds them the course's way, in its cells: `df.to_dict(orient="records")`, then
`DictVectorizer().fit_transform` and `transform`. `fit_features` and `transform_features` give
exactly the same matrices and a fitted `DictVectorizer` (tests/test_month_loading.py checks it), but build
the sparse matrix straight from the columns: on a yellow-taxi month (3 million trips) the
dictionaries take 20 s and 2.6 GiB, this 3.5 s and 0.9 GiB (docs/scale.md). They serve the
later notebooks' one-hot features (03, 04, 08) and 02's validation on a yellow month.
`course_fit_features` keeps the course's way, for comparison and the benchmark.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction import DictVectorizer

CATEGORICAL = ["PU_DO"]
NUMERICAL = ["trip_distance"]
TARGET = "duration"


def add_pu_do(df: pd.DataFrame) -> pd.DataFrame:
    """Add the `PU_DO` column: pickup and dropoff zone ids joined by '_' (02)."""
    return df.assign(PU_DO=df["PULocationID"].astype(str) + "_" + df["DOLocationID"].astype(str))


def to_records(df: pd.DataFrame) -> list[dict]:
    """Rows as the dicts DictVectorizer takes: {'PU_DO': '166_143', 'trip_distance': 2.58} (02)."""
    if "PU_DO" not in df:
        df = add_pu_do(df)
    return df[CATEGORICAL + NUMERICAL].to_dict(orient="records")


def int32_indices(X: sp.spmatrix | sp.sparray) -> sp.csr_matrix:
    """CSR with 32-bit indices: scikit-learn 1.9's DictVectorizer gives int64, which Lasso rejects."""
    X = sp.csr_matrix(X)
    if X.nnz < np.iinfo(np.int32).max:
        X.indices = X.indices.astype(np.int32, copy=False)
        X.indptr = X.indptr.astype(np.int32, copy=False)
    return X


def _pair_codes(df: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Each row's zone pair as an index into a list of 'PU_DO=<pickup>_<dropoff>' names.

    Pickup and dropoff ids are factorised separately and combined as integers, so the strings
    are built once per distinct pair (thousands), not once per trip (millions).
    """
    if "PU_DO" in df:
        codes, uniques = pd.factorize(df["PU_DO"].astype(str))
        return codes, ["PU_DO=" + u for u in uniques]
    pu_codes, pu = pd.factorize(df["PULocationID"].astype(str))
    do_codes, do = pd.factorize(df["DOLocationID"].astype(str))
    pair = pu_codes.astype(np.int64) * len(do) + do_codes
    uniq, codes = np.unique(pair, return_inverse=True)
    names = [f"PU_DO={pu[p // len(do)]}_{do[p % len(do)]}" for p in uniq]
    return codes.ravel(), names


def fit_features(df: pd.DataFrame) -> tuple[DictVectorizer, sp.csr_matrix]:
    """`DictVectorizer().fit_transform` of the month's dicts, built from the columns (02)."""
    # DictVectorizer sorts its feature names: 'PU_DO=...' names first, then 'trip_distance'
    _, pair_names = _pair_codes(df)
    names = sorted(pair_names) + NUMERICAL
    dv = DictVectorizer()
    dv.feature_names_ = names
    dv.vocabulary_ = {name: i for i, name in enumerate(names)}
    return dv, transform_features(dv, df)


def transform_features(dv: DictVectorizer, df: pd.DataFrame) -> sp.csr_matrix:
    """`dv.transform` of the month's dicts, built from the columns; unseen pairs are left out (02)."""
    n = len(df)
    codes, pair_names = _pair_codes(df)
    column_of_pair = np.array([dv.vocabulary_.get(name, -1) for name in pair_names], dtype=np.int64)
    pair_col = column_of_pair[codes] if n else np.empty(0, dtype=np.int64)
    known = pair_col >= 0
    distance_col = dv.vocabulary_["trip_distance"]
    # each row: its zone pair's column (if seen in training) with 1.0, then trip_distance
    counts = known.astype(np.int64) + 1
    indptr = np.concatenate([[0], np.cumsum(counts)])
    indices = np.full(indptr[-1], distance_col, dtype=np.int64)
    data = np.empty(indptr[-1], dtype=np.float64)
    data[indptr[1:] - 1] = df["trip_distance"].to_numpy(dtype=np.float64)
    starts = indptr[:-1][known]
    indices[starts] = pair_col[known]
    data[starts] = 1.0
    X = sp.csr_matrix((data, indices, indptr), shape=(n, len(dv.feature_names_)))
    return int32_indices(X)


def course_fit_features(df: pd.DataFrame) -> tuple[DictVectorizer, sp.csr_matrix]:
    """The course's way: `to_dict(orient="records")` then `DictVectorizer.fit_transform` (05)."""
    dv = DictVectorizer()
    return dv, int32_indices(dv.fit_transform(to_records(df)))


def target(df: pd.DataFrame) -> np.ndarray:
    """The target: trip duration in minutes (02)."""
    return df[TARGET].to_numpy()


class ZoneFeatures(BaseEstimator, TransformerMixin):
    """Pickup zone, dropoff zone and distance as a dense float32 matrix (03)."""

    columns = ["PULocationID", "DOLocationID", "trip_distance"]

    def fit(self, X: pd.DataFrame, y=None) -> ZoneFeatures:
        self.feature_names_ = list(self.columns)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        return np.column_stack(
            [pd.to_numeric(X[c], errors="coerce").to_numpy(np.float32) for c in self.columns]
        )

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray(self.columns, dtype=object)


class OneHotFeatures(BaseEstimator, TransformerMixin):
    """The course's features (PU_DO one-hot + trip_distance) as a fit/transform object (03)."""

    def fit(self, X: pd.DataFrame, y=None) -> OneHotFeatures:
        self.dv_, _ = fit_features(X)
        return self

    def transform(self, X: pd.DataFrame):
        return transform_features(self.dv_, X)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray(self.dv_.feature_names_, dtype=object)


FEATURES = {"zones": ZoneFeatures, "onehot": OneHotFeatures}


def make_features(kind: str, train_df: pd.DataFrame):
    """A fitted preprocessor of kind 'zones' or 'onehot' (03)."""
    if kind not in FEATURES:
        raise ValueError(f"Unknown features {kind!r}: use one of {', '.join(FEATURES)}.")
    return FEATURES[kind]().fit(train_df)
