"""Notebooks 01-04 under papermill on small generated data, checked through what they leave in MLflow."""

from __future__ import annotations

import mlflow
import pytest
from mlflow import MlflowClient

from tests.conftest import EXPERIMENT
from tests.notebook_runner import NOTEBOOKS


@pytest.fixture(scope="module")
def course_store(synthetic_course):
    """The store in which 01..06 ran in order on generated data (conftest.synthetic_course)."""
    mlflow.set_tracking_uri(synthetic_course.uri)
    return synthetic_course.client


def runs(client: MlflowClient, experiment: str, filter_string: str = "") -> list:
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"experiment {experiment!r} missing"
    return client.search_runs([exp.experiment_id], filter_string, order_by=["metrics.rmse ASC"])


def logged_models(client: MlflowClient, run) -> list:
    return mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
        output_format="list",
    )


def by_name(client, name: str):
    (run,) = runs(client, EXPERIMENT, f"tags.mlflow.runName = '{name}'")
    return run


def test_01_baseline_run_records_data(course_store):
    (run,) = runs(course_store, "test-intro", "tags.mlflow.runName = 'baseline-mean'")
    assert run.info.run_name == "baseline-mean"
    assert run.data.metrics["rmse"] > 5
    assert run.data.tags["data.source"] == "synthetic"
    assert run.data.tags["data.train_path"].endswith("green_tripdata_2023-01.parquet")
    assert run.data.tags["data.valid_path"].endswith("green_tripdata_2023-02.parquet")
    assert "mlflow.user" in run.data.tags and "mlflow.source.name" in run.data.tags
    assert "mlflow.source.git.commit" not in run.data.tags  # a notebook's kernel has no commit


def test_01_a_script_run_records_its_git_commit(course_store):
    """What 01 says: a script in a git checkout gets the commit it ran from."""
    import subprocess

    from tests.conftest import require
    from tests.notebook_runner import NOTEBOOKS

    (run,) = runs(course_store, "test-intro", "tags.mlflow.runName = 'from-a-script'")
    assert run.data.tags["mlflow.source.type"] == "LOCAL"
    assert run.data.tags["mlflow.source.name"].endswith("scripts/first_run.py")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=NOTEBOOKS, capture_output=True, text=True
    ).stdout.strip()
    require(head, "the repository is not a git checkout: no commit to compare")
    assert run.data.tags["mlflow.source.git.commit"] == head


def test_02_one_run_per_model_with_tags_params_artifacts(course_store):
    model_runs = runs(course_store, EXPERIMENT, "tags.developer = 'course'")
    names = sorted(r.info.run_name for r in model_runs)
    assert names == sorted(
        [
            "linear-regression",
            "linear-regression-course-default",
            "lasso-alpha-0.01",
            "ridge-alpha-0.01",
            "lasso-alpha-1.0",
            "ridge-alpha-1.0",
        ]
    )
    for run in model_runs:
        assert run.data.tags["data.source"] == "synthetic"
        assert run.data.params["train_path"] == "green_tripdata_2023-01.parquet"
        assert run.data.metrics["rmse"] > 0
        assert [f.path for f in course_store.list_artifacts(run.info.run_id, "preprocessor")] == [
            "preprocessor/preprocessor.b"
        ]
        assert [m.name for m in logged_models(course_store, run)] == ["model"]
    assert by_name(course_store, "lasso-alpha-1.0").data.params["alpha"] == "1.0"
    # the solver's tolerance is logged: converged for the reference run, the course's default beside it
    assert by_name(course_store, "linear-regression").data.params["tol"] == "1e-10"
    assert by_name(course_store, "linear-regression-course-default").data.params["tol"] == "1e-06"
    assert by_name(course_store, "ridge-alpha-1.0").data.params["tol"] == "1e-10"
    # a linear model clearly beats predicting the mean
    baseline = runs(course_store, "test-intro", "tags.mlflow.runName = 'baseline-mean'")[0]
    baseline = baseline.data.metrics["rmse"]
    assert by_name(course_store, "linear-regression").data.metrics["rmse"] < 0.85 * baseline


def test_03_one_child_run_per_trial_and_best_is_minimum(course_store):
    (parent,) = runs(course_store, EXPERIMENT, "tags.hyperopt_parent = 'true'")
    assert parent.data.params["max_evals"] == "4" and parent.data.params["search"] == "fast"
    trials = runs(course_store, EXPERIMENT, f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(trials) == 4
    for trial in trials:
        assert {"max_depth", "learning_rate", "reg_alpha", "reg_lambda", "min_child_weight"} <= set(
            trial.data.params
        )
        assert trial.data.params["objective"] == "reg:squarederror"
        assert trial.data.tags["data.source"] == "synthetic"
    best = min(trials, key=lambda r: r.data.metrics["rmse"])
    assert parent.data.tags["best_run_id"] == best.info.run_id
    assert parent.data.metrics["best_rmse"] == pytest.approx(best.data.metrics["rmse"])


def test_04_autolog_xgboost_and_four_sklearn_runs(course_store):
    xgb_run = by_name(course_store, "xgboost-best-params")
    (parent,) = runs(course_store, EXPERIMENT, "tags.hyperopt_parent = 'true'")
    best_trial = course_store.get_run(parent.data.tags["best_run_id"])
    assert xgb_run.data.tags["retrained_from"] == best_trial.info.run_id
    for key in ("max_depth", "learning_rate", "min_child_weight"):
        assert float(xgb_run.data.params[key]) == pytest.approx(float(best_trial.data.params[key]))
    history = course_store.get_metric_history(xgb_run.info.run_id, "validation-rmse")
    assert len(history) > 10
    artifacts = {f.path for f in course_store.list_artifacts(xgb_run.info.run_id)}
    assert {"feature_importance_weight.json", "preprocessor"} <= artifacts
    (model,) = logged_models(course_store, xgb_run)
    assert mlflow.pyfunc.load_model(model.model_uri).metadata.flavors.get("xgboost")

    for name in (
        "RandomForestRegressor",
        "GradientBoostingRegressor",
        "ExtraTreesRegressor",
        "LinearSVR",
    ):
        run = by_name(course_store, name)
        assert run.data.metrics["rmse"] > 0
        assert "training_score" in run.data.metrics  # autologged by mlflow.sklearn
    assert by_name(course_store, "RandomForestRegressor").data.params["n_estimators"] == "10"
    # the tuned xgboost clearly beats the linear model on the generated data
    lr = by_name(course_store, "linear-regression").data.metrics["rmse"]
    assert xgb_run.data.metrics["rmse"] < 0.9 * lr


CONTRACT = {
    "DATA_SOURCE",
    "DATA_DIR",
    "TAXI_COLOR",
    "TRAIN_MONTH",
    "VALID_MONTH",
    "TEST_MONTH",
    "TRACKING_URI",
    "EXPERIMENT_NAME",
}


@pytest.mark.parametrize(
    "path", sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")), ids=lambda p: p.name[:2]
)
def test_every_notebook_has_the_public_parameters(path):
    """One `parameters` cell per notebook, holding the public names, all parseable by papermill."""
    import nbformat
    import papermill as pm

    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: exactly one cell must be tagged `parameters`"
    params = pm.inspect_notebook(str(path))
    assert CONTRACT <= set(params), f"{path.name} lacks {sorted(CONTRACT - set(params))}"
    assert params["DATA_SOURCE"]["default"] == '"auto"'
    assert params["TRAIN_MONTH"]["default"] == '"2023-01"'


def dataset_inputs(run) -> dict[str, str]:
    """A run's dataset inputs as {context: dataset name}."""
    found = {}
    for dataset_input in run.inputs.dataset_inputs:
        tags = {t.key: t.value for t in dataset_input.tags}
        found[tags.get("mlflow.data.context", "(no context)")] = dataset_input.dataset.name
    return found


TRAIN_VALID = {"training": "green_tripdata_2023-01", "validation": "green_tripdata_2023-02"}


def test_02_to_05_training_runs_log_their_months_as_datasets(course_store):
    training_runs = runs(course_store, EXPERIMENT, "tags.developer = 'course'")  # 02
    training_runs += runs(course_store, EXPERIMENT, "tags.hyperopt_parent = 'true'")  # 03
    training_runs += runs(course_store, EXPERIMENT, "tags.optuna_parent = 'true'")  # 03
    training_runs += [by_name(course_store, "xgboost-best-params")]  # 04
    training_runs += [by_name(course_store, "RandomForestRegressor")]  # 04
    (parent,) = runs(course_store, EXPERIMENT, "tags.hyperopt_parent = 'true'")
    training_runs += runs(
        course_store, EXPERIMENT, f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    training_runs += runs(course_store, EXPERIMENT, "tags.packaging = 'pyfunc'")  # 05
    assert len(training_runs) == 6 + 2 + 2 + 4 + 2  # 02's models, 03's parents, 04, 03's trials, 05
    for run in training_runs:
        assert dataset_inputs(run) == TRAIN_VALID, run.info.run_name
    # the digest is the data's: the generated months differ, so do their digests
    (lr,) = [r for r in training_runs if r.info.run_name == "linear-regression"]
    digests = {d.dataset.name: d.dataset.digest for d in lr.inputs.dataset_inputs}
    assert len(set(digests.values())) == 2


def test_03_parent_runs_log_system_metrics(course_store):
    for tag in ("hyperopt_parent", "optuna_parent"):
        (parent,) = runs(course_store, EXPERIMENT, f"tags.{tag} = 'true'")
        system = {k for k in parent.data.metrics if k.startswith("system/")}
        assert {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"} <= (
            system
        ), (tag, sorted(system))


def test_03_optuna_search_nested_runs_best_and_seed(course_store):
    """Optuna's parent has one child per trial, its best_rmse is their minimum, and the seed
    gives the same trials again (replayed here with the logged rmse values, no training)."""
    import optuna

    from helpers import tuning

    (parent,) = runs(course_store, EXPERIMENT, "tags.optuna_parent = 'true'")
    assert parent.data.params["engine"] == "optuna" and parent.data.params["max_evals"] == "4"
    children = course_store.search_runs(
        [parent.info.experiment_id],
        f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        order_by=["attributes.start_time ASC"],
    )
    assert len(children) == 4
    rmses = [c.data.metrics["rmse"] for c in children]
    assert parent.data.metrics["best_rmse"] == pytest.approx(min(rmses))
    bounds = tuning.search_setup("fast").bounds
    logged = iter(children)

    def replay(trial):
        params = tuning.optuna_params(trial, bounds)
        child = next(logged)
        for name in bounds:
            assert float(child.data.params[name]) == pytest.approx(params[name]), name
        return child.data.metrics["rmse"]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=42))
    study.optimize(replay, n_trials=len(children))
    assert study.best_value == pytest.approx(min(rmses))


def test_06_evaluations_with_evaluate_and_the_alias_follows_the_best(course_store):
    from tests.conftest import REGISTERED

    evaluations = runs(course_store, f"{EXPERIMENT}-evaluation")
    assert len(evaluations) >= 2
    for run in evaluations:
        assert {"root_mean_squared_error", "mean_absolute_error", "r2_score"} <= set(
            run.data.metrics
        )
        assert dataset_inputs(run)["test"] == "green_tripdata_2023-03"
        artifacts = {f.path for f in course_store.list_artifacts(run.info.run_id)}
        assert "predicted_vs_actual.png" in artifacts, artifacts
    versions = course_store.search_model_versions(f"name = '{REGISTERED}'")
    test_rmse = {
        int(v.version): float(
            course_store.get_model_version(REGISTERED, v.version).tags["test_rmse"]
        )
        for v in versions
    }
    champion = course_store.get_model_version_by_alias(REGISTERED, "champion")
    assert int(champion.version) == min(test_rmse, key=test_rmse.get)
    latest = {}
    for run in sorted(evaluations, key=lambda r: r.info.start_time):
        latest[int(run.data.tags["version"])] = run.data.metrics["root_mean_squared_error"]
    assert {v: round(r, 4) for v, r in latest.items()} == test_rmse


def test_06_serves_the_champion_over_http(course_store, synthetic_course, tmp_path, monkeypatch):
    """On the wire: the champion served by `mlflow models serve` predicts what pyfunc predicts,
    and a body that is not JSON gets the server's 4xx with a message."""
    import numpy as np
    import requests

    import helpers
    from helpers import models
    from infra import servers
    from tests.conftest import REGISTERED
    from tests.notebook_runner import notebook_text

    text = notebook_text(synthetic_course.executed["06"])
    assert "minutes over HTTP" in text and "server stopped: True" in text
    month = helpers.load_month(
        "green", "2023-03", "synthetic", synthetic_course.root / "data", 4000
    )
    trips = models.raw_trips(month.df).head(50)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", synthetic_course.uri)  # the server resolves the alias
    server = servers.start_model_server(f"models:/{REGISTERED}@champion", tmp_path)
    try:
        body = {"dataframe_split": trips.to_dict(orient="split", index=False)}
        answer = requests.post(f"{server.url}/invocations", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        expected = mlflow.pyfunc.load_model(f"models:/{REGISTERED}@champion").predict(trips)
        np.testing.assert_allclose(answer.json()["predictions"], expected, rtol=1e-6)
        bad = requests.post(
            f"{server.url}/invocations",
            data="{not json",
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        assert 400 <= bad.status_code < 500 and bad.json()["message"], bad.text
    finally:
        server.stop()
    assert not server.running
