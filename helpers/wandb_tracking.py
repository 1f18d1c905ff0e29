"""Weights & Biases, offline by default: set-up and the homework's sweep configuration (10).

Nothing here runs at import: `setup_wandb` is the call that configures W&B. Reading W&B's local
transaction logs and timing W&B against MLflow are machinery, in `infra/wandb_log.py`.
"""

from __future__ import annotations

import copy
import netrc
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from hyperopt import hp
from hyperopt.pyll import scope

from helpers.paths import display_path, repo_root
from helpers.tuning import RANDOM_FOREST_SPACE

WANDB_MODES = ("offline", "online")
NOTEBOOK = "notebooks/10-experiment-tracking-wandb.ipynb"


class WandbSetupError(RuntimeError):
    """W&B cannot run in the mode asked for (e.g. online without an API key)."""


@dataclass(frozen=True)
class WandbSetup:
    """Where W&B writes and how: the mode and the folder that holds `wandb/` (10)."""

    mode: str
    root: Path

    @property
    def runs_dir(self) -> Path:
        """The folder W&B writes its runs to: `<root>/wandb` (10)."""
        return self.root / "wandb"

    @property
    def shown_runs_dir(self) -> str:
        """`runs_dir` as a learner reads it: `build/wandb`, or `$WANDB_DIR/wandb` outside the repo (10)."""
        shown = display_path(self.runs_dir)
        return "$WANDB_DIR/wandb" if Path(shown).is_absolute() else shown

    def sync_command(self) -> str:
        """The command that uploads this notebook's offline runs later (10)."""
        return f"wandb sync {self.shown_runs_dir}/offline-run-*"


def _has_api_key() -> bool:
    """True when W&B would find an API key: $WANDB_API_KEY, or `wandb login`'s netrc entry."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        entry = netrc.netrc(os.environ.get("NETRC")).authenticators(host or "")
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False
    return bool(entry and entry[2])


def setup_wandb(mode: str = "offline", wandb_dir: str | os.PathLike | None = None) -> WandbSetup:
    """Configure W&B for this process: offline (no account, no network) or online (10).

    Runs go to `<wandb_dir>/wandb/` (default: $WANDB_DIR, else `build/` at the repository root,
    so `build/wandb/`, ignored by git); staged artifact files go beside them unless
    $WANDB_DATA_DIR is set. W&B's own console messages are silenced: they print machine paths and links, and the
    notebook prints what matters itself.
    """
    if mode not in WANDB_MODES:
        raise WandbSetupError(f"Unknown WANDB_MODE {mode!r}: use 'offline' or 'online'.")
    if mode == "online" and not _has_api_key():
        raise WandbSetupError(
            "WANDB_MODE='online' needs a W&B API key: set the environment variable WANDB_API_KEY "
            "(from https://wandb.ai/authorize) or run `wandb login` once, then restart the "
            "kernel. Or keep WANDB_MODE='offline' and upload later with `wandb sync`."
        )
    root = Path(wandb_dir or os.environ.get("WANDB_DIR") or repo_root() / "build")
    root = root.expanduser().resolve()
    (root / "wandb").mkdir(parents=True, exist_ok=True)
    os.environ["WANDB_MODE"] = mode
    os.environ["WANDB_DIR"] = str(root)
    os.environ.setdefault("WANDB_DATA_DIR", str(root / "wandb" / "data"))
    os.environ.setdefault("WANDB_SILENT", "true")
    if mode == "offline":  # nothing leaves the machine, not even W&B's crash reports
        os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
    notebook = repo_root() / NOTEBOOK
    if notebook.exists():  # else W&B asks the Jupyter server for the notebook's name
        os.environ.setdefault("WANDB_NOTEBOOK_NAME", str(notebook))
    return WandbSetup(mode, root)


# --- the homework's sweep, written once as data

# `SWEEP_CONFIG` of the W&B homework's sweep.py (course repository, cohorts/2023/
# 02-experiment-tracking/homework-wandb/): Bayesian search over four RandomForestRegressor
# parameters, minimising the logged "MSE" (a root mean squared error, under the course's key).
# No `early_terminate`: the script sets none. `random_state` stays 0 in every trial, as there.
SWEEP_CONFIG: dict = {
    "method": "bayes",
    "metric": {"name": "MSE", "goal": "minimize"},
    # the bounds are the MLflow homework's (helpers.tuning.RANDOM_FOREST_SPACE), written once
    "parameters": {
        name: {"distribution": "int_uniform", "min": low, "max": high}
        for name, (low, high) in RANDOM_FOREST_SPACE.items()
    },
}
SWEEP_COUNT = 5  # sweep.py's `--count` default: the agent runs 5 trials


def sweep_config(method: str = "bayes") -> dict:
    """The homework's sweep configuration, with another search `method` if asked (10)."""
    if method not in ("bayes", "random", "grid"):
        raise ValueError(f"Unknown sweep method {method!r}: use 'bayes', 'random' or 'grid'.")
    return {**copy.deepcopy(SWEEP_CONFIG), "method": method}


def hyperopt_space(config: dict = SWEEP_CONFIG) -> dict:
    """The sweep's integer ranges as hyperopt's space: the offline stand-in of the sweep (10)."""
    space = {}
    for name, spec in config["parameters"].items():
        if spec.get("distribution") != "int_uniform":
            raise ValueError(f"{name}: only int_uniform parameters have a hyperopt twin here")
        space[name] = scope.int(hp.quniform(name, spec["min"], spec["max"], 1))
    return space
