#!/usr/bin/env bash
# callpost's benchmark suite, measured against the limits of the same machine in the same run:
#   - the HTTP limit: nginx answering a fixed small body (as many worker processes as callpost
#     has HTTP threads, keep-alive, access_log off), driven by the same wrk command;
#   - the durable-write limit: bench_sqlite_limit, a minimal program that commits small rows to
#     SQLite with callpost's durability (WAL, fsynced before the acknowledgement) and group
#     commit.
# It prints one table (figure, callpost, limit, ratio, target) and, with --out, writes it with a
# description of the machine to that file (`make bench` writes BENCHMARKS.md).
#
#   bench/run.sh [--bin-dir DIR] [--out FILE] [--smoke] [--seconds N] [--connections N]
#                [--deadlines N] [--backlog N] [--pg URL | --pg-start | --no-pg]
#
# --bin-dir   where callpost, bench_sqlite_limit and bench_lifecycle are (default build-release)
# --smoke     seconds-long run with small counts (CI: checks that the suite works, not speed)
# --pg URL    also run add_tags against callpost on this PostgreSQL database (it must be empty
#             or callpost's own); --pg-start starts a throwaway PostgreSQL on a temporary
#             directory as the `postgres` user with tests/pg/pg.sh (the default when
#             PostgreSQL is installed; --no-pg skips the row)
# Every server listens on 127.0.0.1 on a free port; everything is stopped at exit.
# BENCH_KEEP=1 keeps the work directory (the servers' logs and databases) instead of removing it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

BIN_DIR=build-release
OUT=""
SMOKE=0
SECONDS_RUN=""
CONNECTIONS=""
DEADLINES=""
BACKLOG_ARG=""
PG_MODE=auto
PG_URL=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) BIN_DIR=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    --seconds) SECONDS_RUN=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --deadlines) DEADLINES=$2; shift 2 ;;
    --backlog) BACKLOG_ARG=$2; shift 2 ;;
    --pg) PG_MODE=url; PG_URL=$2; shift 2 ;;
    --pg-start) PG_MODE=start; shift ;;
    --no-pg) PG_MODE=off; shift ;;
    *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

# Sizes: the full run, or the smoke run's.
CALLS=10000           # live calls that add_tags postbacks spread over
FIRE_RATE=10000       # deadlines due per second in the firing window
FIRE_SECONDS=10       # length of the firing window
BACKLOG=50000         # webhook deliveries queued for the dispatch benchmark
LEAD_MS=12000         # from the restart to the first deadline of the firing window
if [ "$SMOKE" = 1 ]; then
  SECONDS_RUN=${SECONDS_RUN:-1}; CONNECTIONS=${CONNECTIONS:-8}; DEADLINES=${DEADLINES:-10000}
  CALLS=50; FIRE_SECONDS=1; BACKLOG=300; LEAD_MS=3000
fi
SECONDS_RUN=${SECONDS_RUN:-10}
CONNECTIONS=${CONNECTIONS:-64}
DEADLINES=${DEADLINES:-1000000}
BACKLOG=${BACKLOG_ARG:-$BACKLOG}
FIRE_COUNT=$((FIRE_RATE * FIRE_SECONDS))
[ "$FIRE_COUNT" -gt "$DEADLINES" ] && FIRE_COUNT=$DEADLINES

BIN_DIR=$(cd "$BIN_DIR" && pwd)
CALLPOST=$BIN_DIR/callpost
for tool in "$CALLPOST" "$BIN_DIR/bench/bench_sqlite_limit" "$BIN_DIR/bench/bench_lifecycle"; do
  [ -x "$tool" ] || { echo "bench/run.sh: $tool is missing; build it first" >&2; exit 1; }
done
for tool in wrk nginx sqlite3 curl python3; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || {
    echo "bench/run.sh: $tool is not installed (scripts/install-deps.sh)" >&2; exit 77; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
THREADS=$(nproc)  # callpost's HTTP threads (its default: one per core) = nginx's workers

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
VERSION=$(git describe --always --dirty 2>/dev/null || echo unknown)  # before --out is written
WORK=$(mktemp -d "${TMPDIR:-/tmp}/callpost-bench.XXXXXX")
PIDS=()
PG_STATE=""
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$PG_STATE" ]; then bash tests/pg/pg.sh stop "$PG_STATE" >/dev/null 2>&1 || true; fi
  [ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "bench: $*" >&2; }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
now_ms() { date +%s%3N; }
wait_healthy() {  # port pid: waits until /healthz answers; fails if the process died
  for _ in $(seq 4000); do
    curl -sf "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.005
  done
  return 1
}
SERVER=""
PORT=""
start_callpost() {  # data-dir [extra serve flags]: starts callpost, sets SERVER and PORT
  local dir=$1; shift
  PORT=$(free_port)
  # No rate limits: one load generator sends far more per key and per call than any client may.
  "$CALLPOST" serve --listen "127.0.0.1:$PORT" --data-dir "$dir" --allow-private-webhooks \
    --api-key-rate 0 --call-key-rate 0 "$@" >>"$dir.log" 2>&1 &
  SERVER=$!
  PIDS+=("$SERVER")
  wait_healthy "$PORT" "$SERVER" || { log "callpost did not start:"; tail -5 "$dir.log" >&2; return 1; }
}
stop_callpost() {
  kill -TERM "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
}
# CPU time (ms) of each of callpost's threads by name so far, when BENCH_THREADS=1 (profiling).
thread_cpu() {  # label
  [ "${BENCH_THREADS:-0}" = 1 ] || return 0
  local tick; tick=$(getconf CLK_TCK)
  for t in /proc/"$SERVER"/task/*; do
    awk -v tick="$tick" '{ sub(/^[^(]*\(/, ""); name = $0; sub(/\).*/, "", name);
      sub(/^[^)]*\) /, ""); split($0, f, " "); print name, (f[12] + f[13]) * 1000 / tick }' "$t/stat"
  done | awk -v label="$1" '{ cpu[$1] += $2 } END { printf "bench: %s: thread ms:", label;
      for (n in cpu) printf " %s=%d", n, cpu[n]; printf "\n" }' >&2
}
# With BENCH_PERF=DIR, `perf record` samples callpost during a section into DIR/NAME.data.
PERF_PID=""
perf_start() {  # name
  [ -n "${BENCH_PERF:-}" ] || return 0
  mkdir -p "$BENCH_PERF"
  perf record -q -g -F 999 -p "$SERVER" -o "$BENCH_PERF/$1.data" >/dev/null 2>&1 &
  PERF_PID=$!
  sleep 0.2
}
perf_stop() {
  [ -n "$PERF_PID" ] || return 0
  kill -INT "$PERF_PID" 2>/dev/null || true
  wait "$PERF_PID" 2>/dev/null || true
  PERF_PID=""
}
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status" 2>/dev/null || echo 0; }
# Percentage with two figures: ratio a b
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b else '-')" "$1" "$2"; }
fmt() { python3 -c "import sys; print(f'{float(sys.argv[1]):,.0f}')" "$1"; }

ROWS=()  # figure|callpost|limit|ratio|target|met
row() { ROWS+=("$1|$2|$3|$4|$5|$6"); }
met() {  # value op target → yes/no
  python3 -c "import sys; v,op,t=float(sys.argv[1]),sys.argv[2],float(sys.argv[3]); print('yes' if (v>=t if op=='>=' else v<=t) else 'no')" "$1" "$2" "$3"
}

# wrk: prints "<requests/s> <p50 ms> <p99 ms> <errors>" from a script's done() line.
run_wrk() {  # url script [env...]
  local url=$1 script=$2; shift 2
  env "$@" wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_RUN}s" --latency -s "$script" "$url" \
    >"$WORK/wrk.txt" 2>&1 || { cat "$WORK/wrk.txt" >&2; return 1; }
  grep '^result:' "$WORK/wrk.txt" | tail -1 | cut -d' ' -f2-
}

# ---------------------------------------------------------------- nginx: limit and receiver
NGINX_PORT=$(free_port)
RECEIVER_PORT=$(free_port)
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes $THREADS;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  # The HTTP limit: a fixed small body.
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { default_type application/json; return 200 '{"status":"ok"}'; }
  }
  # The webhook receiver: answers every request 200 at once (keep-alive).
  server {
    listen 127.0.0.1:$RECEIVER_PORT;
    location / { client_body_buffer_size 64k; default_type text/plain; return 200 'ok'; }
  }
}
EOF
"$NGINX" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" 2>>"$WORK/nginx/error.log" &
PIDS+=($!)
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$NGINX_PORT/" >/dev/null 2>&1 && break; sleep 0.02; done
curl -sf "http://127.0.0.1:$NGINX_PORT/" >/dev/null || { log "nginx did not start"; cat "$WORK/nginx/error.log" >&2; exit 1; }

# ---------------------------------------------------------------- limits
log "nginx static, $CONNECTIONS connections, ${SECONDS_RUN}s"
read -r NGINX_RPS NGINX_P50 NGINX_P99 _ < <(run_wrk "http://127.0.0.1:$NGINX_PORT" bench/static.lua)
log "SQLite group commit, $CONNECTIONS clients, ${SECONDS_RUN}s"
read -r SQLITE_RPS SQLITE_P50 SQLITE_P99 < <("$BIN_DIR/bench/bench_sqlite_limit" "$WORK/limit.db" \
  "$SECONDS_RUN" "$CONNECTIONS")

# ---------------------------------------------------------------- callpost setup
# setup.py PORT API_KEY RECEIVER_PORT CALLS OUT_CALLS [webhooks]: buyer, campaign, number,
# conversion group (postback_value, 600 s), webhook groups on ended and converted (signed, to
# the receiver) when asked, and CALLS routed calls whose "uuid key" lines go to OUT_CALLS.
cat >"$WORK/setup.py" <<'PY'
import json, sys, urllib.request
port, key, receiver, calls, out = sys.argv[1:6]
webhooks = len(sys.argv) > 6
def api(path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(),
                                 {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))
buyer = api("/api/v1/buyers", {"name": "B", "destination": "+15550000001"})["id"]
campaign = api("/api/v1/campaigns", {"name": "C", "buyers": [{"buyer_id": buyer}]})["id"]
api("/api/v1/numbers", {"number": "+18005550100", "campaign_id": campaign})
api(f"/api/v1/campaigns/{campaign}/conversion_groups",
    {"name": "sales", "type": "postback_value", "value_param": "value",
     "postback_timeout_seconds": 600})
if webhooks:
    for trigger in ("ended", "converted"):
        api(f"/api/v1/campaigns/{campaign}/webhook_groups",
            {"name": trigger, "trigger": trigger, "sign": True,
             "requests": [{"method": "GET", "headers": {}, "body": None,
                           "url": f"http://127.0.0.1:{receiver}/hook?uuid=[call_uuid]&key=[call_key]"}]})
from concurrent.futures import ThreadPoolExecutor
def start(i):
    c = api("/api/v1/calls", {"number": "+18005550100", "caller_number": f"+1555{i:07d}", "route": True})
    return f"{c['uuid']} {c['key']}\n"
with ThreadPoolExecutor(16) as pool, open(out, "w") as f:
    f.writelines(pool.map(start, range(int(calls))))
PY
new_account() {  # data-dir → prints the API key
  "$CALLPOST" accounts create --name bench --data-dir "$1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])'
}
sql() { sqlite3 -cmd ".timeout 5000" "$@"; }  # db [sql]: waits for the server's writer
outbox_depth() {  # db → deliveries pending or retrying
  sql "$1" "SELECT count(*) FROM webhook_deliveries WHERE state IN (0, 1)"
}

# ---------------------------------------------------------------- add_tags (SQLite)
DATA=$WORK/data
mkdir -p "$DATA"
API_KEY=$(new_account "$DATA")
start_callpost "$DATA"
python3 "$WORK/setup.py" "$PORT" "$API_KEY" "$RECEIVER_PORT" "$CALLS" "$WORK/calls" webhooks
log "add_tags (SQLite), $CONNECTIONS connections, ${SECONDS_RUN}s"
perf_start add_tags
read -r AT_RPS AT_P50 AT_P99 AT_ERR < <(run_wrk "http://127.0.0.1:$PORT" bench/add_tags.lua \
  CALLS_FILE="$WORK/calls")
perf_stop
[ "$AT_ERR" = 0 ] || { log "add_tags: $AT_ERR errors"; exit 1; }

# ---------------------------------------------------------------- lifecycle
# Calls in progress at once: an edge carries many; each waits for four commits one after the
# other, so the rate is about LC_CONNECTIONS / (4 × commit time).
LC_CONNECTIONS=$((CONNECTIONS * 4))
log "call lifecycle, $LC_CONNECTIONS calls at once, ${SECONDS_RUN}s"
perf_start lifecycle
LC_START=$(now_ms)
read -r LC_CALLS LC_ELAPSED LC_ERR < <("$BIN_DIR/bench/bench_lifecycle" 127.0.0.1 "$PORT" "$API_KEY" \
  +18005550100 "$SECONDS_RUN" "$LC_CONNECTIONS")
thread_cpu "add_tags + lifecycle requests"
# The lifecycle ends when its webhooks are delivered.
for _ in $(seq 6000); do [ "$(outbox_depth "$DATA/callpost.db")" = 0 ] && break; sleep 0.01; done
LC_END=$(now_ms)
perf_stop
[ "$(outbox_depth "$DATA/callpost.db")" = 0 ] || { log "lifecycle: webhooks still queued"; exit 1; }
[ "$LC_ERR" = 0 ] || { log "lifecycle: $LC_ERR errors"; exit 1; }
LC_DELIVERED=$(sql "$DATA/callpost.db" "SELECT count(*) FROM webhook_deliveries WHERE state = 2")
[ "$LC_DELIVERED" -ge $((2 * LC_CALLS)) ] || { log "lifecycle: $LC_DELIVERED deliveries for $LC_CALLS calls"; exit 1; }
LC_CPS=$(python3 -c "print($LC_CALLS / (($LC_END - $LC_START) / 1000))")
log "lifecycle: $LC_CALLS calls in ${LC_ELAPSED}s, webhooks delivered $(( LC_END - LC_START )) ms after the start"

# ---------------------------------------------------------------- webhook dispatch
# A backlog of BACKLOG due deliveries (copies of the lifecycle's delivered ones, round robin:
# their calls and signed groups, fresh webhook ids) written while callpost is stopped; then
# callpost starts and sends them.
# Rate = deliveries / (last attempt - first attempt), from the attempt log.
stop_callpost
FIRST_NEW=$(sqlite3 "$DATA/callpost.db" "SELECT coalesce(max(id), 0) + 1 FROM webhook_deliveries")
sqlite3 "$DATA/callpost.db" <<SQL
BEGIN;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $BACKLOG)
INSERT INTO webhook_deliveries (account_id, call_id, group_id, request_index, trigger, webhook_id,
                                state, next_attempt_at, created_at, updated_at)
SELECT d.account_id, d.call_id, d.group_id, d.request_index, d.trigger, 'msg_bench' || s.i, 0,
       $(now_ms), $(now_ms), $(now_ms)
FROM s JOIN (SELECT *, row_number() OVER (ORDER BY id) - 1 AS n FROM webhook_deliveries
             WHERE state = 2) d
  ON d.n = s.i % (SELECT count(*) FROM webhook_deliveries WHERE state = 2);
COMMIT;
SQL
log "webhook dispatch: $BACKLOG deliveries"
start_callpost "$DATA"
perf_start dispatch
for _ in $(seq 12000); do [ "$(outbox_depth "$DATA/callpost.db")" = 0 ] && break; sleep 0.02; done
read -r WH_N WH_SPAN WH_OK < <(sql -separator ' ' "$DATA/callpost.db" \
  "SELECT count(*), max(a.at) - min(a.at), sum(d.state = 2) FROM webhook_attempts a
   JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE a.delivery_id >= $FIRST_NEW")
perf_stop
thread_cpu "webhook dispatch"
[ "$WH_OK" = "$BACKLOG" ] || { log "webhook dispatch: $WH_OK of $BACKLOG delivered"; exit 1; }
WH_RATE=$(python3 -c "print($WH_N / max($WH_SPAN, 1) * 1000)")
log "webhook dispatch: $WH_N attempts in $WH_SPAN ms"
stop_callpost

# ---------------------------------------------------------------- timers
# DEADLINES calls awaiting their postback, each with its deadline row. One is made through the
# server (created, answered, ended); the rest are copies written in one SQL transaction while
# callpost is stopped (the bulk path: the same rows the server writes). FIRE_COUNT of them fall
# due at FIRE_RATE a second from LEAD_MS after the restart; the others a day later. Then:
# restart-to-ready (until /healthz answers), resident memory (the most seen while firing), and
# the lag of each decision (decided_at, the server's clock when it decided, minus the due time).
TDATA=$WORK/timers
mkdir -p "$TDATA"
TKEY=$(new_account "$TDATA")
start_callpost "$TDATA"
python3 "$WORK/setup.py" "$PORT" "$TKEY" "$RECEIVER_PORT" 1 "$WORK/tcalls"
read -r TUUID _ <"$WORK/tcalls"
for ev in '{"type":"answered"}' '{"type":"ended","hung_up_by":"caller","duration_seconds":95}'; do
  curl -sf -X POST -H "Authorization: Bearer $TKEY" -H 'Content-Type: application/json' \
    -d "$ev" "http://127.0.0.1:$PORT/api/v1/calls/$TUUID/events" >/dev/null
done
stop_callpost
log "timers: writing $DEADLINES pending deadlines"
T_BULK=$(now_ms)
FAR=$(( $(now_ms) + 86400000 ))
sqlite3 "$TDATA/callpost.db" <<SQL
PRAGMA cache_size = -262144;
BEGIN;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $((DEADLINES - 1)))
INSERT INTO calls (uuid, account_id, campaign_id, publisher_id, buyer_id, number_id, number,
  caller_number, repeat, status, started_at, routed_at, answered_at, ended_at, duration_seconds,
  hung_up_by, conv_state, conv_group_id, revenue_cents, payout_cents, conv_late, deadline_at,
  decided_at, early_postback, edge_call_id)
SELECT printf('%08x-0000-4000-8000-%012x', s.i, s.i), account_id, campaign_id, publisher_id,
  buyer_id, number_id, number, caller_number, repeat, status, started_at, routed_at, answered_at,
  ended_at, duration_seconds, hung_up_by, conv_state, conv_group_id, revenue_cents, payout_cents,
  conv_late, $FAR + s.i, decided_at, early_postback, edge_call_id
FROM s, (SELECT * FROM calls WHERE uuid = '$TUUID') c;
INSERT INTO postback_deadlines (call_id, due_at) SELECT id, deadline_at FROM calls
  WHERE deadline_at > $FAR;
COMMIT;
SQL
PENDING=$(sqlite3 "$TDATA/callpost.db" "SELECT count(*) FROM postback_deadlines")
log "timers: $PENDING deadlines written in $(( $(now_ms) - T_BULK )) ms"
[ "$PENDING" = "$DEADLINES" ] || { log "timers: $PENDING deadlines written"; exit 1; }
T0=$(( $(now_ms) + LEAD_MS ))
# The firing window: calls 1..FIRE_COUNT (the one made through the server is call 1), due
# FIRE_RATE a second from T0.
sqlite3 "$TDATA/callpost.db" <<SQL
BEGIN;
UPDATE calls SET deadline_at = $T0 + (id - 1) * 1000 / $FIRE_RATE WHERE id <= $FIRE_COUNT;
UPDATE postback_deadlines SET due_at = (SELECT deadline_at FROM calls WHERE id = call_id)
  WHERE call_id <= $FIRE_COUNT;
COMMIT;
SQL
T_RESTART=$(now_ms)
start_callpost "$TDATA"
T_READY=$(now_ms)
READY_S=$(python3 -c "print(($T_READY - $T_RESTART) / 1000)")
log "timers: ready after ${READY_S}s; the first deadline is due $(( T0 - T_READY )) ms later"
RSS_MAX=$(rss_mb "$SERVER")
# Until the window has passed and every deadline in it is decided (at most 60 s more).
T_END=$(( T0 + FIRE_SECONDS * 1000 + 1000 ))
decided() {
  sql "$TDATA/callpost.db" "SELECT count(*) FROM calls WHERE deadline_at < $FAR AND decided_at IS NOT NULL"
}
while [ "$(now_ms)" -lt "$T_END" ] || { [ "$(decided)" -lt "$FIRE_COUNT" ] && [ "$(now_ms)" -lt $((T_END + 60000)) ]; }; do
  r=$(rss_mb "$SERVER"); [ "$r" -gt "$RSS_MAX" ] && RSS_MAX=$r
  sleep 0.2
done
read -r FIRED LAG_P50 LAG_P99 LAG_MAX < <(sql "$TDATA/callpost.db" <<SQL | python3 -c '
import sys
lags = sorted(int(x) for x in sys.stdin.read().split())
n = len(lags)
p = lambda q: lags[min(n - 1, int(q * n))] if n else -1
print(n, p(0.50), p(0.99), lags[-1] if n else -1)'
SELECT decided_at - deadline_at FROM calls WHERE deadline_at < $FAR AND deadline_at >= $T0
  AND decided_at IS NOT NULL;
SQL
)
STILL=$(sql "$TDATA/callpost.db" "SELECT count(*) FROM postback_deadlines")
stop_callpost
[ "$FIRED" = "$FIRE_COUNT" ] || { log "timers: $FIRED of $FIRE_COUNT deadlines decided"; exit 1; }

# ---------------------------------------------------------------- add_tags (PostgreSQL)
PG_ROW="not run"
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ "$PG_MODE" = auto ]; then
  if [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] && id postgres >/dev/null 2>&1; then PG_MODE=start; else PG_MODE=off; fi
fi
if [ "$PG_MODE" = start ]; then
  # The tests' throwaway server: initdb on a temporary directory as the postgres user, a free
  # port, fsync and synchronous_commit on (tests/pg/pg.sh).
  PG_STATE=$WORK/pgstate
  bash tests/pg/pg.sh start "$PG_STATE" >/dev/null
  PG_URL=$(cat "$PG_STATE/url")
fi
if [ -n "$PG_URL" ]; then
  PDATA=$WORK/pgdata
  mkdir -p "$PDATA"
  if ! PKEY=$("$CALLPOST" accounts create --name bench --data-dir "$PDATA" --database "$PG_URL" 2>"$WORK/pg-create.txt" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])' 2>/dev/null); then
    log "PostgreSQL: callpost could not use $PG_URL: $(head -c 300 "$WORK/pg-create.txt")"
    PG_ROW="pending"
  else
    start_callpost "$PDATA" --database "$PG_URL" --secret "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    python3 "$WORK/setup.py" "$PORT" "$PKEY" "$RECEIVER_PORT" "$CALLS" "$WORK/pgcalls"
    log "add_tags (PostgreSQL), $CONNECTIONS connections, ${SECONDS_RUN}s"
    read -r PG_RPS PG_P50 PG_P99 PG_ERR < <(run_wrk "http://127.0.0.1:$PORT" bench/add_tags.lua \
      CALLS_FILE="$WORK/pgcalls")
    stop_callpost
    [ "$PG_ERR" = 0 ] || { log "add_tags (PostgreSQL): $PG_ERR errors"; exit 1; }
    PG_ROW=ok
  fi
fi

# ---------------------------------------------------------------- the table
row "add_tags durable, req/s ($CONNECTIONS conn) vs nginx static" "$(fmt "$AT_RPS")" \
  "$(fmt "$NGINX_RPS")" "$(ratio "$AT_RPS" "$NGINX_RPS")" "≥ 0.50 × nginx" \
  "$(met "$(ratio "$AT_RPS" "$NGINX_RPS")" '>=' 0.5)"
row "add_tags durable, req/s vs SQLite group commit" "$(fmt "$AT_RPS")" "$(fmt "$SQLITE_RPS")" \
  "$(ratio "$AT_RPS" "$SQLITE_RPS")" "" ""
row "add_tags p50 latency, ms (nginx / SQLite)" "$AT_P50" "$NGINX_P50 / $SQLITE_P50" \
  "$(ratio "$AT_P50" "$SQLITE_P50")" "" ""
row "add_tags p99 latency, ms (nginx / SQLite)" "$AT_P99" "$NGINX_P99 / $SQLITE_P99" \
  "$(ratio "$AT_P99" "$SQLITE_P99")" "≤ 10 ms" "$(met "$AT_P99" '<=' 10)"
LC_LIMIT=$(python3 -c "print($NGINX_RPS / 4)")
row "call lifecycle, calls/s ($LC_CONNECTIONS at once; 4 requests + 2 webhooks each; limit: nginx req/s ÷ 4)" \
  "$(fmt "$LC_CPS")" "$(fmt "$LC_LIMIT")" "$(ratio "$LC_CPS" "$LC_LIMIT")" "≥ 5,000" \
  "$(met "$LC_CPS" '>=' 5000)"
row "webhook dispatch, signed deliveries/s (limit: nginx req/s)" "$(fmt "$WH_RATE")" \
  "$(fmt "$NGINX_RPS")" "$(ratio "$WH_RATE" "$NGINX_RPS")" "≥ 10,000" "$(met "$WH_RATE" '>=' 10000)"
row "timers: $(fmt "$DEADLINES") pending deadlines, resident MB (peak)" "$RSS_MAX" "" "" "≤ 512" \
  "$(met "$RSS_MAX" '<=' 512)"
row "timers: restart to ready, s" "$READY_S" "" "" "≤ 10" "$(met "$READY_S" '<=' 10)"
row "timers: firing at $(fmt "$FIRE_RATE")/s, lag p50 / p99 / max, ms" \
  "$LAG_P50 / $LAG_P99 / $LAG_MAX" "" "" "p99 ≤ 1,000" "$(met "$LAG_P99" '<=' 1000)"
if [ "$PG_ROW" = ok ]; then
  row "add_tags durable on PostgreSQL, req/s vs nginx static (p50 / p99 ms: $PG_P50 / $PG_P99)" \
    "$(fmt "$PG_RPS")" "$(fmt "$NGINX_RPS")" "$(ratio "$PG_RPS" "$NGINX_RPS")" "" ""
else
  row "add_tags durable on PostgreSQL, req/s vs nginx static" "$PG_ROW" "$(fmt "$NGINX_RPS")" "" "" ""
fi

TABLE="| figure | callpost | limit | ratio | target | met |
| --- | ---: | ---: | ---: | --- | --- |"
for r in "${ROWS[@]}"; do
  IFS='|' read -r a b c d e f <<<"$r"
  TABLE+=$'\n'"| $a | $b | $c | $d | $e | $f |"
done
echo "$TABLE"
log "timers: $STILL deadlines still pending after the window (expected $((DEADLINES - FIRE_COUNT)))"

if [ -n "$OUT" ]; then
  disk_dev=$(df --output=source "$WORK" | tail -1)
  disk=$(lsblk -ndo NAME,SIZE,ROTA "$disk_dev" 2>/dev/null | head -1 |
    awk '{print $1 ", " $2 ", rotational " ($3 == 1 ? "yes" : "no") " (as the kernel reports it)"}' || true)
  fs=$(df --output=fstype "$WORK" | tail -1)
  cat >"$OUT" <<EOF
# Benchmarks

Measured by \`make bench\` (bench/run.sh) on $(date -u +%Y-%m-%d), each figure against a limit of the
same machine measured in the same run: nginx answering a fixed small body ($THREADS worker
processes = callpost's $THREADS HTTP threads, keep-alive, \`access_log off\`) driven by the same
\`wrk -t2 -c$CONNECTIONS -d${SECONDS_RUN}s\`, and \`bench_sqlite_limit\` (bench/sqlite_limit.cc): $CONNECTIONS clients
committing one small row each through one writer thread with group commit, WAL and
\`synchronous=FULL\` (each row fsynced before it is acknowledged, as callpost's are). Release build (\`-O2 -DNDEBUG\`).

$TABLE

How each figure is made (bench/run.sh):
- **add_tags**: \`wrk\` with bench/add_tags.lua: GET \`/calls/{uuid}/add_tags?key=…&disposition=sold&seq=N\`
  spread over $CALLS live calls, each acknowledged only after its commit is fsynced.
- **call lifecycle**: bench/lifecycle.cc (one epoll thread, as wrk), $LC_CONNECTIONS keep-alive connections (calls in progress at once) each running calls one
  after another: create (routed), \`answered\`, \`ended\`, converting postback
  (\`value=12.50\`); each call makes two signed webhooks (on \`ended\` and \`converted\`) to a local
  nginx receiver. Calls/s counts until the last webhook is delivered.
- **webhook dispatch**: $(fmt "$BACKLOG") due deliveries of a signed group written into the outbox while
  callpost is stopped, then sent to the local receiver after it starts; deliveries/s is the
  count over the span of their attempts in the attempt log.
- **timers**: $(fmt "$DEADLINES") calls awaiting their postback with their deadline rows (one made through
  the server, the rest copied from it in one SQL transaction while callpost is stopped);
  $(fmt "$FIRE_COUNT") of them fall due at $(fmt "$FIRE_RATE")/s from ${LEAD_MS} ms after the restart. Ready = until
  \`/healthz\` answers; resident = peak VmRSS while firing; lag = \`decided_at\` (the server's clock
  when it decided) minus the due time, over every deadline of the window.
- **PostgreSQL**: the add_tags run against callpost with \`--database postgresql://…\` (a throwaway
  PostgreSQL started on a temporary directory, or \`--pg URL\`); "pending" when the binary has no
  PostgreSQL store.

## Machine

| | |
| --- | --- |
| CPU | $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores |
| memory | $(free -g | awk '/^Mem:/ {print $2 " GiB"}') |
| kernel | $(uname -sr) |
| disk | ${disk:-$disk_dev} ($fs) |
| OS | $(. /etc/os-release && echo "$PRETTY_NAME") |
| load average before the run | $LOAD_BEFORE (other work on the machine shares its 2 cores and its disk) |
| callpost | $VERSION |
| compiler | $(c++ --version | head -1) |
| SQLite | $(sqlite3 --version | cut -d' ' -f1) |
| nginx | $("$NGINX" -v 2>&1 | sed 's/.*nginx\///') |
| wrk | $(wrk -v 2>&1 | head -1 | cut -d' ' -f2) |
| PostgreSQL | $( [ -n "$PG_BIN" ] && "$PG_BIN/postgres" --version | awk '{print $3}' || echo "not installed") |
EOF
  # The profile's findings (kept by hand in bench/PROFILE.md) follow the figures.
  if [ -f bench/PROFILE.md ]; then { echo; cat bench/PROFILE.md; } >>"$OUT"; fi
  log "wrote $OUT"
fi
