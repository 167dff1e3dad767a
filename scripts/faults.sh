#!/usr/bin/env bash
# The slow fault scenarios (a 3-member etcd cluster and a 3-server ZooKeeper ensemble whose
# leader is SIGKILLed under load, …) that the normal suite skips. The tests start their own
# servers on loopback ports 28000-28999 in /tmp/ac-faults-* directories and end them by pid,
# so this can run beside the shared stores. Builds first unless --skip-build.
#
#   scripts/faults.sh [--skip-build] [-- extra swift test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-build) build=0; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "faults.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

for tool in java etcd; do
  command -v "$tool" >/dev/null || { echo "faults.sh: $tool not found — run scripts/install-deps.sh first" >&2; exit 1; }
done

export AUTOCLUSTER_FAULTS=1 AUTOCLUSTER_REQUIRE_STORES=1
if [ "$build" = 1 ]; then swift build --build-tests; fi
swift test --skip-build --filter 'ReliabilityTests\.(EtcdFaultTests|ZooKeeperFaultTests|NodeListFaultTests)' "${extra[@]}"
