#!/usr/bin/env bash
# Installs every Debian 12 package callpost needs to build, test and benchmark.
# Safe to run again: it installs only what is missing. Needs root (or sudo).
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build ccache make pkg-config clang-format
  # libraries
  libboost1.81-dev libboost-url1.81-dev libboost-json1.81-dev
  libsqlite3-dev libssl-dev libcurl4-openssl-dev libpq-dev libjemalloc-dev
  libcli11-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev
  # the authorities an https webhook's receiver is checked against (installed with
  # --no-install-recommends below, libcurl would otherwise find none and refuse every receiver)
  ca-certificates
  # tests and benchmarks
  sqlite3 curl wrk python3
  # SIP edge (deploy/kamailio, scripts/sip-edge.sh) and its end-to-end test (tests/sip):
  # http_client is in kamailio-utils-modules, jansson in kamailio-extra-modules; SIPp is sip-tester
  kamailio kamailio-utils-modules kamailio-extra-modules sip-tester
  # the PostgreSQL store's tests start their own server on a temporary directory and port
  # (tests/pg/pg.sh); the packaged service is kept from starting, like kamailio's
  postgresql
  # fuzzing (fuzz/, docs/fuzzing.md): clang 14 with libFuzzer and its sanitizer runtimes, and
  # llvm-symbolizer for readable sanitizer reports (g++'s ASan build uses it too)
  clang libclang-rt-14-dev llvm
  # benchmarks (bench/): nginx is the HTTP limit and the webhook receiver; bench/run.sh runs its
  # own, so the packaged service is kept from starting, like kamailio's
  nginx-light
)

# The web console (web/): built with Node.js and npm, tested in headless Chromium (with a font,
# for readable screenshots). A nodejs from elsewhere (nodesource) bundles npm and conflicts with
# Debian's npm package, so npm is added only when the command is missing.
packages+=(nodejs chromium fonts-dejavu-core)
if ! command -v npm >/dev/null 2>&1; then packages+=(npm); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# The kamailio package starts a system-wide service on install, which takes UDP/TCP 5060 (and
# postgresql one on 5432, nginx one on 80). callpost runs Kamailio itself (scripts/sip-edge.sh),
# its tests their own PostgreSQL and its benchmarks their own nginx, so keep the packaged
# services from starting: a
# policy-rc.d that answers 101 ("action forbidden") makes invoke-rc.d / deb-systemd-invoke skip
# the start. Only ours is removed afterwards; an existing one (e.g. in a container) is left alone.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# written by callpost scripts/install-deps.sh for the time of an install\nexit 101\n' \
    | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  own_policy=1
fi
remove_policy() {
  if [ "$own_policy" = 1 ]; then $SUDO rm -f "$policy"; fi
}
trap remove_policy EXIT

echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"

remove_policy
own_policy=0

# Make sure no packaged kamailio is left running or enabled (it would hold 5060). With systemd as
# init, disable and stop the unit; without it (a plain root shell, a container) there is no unit
# manager to ask, so stop a daemon found through the package's pid file, if any.
if dpkg-query -W -f='${Status}' kamailio 2>/dev/null | grep -q 'install ok installed'; then
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now kamailio >/dev/null 2>&1 || true
  elif command -v update-rc.d >/dev/null 2>&1 && [ -e /etc/init.d/kamailio ]; then
    $SUDO update-rc.d kamailio disable >/dev/null 2>&1 || true
  fi
  for pidfile in /run/kamailio/kamailio.pid /var/run/kamailio/kamailio.pid; do
    if [ -r "$pidfile" ]; then
      pid=$(cat "$pidfile" 2>/dev/null || true)
      if [ -n "$pid" ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = kamailio ]; then
        echo "stopping the packaged kamailio service (pid $pid)"
        $SUDO kill "$pid" 2>/dev/null || true
      fi
    fi
  done
fi

# The same for a packaged PostgreSQL (5432): the tests never use a system-wide instance.
if dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q 'install ok installed'; then
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true
  elif command -v update-rc.d >/dev/null 2>&1 && [ -e /etc/init.d/postgresql ]; then
    $SUDO update-rc.d postgresql disable >/dev/null 2>&1 || true
  fi
fi

# The same for a packaged nginx (80): bench/run.sh starts its own, with a generated configuration.
if dpkg-query -W -f='${Status}' nginx-light 2>/dev/null | grep -q 'install ok installed'; then
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
  elif command -v update-rc.d >/dev/null 2>&1 && [ -e /etc/init.d/nginx ]; then
    $SUDO update-rc.d nginx disable >/dev/null 2>&1 || true
  fi
  if [ -r /run/nginx.pid ]; then
    pid=$(cat /run/nginx.pid 2>/dev/null || true)
    if [ -n "$pid" ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = nginx ]; then
      echo "stopping the packaged nginx service (pid $pid)"
      $SUDO kill "$pid" 2>/dev/null || true
    fi
  fi
fi
