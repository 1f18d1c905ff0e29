"""`make outdated` (infra/pins.py) against a fake package index: nothing is downloaded."""

from __future__ import annotations

import json
from pathlib import Path

from infra import pins

REQUIREMENTS = """\
# a comment
mlflow[auth]==3.17.2
xgboost==3.2.0  # boosted trees
optuna==5.1.0
pyarrow==25.0.1
"""
# newest release whatever Python needs, newest this Python (3.11) can install
INDEX = {
    "mlflow": ("3.18.0", "3.18.0"),
    "xgboost": ("3.4.1", "3.2.0"),
    "optuna": ("5.1.0", "5.1.0"),
    "pyarrow": ("26.0.0", "26.0.0"),
}
# what pip says when it cannot resolve (taken from real `pip install --dry-run` answers)
NO_PYTHON = (
    "ERROR: Ignored the following versions that require a different python version: 1.18.0 "
    "Requires-Python >=3.12; 3.3.0 Requires-Python >=3.12; 3.4.1 Requires-Python >=3.12\n"
    "ERROR: Could not find a version that satisfies the requirement xgboost==3.4.1 (from "
    "versions: 3.1.3, 3.2.0)\nERROR: No matching distribution found for xgboost==3.4.1\n"
)
CONFLICT = (
    "ERROR: Cannot install -r requirements.txt (line 1) and pyarrow==26.0.0 because these package "
    "versions have conflicting dependencies.\n\nThe conflict is caused by:\n"
    "    The user requested pyarrow==26.0.0\n    mlflow 3.17.2 depends on pyarrow<26 and >=4.0.0\n"
)
NO_TRACING = (
    "ERROR: Could not find a version that satisfies the requirement mlflow-tracing==3.18.0 (from "
    "mlflow) (from versions: 3.17.2)\nERROR: No matching distribution found for mlflow-tracing==3.18.0\n"
)


class FakePip:
    """Answers `pip index versions` from INDEX and `pip install --dry-run` from the pins it reads."""

    def __init__(self, index=INDEX):
        self.index = index
        self.calls: list[list[str]] = []

    def __call__(self, args):
        args = list(args)
        self.calls.append(args)
        if args[:2] == ["index", "versions"]:
            newest, here = self.index[args[2]]
            latest = newest if "--ignore-requires-python" in args else here
            return 0, json.dumps({"name": args[2], "latest": latest}), ""
        assert args[:2] == ["install", "--dry-run"], args
        wanted = Path(args[-1]).read_text().split()
        for name, (newest, here) in self.index.items():
            if newest != here and f"{name}=={newest}" in wanted and name != "xgboost":
                return (
                    1,
                    "",
                    NO_PYTHON.replace("xgboost==3.4.1", f"{name}=={newest}").replace(
                        "3.4.1 Requires", f"{newest} Requires"
                    ),
                )
        if "xgboost==3.4.1" in wanted:
            return 1, "", NO_PYTHON
        if "pyarrow==26.0.0" in wanted:
            return 1, "", CONFLICT
        if "mlflow[auth]==3.18.0" in wanted:
            return 1, "", NO_TRACING
        return 0, "Would install ...", ""


def test_outdated_pins_and_why_they_do_not_install(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text(REQUIREMENTS)
    read = pins.read_pins(path)
    assert [(p.name, p.version) for p in read] == [
        ("mlflow", "3.17.2"),
        ("xgboost", "3.2.0"),
        ("optuna", "5.1.0"),
        ("pyarrow", "25.0.1"),
    ]
    pip = FakePip()
    checks, together = pins.check(read, pip)
    by_name = {c.pin.name: c for c in checks}
    assert not by_name["optuna"].outdated
    assert by_name["xgboost"].why_not == ["xgboost 3.4.1: Requires-Python >=3.12"]
    assert "mlflow 3.17.2 depends on pyarrow<26 and >=4.0.0" in by_name["pyarrow"].why_not
    assert any("mlflow-tracing==3.18.0" in line for line in by_name["mlflow"].why_not)
    # the bumped requirement keeps its extras; nothing installs, so nothing is tried together
    dry = [c for c in pip.calls if c[0] == "install"]
    assert len(dry) == 3 and together is None
    table = pins.report(checks, together)
    assert "3 of 4 pins have a newer release" in table
    assert "| xgboost | 3.2.0 | 3.4.1 | no: xgboost 3.4.1: Requires-Python >=3.12 |" in table
    assert "optuna" not in table


def test_a_bump_that_installs_is_tried_with_the_others(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("optuna==5.0.0\nscipy==1.17.1\n")
    index = {"optuna": ("5.1.0", "5.1.0"), "scipy": ("1.18.0", "1.17.1")}
    pip = FakePip(index)
    checks, together = pins.check(pins.read_pins(path), pip)
    table = pins.report(checks, together)
    assert "| optuna | 5.0.0 | 5.1.0 | yes |" in table
    # scipy 1.18.0 needs another Python and no newer one fits this Python: no second try
    assert "| scipy | 1.17.1 | 1.18.0 | no: " in table
    assert together is True
    assert "install all together" in table
    last = Path(pip.calls[-1][-1])  # the temporary file is gone; its content was checked above
    assert not last.exists()


def test_unpinned_line_is_refused(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("mlflow>=3\n")
    try:
        pins.read_pins(path)
    except ValueError as exc:
        assert "not pinned" in str(exc)
    else:
        raise AssertionError("a >= requirement must be refused")
