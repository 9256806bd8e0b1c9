#!/usr/bin/env bash
# Time of GET /telemetry/analyze over a long range, end to end over HTTP (SPEC §8 "Fleet
# scale": a 100,000-snapshot range with about 20,000 anomalies in < 50 ms; the TypeScript
# service took 188 ms), on SQLite, or on PostgreSQL with DB=postgres (a fresh database on
# $PGURL, default postgres://postgres@127.0.0.1:5432, dropped afterwards; with VACUUM=1 the
# loaded table is vacuumed before the timed requests).
#
#   scripts/analyze-bench.sh TARGET_DIR [LABEL] [N=100000] [RUNS=15]
#
# TARGET_DIR holds a release build of `missionops`
# (cargo build --release -p missionops-cli --bin missionops); point it at another checkout's
# target directory to time a baseline in the same run. Loads N snapshots of one spacecraft
# (three parameters; `temp` crosses its limit in one snapshot of five) through
# POST /telemetry/ndjson, sets the limits, restarts the server on the file, asks once to warm
# up, then times RUNS requests for the whole window with curl and prints each, the median and
# the best, the server's CPU per request (and PostgreSQL's), the body size and the load average.
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh"
target=$1
label=${2:-$(basename "$(dirname "$target")")}
N=${3:-100000}
RUNS=${4:-15}
db=${DB:-sqlite}
pgurl=${PGURL:-postgres://postgres@127.0.0.1:5432}
port=$(free_port)
dir=$(mktemp -d /tmp/analyze-bench.XXXX)
server= name=
trap cleanup EXIT
fresh_database "$target" "$db" "$dir" analyze_bench
base="http://127.0.0.1:$port"
serve() {
    MISSIONOPS_DATABASE_URL="$url" RUST_LOG=warn \
        "$target/release/missionops" serve --bind "127.0.0.1:$port" --body-limit 1GiB \
        >>"$dir/serve.log" 2>&1 &
    server=$!
    until curl -sf "$base/healthz" >/dev/null; do sleep 0.1; done
}
serve
load_analysis_window "$base" "$N" "$dir"
# VACUUM=1 on PostgreSQL: vacuum the loaded table first, as autovacuum would in time on a
# server that runs it (this machine's runs with autovacuum off): the walk that finds the
# window's size then reads the index alone, without visiting the table for every row.
if [ "$db" = postgres ] && [ -n "${VACUUM:-}" ]; then
    psql -q -v ON_ERROR_STOP=1 "$url" -c "VACUUM (ANALYZE) telemetry"
fi
kill "$server"
wait "$server" 2>/dev/null || true
serve
url="$base/telemetry/analyze?spacecraftId=SC-AN&from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z"
anomalies=$(curl -sf "$url" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
# The server's CPU (user + system, in clock ticks) before and after the timed requests.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
cpu_before=$(cpu_ticks) pg_before=$(pg_ticks)
times=()
for _ in $(seq "$RUNS"); do
    times+=("$(curl -sf -o "$dir/body" -w '%{time_total}' "$url")")
done
cpu_ms=$(( ($(cpu_ticks) - cpu_before) * 1000 / $(getconf CLK_TCK) / RUNS ))
pg_ms=$(( ($(pg_ticks) - pg_before) * 1000 / $(getconf CLK_TCK) / RUNS ))
size=$(stat -c %s "$dir/body")
printf '%s\n' "${times[@]}" | sort -n >"$dir/times"
median=$(awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)] * 1000}' "$dir/times")
best=$(head -n 1 "$dir/times" | awk '{print $1 * 1000}')
echo "[$label] $db$([ "$db" = postgres ] && [ -n "${VACUUM:-}" ] && echo " (vacuumed)"), $N snapshots, $anomalies anomalies, $size bytes: median $median ms, best $best ms," \
    "server CPU $cpu_ms ms per request$([ "$db" = postgres ] && echo ", PostgreSQL's $pg_ms ms"), over $RUNS runs (load $(cut -d' ' -f1 /proc/loadavg));" \
    "each: $(tr '\n' ' ' <"$dir/times")"
