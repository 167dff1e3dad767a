#!/usr/bin/env bash
# Fuzzing with libFuzzer: builds each fuzz target (Fuzz/<Target>) with -sanitize=fuzzer,address
# into .build/fuzz and runs it for RUNS executions (default 1,000,000) starting from the seeds in
# Fuzz/Seeds/<Target>. A crash stops the run and leaves the input in Fuzz/Findings/<Target>/;
# fix it, keep the input in Fuzz/Regressions/<Target>/ (it seeds every later run) and add a
# regression test for it (see the README's reliability section).
#
#   scripts/fuzz.sh [--runs N] [TARGET...]     default: every target
set -euo pipefail
cd "$(dirname "$0")/.."

runs=1000000
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  for dir in Fuzz/Fuzz*/; do targets+=("$(basename "$dir")"); done
fi

export AUTOCLUSTER_FUZZ=1
status=0
for target in "${targets[@]}"; do
  echo "fuzz: building $target" >&2
  swift build -c release --scratch-path .build/fuzz -Xswiftc -enable-testing -Xswiftc -sanitize=fuzzer,address --product "$target" >&2
  corpus=$(mktemp -d)
  cp Fuzz/Seeds/"$target"/* Fuzz/Regressions/"$target"/* "$corpus"/ 2>/dev/null || true
  mkdir -p "Fuzz/Findings/$target"
  echo "fuzz: running $target for $runs executions" >&2
  if .build/fuzz/release/"$target" -runs="$runs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="Fuzz/Findings/$target/" -print_final_stats=1 "$corpus" 2>"$corpus.log"; then
    echo "fuzz: $target: $(grep -E '^stat::number_of_executed_units' "$corpus.log" | awk '{print $2}') executions, clean" >&2
  else
    echo "fuzz: $target FAILED — see $corpus.log and Fuzz/Findings/$target/" >&2
    tail -n 30 "$corpus.log" >&2
    status=1
  fi
  rm -rf "$corpus"
done
exit $status
