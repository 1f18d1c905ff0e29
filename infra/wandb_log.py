"""Reading what W&B wrote on this machine, and timing W&B against MLflow (tests, notebook 10).

W&B's client writes every run to a local transaction log, `run-<id>.wandb`, in a folder such as
`build/wandb/offline-run-20230101_120000-<id>/`, and `wandb sync` uploads it later. Since its Go
core (`wandb-core`), an offline run leaves no `config.yaml` or `wandb-summary.json` beside it:
its config, summary, history and artifact manifests live only in that log. `read_run` reads them
back, so the tests can check an offline run without an account or a network.

This is machinery, not lesson code: notebook 10 collects its own results as it runs and imports
nothing from here. The logging-overhead measurement of docs/wandb.md is this module's command
line: `python -m infra.wandb_log --steps 100 --repeats 3`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import os
import struct
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from helpers.paths import display_path

# --- reading what W&B wrote locally

BLOCK = 32768  # the transaction log is a LevelDB-style log: 32 KiB blocks of checksummed chunks
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _records_raw(path: Path) -> Iterator[bytes]:
    """The serialised records of a `run-<id>.wandb` file, checksums verified."""
    data = path.read_bytes()
    ident, magic, version = struct.unpack("<4sHB", data[:7])
    if ident != b":W&B" or magic != 0xBEE1:
        raise ValueError(f"{path.name} is not a W&B transaction log.")
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        if BLOCK - pos % BLOCK < 7:  # the tail of a block too short for a header is padding
            pos += BLOCK - pos % BLOCK
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:  # zero padding up to the end of a block
            pos += (BLOCK - pos % BLOCK) % BLOCK
            continue
        if zlib.crc32(chunk, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != crc:
            raise ValueError(f"{path.name} is damaged: a record's checksum does not match.")
        if kind == FULL:
            yield chunk
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            yield pending + chunk
            pending = b""


def records(path: str | os.PathLike) -> Iterator:
    """The records (protobuf `Record`s) of a run's transaction log, in the order written (10)."""
    from wandb.proto import wandb_internal_pb2 as pb

    for raw in _records_raw(Path(path)):
        record = pb.Record()
        record.ParseFromString(raw)
        yield record


def _set(tree: dict, keys: list[str], value) -> None:
    for key in keys[:-1]:
        tree = tree.setdefault(key, {})
    tree[keys[-1]] = value


def _remove(tree: dict, keys: list[str]) -> None:
    for key in keys[:-1]:
        tree = tree.get(key, {})
    tree.pop(keys[-1], None)


def _keys(item) -> list[str]:
    return list(item.nested_key) or [item.key]


@dataclass
class LocalArtifact:
    """An artifact as its run logged it: name, type, digest, manifest (path -> entry), aliases (10)."""

    name: str
    type: str
    digest: str
    files: dict[str, dict] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)


@dataclass
class LocalRun:
    """One run as W&B wrote it on this machine (10)."""

    path: Path
    id: str = ""
    name: str = ""
    project: str = ""
    group: str = ""
    job_type: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    artifacts: list[LocalArtifact] = field(default_factory=list)
    offline: bool = False
    finished: bool = False
    start_time: float = 0.0  # seconds since the epoch

    @property
    def synced(self) -> bool:
        """False for an offline run nobody has uploaded yet (`wandb sync` writes a marker)."""
        return any(self.path.glob("*.wandb.synced"))


def read_run(run_dir: str | os.PathLike) -> LocalRun:
    """Read a local run folder (`offline-run-*` or `run-*`): config, summary, history, artifacts (10)."""
    run_dir = Path(run_dir)
    logs = sorted(run_dir.glob("run-*.wandb"))
    if not logs:
        raise FileNotFoundError(f"{display_path(run_dir)} holds no run-*.wandb file.")
    run = LocalRun(run_dir)
    for record in records(logs[0]):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            run.id, run.project, run.group, run.job_type = (
                r.run_id,
                r.project,
                r.run_group,
                r.job_type,
            )
            run.name = r.display_name or run.name
            run.tags = list(r.tags)
            run.start_time = r.start_time.seconds + r.start_time.nanos / 1e9
            run.offline = run.offline or r.telemetry.feature.offline
            for item in r.config.update:
                _set(run.config, _keys(item), json.loads(item.value_json))
        elif kind == "config":
            for item in record.config.update:
                _set(run.config, _keys(item), json.loads(item.value_json))
            for item in record.config.remove:
                _remove(run.config, _keys(item))
        elif kind == "summary":
            for item in record.summary.update:
                _set(run.summary, _keys(item), json.loads(item.value_json))
            for item in record.summary.remove:
                _remove(run.summary, _keys(item))
        elif kind == "history":
            row: dict = {}
            for item in record.history.item:
                _set(row, _keys(item), json.loads(item.value_json))
            run.history.append(row)
        elif kind == "artifact":
            a = record.artifact
            files = {
                c.path: {"digest": c.digest, "size": c.size, "local_path": c.local_path}
                for c in a.manifest.contents
            }
            run.artifacts.append(LocalArtifact(a.name, a.type, a.digest, files, list(a.aliases)))
        elif kind == "telemetry":
            run.offline = run.offline or record.telemetry.feature.offline
        elif kind == "exit":
            run.finished = True
    run.config.pop("_wandb", None)
    return run


def local_runs(
    runs_dir: str | os.PathLike, group: str | None = None, wait: float = 10.0
) -> list[LocalRun]:
    """Every run under a `wandb/` folder, in the order they started; only `group`'s if given (10).

    `run.finish()` can return a moment before W&B's background process has written the run's
    last records: wait up to `wait` seconds for every run to carry its exit record. A record
    caught half-written fails its checksum: that too is read again until `wait` is over.
    """
    deadline = time.monotonic() + wait
    while True:
        folders = [
            p for p in Path(runs_dir).glob("*run-*") if p.is_dir() and p.name != "latest-run"
        ]
        try:
            runs = [read_run(p) for p in folders]
        except ValueError:  # "... is damaged": perhaps still being written
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
            continue
        runs = sorted(runs, key=lambda r: (r.start_time, r.path.name))
        runs = [r for r in runs if group is None or r.group == group]
        if all(r.finished for r in runs) or time.monotonic() > deadline:
            return runs
        time.sleep(0.2)


def md5_base64(path: str | os.PathLike) -> str:
    """A file's MD5 as W&B's artifact manifests write it (base64) (10)."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode()


# --- logging overhead: the same 100 metric steps in W&B and in MLflow


def _size(path: Path) -> int:
    return (
        sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        if path.is_dir()
        else path.stat().st_size
    )


def time_wandb_logging(steps: int = 100, project: str = "logging-overhead") -> dict[str, float]:
    """Seconds to start an offline W&B run, log `steps` metric steps, finish; bytes written (10).

    The run goes to a temporary folder that is deleted afterwards.
    """
    import wandb

    with tempfile.TemporaryDirectory(prefix="wandb-overhead-") as tmp:
        t0 = time.perf_counter()
        run = wandb.init(project=project, dir=tmp, mode="offline", job_type="overhead")
        t1 = time.perf_counter()
        for step in range(steps):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
        t2 = time.perf_counter()
        run.finish()
        t3 = time.perf_counter()
        size = _size(Path(tmp) / "wandb")
        (written,) = local_runs(Path(tmp) / "wandb")
    return {
        "start": t1 - t0,
        "log": t2 - t1,
        "finish": t3 - t2,
        "bytes": size,
        "steps": len(written.history),
    }


def time_mlflow_logging(
    steps: int = 100, synchronous: bool = True, tracking_uri: str | None = None
) -> dict[str, float]:
    """Seconds to start an MLflow run, log `steps` metric steps, end it; bytes the store grew (10).

    `tracking_uri`: a sqlite store created beforehand (its schema migration is not timed);
    default: a fresh one in a temporary folder. The global tracking URI is restored.
    """
    import mlflow

    previous = mlflow.get_tracking_uri()
    with tempfile.TemporaryDirectory(prefix="mlflow-overhead-") as tmp:
        uri = tracking_uri or f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        db = Path(uri.removeprefix("sqlite:///"))
        try:
            mlflow.set_tracking_uri(uri)
            experiment = mlflow.get_experiment_by_name("logging-overhead")  # creates the store
            experiment_id = (
                experiment.experiment_id
                if experiment
                else mlflow.create_experiment("logging-overhead")
            )
            before = db.stat().st_size
            t0 = time.perf_counter()
            run = mlflow.start_run(experiment_id=experiment_id)
            t1 = time.perf_counter()
            for step in range(steps):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step, synchronous=synchronous)
            t2 = time.perf_counter()
            if not synchronous:
                mlflow.flush_async_logging()  # the queued metrics must be written before we stop
            mlflow.end_run()
            t3 = time.perf_counter()
            size = db.stat().st_size - before
            logged = len(mlflow.MlflowClient().get_metric_history(run.info.run_id, "loss"))
        finally:
            mlflow.set_tracking_uri(previous)
    return {"start": t1 - t0, "log": t2 - t1, "finish": t3 - t2, "bytes": size, "steps": logged}


def compare_logging(steps: int = 100, repeats: int = 3):
    """The same `steps` metric steps logged with W&B offline and MLflow on sqlite: medians (10).

    One temporary MLflow store serves every MLflow measurement; W&B writes to temporary folders.
    Returns a DataFrame, one row per way of logging.
    """
    import pandas as pd

    ways = {
        "W&B, offline": lambda uri: time_wandb_logging(steps),
        "MLflow, sqlite, synchronous": lambda uri: time_mlflow_logging(steps, True, uri),
        "MLflow, sqlite, synchronous=False": lambda uri: time_mlflow_logging(steps, False, uri),
    }
    rows = []
    mlflow_logger = logging.getLogger("mlflow")
    level = mlflow_logger.level
    mlflow_logger.setLevel(logging.WARNING)  # no "Creating initial tables" for a throwaway store
    try:
        with tempfile.TemporaryDirectory(prefix="mlflow-overhead-") as tmp:
            uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
            for name, measure in ways.items():
                runs = pd.DataFrame([measure(uri) for _ in range(repeats)])
                median = runs.median()
                rows.append(
                    {
                        "logging": name,
                        "start run (s)": median["start"],
                        f"log {steps} steps (s)": median["log"],
                        "per step (ms)": 1000 * median["log"] / steps,
                        "finish (s)": median["finish"],
                        "total (s)": median[["start", "log", "finish"]].sum(),
                        "written (KB)": median["bytes"] / 1024,
                        "steps found": int(runs["steps"].min()),
                    }
                )
    finally:
        mlflow_logger.setLevel(level)
    return pd.DataFrame(rows).set_index("logging")


def main(argv: list[str] | None = None) -> int:
    """Print the logging-overhead table of docs/wandb.md: W&B offline against MLflow on sqlite."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--steps", type=int, default=100, help="metric steps each tracker logs")
    parser.add_argument("--repeats", type=int, default=3, help="measurements; the median is kept")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.repeats < 1:
        parser.error("--steps and --repeats must be at least 1")
    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # mlflow is imported after this
    table = compare_logging(args.steps, args.repeats)
    print(f"{args.steps} metric steps, median of {args.repeats} (seconds, milliseconds, KB):")
    print(table.round(3).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
