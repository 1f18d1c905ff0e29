#!/usr/bin/env bash
# Chromium for the browser test (tests/test_browser_ui.py) and `make screenshots`, from Debian's
# packages when it is missing. Playwright (mlflow_requirements.txt) drives this browser; nothing
# downloads a browser of its own. Without Chromium the test is skipped with its reason.
#
#   bash .ci/chromium.sh     # exit 0 when chromium is on the PATH afterwards
set -euo pipefail
say() { echo "chromium.sh: $*" >&2; }

if command -v chromium >/dev/null 2>&1; then
  say "already installed: $(chromium --version 2>/dev/null | tail -n 1)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  say "no chromium and no apt-get: install Chromium by hand or set CHROMIUM_PATH"
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  say "no chromium, and installing it needs root: sudo apt-get install -y chromium"
  exit 1
fi
say "installing chromium from the Debian packages (about 35 s)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
say "installed: $(chromium --version 2>/dev/null | tail -n 1)"
