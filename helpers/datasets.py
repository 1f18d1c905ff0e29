"""Months as MLflow datasets, so each run says which data trained and scored it (notebook 02).

Notebook 02 shows the two calls (`mlflow.data.from_pandas` and `mlflow.log_input`). Notebooks 03
to 05 make each month's dataset once with `as_dataset` (`pandas_dataset` in place of
`from_pandas`: the same dataset, its schema found column by column, fast on a yellow month) and
call `mlflow.log_input` in their cells; 06 and 09 call `log_months`, which does both.
"""

from __future__ import annotations

import functools
import hashlib
import os

from helpers.data import TLC_BASE_URL, TaxiMonth

# the `context` of each role, as the UI's Datasets column shows it
CONTEXTS = {"train": "training", "valid": "validation", "test": "test"}


def dataset_source(month: TaxiMonth):
    """Where the month comes from: the TLC's address for a real file, else the generated file (02).

    Given as a source object, not a string: MLflow 3.17 warns that a local path "can be
    interpreted in multiple ways" when it has to guess.
    """
    from mlflow.data.http_dataset_source import HTTPDatasetSource
    from mlflow.data.sources import LocalArtifactDatasetSource

    if month.source == "tlc":
        return HTTPDatasetSource(f"{TLC_BASE_URL}/{month.file.name}")
    return LocalArtifactDatasetSource(str(month.file.path.resolve()))


# what the models see of a month: the columns of the features, and the target
COLUMNS = ["PULocationID", "DOLocationID", "trip_distance", "duration"]


def pandas_dataset(df, source, name: str, targets: str | None = None):
    """`mlflow.data.from_pandas(df, source, name=..., targets=...)`, with its schema found per column.

    Why not MLflow's own: its `PandasDataset.schema` (MLflow 3.17, `mlflow.types.utils._infer_schema`)
    looks at every value of a string column, and at every value of every column for missing ones,
    in Python: 26 s for one yellow month (2.85 million trips), on each `log_input` and `evaluate`.
    Here the types come from MLflow's inference on the first 1000 rows (a column's type is its
    dtype; a string column holds only strings), and `required` from `isna()` over the whole
    column: the same schema (tests/test_month_loading.py compares it with MLflow's), in milliseconds.
    """
    return _dataset_class()(df=df, source=source, name=name, targets=targets)


def columnwise_schema(df):
    """The schema `mlflow.data.from_pandas(df).schema` would have, found column by column (02)."""
    from mlflow.types import ColSpec, Schema
    from mlflow.types.utils import _infer_schema

    typed = _infer_schema(df.head(1000))
    return Schema(
        [
            ColSpec(spec.type, spec.name, required=not bool(df[spec.name].isna().any()))
            for spec in typed.inputs
        ]
    )


@functools.cache
def _dataset_class():
    """`PandasDataset` with `columnwise_schema`, made on first use (helpers imports MLflow lazily)."""
    from mlflow.data.pandas_dataset import PandasDataset

    class ColumnwiseSchemaDataset(PandasDataset):
        """A `PandasDataset` whose schema is `columnwise_schema` of its frame (see `pandas_dataset`)."""

        @functools.cached_property
        def schema(self):
            return columnwise_schema(self.df)

    return ColumnwiseSchemaDataset


def as_dataset(month: TaxiMonth):
    """The month's feature columns and target as an MLflow dataset named after its file (03)."""
    return pandas_dataset(
        month.df[COLUMNS],
        source=dataset_source(month),
        name=month.file.path.stem + (f"-sample-{len(month.df)}" if month.sampled else ""),
        targets="duration",
    )


_DATASETS: dict[int, tuple[TaxiMonth, object]] = {}  # id(month) -> (month, its dataset)


def log_months(**months: TaxiMonth) -> None:
    """`mlflow.log_input` for each month in its role: log_months(train=..., valid=...) (06).

    A month's dataset (its digest) is computed once per kernel, not once per trial.
    """
    import mlflow

    for role, month in months.items():
        if role not in CONTEXTS:
            raise ValueError(f"Unknown role {role!r}: use one of {', '.join(CONTEXTS)}.")
        known = _DATASETS.get(id(month))
        if known is None or known[0] is not month:
            known = _DATASETS[id(month)] = (month, as_dataset(month))
        mlflow.log_input(known[1], context=CONTEXTS[role])


def file_dataset(path: str | os.PathLike):
    """A file the model trains or scores on, as an MLflow dataset (the homework's pickles, 08).

    `mlflow.data` has no dataset type for a pickled sparse matrix, so the file is logged as a
    `MetaDataset`: its name, its absolute path as the source, and a digest of its bytes (MLflow
    would otherwise hash only the name and path, and the digest would not change with the data).
    """
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.data.sources import LocalArtifactDatasetSource

    path = os.path.abspath(path)
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    name = os.path.basename(path)
    return MetaDataset(LocalArtifactDatasetSource(path), name=name, digest=sha.hexdigest()[:8])
