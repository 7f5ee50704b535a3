#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL server: a fresh cluster in a temporary folder,
# on a free loopback port, owned by an unprivileged user, stopped and deleted when the
# command ends, whether it passed or not. The command finds the server in
# BECKON_TEST_POSTGRES (postgres://beckon@127.0.0.1:PORT/postgres).
#   scripts/with-postgres.sh cargo test -p server --tests
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(scripts/setup.sh postgres-bin)
dir=$(mktemp -d /tmp/beckon-pg.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# PostgreSQL refuses to run as root; as root, the cluster belongs to a system user of its own.
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  id beckon-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin beckon-pg
  chown beckon-pg "$dir"
  as_owner=(runuser -u beckon-pg --)
fi

stop() {
  "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U beckon --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
# Made for tests: nothing it holds needs to survive a crash.
"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
  "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }

export BECKON_TEST_POSTGRES="postgres://beckon@127.0.0.1:$port/postgres"
echo "with-postgres: PostgreSQL on 127.0.0.1:$port for: $*"
"$@"
