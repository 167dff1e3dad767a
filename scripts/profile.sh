#!/usr/bin/env bash
# CPU profile of the etcd and ZooKeeper clients against their references, by instruction count
# (valgrind --tool=callgrind), which is repeatable on a loaded machine where wall-clock is not.
#
#   scripts/profile.sh [--quick] [--top N] [WORKLOAD...]
#
# WORKLOAD: etcd-range-1 etcd-put-1 etcd-range-64 etcd-put-64 zk-get-1 zk-set-1 (default: all).
# Each workload runs twice under callgrind, with SMALL and LARGE operations (1,000 and 4,000;
# --quick: 200 and 800), for AutoClusterBench (release) and for its reference: h2load sending the
# identical gRPC bytes over one connection (etcd), Benchmarks/zk-ref on the same C client
# (ZooKeeper). Instructions per op = (Ir(LARGE) - Ir(SMALL)) / (LARGE - SMALL), so process start,
# connecting and the set-up writes cancel out. Prints a table, then AutoCluster's top functions
# by inclusive and by self instructions per op, computed the same way (scripts/lib/
# callgrind_per_op.py, demangled); the callgrind files stay in $PROFILE_DIR (.build/profile).
#
# Callgrind runs the threads of a process one at a time on a simulated CPU, so these numbers
# count the CPU work per call (ours: Swift, NIO, nghttp2, protobuf-c, libzookeeper and libc/kernel
# entry in user space), NOT the latency of handing a call from one thread to another (futex and
# eventfd wake-ups, scheduler): wall-clock ratios (scripts/bench.sh) include that, these do not.
# Batching also differs: with 64 in flight, how many calls share one read/write depends on
# thread timing, which callgrind changes. For the hand-offs, a second table counts context
# switches and CPU time per op (perf stat, native runs), when perf is installed.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

small=1000
large=4000
top=25
workloads=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) small=200; large=800 ;;
    --top) top="$2"; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) workloads+=("$1") ;;
  esac
  shift
done
[ ${#workloads[@]} -gt 0 ] || workloads=(etcd-range-1 etcd-put-1 etcd-range-64 etcd-put-64 zk-get-1 zk-set-1)

scripts/install-deps.sh >&2
# Profiling-only dependencies (not needed to build or test): valgrind, gcc for the C reference.
missing=()
for p in valgrind gcc; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}" >/dev/null
fi

# Own ports and directory, so a profile can run beside scripts/bench.sh and the tests.
export AUTOCLUSTER_STORES_DIR="${TMPDIR:-/tmp}/autocluster-profile-stores"
export ZOOKEEPER_PORT="${PROFILE_ZOOKEEPER_PORT:-22182}" ETCD_PORT="${PROFILE_ETCD_PORT:-22381}"
out="${PROFILE_DIR:-.build/profile}"
rm -rf "$out"; mkdir -p "$out"
work=$(mktemp -d)
trap 'scripts/stop-stores.sh; rm -rf "$work"' EXIT
# (Not eval "$(…)": that would swallow a failed start and go on without the stores.)
stores_env=$(scripts/start-stores.sh) || { echo "profile.sh: the stores did not start (see the lines above)" >&2; exit 1; }
eval "$stores_env"
zk="127.0.0.1:$ZOOKEEPER_PORT"
etcd="http://127.0.0.1:$ETCD_PORT"

echo "profile: building (release)" >&2
swift build -c release --product AutoClusterBench >&2
# Valgrind's DWARF reader gives up on the Swift toolchain's debug info ("possibly corrupted
# debuginfo"): profile a copy without it; the symbol table still names every function.
bench="$work/AutoClusterBench"
objcopy --strip-debug .build/release/AutoClusterBench "$bench"
gcc -O2 -g -o "$work/zk_ref" Benchmarks/zk-ref/zk_ref.c -lzookeeper_mt -lpthread
python3 Benchmarks/etcd-ref/grpc_bodies.py "$work" bench-key 64
# The key the references read must exist (the Swift benchmark writes its own before measuring).
"$bench" etcd "$etcd" put 1 1 >/dev/null
"$work/zk_ref" "$zk" set 1 1 >/dev/null 2>&1 || true

# callgrind NAME COMMAND...: runs COMMAND under callgrind, prints its total instruction count.
callgrind() {
  local name="$1"; shift
  valgrind --tool=callgrind --callgrind-out-file="$out/$name.callgrind" "$@" \
    >"$out/$name.stdout" 2>"$out/$name.stderr" || { echo "profile: $name failed, see $out/$name.stderr" >&2; exit 1; }
  awk '/^(summary|totals):/ { print $2; exit }' "$out/$name.callgrind"
}

# per_op NAME COMMAND-PREFIX...: instructions per op of COMMAND-PREFIX followed by the op count.
per_op() {
  local name="$1"; shift
  local a b
  a=$(callgrind "$name-$small" "$@" "$small")
  b=$(callgrind "$name-$large" "$@" "$large")
  awk -v a="$a" -v b="$b" -v n=$((large - small)) 'BEGIN { printf "%.0f", (b - a) / n }'
}

h2load_command() {  # METHOD BODY DEPTH: sets ref; per_op appends the op count (after -n)
  ref=(h2load -c 1 -m "$3" -H 'content-type: application/grpc' -H 'te: trailers'
       -d "$work/$2" "$etcd/etcdserverpb.KV/$1" -n)
}

# perf_stat NAME COMMAND...: a native run (no valgrind) under perf stat; prints
# "<context switches> <task-clock ms>" (all threads of the process).
perf_stat() {
  local name="$1"; shift
  perf stat -x, -e context-switches,task-clock -o "$out/$name.perf" "$@" >/dev/null 2>&1 || { echo "0 0"; return; }
  awk -F, '/context-switches/ { cs = $1 } /task-clock/ { ms = $1 } END { print cs + 0, ms + 0 }' "$out/$name.perf"
}
have_perf=0
perf stat -e context-switches -- true >/dev/null 2>&1 && have_perf=1

rows=()
switch_rows=()
for w in "${workloads[@]}"; do
  IFS=- read -r store op depth <<<"$w"
  case "$store-$op" in
    etcd-range) ours=("$bench" etcd "$etcd" range "$depth"); h2load_command Range range.bin "$depth"; refname=h2load ;;
    etcd-put) ours=("$bench" etcd "$etcd" put "$depth"); h2load_command Put put.bin "$depth"; refname=h2load ;;
    zk-get|zk-set) ours=("$bench" zk "$zk" "$op" "$depth"); ref=("$work/zk_ref" "$zk" "$op" "$depth"); refname="C client" ;;
    *) echo "profile: unknown workload $w" >&2; exit 2 ;;
  esac
  echo "profile: $w" >&2
  o=$(per_op "ours-$w" "${ours[@]}")
  r=$(per_op "ref-$w" "${ref[@]}")
  rows+=("| $w | $o | $r | $refname | $(awk -v o="$o" -v r="$r" 'BEGIN { printf "%.2f", o / r }') |")
  if [ "$have_perf" = 1 ]; then
    read -r ocs oms < <(perf_stat "ours-$w" "${ours[@]}" "$large")
    read -r rcs rms < <(perf_stat "ref-$w" "${ref[@]}" "$large")
    switch_rows+=("| $w | $(awk -v c="$ocs" -v m="$oms" -v n="$large" 'BEGIN { printf "%.2f | %.1f", c / n, m * 1000 / n }') | $(awk -v c="$rcs" -v m="$rms" -v n="$large" 'BEGIN { printf "%.2f | %.1f", c / n, m * 1000 / n }') |")
  fi
done

echo
echo "Instructions per operation (callgrind; (Ir($large ops) - Ir($small ops)) / $((large - small)); CPU work only, not hand-off latency)"
echo
echo "| workload | AutoCluster instr/op | reference instr/op | reference | ours / reference |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
if [ "$have_perf" = 1 ]; then
  echo
  echo "Context switches and CPU time per operation (perf stat -e context-switches,task-clock, a native run of $large ops, all threads, set-up included)"
  echo
  echo "| workload | AutoCluster switches/op | AutoCluster CPU µs/op | reference switches/op | reference CPU µs/op |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${switch_rows[@]}"
fi

for w in "${workloads[@]}"; do
  echo
  echo "## $w: where the instructions per op go (self cost by library or Swift module)"
  echo "AutoCluster:"
  python3 scripts/lib/callgrind_per_op.py --components "$out/ours-$w-$small.callgrind" "$out/ours-$w-$large.callgrind" $((large - small))
  echo "reference:"
  python3 scripts/lib/callgrind_per_op.py --components "$out/ref-$w-$small.callgrind" "$out/ref-$w-$large.callgrind" $((large - small))
done
for w in "${workloads[@]}"; do
  echo
  echo "## $w: AutoCluster's functions, instructions per op ((Ir($large) - Ir($small)) / $((large - small)))"
  python3 scripts/lib/callgrind_per_op.py "$out/ours-$w-$small.callgrind" "$out/ours-$w-$large.callgrind" \
    $((large - small)) "$top" | swift demangle --simplified | cut -c1-200
done
