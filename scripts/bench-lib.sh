# Shared by the bench scripts (sourced, not run): a free port and a fresh database per server.

# Prints a loopback port nothing listens on (a NATS server on 4222 is common here).
free_port() {
  local port=$((3900 + RANDOM % 500))
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    port=$((3900 + RANDOM % 500))
  done
  echo "$port"
}

# fresh_database TARGET DB DIR PREFIX: sets `url` to a new database for one server: a file in DIR
# for DB=sqlite; for DB=postgres a database named PREFIX_<pid>_<random> on $pgurl, created and
# migrated with TARGET's `missionops migrate`, its name left in `name` for the caller to drop.
fresh_database() {
  local target=$1 db=$2 dir=$3 prefix=$4
  if [ "$db" = postgres ]; then
    name="${prefix}_$$_${RANDOM}"
    psql -q -v ON_ERROR_STOP=1 "$pgurl/postgres" -c "CREATE DATABASE $name"
    url="$pgurl/$name"
    "$target/release/missionops" --database-url "$url" migrate >/dev/null
  else
    url="sqlite://$dir/bench.db"
  fi
}

# start_server TARGET: serves $url on 127.0.0.1:$port in the background, its pid in `server`,
# and waits (up to 5 s) until it answers. Its log goes to $SERVER_LOG when set.
start_server() {
  "$1/release/missionops" --database-url "$url" serve --bind "127.0.0.1:$port" 2>"${SERVER_LOG:-/dev/null}" &
  server=$!
  for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
    sleep 0.1
  done
}

# cleanup: stops `server`, removes `dir` and drops the database `name` (each when set), then
# forgets them. The scripts set it as their EXIT trap, so that whatever happens no server,
# database or directory of a run is left behind; http-bench also calls it between rows.
cleanup() {
  if [ -n "${server:-}" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  [ -n "${dir:-}" ] && rm -rf "$dir"
  if [ -n "${name:-}" ]; then
    psql -q "$pgurl/postgres" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" || true
  fi
  server= name= dir=
}

# load_analysis_window BASE N DIR: stores N snapshots of spacecraft SC-AN (three parameters,
# one a second from 2025-01-01; `temp` crosses its limit in one snapshot of five) through
# BASE's POST /telemetry/ndjson in chunks (written to DIR), then sets SC-AN's limits: the
# window of the analysis row (about N / 5 anomalies).
load_analysis_window() {
  local base=$1 N=$2 dir=$3 start chunk=50000
  for ((start = 0; start < N; start += chunk)); do
    python3 - "$start" "$((start + chunk < N ? start + chunk : N))" >"$dir/chunk.ndjson" <<'PY'
import sys
start, end = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout
for i in range(start, end):
    s = i % 86400
    day = 1 + i // 86400
    temp = 60 if i % 5 == 0 else 30 + i % 19
    out.write('{"spacecraftId":"SC-AN","id":"a%d","timestamp":"2025-%02d-%02dT%02d:%02d:%02dZ",'
              '"parameters":{"temp":%d,"volt":%.1f,"mode":"CRUISE"}}\n'
              % (i, 1 + (day - 1) // 28, 1 + (day - 1) % 28, s // 3600, s // 60 % 60, s % 60,
                 temp, 28 + (i % 7) / 10))
PY
    curl -sf -o /dev/null -H 'content-type: application/x-ndjson' \
      --data-binary @"$dir/chunk.ndjson" "$base/telemetry/ndjson"
  done
  curl -sf -o /dev/null -X PUT -H 'content-type: application/json' \
    -d '{"parameters":{"temp":{"warnHigh":49,"critHigh":55},"volt":{"warnLow":20}}}' \
    "$base/spacecraft/SC-AN/config"
}

# utime + stime of every PostgreSQL process (backends, WAL writer, checkpointer), in clock
# ticks: on PostgreSQL the database's CPU shares the two cores too.
pg_ticks() {
    local total=0 stat
    for stat in /proc/[0-9]*/stat; do
        case "$(cat "${stat%stat}comm" 2>/dev/null)" in
            postgres) total=$((total + $(awk '{print $14 + $15}' "$stat" 2>/dev/null || echo 0))) ;;
        esac
    done
    echo "$total"
}
