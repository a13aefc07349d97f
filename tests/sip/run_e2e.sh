#!/usr/bin/env bash
# End-to-end test of the SIP edge: the real callpost binary, Kamailio started by
# scripts/sip-edge.sh with deploy/kamailio/callpost.cfg, SIPp as callers and buyers, and a small
# HTTP receiver for the "answered" webhook. Every port is picked free; nothing uses 5060.
#
#   tests/sip/run_e2e.sh CALLPOST_BINARY
#
# Prints PASS/FAIL lines, then "N passed, M failed"; exits 1 on any failure, 77 (a skip for
# ctest) when kamailio or SIPp is not installed. KEEP=1 keeps the work directory.
set -uo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 CALLPOST_BINARY" >&2
  exit 2
fi
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# Debian's python3 (scripts/install-deps.sh) starts fastest; a python3 shim on PATH may not
python=/usr/bin/python3
[ -x "$python" ] || python=python3
helper=("$python" "$here/e2e_helper.py")

for tool in kamailio sipp "$python" timeout; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is not installed (scripts/install-deps.sh installs it)"
    exit 77
  fi
done

started=$(date +%s.%N)
work=$(mktemp -d "${TMPDIR:-/tmp}/callpost-sip-e2e.XXXXXX")
cd "$work" || exit 2
groups=()     # process groups to end: each background process runs under timeout(1), a group leader
watchdog=""
passed=0
failed=0

cleanup() {
  local rc=$?
  trap '' INT TERM
  [ -n "$watchdog" ] && kill -TERM -- "-$watchdog" 2>/dev/null
  if [ "${#groups[@]}" -gt 0 ]; then
    for g in "${groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null; done
    # wait for them (kill -0 would see zombies as alive); whatever still runs after 8 s is killed
    ( sleep 8; for g in "${groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null; done ) \
      >/dev/null 2>&1 &
    local killer=$!
    wait "${groups[@]}" 2>/dev/null
    kill "$killer" 2>/dev/null
  fi
  if [ -n "${CALLPOST_TEST_LOG_DIR:-}" ]; then  # for the log scan (tests/scan_logs.sh)
    mkdir -p "$CALLPOST_TEST_LOG_DIR"
    for f in callpost edge; do
      [ -f "$work/$f.log" ] && cp "$work/$f.log" "$CALLPOST_TEST_LOG_DIR/sip_e2e-$f-$$.log"
    done
    [ -n "${token:-}" ] && echo "$token" >>"$CALLPOST_TEST_LOG_DIR/secrets-sip_e2e-$$.txt"
  fi
  if [ "$failed" = 0 ] && [ "${KEEP:-0}" != 1 ]; then rm -rf "$work"; fi
  exit "$rc"
}
summary() {  # the last lines: where the logs are, if kept, then the counts
  if [ "$failed" -gt 0 ] || [ "${KEEP:-0}" = 1 ]; then echo "logs kept in $work"; fi
  echo "$passed passed, $failed failed"
}
trap cleanup EXIT
trap 'fail "interrupted or timed out"; summary; exit 1' INT TERM
# never hang: whatever happens, stop after 100 s (ctest's TIMEOUT is 120)
# (under timeout(1) too, so that cleanup ends its whole group, the sleep included)
timeout 101 bash -c "sleep 100; echo 'the whole test took more than 100 s'; kill -TERM $$" \
  </dev/null &
watchdog=$!

pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
check() {  # check NAME COMMAND...: PASS when the command succeeds
  local name=$1; shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}
die() {
  fail "$*"
  for f in callpost.log edge.log; do
    [ -s "$f" ] && { echo "--- last lines of $f"; tail -n 25 "$f"; }
  done
  summary
  exit 1
}
# bg NAME LIMIT COMMAND...: run in the background under timeout(1); sets $bgpid
bg() {
  local name=$1 limit=$2; shift 2
  timeout -k 3 "$limit" "$@" >"$name.log" 2>&1 &
  bgpid=$!
  groups+=("$bgpid")
}
api() { "${helper[@]}" api "$1" "$base$2" "$token" "${3-}"; }
json() { "${helper[@]}" json "$1"; }

# ---- ports, account, callpost, webhook receiver ----
mapfile -t ports < <("${helper[@]}" ports 10)
[ "${#ports[@]}" = 10 ] || die "could not find free ports"
http_port=${ports[0]} recv_port=${ports[1]} sip_port=${ports[2]} uac_port=${ports[3]}
uas_normal=${ports[4]} uas_busy=${ports[5]} uas_cancel=${ports[6]} uas_spoof=${ports[7]}
uas_load=${ports[8]} uas_buyerbye=${ports[9]}
base=http://127.0.0.1:$http_port
recv=http://127.0.0.1:$recv_port

token=$("$bin" accounts create --name "sip e2e" --data-dir "$work/data" 2>accounts.err \
        | json 'j["api_key"]') || die "callpost accounts create failed: $(cat accounts.err)"
bg callpost 95 "$bin" serve --listen "127.0.0.1:$http_port" --data-dir "$work/data" \
  --allow-private-webhooks
callpost_group=$bgpid
"${helper[@]}" wait-http "$base/healthz" 10 || die "callpost did not answer on $base/healthz"
bg receiver 95 "${helper[@]}" receiver "$recv_port" "$work/webhooks.jsonl"
"${helper[@]}" wait-http "$recv/ready" 10 || die "the webhook receiver did not start"

# One campaign per scenario, each with its own tracking number and its own SIP buyer (a SIPp
# UAS on its own port), an "answered" webhook to the receiver and a postback conversion group.
declare -A campaign
setup() {  # setup NAME NUMBER UAS_PORT
  local b c
  b=$(api POST /api/v1/buyers "{\"name\":\"buyer $1\",\"destination\":\"sip:buyer@127.0.0.1:$3\"}" \
      | json 'j["id"]') || return 1
  c=$(api POST /api/v1/campaigns "{\"name\":\"sip $1\",\"buyers\":[{\"buyer_id\":$b}]}" \
      | json 'j["id"]') || return 1
  api POST /api/v1/numbers "{\"number\":\"$2\",\"campaign_id\":$c}" >/dev/null || return 1
  api POST "/api/v1/campaigns/$c/webhook_groups" "{\"name\":\"answered\",\"trigger\":\"answered\",\"matches\":\"\",\"requests\":[{\"method\":\"GET\",\"url\":\"$recv/answered?uuid=[call_uuid]&key=[call_key]\",\"headers\":{},\"body\":null}]}" >/dev/null || return 1
  api POST "/api/v1/campaigns/$c/conversion_groups" '{"name":"sale","type":"postback_value","postback_timeout_seconds":600}' >/dev/null || return 1
  campaign[$1]=$c
}
setup normal +18005550101 "$uas_normal" &&
  setup busy +18005550102 "$uas_busy" &&
  setup cancel +18005550103 "$uas_cancel" &&
  setup spoof +18005550104 "$uas_spoof" &&
  setup load +18005550105 "$uas_load" &&
  setup buyerbye +18005550106 "$uas_buyerbye" || die "configuring callpost over the operator API failed"

# ---- the SIP edge (the key through the environment, as recommended) ----
export CALLPOST_TOKEN=$token
# The SIP port was free when picked, but a test running beside this one may bind it before
# Kamailio does (sip-edge.sh then stops: "is not free"): pick another, at most three times.
for attempt in 1 2 3; do
  bg edge 95 "$root/scripts/sip-edge.sh" --callpost "$base" --listen "127.0.0.1:$sip_port"
  "${helper[@]}" sip-ping 127.0.0.1 "$sip_port" 10 && break
  if [ "$attempt" = 3 ] || ! grep -q "is not free" edge.log; then
    die "Kamailio did not answer SIP on port $sip_port"
  fi
  echo "SIP port $sip_port was taken meanwhile; trying another"
  sip_port=$("${helper[@]}" ports 1)
done
unset CALLPOST_TOKEN
pass "Kamailio answers SIP (udp 127.0.0.1:$sip_port)"

# run_call NAME UAS_XML UAS_PORT UAC_XML DIALED [extra UAC args]: one buyer and one caller;
# sets uac_rc and uas_rc (0 = every call of the scenario succeeded, check_it included)
run_call() {
  local name=$1 uas_xml=$2 uas_port=$3 uac_xml=$4 dialed=$5; shift 5
  local calls=1 prev="" a uas=""
  for a in "$@"; do [ "$prev" = -m ] && calls=$a; prev=$a; done
  if [ "$uas_xml" != none ]; then
    bg "uas_$name.sipp" 40 sipp -sf "$here/$uas_xml" -i 127.0.0.1 -p "$uas_port" -m "$calls" \
      -nostdin -timeout 30s -timeout_error -trace_logs -log_file "$work/uas_$name.log" \
      -trace_err -error_file "$work/uas_$name.err"
    uas=$bgpid
    sleep 0.2
  fi
  timeout -k 3 40 sipp -sf "$here/$uac_xml" -s "$dialed" -i 127.0.0.1 -p "$uac_port" \
    "127.0.0.1:$sip_port" -nostdin -timeout 30s -timeout_error \
    -trace_err -error_file "$work/uac_$name.err" "$@" >"uac_$name.sipp.log" 2>&1
  uac_rc=$?
  if [ "$uas_xml" = none ]; then uas_rc=0; else wait "$uas"; uas_rc=$?; fi
  [ "$uac_rc" = 0 ] || { echo "  caller SIPp exit $uac_rc"; show_err "uac_$name.err"; }
  [ "$uas_rc" = 0 ] || { echo "  buyer SIPp exit $uas_rc"; show_err "uas_$name.err"; }
}
# show_err FILE: why SIPp failed calls (its first reasons), then the end of its error file
show_err() {
  [ -s "$1" ] || return 0
  { grep -m 6 -iE "aborting|unexpected|timeout|retrans|error" "$1"; echo "    ..."; tail -n 8 "$1"; } |
    cut -c 1-300 | sed 's/^/    | /'
}
# what the buyer saw in the INVITE: "uuid key" from the UAS log
buyer_saw() { sed -n 's/.*BUYER-INVITE callid=.* uuid=\([^ ]*\) key=\([^ ]*\).*/\1 \2/p' "uas_$1.log" 2>/dev/null | head -n 1; }
# webhook_for UUID: the receiver's "answered" requests for this call
webhooks_for() { grep -cF "uuid=$1" webhooks.jsonl 2>/dev/null; }
wait_webhook() {  # wait_webhook UUID KEY SECONDS
  local end=$((SECONDS + $3))
  while [ $SECONDS -lt $end ]; do
    grep -qF "/answered?uuid=$1&key=$2\"" webhooks.jsonl 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
call_is() {  # call_is UUID SECONDS PYTHON-EXPR-on-c
  "${helper[@]}" wait-call "$base" "$token" "$1" "$2" "$3" >"call_$1.json"
}

# ---- (a) a normal call: headers, answered webhook, ended, awaiting postback ----
run_call normal uas_answer.xml "$uas_normal" uac_call.xml 18005550101 -m 1
check "a: normal call completes (caller BYE; both SIPp sides succeed, buyer saw both headers)" \
  test "$uac_rc$uas_rc" = 00
read -r a_uuid a_key <<<"$(buyer_saw normal)"
if [ -n "${a_uuid:-}" ] && call=$(api GET "/api/v1/calls/$a_uuid" 2>/dev/null); then
  check "a: X-PH-RetreaverUUID/Key at the buyer equal the call's uuid/key in callpost" \
    test "$(json 'j["uuid"] + " " + j["key"]' <<<"$call")" = "$a_uuid $a_key"
else
  fail "a: X-PH-RetreaverUUID/Key at the buyer equal the call's uuid/key (buyer saw '${a_uuid:-}')"
fi
check "a: the answered webhook arrived with the call's uuid and key" wait_webhook "${a_uuid:-x}" "${a_key:-x}" 10
check "a: after BYE the call is ended, was answered, conversion awaiting_postback" \
  call_is "${a_uuid:-x}" 10 'c["status"] in ("ended", "completed") and c["answered_at"] and c["ended_at"] and c["conversion"]["state"] == "awaiting_postback"'
check "a: callpost shows the answered webhook delivered" \
  call_is "${a_uuid:-x}" 10 'any(w["trigger"] == "answered" and w["state"] == "delivered" for w in c["webhooks"])'

# ---- (a2) the buyer hangs up first: its BYE comes back through the edge ----
run_call buyerbye uas_callee_bye.xml "$uas_buyerbye" uac_callee_bye.xml 18005550106 -m 1
check "a2: the buyer hangs up: its BYE follows the Record-Route back to the caller" \
  test "$uac_rc$uas_rc" = 00
read -r a2_uuid a2_key <<<"$(buyer_saw buyerbye)"
check "a2: after the buyer's BYE the call is ended, was answered, awaiting_postback" \
  call_is "${a2_uuid:-x}" 10 'c["status"] in ("ended", "completed") and c["answered_at"] and c["ended_at"] and c["conversion"]["state"] == "awaiting_postback"'

# ---- (b) the buyer is busy (486) ----
run_call busy uas_busy.xml "$uas_busy" uac_busy.xml 18005550102 -m 1
check "b: busy call: the caller gets 486, the buyer saw both headers" test "$uac_rc$uas_rc" = 00
read -r b_uuid b_key <<<"$(buyer_saw busy)"
check "b: busy call ends as failed (486), never answered, no answered webhook queued" \
  call_is "${b_uuid:-x}" 10 'c["status"] in ("ended", "completed") and not c["answered_at"] and c["ended_at"] and "failed" in str(c.get("hung_up_by")) and not any(w["trigger"] == "answered" for w in c["webhooks"])'
check "b: the failed event carried the SIP code (hung_up_by failed:486)" \
  call_is "${b_uuid:-x}" 1 'c.get("hung_up_by") == "failed:486"'

# ---- (c) the caller cancels while the buyer rings ----
run_call cancel uas_cancel.xml "$uas_cancel" uac_cancel.xml 18005550103 -m 1
check "c: cancelled call: CANCEL/487 relayed to both sides" test "$uac_rc$uas_rc" = 00
read -r c_uuid c_key <<<"$(buyer_saw cancel)"
check "c: cancelled call ends as failed (487), never answered, no answered webhook queued" \
  call_is "${c_uuid:-x}" 10 'c["status"] in ("ended", "completed") and not c["answered_at"] and c["ended_at"] and "failed" in str(c.get("hung_up_by")) and not any(w["trigger"] == "answered" for w in c["webhooks"])'

# ---- (d) the caller forges X-PH-Retreaver* headers ----
run_call spoof uas_answer.xml "$uas_spoof" uac_spoof.xml 18005550104 -m 1
check "d: spoofed call completes; the buyer saw no forged header (SIPp check)" test "$uac_rc$uas_rc" = 00
read -r d_uuid d_key <<<"$(buyer_saw spoof)"
if [ -n "${d_uuid:-}" ] && [ "$d_uuid" != 11111111-2222-3333-4444-555555555555 ] &&
   call=$(api GET "/api/v1/calls/$d_uuid" 2>/dev/null) &&
   [ "$(json 'j["key"]' <<<"$call")" = "$d_key" ]; then
  pass "d: the buyer got callpost's uuid/key, not the caller's"
else
  fail "d: the buyer got callpost's uuid/key, not the caller's (saw '${d_uuid:-}' '${d_key:-}')"
fi

# ---- (f) a number callpost does not know: 404 to the caller ----
run_call unrouted none 0 uac_unrouted.xml 18005559999 -m 1
check "f: an unknown number is answered 404" test "$uac_rc" = 0

# ---- (e) load: 200 calls at 100 calls/s ----
before=$(api GET "/api/v1/calls?limit=500" | json 'len(j["data"])')
load_start=$(date +%s.%N)
run_call load uas_answer.xml "$uas_load" uac_call.xml 18005550105 -r 100 -m 200 -l 200
load_end=$(date +%s.%N)
check "e: 200 calls at 100/s through the edge, no failure (both SIPp exit 0)" test "$uac_rc$uas_rc" = 00
after=$(api GET "/api/v1/calls?limit=500" | json 'len(j["data"])')
check "e: callpost shows 200 new calls (before $before, after $after)" test "$((after - before))" = 200
load_ended() {
  local end=$((SECONDS + 15)) n=0
  while [ $SECONDS -lt $end ]; do
    n=$(api GET "/api/v1/calls?campaign_id=${campaign[load]}&limit=500" |
        json 'sum(1 for c in j["data"] if c["status"] in ("ended", "completed") and c["answered_at"])')
    [ "$n" = 200 ] && return 0
    sleep 0.2
  done
  echo "  $n of 200 load calls answered and ended"
  return 1
}
check "e: all 200 load calls answered and ended in callpost (events delivered)" load_ended
grep -h "Successful call\|Failed call" uac_load.sipp.log 2>/dev/null | sed 's/^/  /' | head -n 6
# on a failure, SIPp's last table of messages: which step retransmitted, timed out or was unexpected
[ "$uac_rc$uas_rc" = 00 ] ||
  awk '/Messages  Retrans/ { t = "" } { t = t "  " $0 "\n" } /Test Terminated/ && t ~ /Retrans/ { last = t; t = "" }
       END { printf "%s", last }' uac_load.sipp.log 2>/dev/null

# ---- no answered webhook ever reached the receiver for the busy and cancelled calls ----
sleep 0.5
check "b/c: the receiver never got an answered webhook for the busy or cancelled call" \
  test "$(webhooks_for "${b_uuid:-x}")$(webhooks_for "${c_uuid:-x}")" = 00

# ---- (g) callpost unreachable: the caller gets 503 at once; the token never reaches the log ----
kill -TERM -- "-$callpost_group" 2>/dev/null
wait "$callpost_group" 2>/dev/null
run_call unavailable none 0 uac_unavailable.xml 18005550101 -m 1
check "g: with callpost down a call is answered 503" test "$uac_rc" = 0
check "g: the API token never appears in Kamailio's log" bash -c '! grep -qF -- "$1" edge.log' _ "$token"

if [ "$failed" -gt 0 ]; then
  for f in edge.log callpost.log; do echo "--- last lines of $f"; tail -n 25 "$f"; done
fi
echo "took $("$python" -c "print(round($(date +%s.%N) - $started, 1))") s (load run $("$python" -c "print(round($load_end - $load_start, 1))") s)"
summary
[ "$failed" = 0 ]
