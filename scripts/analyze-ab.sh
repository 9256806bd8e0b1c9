#!/usr/bin/env bash
# Two builds' GET /telemetry/analyze over the same long range, timed request by request in
# turns, so that a machine whose speed drifts between runs (as shared 2-core machines do by a
# third within minutes) slows both alike:
#
#   scripts/analyze-ab.sh TARGET_A TARGET_B [N=100000] [ROUNDS=30]
#
# TARGET_A and TARGET_B hold release builds of `missionops` (see scripts/analyze-bench.sh).
# Loads the window of scripts/analyze-bench.sh once through A, gives B a copy of the database
# (the SQLite file, or on PostgreSQL with DB=postgres a database made from A's as a template),
# serves both side by side, warms each, then asks each once a round, the one asked first
# alternating. Prints each build's median and best time and its server's CPU per request, and
# B's median and CPU as a ratio to A's. PostgreSQL's own CPU is not split between the two.
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh"
target_a=$1
target_b=$2
N=${3:-100000}
ROUNDS=${4:-30}
db=${DB:-sqlite}
pgurl=${PGURL:-postgres://postgres@127.0.0.1:5432}
dir=$(mktemp -d /tmp/analyze-ab.XXXX)
server= name=
server_b= name_b=
finish() {
    if [ -n "$server_b" ]; then
        kill "$server_b" 2>/dev/null || true
        wait "$server_b" 2>/dev/null || true
    fi
    if [ -n "$name_b" ]; then
        psql -q "$pgurl/postgres" -c "DROP DATABASE IF EXISTS $name_b WITH (FORCE)" || true
    fi
    cleanup
}
trap finish EXIT
fresh_database "$target_a" "$db" "$dir" analyze_ab
url_a=$url
serve() { # TARGET URL PORT: serves in the background, the pid in `started`
    MISSIONOPS_DATABASE_URL="$2" RUST_LOG=warn \
        "$1/release/missionops" serve --bind "127.0.0.1:$3" --body-limit 1GiB \
        >>"$dir/serve.log" 2>&1 &
    started=$!
    until curl -sf "http://127.0.0.1:$3/healthz" >/dev/null; do
        kill -0 "$started" 2>/dev/null || { tail -n 1 "$dir/serve.log" >&2; exit 1; }
        sleep 0.1
    done
}
port_a=$(free_port)
serve "$target_a" "$url_a" "$port_a"
server=$started
load_analysis_window "http://127.0.0.1:$port_a" "$N" "$dir"
kill "$server"
wait "$server" 2>/dev/null || true
if [ "$db" = postgres ]; then
    name_b="${name}_b"
    psql -q -v ON_ERROR_STOP=1 "$pgurl/postgres" -c "CREATE DATABASE $name_b TEMPLATE $name"
    url_b="$pgurl/$name_b"
else
    mkdir "$dir/b"
    # With its write-ahead log, which may still hold the last writes.
    cp "$dir"/bench.db* "$dir/b/"
    url_b="sqlite://$dir/b/bench.db"
fi
serve "$target_a" "$url_a" "$port_a"
server=$started
port_b=$(free_port)
while [ "$port_b" = "$port_a" ]; do port_b=$(free_port); done
serve "$target_b" "$url_b" "$port_b"
server_b=$started
window="telemetry/analyze?spacecraftId=SC-AN&from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z"
ask() { # PORT: the time of one request, in seconds
    curl -sf -o /dev/null -w '%{time_total}' "http://127.0.0.1:$1/$window"
}
for port in "$port_a" "$port_b"; do ask "$port" >/dev/null; done
# A server's CPU (user + system, in clock ticks).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpu_a=$(cpu_ticks "$server")
cpu_b=$(cpu_ticks "$server_b")
: >"$dir/a"
: >"$dir/b.times"
for ((round = 0; round < ROUNDS; round++)); do
    if ((round % 2 == 0)); then
        ask "$port_a" >>"$dir/a"; echo >>"$dir/a"
        ask "$port_b" >>"$dir/b.times"; echo >>"$dir/b.times"
    else
        ask "$port_b" >>"$dir/b.times"; echo >>"$dir/b.times"
        ask "$port_a" >>"$dir/a"; echo >>"$dir/a"
    fi
done
ms_per_request() { echo $(( ($(cpu_ticks "$1") - $2) * 1000 / $(getconf CLK_TCK) / ROUNDS )); }
cpu_ms_a=$(ms_per_request "$server" "$cpu_a")
cpu_ms_b=$(ms_per_request "$server_b" "$cpu_b")
median() { sort -n "$1" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)] * 1000}'; }
best() { sort -n "$1" | head -n 1 | awk '{print $1 * 1000}'; }
median_a=$(median "$dir/a")
median_b=$(median "$dir/b.times")
echo "[A $target_a] $db, $N snapshots: median $median_a ms, best $(best "$dir/a") ms, server CPU $cpu_ms_a ms per request"
echo "[B $target_b] $db, $N snapshots: median $median_b ms, best $(best "$dir/b.times") ms, server CPU $cpu_ms_b ms per request"
echo "B / A over $ROUNDS rounds (load $(cut -d' ' -f1 /proc/loadavg)): median $(awk -v a="$median_a" -v b="$median_b" 'BEGIN {printf "%.3f", b / a}')," \
    "server CPU $(awk -v a="$cpu_ms_a" -v b="$cpu_ms_b" 'BEGIN {printf "%.3f", b / a}')"
