#!/usr/bin/env bash
# PostgreSQL ÷ SQLite for HTTP rows (SPEC §8 "Fleet scale": every HTTP row on PostgreSQL at
# least half the SQLite figure), each row measured on both backends back to back, the backend
# that goes first alternating round by round: a 2-core machine whose speed drifts by a third
# within minutes then slows both halves of a ratio alike, where a run of every row on SQLite
# followed by every row on PostgreSQL compares different moments.
#
#   scripts/backend-ratio.sh TARGET_DIR ROUNDS SCENARIO...
#
# TARGET_DIR holds release builds as scripts/http-bench.sh wants them (with the postgres
# feature). Each half is one `scripts/http-bench.sh` run of one scenario (a fresh server on a
# fresh database; SECS, CONNS, FLEET, CLIENT as there); the scenario `analysis` is one
# `scripts/analyze-bench.sh` run instead (the 100,000-snapshot window, 15 requests), its rate
# one over the median time. Prints each round's rates and ratio, then per scenario the ratios'
# median and range.
set -euo pipefail
target=$1 rounds=$2
shift 2
here=$(dirname "$0")
results=$(mktemp /tmp/backend-ratio.XXXX)
trap 'rm -f "$results"' EXIT
# The rate of one scenario on one backend: the "N requests/s" (or snapshots/s for batches)
# figure of http-bench's line.
rate() {
  local db=$1 scenario=$2 line
  if [ "$scenario" = analysis ]; then
    # "median 41.2 ms": analyses a second.
    DB=$db "$here/analyze-bench.sh" "$target" ratio 2>/dev/null |
      sed -n 's/.* median \([0-9.][0-9.]*\) ms.*/\1/p' | awk '{ printf "%.2f", 1000 / $1 }'
    return
  fi
  line=$(DB=$db "$here/http-bench.sh" "$target" ratio "$scenario" 2>/dev/null | grep "requests/s" | head -n 1)
  case "$scenario" in
    batch*) sed -n 's/.* \([0-9][0-9]*\) snapshots\/s.*/\1/p' <<<"$line" ;;
    *) sed -n 's/.* \([0-9][0-9]*\) requests\/s.*/\1/p' <<<"$line" ;;
  esac
}
for round in $(seq "$rounds"); do
  for scenario in "$@"; do
    if [ $((round % 2)) = 1 ]; then
      sqlite=$(rate sqlite "$scenario") postgres=$(rate postgres "$scenario")
    else
      postgres=$(rate postgres "$scenario") sqlite=$(rate sqlite "$scenario")
    fi
    if [ -z "$sqlite" ] || [ -z "$postgres" ]; then
      echo "round $round, $scenario: a run gave no rate (sqlite '$sqlite', postgres '$postgres')" >&2
      exit 1
    fi
    ratio=$(awk -v p="$postgres" -v s="$sqlite" 'BEGIN { printf "%.3f", p / s }')
    echo "round $round  $(printf '%-14s' "$scenario") sqlite $sqlite  postgres $postgres  ratio $ratio (load $(cut -d' ' -f1 /proc/loadavg))"
    echo "$scenario $ratio" >>"$results"
  done
done
for scenario in "$@"; do
  awk -v s="$scenario" '$1 == s { print $2 }' "$results" | sort -n |
    awk -v s="$scenario" '{ a[NR] = $1 } END {
      m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
      printf "%-14s PostgreSQL ÷ SQLite over %d rounds: median %.3f, range %.3f–%.3f\n",
        s, NR, m, a[1], a[NR] }'
done
