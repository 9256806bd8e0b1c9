#!/usr/bin/env bash
# Peak resident memory of `missionops serve` (SQLite) while 16 maximum-size telemetry batches
# (15.6 MB each, 95,000 played-back snapshots, under the 16 MiB body limit) are posted at once,
# and what each request was answered (issue 17 point 3; BENCHMARKS.md).
#
#   scripts/bodies-memory.sh [BINARY] [PORT]     # default: target/release/missionops, 38690
set -euo pipefail
bin="${1:-${CARGO_TARGET_DIR:-target}/release/missionops}"
port="${2:-38690}"
dir="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
python3 - "$dir/big.json" <<'PY'
import json, sys
snapshots = [{"timestamp": "2025-01-01T00:00:%02dZ" % (k % 60),
              "parameters": {"temp": k, "volt": k * 0.5, "mode": "CRUISE", "pad": "x" * 60}}
             for k in range(95_000)]
body = json.dumps({"spacecraftId": "SC-BIG", "stored": True, "snapshots": snapshots},
                  separators=(",", ":")).encode()
assert len(body) <= 16 * 1024 * 1024
open(sys.argv[1], "wb").write(body)
PY
# A long request timeout: on a debug build or a busy machine the batches take minutes.
"$bin" --database-url "sqlite://$dir/b.db" serve --bind "127.0.0.1:$port" --monitor-tick 1h \
  --request-timeout 600s >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fs "localhost:$port/readyz" >/dev/null && break; sleep 0.1; done
idle=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
answers=$(for _ in $(seq 16); do
  curl -s -w ' %{http_code}\n' -XPOST "localhost:$port/telemetry/batch" \
    -H 'content-type: application/json' --data-binary "@$dir/big.json" &
done; wait)
peak=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
echo "idle RSS ${idle} kB, peak RSS ${peak} kB; answers:"
echo "$answers" | sed -E 's/.*"error":"([A-Za-z]+)".* ([0-9]+)$/\2 \1/; s/.* ([0-9]+)$/\1/' | sort | uniq -c
