#!/bin/bash
# The log scan (docs/reliability.md, R7): every log the test suite wrote under DIR must be free
# of every key and secret the tests were handed (recorded in DIR/secrets-*.txt). Fails when
# there is no log to scan, or no secret to look for.
set -euo pipefail
dir=${1:?usage: scan_logs.sh DIR}
shopt -s nullglob
logs=("$dir"/*.log)
secret_files=("$dir"/secrets-*.txt)
if [ ${#logs[@]} -eq 0 ]; then
  echo "scan_logs: no logs under $dir: the tests wrote none" >&2
  exit 1
fi
if [ ${#secret_files[@]} -eq 0 ]; then
  echo "scan_logs: no secrets recorded under $dir" >&2
  exit 1
fi
patterns=$(mktemp)
trap 'rm -f "$patterns"' EXIT
cat "${secret_files[@]}" | awk 'length($0) >= 16' | sort -u > "$patterns"
lines=$(cat "${logs[@]}" | wc -l)
echo "scan_logs: ${#logs[@]} logs ($lines lines) against $(wc -l < "$patterns") secrets"
if [ "$lines" -eq 0 ]; then
  echo "scan_logs: every log is empty" >&2
  exit 1
fi
if grep -F -n -f "$patterns" "${logs[@]}" > "$patterns.hits"; then
  echo "scan_logs: secrets found in logs (file:line):" >&2
  cut -d: -f1-2 "$patterns.hits" | head -20 >&2
  rm -f "$patterns.hits"
  exit 1
fi
rm -f "$patterns.hits"
echo "scan_logs: no secret in any log"
