"""The Codespaces set-up (.devcontainer/devcontainer.json) runs and forwards what the README says."""

from __future__ import annotations

import json
import re

from tests.notebook_runner import NOTEBOOKS

ROOT = NOTEBOOKS.parent
CONFIG = json.loads((ROOT / ".devcontainer" / "devcontainer.json").read_text())
README = (ROOT / "README.md").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()
# the README's commands for a learner, in a Codespace as on a laptop
README_COMMANDS = ("make setup", "make run", "make test", "make lab", "make ui")


def test_the_container_has_the_course_environment():
    """Python 3.11 (the pinned set's), Java 17 for Spark (09), the Jupyter extension."""
    assert re.search(r"devcontainers/python:(\d+-)?3\.11\b", CONFIG["image"]), CONFIG["image"]
    java = [v for k, v in CONFIG["features"].items() if "/features/java:" in k]
    assert java and java[0]["version"] == "17"
    assert "ms-toolsai.jupyter" in CONFIG["customizations"]["vscode"]["extensions"]


def test_its_commands_are_the_readmes():
    """Every command the container runs is a `make` target the README tells learners to run."""
    command = CONFIG["postCreateCommand"]
    assert command == "make setup"
    for line in [command]:
        target = line.removeprefix("make ").split()[0]
        assert re.search(rf"^{re.escape(target)}:", MAKEFILE, re.M), f"no target {target}"
        assert line in README, f"README.md does not tell learners to run `{line}`"
    for line in README_COMMANDS:
        assert line in README, f"README.md lost `{line}`"


def test_its_ports_are_the_readmes():
    """The forwarded ports are the MLflow UI's and JupyterLab's, as the README and Makefile say."""
    ports = CONFIG["forwardPorts"]
    assert sorted(ports) == [5000, 8888]
    for port in ports:
        assert str(port) in README, f"README.md never mentions port {port}"
        assert str(port) in CONFIG["portsAttributes"]
    assert "PORT ?= 5000" in MAKEFILE and "LAB_PORT ?= 8888" in MAKEFILE
