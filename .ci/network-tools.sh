#!/usr/bin/env bash
# strace, unshare and ip for the network-isolation checks of notebook 10
# (tests/test_10_experiment_tracking_wandb.py): the notebook runs in an empty network namespace (unshare, ip)
# and every connection attempt is recorded (strace). From Debian's packages when missing.
#
#   bash .ci/network-tools.sh     # exit 0 when all three are on the PATH afterwards
set -euo pipefail
say() { echo "network-tools.sh: $*" >&2; }
. "$(dirname "$0")/apt.sh"

missing=()
command -v strace >/dev/null 2>&1 || missing+=(strace)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
if [ "${#missing[@]}" = 0 ]; then
  say "already installed: strace, ip, unshare"
  exit 0
fi
install_debian_packages "${missing[*]}" "install strace, iproute2 and util-linux by hand" \
  "${missing[@]}"
for tool in strace ip unshare; do
  command -v "$tool" >/dev/null 2>&1 || { say "$tool is still missing"; exit 1; }
done
say "installed: ${missing[*]}"
