#!/usr/bin/env bash
# Fuzzing with libFuzzer: builds each fuzz target (Fuzz/<Target>) with -sanitize=fuzzer,address
# into .build/fuzz and runs it for RUNS executions (default 1,000,000) — or, with --time, for
# SECONDS (CI: 60 s each) — starting from the seeds in Fuzz/Seeds/<Target> and the regressions in
# Fuzz/Regressions/<Target> (libFuzzer runs every corpus input first, so a regression that
# crashes again fails the run before any new input is tried). A crash stops the run and leaves the input in Fuzz/Findings/<Target>/;
# fix it, keep the input in Fuzz/Regressions/<Target>/ (it seeds every later run) and add a
# regression test for it (see Tests/README.md, "Fuzzing").
#
# The targets build in one `swift build` (AUTOCLUSTER_ONLY_TARGETS, see Package.swift), before any runs.
#
#   scripts/fuzz.sh [--runs N | --time SECONDS] [--build-only | --skip-build] [TARGET...]
#                                                          default: every target
set -euo pipefail
cd "$(dirname "$0")/.."

runs=1000000
seconds=""
build=1
run=1
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --time) seconds=$2; shift 2 ;;
    --build-only) run=0; shift ;;
    --skip-build) build=0; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  for dir in Fuzz/Fuzz*/; do targets+=("$(basename "$dir")"); done
fi

export AUTOCLUSTER_FUZZ=1
if [ -n "$seconds" ]; then limit=(-max_total_time="$seconds"); what="$seconds s"; else limit=(-runs="$runs"); what="$runs executions"; fi
if [ "$build" = 1 ]; then
  echo "fuzz: building ${targets[*]}" >&2
  AUTOCLUSTER_ONLY_TARGETS=$(IFS=,; echo "${targets[*]}") \
    swift build -c release --scratch-path .build/fuzz -Xswiftc -enable-testing -Xswiftc -sanitize=fuzzer,address >&2
fi
[ "$run" = 1 ] || exit 0
status=0
for target in "${targets[@]}"; do
  corpus=$(mktemp -d)
  cp Fuzz/Seeds/"$target"/* Fuzz/Regressions/"$target"/* "$corpus"/ 2>/dev/null || true
  mkdir -p "Fuzz/Findings/$target"
  inputs=$(find "$corpus" -type f | wc -l)
  echo "fuzz: running $target for $what from $inputs seeds and regressions" >&2
  started=$SECONDS
  # SWIFT_BACKTRACE=enable=no: libFuzzer and ASan report a crash themselves; Swift's own
  # backtracer, started on a trap under ASan, can hang in its memory reader and keep the output
  # pipe open (a CI run waited on it for 13 minutes).
  if SWIFT_BACKTRACE=enable=no .build/fuzz/release/"$target" "${limit[@]}" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="Fuzz/Findings/$target/" -print_final_stats=1 "$corpus" 2>"$corpus.log"; then
    echo "fuzz: $target: $(grep -E '^stat::number_of_executed_units' "$corpus.log" | awk '{print $2}') executions in $((SECONDS - started)) s, clean" >&2
  else
    echo "fuzz: $target FAILED — see $corpus.log and Fuzz/Findings/$target/" >&2
    tail -n 30 "$corpus.log" >&2
    status=1
  fi
  rm -rf "$corpus"
done
exit $status
