#!/usr/bin/env bash
# A/B of the HTTP server with the load generator, over loopback on this machine.
#
#   scripts/http-bench.sh TARGET_DIR LABEL SCENARIO...
#
# TARGET_DIR holds release builds of `missionops` and `examples/loadgen`
# (cargo build --release -p missionops-cli --bin missionops -p missionops-http --example loadgen);
# point it at the target directory of another checkout to measure a baseline in the same run.
# Each scenario (single, batch, analyze) runs against a fresh server on a fresh SQLite file.
# Environment: SECS (default 10), CONNS (default 16; batch always uses 8).
set -euo pipefail
target=$1 label=$2
shift 2
secs=${SECS:-10}
for scenario in "$@"; do
  # Let the disk settle first: dirty pages of a build being written back slow the first run.
  sync
  sleep 3
  dir=$(mktemp -d /tmp/http-bench.XXXX)
  port=$((3900 + RANDOM % 500))
  "$target/release/missionops" --database-url "sqlite://$dir/bench.db" serve --bind "127.0.0.1:$port" 2>"$dir/server.log" &
  server=$!
  for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/health" && break
    sleep 0.1
  done
  connections=${CONNS:-16}
  [ "$scenario" = batch ] && connections=8
  echo -n "[$label] load $(cut -d' ' -f1 /proc/loadavg), $connections connections: "
  "$target/release/examples/loadgen" "$scenario" --url "http://127.0.0.1:$port" \
    --seconds "$secs" --connections "$connections" --rows 10000
  echo "  server $(grep VmHWM "/proc/$server/status")"
  if ! kill "$server" 2>/dev/null; then
    echo "  the server had stopped; the last lines of its log:"
    tail -n 5 "$dir/server.log"
  fi
  wait "$server" 2>/dev/null || true
  rm -rf "$dir"
done
