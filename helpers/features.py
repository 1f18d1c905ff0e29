"""The course's features: one-hot pickup_dropoff zone pair plus trip distance (notebook 02)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
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


def fit_features(df: pd.DataFrame) -> tuple[DictVectorizer, sp.csr_matrix]:
    """Fit a DictVectorizer on the training month; return it and the training matrix (02)."""
    dv = DictVectorizer()
    X = dv.fit_transform(to_records(df))
    return dv, int32_indices(X)


def transform_features(dv: DictVectorizer, df: pd.DataFrame) -> sp.csr_matrix:
    """Turn another month into the matrix of a fitted DictVectorizer (02)."""
    return int32_indices(dv.transform(to_records(df)))


def target(df: pd.DataFrame) -> np.ndarray:
    """The target: trip duration in minutes (02)."""
    return df[TARGET].to_numpy()
