"""Months as MLflow datasets, so each run says which data trained and scored it (notebook 02).

Notebook 02 shows the two calls (`mlflow.data.from_pandas` and `mlflow.log_input`); the later
notebooks call `log_months`, which makes the same calls.
"""

from __future__ import annotations

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


def as_dataset(month: TaxiMonth):
    """The month's feature columns and target as an MLflow dataset named after its file (02)."""
    import mlflow.data

    return mlflow.data.from_pandas(
        month.df[COLUMNS],
        source=dataset_source(month),
        name=month.file.path.stem + (f"-sample-{len(month.df)}" if month.sampled else ""),
        targets="duration",
    )


_DATASETS: dict[int, tuple[TaxiMonth, object]] = {}  # id(month) -> (month, its dataset)


def log_months(**months: TaxiMonth) -> None:
    """`mlflow.log_input` for each month in its role: log_months(train=..., valid=...) (03).

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
