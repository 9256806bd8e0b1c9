#!/usr/bin/env bash
# Resident memory of `missionops serve` (SQLite) while it answers one time-window analysis of
# N snapshots of one spacecraft (issue 17: memory independent of the window).
#
#   scripts/analyze-memory.sh [N=1000000]
#
# Loads N snapshots (the window of scripts/analyze-bench.sh: three parameters, a limit crossed
# by one in five) through POST /telemetry/ndjson, sets limits, restarts the server on the file, resets its
# peak-resident counter (/proc/PID/clear_refs), then times GET /telemetry/analyze?from&to over the whole window and
# prints the body size and the server's resident memory before and at its peak during it.
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh"
N=${1:-1000000}
PORT=${PORT:-3917}
cd "$(dirname "$0")/.."
cargo build --release -q -p missionops-cli --bin missionops
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
MISSIONOPS_DATABASE_URL="sqlite://$dir/bench.db" RUST_LOG=warn \
    target/release/missionops serve --bind "127.0.0.1:$PORT" --body-limit 1GiB >"$dir/serve.log" 2>&1 &
pid=$!
base="http://127.0.0.1:$PORT"
until curl -sf "$base/healthz" >/dev/null; do sleep 0.2; done
load_analysis_window "$base" "$N" "$dir"
# A fresh server on the loaded file, so that what ingest left in its heap is not counted.
kill "$pid"
wait "$pid" 2>/dev/null || true
MISSIONOPS_DATABASE_URL="sqlite://$dir/bench.db" RUST_LOG=warn \
    target/release/missionops serve --bind "127.0.0.1:$PORT" >>"$dir/serve.log" 2>&1 &
pid=$!
until curl -sf "$base/healthz" >/dev/null; do sleep 0.2; done
rss() { awk -v k="$1:" '$1 == k {print int($2 / 1024) " MB"}' "/proc/$pid/status"; }
echo 5 >"/proc/$pid/clear_refs"
echo "snapshots: $N; resident before: $(rss VmRSS)"
curl -sf -o /dev/null -w 'analyze: %{size_download} bytes in %{time_total} s\n' \
    "$base/telemetry/analyze?spacecraftId=SC-AN&from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z"
echo "resident at peak during the analysis: $(rss VmHWM); after: $(rss VmRSS)"
