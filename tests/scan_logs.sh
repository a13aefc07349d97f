#!/bin/bash
# The log scan (docs/reliability.md, R7): every log the test suite wrote under DIR must be free
# of every key and secret the tests were handed (recorded in DIR/secrets-*.txt), and each of its
# lines one JSON object. Fails when there is no log to scan, or no secret to look for.
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
# And every line of callpost's logs is one JSON object (docs/operations.md: "every line
# parses"); the SIP edge's log is Kamailio's own text.
python3 - "${logs[@]}" <<'PY'
import json, os, sys
bad = []
for path in sys.argv[1:]:
    if "-edge-" in os.path.basename(path):
        continue
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            try:
                ok = isinstance(json.loads(line), dict)
            except ValueError:
                ok = False
            if not ok:
                bad.append("%s:%d: %s" % (path, number, line.strip()[:160]))
if bad:
    print("scan_logs: lines that are not one JSON object:", file=sys.stderr)
    print("\n".join(bad[:20]), file=sys.stderr)
    sys.exit(1)
print("scan_logs: every line is a JSON object")
PY
