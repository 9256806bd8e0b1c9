#!/usr/bin/env bash
# Where the server's CPU goes, per request, by kind of work: `perf` samples of the server for
# each scenario, grouped by symbol name (kernel network, scheduling, file system, SQLite,
# allocation, hashing, HTTP stack, tokio, JSON, MissionOps's own code, the rest), in µs of
# server CPU a request, one column per scenario:
#
#   scripts/cpu-categories.sh TARGET_DIR SCENARIO...    e.g. target healthz single single-fleet
#
# TARGET_DIR and scenarios as for scripts/http-bench.sh (the hyper generator, SQLite, a fresh
# server and database per scenario). Environment: SECS (sampled seconds, default 6), CONNS
# (default 16), FLEET (default 1000). Needs `perf` (Debian's linux-perf) and python3. The
# grouping is by name pattern, so a symbol can land in a neighbouring group; the totals are
# exact. BENCHMARKS.md "Session 16" was measured with it.
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh"
target=$1
shift
secs=${SECS:-6}
db=sqlite
pgurl=postgres://postgres@127.0.0.1:5432
work=$(mktemp -d /tmp/cpu-categories.XXXX)
server= name= dir=
trap 'cleanup; rm -rf "$work"' EXIT
columns=()
for scenario in "$@"; do
  sync
  sleep 2
  dir=$(mktemp -d /tmp/cpu-categories-db.XXXX)
  port=$(free_port)
  fresh_database "$target" "$db" "$dir" cpu_categories
  start_server "$target"
  fleet_args=()
  case "$scenario" in *-fleet) fleet_args=(--fleet "${FLEET:-1000}") ;; esac
  # The generator runs 4 s longer than the sampling, which starts 3 s in (after any set-up of
  # a fleet), so that only the steady load is sampled.
  "$target/release/examples/loadgen" "$scenario" --url "http://127.0.0.1:$port" \
    --seconds $((secs + 4)) --connections "${CONNS:-16}" ${fleet_args[@]+"${fleet_args[@]}"} \
    >"$work/$scenario.row" &
  loadgen=$!
  sleep 3
  perf record -F 2000 -g -p "$server" -o "$work/$scenario.data" -- sleep "$secs" >/dev/null 2>&1
  wait "$loadgen"
  rate=$(sed -n 's/.* \([0-9][0-9]*\) requests\/s.*/\1/p' "$work/$scenario.row" | head -n 1)
  perf report -i "$work/$scenario.data" -n --no-children --sort symbol -g none 2>/dev/null |
    grep -v '^#' | grep -v '^$' | awk '{ print $2 "\t" substr($0, index($0, $4)) }' \
    >"$work/$scenario.symbols"
  echo "[$scenario] $(cat "$work/$scenario.row")"
  columns+=("$scenario" "$rate")
  cleanup
done
python3 - "$work" "$secs" "${columns[@]}" <<'EOF'
import re, sys

work, secs, args = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
# First match wins, so the specific patterns come first.
CATEGORIES = [
    ("SQLite", r"^(sqlite3|pcache|wal|btree|vdbe|pager|unix(Write|Read|Sync)|robust|balance|insertCell|getAndInit|fillInCell|releasePage|accessPayload|allocate|freePage|decodeFlags|serialGet|computeCellSize|cellSize|zeroPage|rebuildPage|editPage|pageFree|defrag|ptrmap|patternCompare)"),
    ("kernel: file system", r"(ext4|filemap|folio|jbd2|iomap|generic_perform_write|block_write|__block|mark_buffer|vfs_write|ksys_pwrite|fsync|writeback|blk_|bio_|lruvec|page_cache|xas_)"),
    ("kernel: network", r"(tcp|skb|sock|inet|ip_|__dev|netif|net_rx|napi|loopback|sk_|nf_|dst_|epoll|ep_)"),
    ("kernel: scheduling, syscalls", r"(finish_task_switch|_raw_spin|schedule|futex|try_to_wake|enqueue|dequeue|update_curr|pick_next|select_task|ttwu|switch_|psi_|hrtimer|wake_up|native_|irqentry|do_syscall|entry_SYSCALL|syscall_|exit_to_user|__x64|rcu|ktime|clock_gettime|vdso)"),
    ("allocation", r"(^mi_|^_mi_|malloc|free|realloc|alloc::|RawVec)"),
    ("hashing", r"(hash|Hasher|hashbrown)"),
    ("JSON", r"(serde|json)"),
    ("HTTP stack", r"(hyper|axum|tower|http::|h1::|bytes::|httparse)"),
    ("tokio, futures, tracing", r"(tokio|futures|PollFn|Instrumented|tracing|flume|parking|crossbeam|event_listener)"),
    ("MissionOps's own code", r"missionops"),
    ("memcpy, memcmp", r"(memmove|memcpy|memcmp|memset|strlen)"),
]
compiled = [(name, re.compile(pattern)) for name, pattern in CATEGORIES]
names = [name for name, _ in CATEGORIES] + ["the rest"]
table = []
for scenario, rate in zip(args[0::2], args[1::2]):
    per_request = 1e6 / 2000 / (float(rate) * secs)  # µs a sample, spread over the requests
    sums = dict.fromkeys(names, 0.0)
    for line in open(f"{work}/{scenario}.symbols"):
        count, symbol = line.rstrip("\n").split("\t", 1)
        category = next((name for name, rx in compiled if rx.search(symbol)), "the rest")
        sums[category] += int(count) * per_request
    table.append((scenario, sums))
print("\nµs of server CPU a request")
print(f"{'':32}" + "".join(f"{scenario:>16}" for scenario, _ in table))
for name in names + ["total"]:
    cells = (sum(s.values()) if name == "total" else s[name] for _, s in table)
    print(f"{name:32}" + "".join(f"{cell:16.1f}" for cell in cells))
EOF
