#!/usr/bin/env bash
# Chromium for the browser test (tests/test_mlflow_ui.py) and `make screenshots`, from Debian's
# packages when it is missing. Playwright (mlflow_requirements.txt) drives this browser; nothing
# downloads a browser of its own. Without Chromium the test is skipped with its reason.
#
#   bash .ci/chromium.sh     # exit 0 when chromium is on the PATH afterwards
set -euo pipefail
say() { echo "chromium.sh: $*" >&2; }
. "$(dirname "$0")/apt.sh"

if command -v chromium >/dev/null 2>&1; then
  say "already installed: $(chromium --version 2>/dev/null | tail -n 1)"
  exit 0
fi
install_debian_packages chromium "install Chromium by hand or set CHROMIUM_PATH" chromium
say "installed: $(chromium --version 2>/dev/null | tail -n 1)"
