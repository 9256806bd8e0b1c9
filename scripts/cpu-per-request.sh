#!/usr/bin/env bash
# CPU time per request of the server and of the load generator, for one load-generator
# scenario against a fresh server on a fresh database:
#
#   scripts/cpu-per-request.sh TARGET_DIR SCENARIO [SECS=5]
#
# Prints the request rate and the microseconds of CPU (user + system) each request cost the
# server and the load generator. On this 2-core machine both share the cores, so a rate moves
# with whatever else runs; CPU per request moves much less, and is what an A/B of two builds
# (TARGET_DIR of each, alternated) should compare. Scenarios and TARGET_DIR as for
# scripts/http-bench.sh; environment: CONNS (default 16), FLEET (default 1000), DB (sqlite or
# postgres, PGURL as there), CLIENT (the load generator's --client, or node, as there),
# CROSSING (fleet-live: snapshots in a thousand that cross a limit, as there).
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh"
target=$1 scenario=$2 secs=${3:-5}
connections=${CONNS:-16}
fleet=${FLEET:-1000}
db=${DB:-sqlite}
pgurl=${PGURL:-postgres://postgres@127.0.0.1:5432}
dir=$(mktemp -d /tmp/cpu-per-request.XXXX)
server= name=
trap cleanup EXIT
port=$(free_port)
fresh_database "$target" "$db" "$dir" cpu_bench
start_server "$target"
fleet_args=()
case "$scenario" in
  *-fleet) fleet_args=(--fleet "$fleet") ;;
  fleet-live) fleet_args=(--fleet "$fleet" ${CROSSING:+--crossing "$CROSSING"}) ;;
esac
# utime + stime of the server, in clock ticks (1/100 s here: getconf CLK_TCK).
ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
hz=$(getconf CLK_TCK)
before=$(ticks) pg_before=$(pg_ticks)
if [ "${CLIENT:-}" = node ]; then
  /usr/bin/time -f "%U %S" -o "$dir/loadgen-cpu" node "$(dirname "$0")/node-loadgen.mjs" "$scenario" \
    --url "http://127.0.0.1:$port" --seconds "$secs" --connections "$connections" \
    ${fleet_args[@]+"${fleet_args[@]}"} >"$dir/row"
else
  /usr/bin/time -f "%U %S" -o "$dir/loadgen-cpu" "$target/release/examples/loadgen" "$scenario" \
    --url "http://127.0.0.1:$port" --seconds "$secs" --connections "$connections" --rows 10000 \
    ${fleet_args[@]+"${fleet_args[@]}"} ${CLIENT:+--client "$CLIENT"} >"$dir/row"
fi
after=$(ticks) pg_after=$(pg_ticks)
requests=$(sed -n 's/.*: \([0-9][0-9]*\) requests, .*/\1/p' "$dir/row")
rate=$(sed -n 's/.* \([0-9][0-9]*\) requests\/s.*/\1/p' "$dir/row" | head -n 1)
read -r user system <"$dir/loadgen-cpu"
awk -v s=$((after - before)) -v hz="$hz" -v u="$user" -v y="$system" -v n="$requests" \
  -v rate="$rate" -v sc="$scenario" -v db="$db" -v c="$connections" -v pg=$((pg_after - pg_before)) \
  'BEGIN { printf "%s %-14s %2d conns %7d requests/s  server %6.1f us/request  load generator %5.1f us/request",
           db, sc, c, rate, s / hz * 1e6 / n, (u + y) * 1e6 / n;
           if (db == "postgres") printf "  postgres %6.1f us/request", pg / hz * 1e6 / n;
           printf "\n" }'
