"""`make outdated`: the pins of mlflow_requirements.txt that have a newer release, and whether it installs.

    python -m infra.pins [mlflow_requirements.txt]

For each pin, pip's own commands answer (the package index configured for pip, nothing else):
- `pip index versions NAME --json --ignore-requires-python`: the newest release of all;
- `pip index versions NAME --json`: the newest one this Python can install (Requires-Python);
- `pip install --dry-run --ignore-installed -r <the pins, this one bumped>`: whether the newest
  release resolves together with every other pin; if not, the lines of pip's answer that say why
  (a Requires-Python, a dependency conflict). Nothing is installed.
Last, every bump that resolved alone is tried all together. Prints a Markdown table.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

# pip(args) -> (exit code, stdout, stderr); tests pass a fake that answers from a table
Pip = Callable[[Sequence[str]], tuple[int, str, str]]


def run_pip(args: Sequence[str]) -> tuple[int, str, str]:
    """Run this Python's pip with `args`."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
    )
    return done.returncode, done.stdout, done.stderr


@dataclass
class Pin:
    """One `name[extras]==version` line of a requirements file."""

    name: str
    version: str
    line: str  # the requirement as written, e.g. `mlflow[auth]==3.17.2`

    def bumped(self, version: str) -> str:
        return self.line.replace(f"=={self.version}", f"=={version}")


@dataclass
class Check:
    """What the index and pip say about one pin."""

    pin: Pin
    newest: str | None = None  # newest release, whatever Python it needs
    newest_here: str | None = None  # newest release this Python can install
    installs: str | None = None  # the newer release that resolves with the other pins, if any
    why_not: list[str] = field(default_factory=list)  # pip's reasons, one line each

    @property
    def outdated(self) -> bool:
        return self.newest is not None and Version(self.newest) > Version(self.pin.version)


def read_pins(path: Path) -> list[Pin]:
    """The `==` pins of a requirements file, comments and blank lines skipped."""
    pins = []
    for raw in Path(path).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        if spec.operator != "==":
            raise ValueError(f"{path}: {line!r} is not pinned with ==")
        pins.append(Pin(req.name, spec.version, line))
    return pins


def newest_version(pip: Pip, name: str, any_python: bool) -> str | None:
    """The newest final release of `name` on the index (for this Python unless `any_python`)."""
    args = ["index", "versions", name, "--json"]
    code, out, _ = pip([*args, "--ignore-requires-python"] if any_python else args)
    if code != 0:
        return None
    return json.loads(out).get("latest")


def reasons(printed: str, name: str, version: str) -> list[str]:
    """The lines of pip's failed resolution that say why `name==version` cannot be installed."""
    out = []
    for line in printed.splitlines():
        line = line.removeprefix("ERROR: ").strip()
        if line.startswith("Ignored the following versions that require a different python"):
            # one line for every package pip skipped: keep this release's own entry
            found = re.search(rf"(?:^|[:;] ){re.escape(version)} (Requires-Python [^;]+)", line)
            if found:
                out.append(f"{name} {version}: {found.group(1).strip()}")
        elif line.startswith(("Cannot install", "No matching distribution")) or re.match(
            r"^\S+ \S+ depends on ", line
        ):
            out.append(line)
    if any("Requires-Python" in line for line in out):  # then "no matching ..." says it again
        out = [line for line in out if not line.startswith("No matching distribution")]
    return out or [printed.strip().splitlines()[-1] if printed.strip() else "pip failed"]


def dry_run(pip: Pip, requirements: list[str]) -> tuple[bool, str]:
    """Whether `requirements` resolve together (pip install --dry-run); what pip printed."""
    with tempfile.TemporaryDirectory(prefix="pins-") as tmp:
        path = Path(tmp) / "requirements.txt"
        path.write_text("\n".join(requirements) + "\n")
        # not --quiet: pip prints the lines of a conflict ("x depends on y") on stdout
        code, out, err = pip(["install", "--dry-run", "--ignore-installed", "-r", str(path)])
    return code == 0, f"{out}\n{err}"


def check(pins: list[Pin], pip: Pip = run_pip, workers: int = 8) -> tuple[list[Check], bool | None]:
    """Each pin's newest releases and whether they install with the others; then whether all
    the bumps that installed alone install together (None when there is no such bump)."""

    def versions(pin: Pin) -> Check:
        result = Check(pin, newest=newest_version(pip, pin.name, any_python=True))
        if result.outdated:
            result.newest_here = newest_version(pip, pin.name, any_python=False)
        return result

    with ThreadPoolExecutor(workers) as pool:  # the index look-ups wait on the network
        checks = list(pool.map(versions, pins))
    lines = [p.line for p in pins]
    for result in checks:
        if not result.outdated:
            continue
        tries = [result.newest]
        if result.newest_here and Version(result.newest_here) > Version(result.pin.version):
            tries.append(result.newest_here)
        for version in dict.fromkeys(tries):
            bumped = [result.pin.bumped(version) if x == result.pin.line else x for x in lines]
            ok, err = dry_run(pip, bumped)
            if ok:
                result.installs = version
                break
            result.why_not += reasons(err, result.pin.name, version)
    bumps = {r.pin.line: r.pin.bumped(r.installs) for r in checks if r.installs}
    together = dry_run(pip, [bumps.get(x, x) for x in lines])[0] if bumps else None
    return checks, together


def report(checks: list[Check], together: bool | None) -> str:
    """The Markdown table `make outdated` prints."""
    rows = [r for r in checks if r.outdated]
    if not rows:
        return f"All {len(checks)} pins are the newest releases on the index."
    lines = [
        f"{len(rows)} of {len(checks)} pins have a newer release:",
        "",
        "| package | pinned | newest | installs with the other pins? |",
        "|---|---|---|---|",
    ]
    for r in rows:
        if r.installs == r.newest:
            verdict = "yes"
        elif r.installs:
            verdict = f"{r.installs} does; {r.newest}: no: " + "; ".join(r.why_not)
        else:
            verdict = "no: " + "; ".join(r.why_not)
        lines.append(f"| {r.pin.name} | {r.pin.version} | {r.newest} | {verdict} |")
    if together is not None:
        lines += [
            "",
            "The bumps that install alone install all together."
            if together
            else "The bumps that install alone do NOT install all together: move them one by one.",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0] if argv else "mlflow_requirements.txt")
    print(f"Asking the package index about the {len(read_pins(path))} pins of {path.name} ...")
    print(report(*check(read_pins(path))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
