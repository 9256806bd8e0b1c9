#!/usr/bin/env bash
# A/B of the HTTP server with the load generator, over loopback on this machine.
#
#   scripts/http-bench.sh TARGET_DIR LABEL SCENARIO...
#
# TARGET_DIR holds release builds of `missionops` and `examples/loadgen`
# (cargo build --release -p missionops-cli --bin missionops -p missionops-http --example loadgen;
# add --features missionops-cli/postgres for DB=postgres);
# point it at the target directory of another checkout to measure a baseline in the same run.
# Each scenario runs against a fresh server on a fresh database. Scenarios: single, batch,
# analyze, fill (one spacecraft); packets (100 Space Packets a request, SPEC §11); single-fleet, single-new, batch10-fleet, batch-new (a fleet);
# events-fleet (a read that is one store transaction: GET /events of one spacecraft, round-robin);
# fleet-live (10,000 spacecraft with configured, live monitors: FLEET defaults to 10000 for it;
# prints the monitor ticks' mean time during the load, apart from those while configuring,
# and the server's resident memory; CROSSING=N makes N snapshots in a thousand cross a limit,
# a mixed load of anomalies, alarms and events);
# console (the reads of an operator's console over a fleet of FLEET spacecraft, default 1000,
# with open and cleared alarms: each read's median, p95 and largest time, one at a time);
# healthz (the bare HTTP stack). When healthz runs first, every later row is also reported as a
# ratio to it, the figure that survives the machine's noise:
#
#   scripts/http-bench.sh target new healthz single single-fleet single-new batch10-fleet
#
# Environment: SECS (default 10), CONNS (default 16; batch always uses 8), FLEET (spacecraft
# of the fleet rows, default 1000; batch and packets always use 8), DB (sqlite, the default, or postgres: a fresh database per
# scenario on the server PGURL, default postgres://postgres@127.0.0.1:5432, created with psql,
# migrated with `missionops migrate`, dropped afterwards), AUTH (1: create an admin key with
# `missionops keys create` before the server starts, so authentication is on, and send it with
# every request; 0, the default: no key, the server runs open), CLIENT (the load generator's
# --client: hyper, its default, or reqwest, the client of the figures before session 12; unset
# passes nothing, for a baseline's older load generator; or node: scripts/node-loadgen.mjs, a
# Node.js keep-alive client like the one issue 13's healthz reference was measured with, for
# healthz, single, single-fleet, single-new and batch10-fleet). The key measurement of issue 14
# is the same run with and without it, e.g.
#
#   scripts/http-bench.sh target open healthz single && AUTH=1 scripts/http-bench.sh target auth healthz single
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh"
target=$1 label=$2
shift 2
secs=${SECS:-10}
fleet=${FLEET:-1000}
db=${DB:-sqlite}
auth=${AUTH:-0}
pgurl=${PGURL:-postgres://postgres@127.0.0.1:5432}
case "$db" in
  sqlite | postgres) ;;
  *) echo "DB must be sqlite or postgres, not $db" >&2; exit 2 ;;
esac
healthz_rate=
server= name= dir=
# Whatever happens, no server, database or directory of this run is left behind (bench-lib).
trap cleanup EXIT
for scenario in "$@"; do
  # Let the disk settle first: dirty pages of a build being written back slow the first run.
  sync
  sleep 3
  dir=$(mktemp -d /tmp/http-bench.XXXX)
  port=$(free_port)
  fresh_database "$target" "$db" "$dir" http_bench
  unset MISSIONOPS_API_KEY
  if [ "$auth" = 1 ]; then
    # The key goes to the load generator through its environment, never its arguments.
    MISSIONOPS_API_KEY=$("$target/release/missionops" --database-url "$url" keys create \
      --name bench --role admin 2>/dev/null)
    export MISSIONOPS_API_KEY
  fi
  start_server "$target"
  if ! kill -0 "$server" 2>/dev/null; then
    echo "[$label] the server for $scenario did not start" >&2
    exit 1
  fi
  connections=${CONNS:-16}
  case "$scenario" in batch | packets) connections=8 ;; esac
  echo -n "[$label] $db$([ "$auth" = 1 ] && echo ', auth on'), load $(cut -d' ' -f1 /proc/loadavg), $connections connections: "
  # --fleet only where it means something: a baseline's older loadgen does not know it.
  fleet_args=()
  case "$scenario" in
    *-fleet | console) fleet_args=(--fleet "$fleet") ;;
    fleet-live) fleet_args=(--fleet "${FLEET:-10000}" ${CROSSING:+--crossing "$CROSSING"}) ;;
  esac
  if [ "${CLIENT:-}" = node ]; then
    node "$(dirname "$0")/node-loadgen.mjs" "$scenario" --url "http://127.0.0.1:$port" \
      --seconds "$secs" --connections "$connections" ${fleet_args[@]+"${fleet_args[@]}"} |
      tee "$dir/row"
  else
    "$target/release/examples/loadgen" "$scenario" --url "http://127.0.0.1:$port" \
      --seconds "$secs" --connections "$connections" --rows 10000 ${fleet_args[@]+"${fleet_args[@]}"} \
      ${CLIENT:+--client "$CLIENT"} |
      tee "$dir/row"
  fi
  # "… 1234 requests/s, …": the request rate of this row.
  rate=$(sed -n 's/.* \([0-9][0-9]*\) requests\/s.*/\1/p' "$dir/row" | head -n 1)
  if [ "$scenario" = healthz ]; then
    healthz_rate=$rate
  elif [ -n "$healthz_rate" ] && [ -n "$rate" ] && [ "$healthz_rate" -gt 0 ]; then
    awk -v r="$rate" -v h="$healthz_rate" \
      'BEGIN { printf "  %.3f of GET /healthz (%d requests/s)\n", r / h, h }'
  fi
  echo "  server $(grep VmHWM "/proc/$server/status"), $(grep VmRSS "/proc/$server/status")"
  cleanup
done
