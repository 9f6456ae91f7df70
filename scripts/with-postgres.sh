#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster on loopback, then removes it.
# Usage: scripts/with-postgres.sh COMMAND...   (DATABASE_URL is set for the command)
# With TEST_POSTGRES_URL set, uses that server instead of starting one.
set -euo pipefail

if [ -n "${TEST_POSTGRES_URL:-}" ]; then
  DATABASE_URL="$TEST_POSTGRES_URL" exec "$@"
fi

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pg_bin/initdb" ] || { echo "PostgreSQL is not installed (run scripts/install-test-deps.sh)" >&2; exit 1; }
port=${PGTEST_PORT:-54329}
dir=$(mktemp -d /tmp/regua-pg.XXXXXX)
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  # PostgreSQL refuses to run as root: the cluster belongs to the postgres user.
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" postgres
  chown postgres "$dir"
  as_owner=(runuser -u postgres --)
fi
cleanup() {
  "${as_owner[@]}" "$pg_bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
"${as_owner[@]}" "$pg_bin/initdb" -D "$dir/data" -U regua --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${as_owner[@]}" "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
  "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50" \
  start >/dev/null
"${as_owner[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U regua regua
# For the fault tests (tests/test_faults.py), which stop and restart this cluster: a
# pg_ctl command line for it, to which they add stop or restart (restart reuses the
# options above).
export REGUA_TEST_PG_CTL="${as_owner[*]} $pg_bin/pg_ctl -D $dir/data -l $dir/log"
DATABASE_URL="postgres://regua@127.0.0.1:$port/regua" "$@"
