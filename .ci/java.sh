#!/usr/bin/env bash
# A Java runtime for Spark (notebook 09, tests/test_09_distributed_tuning.py), from Debian's packages
# when none is found. pyspark (mlflow_requirements.txt) brings Spark itself; it needs Java 17 or
# later. Without Java the notebook skips its Spark cells and the Spark tests are skipped.
#
#   bash .ci/java.sh     # exit 0 when a Java 17+ runtime is available afterwards
set -euo pipefail
say() { echo "java.sh: $*" >&2; }
. "$(dirname "$0")/apt.sh"

java_major() {  # 17 from 'openjdk version "17.0.15"', 8 from 'java version "1.8.0_392"'
  "$1" -version 2>&1 | sed -n 's/.* version "\([0-9]*\)\.\{0,1\}\([0-9]*\).*/\1 \2/p' | head -n 1 |
    awk '{ print ($1 == 1) ? $2 : $1 }'
}

# Spark uses $JAVA_HOME/bin/java when JAVA_HOME is set, else `java` on the PATH: so do we
if [ -n "${JAVA_HOME:-}" ]; then
  java="$JAVA_HOME/bin/java"
  if [ ! -x "$java" ]; then
    say "JAVA_HOME is set to $JAVA_HOME, which has no bin/java: fix it or unset it"
    exit 1
  fi
else
  java="$(command -v java || true)"
fi
if [ -n "$java" ] && [ "$(java_major "$java")" -ge 17 ] 2>/dev/null; then
  say "already installed: $("$java" -version 2>&1 | head -n 1)"
  exit 0
fi
if [ -n "${JAVA_HOME:-}" ]; then
  say "JAVA_HOME points at Java $(java_major "$java"); Spark needs 17+: point it at one, or unset it"
  exit 1
fi
install_debian_packages "Java 17+" "install a Java 17 runtime by hand or set JAVA_HOME" \
  openjdk-17-jre-headless
say "installed: $(java -version 2>&1 | head -n 1)"
