"""One MLflow model from raw trips to minutes: the preprocessor and the model together (notebook 05).

`TripDurationModel` is a `mlflow.pyfunc.PythonModel`. It lives here, in an importable module, so
that loading the model finds its class; `log_trip_model` also ships this package inside the
model (`code_paths`), so the model loads on a machine that has never seen this repository.
"""

from __future__ import annotations

import importlib.metadata
import warnings

import mlflow
import numpy as np
import pandas as pd
from sklearn.feature_extraction import DictVectorizer

from helpers.paths import repo_root
from helpers.tuning import OneHotFeatures

INPUT_COLUMNS = ["PULocationID", "DOLocationID", "trip_distance"]
# what the model needs at prediction time, pinned to the versions it was trained with
REQUIREMENTS = ("mlflow", "cloudpickle", "numpy", "pandas", "scipy", "scikit-learn", "xgboost")


def as_preprocessor(obj):
    """A fitted preprocessor with `.transform(frame)`: wraps the course's bare DictVectorizer (05)."""
    if isinstance(obj, DictVectorizer):
        wrapped = OneHotFeatures()
        wrapped.dv_ = obj
        return wrapped
    if not hasattr(obj, "transform"):
        raise TypeError(f"{type(obj).__name__} is not a preprocessor: it has no transform().")
    return obj


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


class TripDurationModel(mlflow.pyfunc.PythonModel):
    """Raw trip records in (PULocationID, DOLocationID, trip_distance), predicted minutes out (05)."""

    def __init__(self, preprocessor, model, description: str = ""):
        self.preprocessor = as_preprocessor(preprocessor)
        self.model = model
        self.description = description

    def _matrix(self, trips: pd.DataFrame):
        frame = raw_trips(trips)
        # the course's features take the zone ids as strings ('166_143'), the zone features as numbers
        return self.preprocessor.transform(frame.astype({"PULocationID": str, "DOLocationID": str}))

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> np.ndarray:
        X = self._matrix(pd.DataFrame(model_input))
        if type(self.model).__name__ == "Booster":  # xgboost's native model takes a DMatrix
            import xgboost as xgb

            names = [str(n) for n in self.preprocessor.get_feature_names_out()]
            X = xgb.DMatrix(X, feature_names=names if len(names) < 100 else None)
        return np.asarray(self.model.predict(X), dtype="float64")


def model_requirements() -> list[str]:
    """pip requirements pinned to the installed versions (faster and surer than inferring them) (05)."""
    return [f"{name}=={importlib.metadata.version(name)}" for name in REQUIREMENTS]


def helpers_code_path() -> str:
    """This package's folder, shipped inside each model so the class loads anywhere (05)."""
    return str(repo_root() / "helpers")


def log_trip_model(
    preprocessor,
    model,
    example: pd.DataFrame,
    name: str = "trip-duration",
    description: str = "",
    **kwargs,
):
    """Log a TripDurationModel in the active run, with signature and input example; return ModelInfo (05)."""
    from mlflow.models import infer_signature

    python_model = TripDurationModel(preprocessor, model, description)
    example = raw_trips(example).head(5)
    with warnings.catch_warnings():
        # zone ids are integers and never missing in TLC files: MLflow's hint about NaN in int columns does not apply
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        signature = infer_signature(example, python_model.predict(None, example))
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=python_model,
        signature=signature,
        input_example=example,
        code_paths=[helpers_code_path()],
        pip_requirements=model_requirements(),
        **kwargs,
    )


def xgboost_best_trees(booster):
    """The booster cut at its best iteration (early stopping keeps 50 rounds past it) (05)."""
    best = booster.attributes().get("best_iteration")
    return booster[: int(best) + 1] if best is not None else booster
