"""Trip duration from raw trip records: the code of the MLflow models of notebooks 05 to 07.

A *model from code*: notebook 05 passes this file's path to
`mlflow.pyfunc.log_model(python_model=..., artifacts=...)`. MLflow copies the file into the model
and runs it when the model is loaded; `set_model` at the bottom tells MLflow which object is the
model. Nothing is pickled but the fitted pieces themselves, and the file imports nothing from this
repository: the model loads wherever its requirements.txt is installed.

Artifacts (files given to `log_model`, copied into the model):

- `model`: the fitted regressor, an xgboost Booster saved by `save_model` (`.ubj` or `.json`) or
  a pickled scikit-learn estimator (`.pkl`);
- `dv` (optional): the pickled DictVectorizer of the course's features, `PU_DO` one-hot plus
  `trip_distance`. Without it the features are the three input columns, as numbers.
"""

import pickle

import numpy as np
import pandas as pd
import scipy.sparse as sp
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

INPUT_COLUMNS = ["PULocationID", "DOLocationID", "trip_distance"]


class TripDurationModel(PythonModel):
    """Raw trips in (PULocationID, DOLocationID, trip_distance), predicted minutes out."""

    def load_context(self, context) -> None:
        self.dv = None
        if "dv" in context.artifacts:
            with open(context.artifacts["dv"], "rb") as f_in:
                self.dv = pickle.load(f_in)
        path = context.artifacts["model"]
        if path.endswith((".ubj", ".json")):
            import xgboost as xgb

            self.model = xgb.Booster(model_file=path)
        else:
            with open(path, "rb") as f_in:
                self.model = pickle.load(f_in)

    def features(self, trips: pd.DataFrame):
        """The matrix the regressor was trained on."""
        if self.dv is None:
            return trips[INPUT_COLUMNS].to_numpy(dtype=np.float32)
        # dv.transform's matrix, built from the columns: per trip its zone pair's column (1.0, none
        # for a pair unseen in training) and trip_distance. One dictionary per trip, the
        # course's way, takes a minute on a yellow month (3 million trips); this, seconds.
        pu_do = (
            "PU_DO=" + trips["PULocationID"].astype(str) + "_" + trips["DOLocationID"].astype(str)
        )
        pair = pu_do.map(self.dv.vocabulary_).to_numpy(dtype="float64")  # NaN: unseen pair
        known = np.flatnonzero(~np.isnan(pair))
        n = len(trips)
        rows = np.concatenate([known, np.arange(n)])
        cols = np.concatenate([pair[known], np.full(n, self.dv.vocabulary_["trip_distance"])])
        values = np.concatenate([np.ones(len(known)), trips["trip_distance"].to_numpy("float64")])
        shape = (n, len(self.dv.feature_names_))
        return sp.csr_matrix((values, (rows, cols.astype("int64"))), shape=shape)

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> np.ndarray:
        trips = pd.DataFrame(model_input).reset_index(drop=True)
        missing = [c for c in INPUT_COLUMNS if c not in trips]
        if missing:
            raise KeyError(
                f"The trips lack {', '.join(missing)}: the model needs {', '.join(INPUT_COLUMNS)}."
            )
        X = self.features(trips)
        if type(self.model).__name__ == "Booster":  # xgboost's native model takes a DMatrix
            import xgboost as xgb

            X = xgb.DMatrix(X, feature_names=self.model.feature_names)
        return np.asarray(self.model.predict(X), dtype="float64")


set_model(TripDurationModel())
