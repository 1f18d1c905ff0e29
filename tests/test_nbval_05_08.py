"""The committed notebooks 05-08 re-executed by nbval on the real TLC data, and the homework's figures.

01-04 run first under nbval (conftest.real_course) into the same temporary store, since 05 and
06 work on their runs. Cells tagged `nbval-check-output` must reproduce the committed outputs
exactly: the linear regression's validation and test RMSE (6.0338, 6.2476), the packaged
xgboost's (4.9275, 5.1609), the homework's file count, feature count and `min_samples_split`.
08 runs its full search (15 trials, top 5): its answers (5.335, 5.567) are checked cells, and
are read back from the store it wrote.
"""

from __future__ import annotations

import time

import pytest
from mlflow import MlflowClient

from tests.notebook_runner import run_nbval

# notebook prefix -> parameters injected for the re-run
NBVAL = {
    "05": {},
    "06": {},
    "07": {"SCENARIOS": [1]},  # the servers of scenarios 2 and 3 are tested on generated data
    "08": {},  # the homework's own search (15 trials, top 5): its answers are checked cells
}


@pytest.fixture(scope="module")
def nbval_runs(real_course):
    """05-08 under nbval, after 01-04, in the store of conftest.real_course."""
    root, env = real_course.root, real_course.env
    results, seconds = {}, {}
    for prefix, params in NBVAL.items():
        start = time.perf_counter()
        extra = {"WORK_DIR": str(root / f"work{prefix}")} if prefix in ("07", "08") else {}
        results[prefix] = run_nbval(prefix, root, env, **params, **extra)
        seconds[prefix] = round(time.perf_counter() - start, 1)
    print("nbval seconds, real data:", seconds)
    return {"root": root, "uri": real_course.uri, "results": results}


@pytest.mark.parametrize("prefix", list(NBVAL))
def test_committed_notebook_reproduces(prefix, nbval_runs):
    result = nbval_runs["results"][prefix]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout.splitlines()[-1]


def test_homework_answers_found_by_notebook_08s_own_search(nbval_runs):
    """The course's answers, read from the store notebook 08's scripts wrote under nbval: Q3
    min_samples_split 2, Q5 best validation RMSE 5.335 (15 trials), Q6 best test RMSE 5.567 (top 5),
    and the registered model's champion is that best run's model."""
    client = MlflowClient(nbval_runs["uri"])

    def runs_of(name: str, order: str) -> list:
        experiment = client.get_experiment_by_name(name)
        assert experiment is not None, f"notebook 08 left no experiment {name!r}"
        return client.search_runs([experiment.experiment_id], order_by=[order])

    (q3,) = runs_of("random-forest-train", "attributes.start_time ASC")
    assert q3.data.params["min_samples_split"] == "2"  # autologged by train.py, run by 08 (Q3)
    assert q3.data.tags["data.source"] == "tlc"
    trials = runs_of("random-forest-hyperopt", "metrics.rmse ASC")
    assert len(trials) == 15
    assert trials[0].data.metrics["rmse"] == pytest.approx(5.335, abs=5e-4)
    best = runs_of("random-forest-best-models", "metrics.test_rmse ASC")
    assert len(best) == 5
    assert best[0].data.metrics["test_rmse"] == pytest.approx(5.567, abs=5e-4)
    champion = client.get_model_version_by_alias("nyc-taxi-random-forest", "champion")
    assert champion.run_id == best[0].info.run_id
