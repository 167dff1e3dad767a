#!/usr/bin/env bash
# The test command: installs what is missing, starts real ZooKeeper and etcd on loopback
# (single servers, the 3-member clusters and the TLS/mTLS/auth etcd members), builds, and runs
# the whole suite against them. The stores are stopped again on any exit. The exit status is
# the tests'.
#
#   scripts/test.sh [--sanitize thread|address] [--faults] [--parallel] [-- extra swift test arguments]
#
# --sanitize   builds and runs everything under that sanitizer (in .build/<sanitizer>, so the
#              normal build stays warm); address uses scripts/lsan-suppressions.txt.
# --faults     also runs scripts/faults.sh (the slow leader-loss scenarios) after the suite.
# --parallel   runs tests in parallel (faster; on a 2-core machine the timing assertions of
#              deadline and probe tests then see seconds of scheduling delay, so the default is
#              one test at a time).
#
# Every log line of the run (at trace level, whatever level the code asks for) and the
# `autocluster` subprocesses' trace logs and output are captured into one file
# (AUTOCLUSTER_TEST_LOG_FILE, see Tests/StoreTestSupport/TestLogCapture.swift), the test output
# is kept beside it, and scripts/scan-secrets.sh --self-check then fails the run if any secret the
# tests use (store passwords, registered test passwords and tokens, private key lines) appears.
#
# With CI set: a store test that finds no store fails instead of skipping
# (AUTOCLUSTER_REQUIRE_STORES=1), the fault scenarios run, and the ZooKeeper and etcd suites run
# again under ThreadSanitizer (they cross C threads: libzookeeper-mt's, nghttp2 on the event loop).
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=()
scratch=()
extra=()
faults=0
parallel=(--no-parallel)
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize=(--sanitize="$2"); scratch=(--scratch-path ".build/$2"); shift 2 ;;
    --faults) faults=1; shift ;;
    --parallel) parallel=(--parallel); shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
# print_suppressions=0: LeakSanitizer would otherwise append a "Suppressions used" table to the
# stderr of every process it checks, including each `autocluster` run whose one-line error the
# command tests assert.
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

scripts/install-deps.sh
if [ -x scripts/check-protos.sh ]; then scripts/check-protos.sh; fi

trap 'scripts/stop-stores.sh' EXIT
eval "$(scripts/start-stores.sh --cluster --secure)"

if [ -n "${CI:-}" ]; then
  export AUTOCLUSTER_REQUIRE_STORES=1
  faults=1
fi

capture=$(mktemp -d "${TMPDIR:-/tmp}/autocluster-capture.XXXXXX")
chmod 700 "$capture"
export AUTOCLUSTER_TEST_LOG_FILE="$capture/log" AUTOCLUSTER_TEST_SECRETS_FILE="$capture/secrets"

status=0
swift build --build-tests "${sanitize[@]}" "${scratch[@]}"
swift test --skip-build "${sanitize[@]}" "${scratch[@]}" "${parallel[@]}" "${extra[@]}" 2>&1 | tee "$capture/output" || status=$?
if [ "$faults" = 1 ]; then
  scripts/faults.sh --skip-build -- "${sanitize[@]}" "${scratch[@]}" "${parallel[@]}" 2>&1 | tee -a "$capture/output" || status=$?
fi

if [ -n "${CI:-}" ] && [ ${#sanitize[@]} -eq 0 ]; then
  echo "test.sh: the ZooKeeper and etcd suites under ThreadSanitizer" >&2
  swift build --build-tests --sanitize=thread --scratch-path .build/thread
  swift test --skip-build --sanitize=thread --scratch-path .build/thread --no-parallel \
    --filter 'ZooKeeperTests|EtcdTests' 2>&1 | tee -a "$capture/output" || status=$?
fi

# No secret in any captured log line or in the output (errors, recorded issues).
if scripts/scan-secrets.sh --self-check "$capture/log" "$capture/output"; then
  rm -rf "$capture"
else
  status=1
  echo "test.sh: the capture is kept in $capture (remove it when done: it lists the secrets)" >&2
fi
exit $status
