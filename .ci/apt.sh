# Sourced by .ci/chromium.sh, .ci/java.sh, .ci/network-tools.sh and .ci/postgres.sh (which define
# `say`): install what is missing from Debian's packages, or say why it cannot be done here.
#
#   install_debian_packages WHAT HINT PACKAGE...
#     WHAT: what is missing, for the messages; HINT: what to do where apt-get is not available
install_debian_packages() {
  local what="$1" hint="$2"
  shift 2
  if ! command -v apt-get >/dev/null 2>&1; then
    say "no $what and no apt-get: $hint"
    return 1
  fi
  if [ "$(id -u)" != 0 ]; then
    say "no $what, and installing it needs root: sudo apt-get install -y $*"
    return 1
  fi
  say "installing $* from the Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "$@" >/dev/null
}
