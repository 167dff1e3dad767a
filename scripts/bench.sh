#!/usr/bin/env bash
# Benchmarks (not tests: nothing here gates CI). Starts ZooKeeper and etcd with the project's
# scripts on their own loopback ports, builds in release, measures each AutoCluster client
# against a reference run in the same invocation on the same servers, prints a table of
# ratios and writes it to BENCHMARKS.md with the date, the machine and the command.
#
#   scripts/bench.sh [--quick] [--etcd-only]
#     --quick: fewer requests (a smoke run, noisier numbers)
#     --etcd-only: only the etcd table, printed (BENCHMARKS.md is left as it is)
#
# References: h2load (nghttp2-client) sending the identical gRPC request bytes to etcd over
# one connection; Benchmarks/zk-ref (the same workload on the official C client); the Python
# clients Debian ships (python3-etcd3, python3-kazoo) for the peers table.
set -euo pipefail
cd "$(dirname "$0")/.."

count=20000
memory_watchers=10000
zk_watches=1000
growth=1000000
etcd_only=0
for arg in "$@"; do
  case "$arg" in
    --quick) count=2000; memory_watchers=1000; zk_watches=200; growth=50000 ;;
    --etcd-only) etcd_only=1 ;;
    *) echo "bench.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

# The CPU-profile section of BENCHMARKS.md (from scripts/profile.sh, edited by hand) is kept.
profile_section=""
if [ -f BENCHMARKS.md ]; then profile_section=$(sed -n '/^## CPU profile/,$p' BENCHMARKS.md); fi

scripts/install-deps.sh
missing=()
for p in python3-etcd3 python3-kazoo gcc; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi

export AUTOCLUSTER_STORES_DIR="${TMPDIR:-/tmp}/autocluster-bench-stores"
export ZOOKEEPER_PORT="${BENCH_ZOOKEEPER_PORT:-22181}" ETCD_PORT="${BENCH_ETCD_PORT:-22379}"
work=$(mktemp -d)
trap 'scripts/stop-stores.sh; rm -rf "$work"' EXIT
# (Not eval "$(…)": that would swallow a failed start and go on without the stores.)
stores_env=$(scripts/start-stores.sh) || { echo "bench.sh: the stores did not start (see the lines above)" >&2; exit 1; }
eval "$stores_env"
zk="127.0.0.1:$ZOOKEEPER_PORT"
etcd="http://127.0.0.1:$ETCD_PORT"

echo "bench: building (release)" >&2
swift build -c release --product AutoClusterBench >&2
bench=.build/release/AutoClusterBench
gcc -O2 -o "$work/zk_ref" Benchmarks/zk-ref/zk_ref.c -lzookeeper_mt -lpthread
python3 Benchmarks/etcd-ref/grpc_bodies.py "$work" bench-key 64

value() { sed -n "s/.*$1=\([0-9.,]*\).*/\1/p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

h2load_rate() {  # METHOD BODY DEPTH
  h2load -n "$count" -c 1 -m "$3" -H 'content-type: application/grpc' -H 'te: trailers' \
    -d "$work/$2" "$etcd/etcdserverpb.KV/$1" | awk '/finished in/ { gsub(",", "", $4); print int($4) }'
}

rows=()
row() { rows+=("| $1 | $2 | $3 | $4 | $(ratio "$2" "$3") | $5 |"); echo "bench: $1: $2 vs $3" >&2; }

# 1. etcd over one connection, against h2load with the same bytes: three interleaved runs of
# each workload (ours with the calls on Swift's default executor, ours with them in a task that
# prefers the client's event loop — EtcdClient.taskExecutor — and h2load), and the ratio of the
# medians; the table keeps all three runs.
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
etcd_rows=()
for depth in 1 64; do
  for method in Range Put; do
    op=$(echo "$method" | tr '[:upper:]' '[:lower:]')
    default_runs=(); loop_runs=(); ref_runs=()
    for run in 1 2 3; do
      default_runs+=("$("$bench" etcd "$etcd" "$op" "$depth" "$count" | value ops_per_sec)")
      loop_runs+=("$(BENCH_EXECUTOR=loop "$bench" etcd "$etcd" "$op" "$depth" "$count" | value ops_per_sec)")
      ref_runs+=("$(h2load_rate "$method" "$op.bin" "$depth")")
    done
    ref=$(median "${ref_runs[@]}")
    for executor in default loop; do
      if [ "$executor" = default ]; then runs=("${default_runs[@]}"); label="default executor"; else runs=("${loop_runs[@]}"); label="the client's event loop"; fi
      ours=$(median "${runs[@]}")
      etcd_rows+=("| etcd $method, $depth in flight | $label | $ours (${runs[*]}) | $ref (${ref_runs[*]}) | $(ratio "$ours" "$ref") | ≥ 0.9 |")
      echo "bench: etcd $method, $depth in flight, $label: median $ours (${runs[*]}) vs h2load $ref (${ref_runs[*]})" >&2
    done
  done
done
etcd_table() {
  echo "| workload | calls run on | AutoCluster ops/s, median (3 runs) | h2load ops/s, median (3 runs) | ratio of medians | target |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${etcd_rows[@]}"
}
if [ "$etcd_only" = 1 ]; then
  etcd_table
  exit 0
fi

# 2. ZooKeeper, against the raw C client.
for depth in 1 64 1000; do
  for op in get set; do
    ours=$("$bench" zk "$zk" "$op" "$depth" "$count" | value ops_per_sec)
    ref=$("$work/zk_ref" "$zk" "$op" "$depth" "$count" | value ops_per_sec)
    row "ZooKeeper $op, $depth outstanding" "$ours" "$ref" "C client" "≥ 0.9"
  done
done

# 3 and 4. Join cost and contention on each store (see BENCHMARKS.md for the units).
join_lines=()
for store in "zookeeper://$zk" "etcd://127.0.0.1:$ETCD_PORT"; do
  for listed in 0 10 50; do
    join_lines+=("| $store | $listed | $("$bench" join "$store" "$listed" 500) |")
  done
  for joiners in 50 200; do
    # Three runs each, one after another (this store's, then the next store's); the table keeps all three.
    for run in 1 2 3; do
      join_lines+=("| $store | $joiners concurrent joiners (run $run) | $("$bench" contention "$store" "$joiners") |")
    done
  done
done

# 5. Memory.
mem_lines=()
mem_lines+=("| $memory_watchers etcd watchers | $("$bench" etcd-watchers "$etcd" "$memory_watchers") |")
mem_lines+=("| $zk_watches ZooKeeper watches | $("$bench" zk-watches "$zk" "$zk_watches") |")
mem_lines+=("| $growth etcd requests | $("$bench" growth etcd "$etcd" "$growth") |")
mem_lines+=("| $growth ZooKeeper requests | $("$bench" growth zookeeper "$zk" "$growth") |")

# 6. Peers.
peer_lines=()
for op in get put; do
  ours=$("$bench" etcd "$etcd" "$([ $op = get ] && echo range || echo put)" 1 "$count" | value ops_per_sec)
  theirs=$(/usr/bin/python3 Benchmarks/peers/peers.py etcd "127.0.0.1:$ETCD_PORT" "$op" "$((count / 4))" | value ops_per_sec)
  peer_lines+=("| etcd $op, sequential | $ours | python3-etcd3: $theirs | $(ratio "$ours" "$theirs") |")
done
for op in get set; do
  ours=$("$bench" zk "$zk" "$op" 1 "$count" | value ops_per_sec)
  theirs=$(/usr/bin/python3 Benchmarks/peers/peers.py zookeeper "$zk" "$op" "$((count / 4))" | value ops_per_sec)
  peer_lines+=("| ZooKeeper $op, sequential | $ours | python3-kazoo: $theirs | $(ratio "$ours" "$theirs") |")
done

{
  echo "# Benchmarks"
  echo
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo),"
  echo "$(uname -sr), $(swift --version 2>&1 | head -1)."
  echo "Command: \`scripts/bench.sh $*\` ($count requests per row). Ops/s; ratio = AutoCluster / reference, same run, same server."
  echo
  etcd_table
  echo
  echo "| workload | AutoCluster ops/s | reference ops/s | reference | ratio | target |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "## Join cost and contention"
  echo
  echo "Half of the listed nodes are dead (half of those closed ports, half black-holed: a full accept queue"
  echo "on loopback, so the probe waits for its timeout). Probe timeout 500 ms. Target: join ≤ 2 store round"
  echo "trips + 1.2 × probe timeout, whatever the count."
  echo
  echo "| store | listed / joiners | result |"
  echo "|---|---|---|"
  printf '%s\n' "${join_lines[@]}"
  echo
  echo "## Memory (resident set size, bytes)"
  echo
  echo "| workload | result |"
  echo "|---|---|"
  printf '%s\n' "${mem_lines[@]}"
  echo
  echo "## Peers (sequential, one client)"
  echo
  echo "| workload | AutoCluster ops/s | peer ops/s | ratio |"
  echo "|---|---|---|---|"
  printf '%s\n' "${peer_lines[@]}"
  if [ -n "$profile_section" ]; then echo; printf '%s\n' "$profile_section"; fi
} | tee BENCHMARKS.md
