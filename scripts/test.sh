#!/usr/bin/env bash
# The full check: install from nothing, ruff and mypy, `alembic upgrade head` + `alembic check`
# on SQLite and on a throwaway PostgreSQL 15, then the test suite (which starts its own clusters).
# Arguments are passed to pytest.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
cd "$ROOT"

migrate_and_check() {
  REGISTRY_DATABASE_URL="$1" alembic upgrade head
  REGISTRY_DATABASE_URL="$1" alembic check
}

WORK="$(mktemp -d)"
PGDATA_DIR="$WORK/pg"
cleanup() {
  if [ -f "$PGDATA_DIR/postmaster.pid" ]; then
    as_postgres pg_ctl -D "$PGDATA_DIR" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

echo "== lint (ruff) and types (mypy: the kit and the near-copy engine)"
ruff check registry scripts tests migrations
mypy

echo "== migrations on SQLite"
migrate_and_check "sqlite:///$WORK/registry.db"

if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
  echo "== migrations on PostgreSQL"
  [ "$(id -u)" = 0 ] && chown postgres "$WORK"
  PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  as_postgres initdb -D "$PGDATA_DIR" -A trust -U postgres --no-sync >/dev/null
  as_postgres pg_ctl -D "$PGDATA_DIR" -w -l "$WORK/pg.log" \
    -o "-p $PORT -c listen_addresses=127.0.0.1 -k $WORK" start >/dev/null
  migrate_and_check "postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
elif [ "${REGISTRY_REQUIRE_POSTGRES:-0}" = 1 ]; then
  echo "REGISTRY_REQUIRE_POSTGRES=1 but PostgreSQL server binaries are missing" >&2
  exit 1
else
  echo "== PostgreSQL binaries not found: PostgreSQL checks skipped"
fi

echo "== tests"
# Two workers (the machines have two cores); a module's tests stay on one worker, so the worlds
# a module seeds once are built once. REGISTRY_TEST_WORKERS=0 runs in this process.
pytest -p no:cacheprovider -n "${REGISTRY_TEST_WORKERS:-2}" --dist loadfile "$@"
