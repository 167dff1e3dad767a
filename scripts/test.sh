#!/usr/bin/env bash
# The test command: installs what is missing, starts real ZooKeeper and etcd on loopback
# (single servers and the 3-member clusters), builds, and runs the whole suite against them.
# The stores are stopped again on any exit. With CI set, a store test that finds no store
# fails instead of skipping (AUTOCLUSTER_REQUIRE_STORES=1). The exit status is the tests'.
#
#   scripts/test.sh [--sanitize thread|address] [--faults] [-- extra swift test arguments]
#
# --faults also runs scripts/faults.sh (the slow leader-loss scenarios) after the suite.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=()
extra=()
faults=0
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize=(--sanitize="$2"); shift 2 ;;
    --faults) faults=1; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh
if [ -x scripts/check-protos.sh ]; then scripts/check-protos.sh; fi

trap 'scripts/stop-stores.sh' EXIT
eval "$(scripts/start-stores.sh --cluster --secure)"

if [ -n "${CI:-}" ]; then export AUTOCLUSTER_REQUIRE_STORES=1; fi

swift build --build-tests "${sanitize[@]}"
swift test --skip-build "${sanitize[@]}" "${extra[@]}"
if [ "$faults" = 1 ]; then scripts/faults.sh --skip-build -- "${sanitize[@]}"; fi
