#!/usr/bin/env bash
# Measures durable add_tags postbacks: callpost on a fresh data directory, 1,000 live calls,
# wrk with 64 keep-alive connections. Usage: bench/add_tags.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-10}
CONNECTIONS=${2:-64}
BIN=${CALLPOST_BIN:-build/callpost}
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key=$("$BIN" accounts create --name bench --data-dir "$work" | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
"$BIN" serve --listen "127.0.0.1:$port" --data-dir "$work" 2>"$work/log" &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done

python3 - "$port" "$key" "$work/calls" <<'PY'
import json, sys, urllib.request
port, key, out = sys.argv[1], sys.argv[2], sys.argv[3]
def api(path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(),
                                 {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))
buyer = api("/api/v1/buyers", {"name": "B", "destination": "+15550000001"})["id"]
campaign = api("/api/v1/campaigns", {"name": "C", "buyers": [{"buyer_id": buyer}]})["id"]
api("/api/v1/numbers", {"number": "+18005550100", "campaign_id": campaign})
with open(out, "w") as f:
    for i in range(int(__import__("os").environ.get("CALLS", "1000"))):
        c = api("/api/v1/calls", {"number": "+18005550100", "caller_number": f"+1555{i:07d}", "route": True})
        f.write(f"{c['uuid']} {c['key']}\n")
PY
CALLS_FILE="$work/calls" wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_TO_RUN}s" --latency \
  -s bench/add_tags.lua "http://127.0.0.1:$port" | tee "$work/wrk.txt" | tail -1
