"""Models from raw trips to minutes: their input, requirements and logging (notebooks 05-07).

The model itself is code: `helpers/trip_model.py`, a self-contained file that MLflow stores in
each model and runs when loading it ("models from code"). Notebook 05 logs it step by step;
`log_trip_model` does the same in one call for notebook 07, whose subject is where models go.
"""

from __future__ import annotations

import importlib.metadata
import pickle
import tempfile
import warnings
from pathlib import Path

import pandas as pd

from helpers.features import transform_features
from helpers.paths import repo_root

# the columns trip_model.TripDurationModel takes (trip_model.py cannot import them from here)
INPUT_COLUMNS = ["PULocationID", "DOLocationID", "trip_distance"]
# what the model needs to load and predict, pinned to the versions it was trained with:
# mlflow-skinny is MLflow without its server and UI
REQUIREMENTS = ("mlflow-skinny", "numpy", "pandas", "scipy", "scikit-learn", "xgboost")


def model_code() -> Path:
    """The file MLflow logs as the model's code: helpers/trip_model.py (05)."""
    return repo_root() / "helpers" / "trip_model.py"


def raw_trips(df: pd.DataFrame) -> pd.DataFrame:
    """The model's input: the three raw columns of a TLC file, ids as integers (05)."""
    missing = [c for c in INPUT_COLUMNS if c not in df]
    if missing:
        raise KeyError(
            f"The trips lack {', '.join(missing)}: the model needs {', '.join(INPUT_COLUMNS)}."
        )
    return pd.DataFrame(
        {
            "PULocationID": pd.to_numeric(df["PULocationID"]).astype("int64"),
            "DOLocationID": pd.to_numeric(df["DOLocationID"]).astype("int64"),
            "trip_distance": df["trip_distance"].astype("float64"),
        }
    ).reset_index(drop=True)


def model_requirements() -> list[str]:
    """pip requirements pinned to the installed versions (faster and surer than inferring them) (05)."""
    return [f"{name}=={importlib.metadata.version(name)}" for name in REQUIREMENTS]


def log_trip_model(dv, model, example: pd.DataFrame, name: str = "model", **kwargs):
    """Log a scikit-learn regressor on the course's features, with its DictVectorizer, as the
    model of trip_model.py in the active run; return the ModelInfo (07; notebook 05 shows the steps).
    """
    import mlflow
    from mlflow.models import infer_signature

    example = raw_trips(example).head(5)
    predicted = model.predict(transform_features(dv, example))
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = {"model": f"{tmp}/model.pkl", "dv": f"{tmp}/dv.pkl"}
        Path(artifacts["model"]).write_bytes(pickle.dumps(model))
        Path(artifacts["dv"]).write_bytes(pickle.dumps(dv))
        with warnings.catch_warnings():
            # zone ids are integers and never missing in TLC files: the hint does not apply
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
            signature = infer_signature(example, predicted)
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=model_code(),
            artifacts=artifacts,
            signature=signature,
            input_example=example,
            pip_requirements=model_requirements(),
            **kwargs,
        )


def xgboost_best_trees(booster):
    """The booster cut at its best iteration (early stopping keeps 50 rounds past it) (05)."""
    best = booster.attributes().get("best_iteration")
    return booster[: int(best) + 1] if best is not None else booster
