"""Helpers for the experiment-tracking module: data, features and MLflow set-up.

Importing this package has no side effects: nothing is downloaded and MLflow is not configured
until a function is called.
"""

from helpers.data import (
    DATA_SOURCES,
    TaxiDataError,
    TaxiFile,
    TaxiMonth,
    data_tags,
    download_taxi_file,
    get_taxi_file,
    load_month,
    read_dataframe,
    sample_month,
    taxi_filename,
)
from helpers.datasets import as_dataset, dataset_source, file_dataset, log_months, pandas_dataset
from helpers.features import (
    add_pu_do,
    fit_features,
    int32_indices,
    target,
    to_records,
    transform_features,
)
from helpers.paths import default_data_dir, display_path, repo_root
from helpers.tracking import (
    TrackingServerError,
    artifact_root,
    check_tracking_server,
    check_tracking_uri,
    default_tracking_uri,
    prepare_tracking,
    setup_mlflow,
)

__all__ = [
    "DATA_SOURCES",
    "TaxiDataError",
    "TaxiFile",
    "TaxiMonth",
    "TrackingServerError",
    "add_pu_do",
    "artifact_root",
    "as_dataset",
    "check_tracking_server",
    "check_tracking_uri",
    "data_tags",
    "dataset_source",
    "default_data_dir",
    "default_tracking_uri",
    "display_path",
    "download_taxi_file",
    "file_dataset",
    "fit_features",
    "get_taxi_file",
    "int32_indices",
    "load_month",
    "log_months",
    "pandas_dataset",
    "prepare_tracking",
    "read_dataframe",
    "repo_root",
    "sample_month",
    "setup_mlflow",
    "target",
    "taxi_filename",
    "to_records",
    "transform_features",
]
