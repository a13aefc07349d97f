#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests, never the system-wide one.
#   tests/pg/pg.sh start STATE_DIR   initdb in a fresh temporary folder, serve on 127.0.0.1 at a
#                                    free port; writes STATE_DIR/url (a superuser's URL) and
#                                    STATE_DIR/data (the server's folder)
#   tests/pg/pg.sh stop STATE_DIR    stop the server and remove its folder
# PostgreSQL refuses to run as root: as root the server runs as the `postgres` user the Debian
# package creates.
set -euo pipefail

cmd=${1:?usage: pg.sh start|stop STATE_DIR}
state=${2:?usage: pg.sh start|stop STATE_DIR}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "pg.sh: PostgreSQL server binaries not found (install the postgresql package:" \
    "scripts/install-deps.sh)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop() {
  if [ -f "$state/data" ]; then
    data=$(cat "$state/data")
    if [ -d "$data/pgdata" ]; then
      as_owner "$bindir/pg_ctl" -D "$data/pgdata" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$data"
  fi
  rm -f "$state/url" "$state/data"
}

case "$cmd" in
  start)
    mkdir -p "$state"
    stop  # a server left by an interrupted run
    data=$(mktemp -d /tmp/callpost-pg.XXXXXX)
    chmod 755 "$data"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$data"; fi
    echo "$data" > "$state/data"
    as_owner "$bindir/initdb" -D "$data/pgdata" -U postgres --auth=trust -E UTF8 \
      --locale=C.UTF-8 >"$data/initdb.log" 2>&1 || {
      cat "$data/initdb.log" >&2
      exit 1
    }
    for attempt in 1 2 3 4 5; do
      port=$(free_port)
      if as_owner "$bindir/pg_ctl" -D "$data/pgdata" -l "$data/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$data \
            -c max_connections=300 -c shared_buffers=128MB -c fsync=on \
            -c synchronous_commit=on" start >/dev/null; then
        echo "postgresql://postgres@127.0.0.1:$port/postgres" > "$state/url"
        echo "pg.sh: PostgreSQL on 127.0.0.1:$port ($data)"
        exit 0
      fi
    done
    cat "$data/server.log" >&2
    exit 1
    ;;
  stop)
    stop
    ;;
  *)
    echo "usage: pg.sh start|stop STATE_DIR" >&2
    exit 2
    ;;
esac
