#!/usr/bin/env bash
# Runs the SIP edge: Kamailio with deploy/kamailio/callpost.cfg, in the foreground, next to a
# running callpost. Kamailio does the SIP; each new call is routed by callpost's /sip/route hook
# and reported to /sip/event. Ctrl-C (or SIGTERM) stops it.
#
#   scripts/sip-edge.sh --callpost http://127.0.0.1:8080 --token KEY [--listen 127.0.0.1:5060]
#
#   --callpost URL    callpost's base URL (env CALLPOST_URL)
#   --token KEY       an account API key of callpost (env CALLPOST_TOKEN; the environment keeps
#                     it out of the process list)
#   --listen IP:PORT  where Kamailio listens, UDP and TCP (default 127.0.0.1:5060)
#   --advertise IP[:PORT]  the public address to put in Via / Record-Route (behind NAT)
#   --config FILE     the Kamailio configuration (default deploy/kamailio/callpost.cfg)
#   --debug N         Kamailio log level (default 2 = info; 3 = debug)
#
# The settings go to a small file in a private temporary runtime directory (kamailio -Y), which
# includes the configuration; the token never appears on Kamailio's command line. The directory
# is removed on exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
callpost=${CALLPOST_URL:-}
token=${CALLPOST_TOKEN:-}
listen=127.0.0.1:5060
advertise=""
config=$here/../deploy/kamailio/callpost.cfg
debug=2

usage() { sed -n '2,19s/^# \{0,1\}//p' "$0"; }
die() { echo "sip-edge: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --callpost) callpost=${2:?}; shift 2 ;;
    --callpost=*) callpost=${1#*=}; shift ;;
    --token) token=${2:?}; shift 2 ;;
    --token=*) token=${1#*=}; shift ;;
    --listen) listen=${2:?}; shift 2 ;;
    --listen=*) listen=${1#*=}; shift ;;
    --advertise) advertise=${2:?}; shift 2 ;;
    --advertise=*) advertise=${1#*=}; shift ;;
    --config) config=${2:?}; shift 2 ;;
    --config=*) config=${1#*=}; shift ;;
    --debug) debug=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

[ -n "$callpost" ] || die "--callpost URL is required (e.g. http://127.0.0.1:8080)"
[ -n "$token" ] || die "--token KEY (or CALLPOST_TOKEN) is required: an account API key (callpost accounts create)"
case $callpost in http://*|https://*) ;; *) die "--callpost must be an http:// or https:// URL" ;; esac
callpost=${callpost%/}
case $callpost in *'"'*|*'\'*|*'$'*|*[[:space:]]*) die "the URL may not contain quotes, backslashes, \$ or spaces" ;; esac
[[ $token =~ ^[A-Za-z0-9._~+/=-]+$ ]] || die "the token has characters an API key does not have"
[[ $listen =~ ^([0-9.]+|\[[0-9a-fA-F:]+\]):([0-9]{1,5})$ ]] || die "--listen must be IP:PORT (e.g. 127.0.0.1:5060)"
addr=${BASH_REMATCH[1]}
port=${BASH_REMATCH[2]}
[ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "bad port $port"
[[ $debug =~ ^-?[0-9]+$ ]] || die "--debug must be a number"
[ -z "$advertise" ] || [[ $advertise =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+(:[0-9]{1,5})?$ ]] ||
  die "--advertise must be IPv4[:PORT]"
case $advertise in ""|*:*) ;; *) advertise=$advertise:$port ;; esac
[ -r "$config" ] || die "no configuration at $config"
config=$(cd "$(dirname "$config")" && pwd)/$(basename "$config")

kamailio=$(command -v kamailio || true)
[ -n "$kamailio" ] || die "kamailio is not installed: run scripts/install-deps.sh"
moddir=/usr/lib/x86_64-linux-gnu/kamailio/modules
for m in http_client jansson; do
  [ -e "$moddir/$m.so" ] || die "kamailio module $m is missing: run scripts/install-deps.sh"
done
command -v python3 >/dev/null || die "python3 is needed to check the port"

# The port must be free for both UDP and TCP (a packaged kamailio service often holds 5060).
if ! python3 - "$addr" "$port" <<'PY'
import socket, sys
addr, port = sys.argv[1].strip("[]"), int(sys.argv[2])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
for kind, name in ((socket.SOCK_DGRAM, "UDP"), (socket.SOCK_STREAM, "TCP")):
    s = socket.socket(fam, kind)
    if kind == socket.SOCK_STREAM:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((addr, port))
    except OSError as e:
        sys.exit(f"sip-edge: {name} {addr}:{port} is not free ({e.strerror}); "
                 "is another SIP server (a packaged kamailio service?) running?")
    finally:
        s.close()
PY
then
  exit 1
fi

if ! curl -fsS -m 3 -o /dev/null "$callpost/healthz" 2>/dev/null; then
  echo "sip-edge: warning: $callpost/healthz does not answer yet; calls fail with 503 until it does" >&2
fi

rundir=$(mktemp -d "${TMPDIR:-/tmp}/callpost-sip-edge.XXXXXX")
chmod 700 "$rundir"
kpid=""
cleanup() {
  trap '' INT TERM   # a second signal (timeout(1) forwards one too) must not cut this short
  set +e
  if [ -n "$kpid" ]; then
    # stop Kamailio; if it has not stopped within 5 s, kill it
    kill -TERM "$kpid" 2>/dev/null || true
    ( sleep 5; kill -KILL "$kpid" 2>/dev/null ) >/dev/null 2>&1 &
    local killer=$!
    wait "$kpid" 2>/dev/null
    kill "$killer" 2>/dev/null
  fi
  rm -rf "$rundir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

umask 077
cat >"$rundir/kamailio.cfg" <<CFG
#!KAMAILIO
# written by scripts/sip-edge.sh; removed when it stops
#!define CALLPOST_URL "$callpost"
#!define CALLPOST_TOKEN "$token"
#!define LISTEN_ADDR $addr
#!define LISTEN_PORT $port
$([ -n "$advertise" ] && echo "#!define PUBLIC_ADDR $advertise")
include_file "$config"
CFG

echo "sip-edge: kamailio on udp/tcp $addr:$port -> $callpost (runtime dir $rundir)" >&2
# -DD: no daemon; -E: log to stderr; -Y: runtime dir (instead of /run/kamailio, which the
# packaged service uses)
"$kamailio" -f "$rundir/kamailio.cfg" -Y "$rundir" -DD -E --debug="$debug" -m 64 -M 8 &
kpid=$!
set +e
wait "$kpid"
rc=$?
kpid=""
exit $rc
