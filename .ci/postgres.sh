#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests of notebook 07 (scenario 3) and the concurrency test.
#
#   bash .ci/postgres.sh start STATE_DIR   # install if missing, initdb, start on 127.0.0.1;
#                                          # writes STATE_DIR/uri (postgresql://mlflow:...@127.0.0.1:PORT/mlflow)
#   bash .ci/postgres.sh stop STATE_DIR    # stop it (the folder can then be deleted)
#
# Bound to 127.0.0.1 only, on a free port, with its unix socket in STATE_DIR (not /var/run), a
# random password for the `mlflow` role (allowed to create databases, so each test gets its own).
# initdb refuses to run as root: as root, the server runs as the `postgres` user via runuser.
set -euo pipefail

cmd="${1:?usage: postgres.sh start|stop STATE_DIR}"
state="${2:?usage: postgres.sh start|stop STATE_DIR}"
say() { echo "postgres.sh: $*" >&2; }

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
  if ! bindir="$(find_bindir)"; then
    . "$(dirname "$0")/apt.sh"
    install_debian_packages PostgreSQL "install PostgreSQL by hand (apt-get install postgresql)" \
      postgresql >&2 || true
    bindir="$(find_bindir)" || { say "could not install PostgreSQL"; exit 1; }
  fi
  mkdir -p "$state"
  state="$(cd "$state" && pwd)"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$state"; fi
  chmod 700 "$state"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
  as_pg "$bindir/initdb" -D "$state/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --no-instructions >"$state/initdb.log" 2>&1 || { cat "$state/initdb.log" >&2; exit 1; }
  as_pg "$bindir/pg_ctl" -D "$state/data" -l "$state/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$state' -c max_connections=200 -c fsync=off" \
    start >&2 || { cat "$state/postgres.log" >&2; exit 1; }
  as_pg "$bindir/psql" -h "$state" -p "$port" -U postgres -v ON_ERROR_STOP=1 -q -d postgres >&2 <<SQL
CREATE ROLE mlflow LOGIN CREATEDB PASSWORD '$password';
CREATE DATABASE mlflow OWNER mlflow;
SQL
  echo "postgresql://mlflow:$password@127.0.0.1:$port/mlflow" >"$state/uri"
  chmod 644 "$state/uri"
  say "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data and socket in $state)"
  ;;
stop)
  if bindir="$(find_bindir)" && [ -d "$state/data" ]; then
    as_pg "$bindir/pg_ctl" -D "$state/data" -m fast -w stop >&2 || true
  fi
  ;;
*)
  say "unknown command $cmd: use start or stop"; exit 2 ;;
esac
