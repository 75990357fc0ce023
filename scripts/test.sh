#!/usr/bin/env bash
# `make test`: the whole suite on SQLite and PostgreSQL.
#
# PostgreSQL comes from CLEARINGHOUSE_TEST_POSTGRES_URL when it is set. Otherwise, when
# PostgreSQL is installed, this starts a throwaway server on 127.0.0.1 (fsync off, in a
# temporary directory removed on exit), so a newcomer's `make test` and CI's run are the same
# run. Without PostgreSQL the PostgreSQL half skips with its reason; under CI=true it fails.
#
#   scripts/test.sh [pytest arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${CLEARINGHOUSE_TEST_POSTGRES_URL:-}" ]; then
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$PGBIN" ] && command -v initdb >/dev/null 2>&1; then PGBIN=$(dirname "$(command -v initdb)"); fi
  if [ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ]; then
    PGPORT=${PGPORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
    PGROOT=$(mktemp -d /tmp/clearinghouse-test-pg.XXXXXX)
    run_pg() {  # initdb refuses to run as root: run the server as the postgres user when root
      if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
    }
    if [ "$(id -u)" = 0 ]; then chown postgres "$PGROOT"; fi
    run_pg "$PGBIN/initdb -D $PGROOT/data -U postgres --auth=trust >/dev/null"
    run_pg "$PGBIN/pg_ctl -D $PGROOT/data -o '-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGROOT -c fsync=off -c max_connections=200' -w -l $PGROOT/log start >/dev/null"
    trap 'run_pg "$PGBIN/pg_ctl -D $PGROOT/data -m immediate stop" >/dev/null 2>&1 || true; rm -rf "$PGROOT"' EXIT
    export CLEARINGHOUSE_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$PGPORT/postgres"
    echo "test: throwaway PostgreSQL on 127.0.0.1:$PGPORT"
  elif [ "${CI:-}" = true ]; then
    echo "test: PostgreSQL is not installed, and CI runs both databases" >&2
    exit 1
  else
    echo "test: PostgreSQL is not installed: its half of the suite skips (scripts/setup.sh installs it as root)" >&2
  fi
fi

# The pinned sdists the validation recipes fetch by purl; the tests serve them on 127.0.0.1.
if ! scripts/fetch-test-packages.sh; then
  if [ "${CI:-}" = true ]; then echo "test: could not fetch the test packages" >&2; exit 1; fi
  echo "test: could not fetch the test packages: the tests that need them skip" >&2
fi

export CLEARINGHOUSE_SHARED_DATA=${CLEARINGHOUSE_SHARED_DATA:-$(cd .. && pwd)/shared/data}
.venv/bin/pytest -n auto --dist loadgroup "$@"
