"""Notebook 03's early end of a search, and xgboost's thread count (helpers.tuning).

hyperopt ends a search with `no_progress_loss(STOP_AFTER, STOP_PERCENT)`; Optuna, which has no
such callback, with `tuning.NoProgressStop`. A learner comparing the two searches must be able
to trust that both end by the same rule: checked here trial for trial, with real `fmin` and
`study.optimize` calls on loss sequences given in advance (no training).
"""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from hyperopt import STATUS_OK, Trials, fmin, hp, rand
from hyperopt.early_stop import no_progress_loss

import helpers
from helpers import tuning


def hyperopt_trials(losses: list[float], stop_after: int, percent: float) -> int:
    """How many trials hyperopt's fmin runs when its objective returns `losses` in turn."""
    values = iter(losses)

    def objective(_params) -> dict:
        return {"loss": next(values), "status": STATUS_OK}

    trials = Trials()
    fmin(
        objective,
        {"x": hp.uniform("x", 0, 1)},
        algo=rand.suggest,
        max_evals=len(losses),
        trials=trials,
        rstate=np.random.default_rng(0),
        early_stop_fn=no_progress_loss(stop_after, percent),
        show_progressbar=False,
    )
    return len(trials.trials)


def optuna_trials(losses: list[float], stop_after: int, percent: float) -> int:
    """How many trials an Optuna study runs with tuning.NoProgressStop on the same `losses`."""
    values = iter(losses)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(
        lambda trial: next(values),
        n_trials=len(losses),
        callbacks=[tuning.NoProgressStop(stop_after, percent)],
    )
    return len(study.trials)


def creeping(n: int = 50) -> list[float]:
    """A search that keeps finding a slightly better trial (a few ten-thousandths) now and then:
    what notebook 03's searches did on generated data before STOP_PERCENT."""
    rng = np.random.default_rng(3)
    losses = 4.30 + rng.uniform(0, 0.3, n)
    losses[1::6] = 4.25 - 0.001 * np.arange(len(losses[1::6]))  # a new best every 6th trial
    return [float(x) for x in losses]


def plateau(n: int = 50) -> list[float]:
    """A good trial early, then trials around it (as on the real months)."""
    rng = np.random.default_rng(5)
    losses = 4.95 + rng.uniform(0, 0.2, n)
    losses[4] = 4.9275
    return [float(x) for x in losses]


@pytest.mark.parametrize("percent", [0.0, 0.2, tuning.STOP_PERCENT])
@pytest.mark.parametrize("losses", [creeping(), plateau()], ids=["creeping", "plateau"])
def test_optuna_search_ends_where_hyperopt_ends(losses, percent):
    expected = tuning.stopping_trial(losses, tuning.STOP_AFTER, percent)
    assert hyperopt_trials(losses, tuning.STOP_AFTER, percent) == expected
    assert optuna_trials(losses, tuning.STOP_AFTER, percent) == expected


def test_hair_width_gains_no_longer_keep_a_search_running():
    losses = creeping()
    assert tuning.stopping_trial(losses, 20, 0.0) == len(losses)  # the old rule: all 50 trials
    assert tuning.stopping_trial(losses, 20, tuning.STOP_PERCENT) == 22  # best at 2, then 20
    # a clear gain (more than STOP_PERCENT) still restarts the count
    gain = [5.0] * 10 + [4.9] + [5.0] * 30
    assert tuning.stopping_trial(gain, 20, tuning.STOP_PERCENT) == 31
    # on a plateau the rule ends where it always did: 20 trials after the best
    assert tuning.stopping_trial(plateau(), 20, tuning.STOP_PERCENT) == 25


def test_no_progress_stop_rejects_bad_settings():
    with pytest.raises(ValueError, match="stop_after"):
        tuning.NoProgressStop(0, 0.5)
    with pytest.raises(ValueError, match="percent"):
        tuning.NoProgressStop(20, -1)


# --- xgboost's threads ---------------------------------------------------------------------------


def test_xgb_threads_knob(monkeypatch):
    monkeypatch.delenv("XGB_THREADS", raising=False)
    assert tuning.xgb_threads_from_env() is None
    monkeypatch.setenv("XGB_THREADS", "1")
    assert tuning.xgb_threads_from_env() == 1
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("XGB_THREADS", bad)
        with pytest.raises(ValueError, match="XGB_THREADS"):
            tuning.xgb_threads_from_env()
    assert "nthread" not in tuning.search_setup("fast", threads=None).extra_params
    assert tuning.search_setup("fast", threads=1).extra_params["nthread"] == 1
    monkeypatch.setattr(tuning, "XGB_THREADS", 1)
    assert tuning.search_setup("fast").extra_params["nthread"] == 1


def test_same_trees_on_one_thread_and_on_all_cores(synthetic_dir):
    """The thread count changes how long a search takes, never its numbers."""
    train = helpers.load_month("green", "2023-01", "synthetic", synthetic_dir, 3000)
    valid = helpers.load_month("green", "2023-02", "synthetic", synthetic_dir, 3000)
    params = {"max_depth": 8, "learning_rate": 0.1, **tuning.FIXED}
    rmses = {}
    for threads in (None, 1):
        setup = tuning.search_setup("fast", threads=threads)
        preprocessor = tuning.make_features(setup.features, train.df)
        dtrain, dvalid = tuning.make_dmatrices(preprocessor, train.df, valid.df)
        booster, rmses[threads] = tuning.train_trial(setup, params, dtrain, dvalid, 60)
        assert booster.num_boosted_rounds() > 10
    assert rmses[None] == rmses[1], rmses


def test_threads_benchmark_smoke(tmp_path):
    """scripts/benchmark_tuning.py --threads-under-load: four cases in one run, one table, the
    same search result in each, and no neighbour left running."""
    import importlib.util
    import json

    path = helpers.repo_root() / "scripts" / "benchmark_tuning.py"
    spec = importlib.util.spec_from_file_location("script_benchmark_tuning", path)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    started = []
    real_start = benchmark.start_neighbour

    def start_and_remember():
        procs = real_start()
        started.extend(procs)
        return procs

    benchmark.start_neighbour = start_and_remember
    assert benchmark.main(["--threads-under-load", "--smoke", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "threads.json").read_text())
    cases = result["cases"]
    assert [(c["nthread"], c["neighbour"].split()[0]) for c in cases] == [
        ("unset (all cores)", "none"),
        ("unset (all cores)", "busy"),
        (max((result["cpu_count"] or 1) - 1, 1), "none"),
        (max((result["cpu_count"] or 1) - 1, 1), "busy"),
    ]
    assert len({c["best_rmse"] for c in cases}) == 1  # threads change the time, not the numbers
    assert all(c["trials"] == 2 and c["seconds"] > 0 for c in cases)
    assert (tmp_path / "threads.csv").read_text().startswith("nthread,neighbour,trials")
    assert len(started) == 2 * (result["cpu_count"] or 1)  # one per core, in the two busy cases
    assert all(proc.poll() is not None for proc in started), "a neighbour is still running"
