#!/usr/bin/env bash
# Runs one fuzzer: replays its committed corpus, then fuzzes for SECONDS.
#   fuzz/run.sh FUZZER_BINARY NAME SECONDS WORK_DIR
# New inputs go to WORK_DIR/corpus/NAME (the committed corpus is only read), crashes to
# WORK_DIR/artifacts/NAME-*. Exits non-zero on a crash, leak, timeout or sanitizer report.
set -euo pipefail
binary=$1 name=$2 seconds=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
seeds=$here/corpus/$name
mkdir -p "$work/corpus/$name" "$work/artifacts"
args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
      -print_final_stats=1 -artifact_prefix="$work/artifacts/$name-")
if [ -f "$here/dict/$name.dict" ]; then args+=(-dict="$here/dict/$name.dict"); fi
# Fork-free, one process: the seed corpus first (every file must pass), then fuzzing that
# starts from it and from what earlier runs kept.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec "$binary" "${args[@]}" "$work/corpus/$name" "$seeds"
