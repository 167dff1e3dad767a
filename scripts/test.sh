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
# With CI set (.ci/run sets it), the run is the CI run, part by part, each part's time printed
# as `==> PART: N s` and summed up at the end:
#   build, suite     the whole suite; a store test that finds no store fails
#                    (AUTOCLUSTER_REQUIRE_STORES=1)
#   faults           the fault scenarios (scripts/faults.sh, the slow leader-loss ones included)
#   tsan             ThreadSanitizer over every suite that crosses C threads (libzookeeper-mt's
#                    threads, nghttp2 on the event loop): ZooKeeperTests, EtcdTests, NodeListTests,
#                    ReliabilityTests, CoordinationTests
#   asan             AddressSanitizer + LeakSanitizer over ZooKeeperTests and EtcdTests
#   fuzz             each fuzz target for AUTOCLUSTER_FUZZ_SECONDS (60) from its committed seeds
#                    and regressions (scripts/fuzz.sh --time)
# and a test that was skipped fails the run unless scripts/allowed-skips.txt names it.
# AUTOCLUSTER_CI_PARTS (e.g. "suite faults") runs only those parts (for measuring one part).
#
# The fault scenarios use the fixed loopback ports 28000-28999. On a machine shared with other
# runs, set AUTOCLUSTER_FAULTS_LOCK to a lock file: every part that can start fault servers then
# runs under `flock` on it.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=()
scratch=()
extra=()
faults=0
parallel=(--no-parallel)
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize=(--sanitize="$2"); scratch=(--scratch-path ".build/$2"); export AUTOCLUSTER_SANITIZER=$2; shift 2 ;;
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

ci=0
if [ -n "${CI:-}" ]; then
  ci=1
  export AUTOCLUSTER_REQUIRE_STORES=1
  faults=1
fi
# The CI parts to run (all by default).
parts=" ${AUTOCLUSTER_CI_PARTS:-build suite faults tsan asan fuzz} "
wants() { [ "$ci" = 0 ] || [[ "$parts" == *" $1 "* ]]; }

capture=$(mktemp -d "${TMPDIR:-/tmp}/autocluster-capture.XXXXXX")
chmod 700 "$capture"
export AUTOCLUSTER_TEST_LOG_FILE="$capture/log" AUTOCLUSTER_TEST_SECRETS_FILE="$capture/secrets"
: >"$capture/output"

status=0
summary=()
run_started=$SECONDS
# cpu_seconds: the user + system CPU seconds of every child this shell has waited for (bash's
# `times`, second line), so a part's CPU time can be told apart from waiting for a busy machine.
# Sets cpu_total (not run in a subshell: `times` there would count the subshell's children).
cpu_seconds() {
  times >"$capture/times"
  cpu_total=$(sed -n 2p "$capture/times" | awk '{ n = 0; for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); n += t[1] * 60 + t[2] } printf "%d\n", n }')
}
# part NAME COMMAND...: runs COMMAND with its output (stdout and stderr) appended to the kept
# test output and to $capture/NAME, then prints how long it took (wall clock and CPU); a failure
# fails the run.
part() {
  local name=$1 started=$SECONDS rc=0 cpu
  shift
  cpu_seconds
  cpu=$cpu_total
  echo "==> $name: $*" >&2
  "$@" 2>&1 | tee -a "$capture/output" "$capture/$name" || rc=$?
  local took=$((SECONDS - started))
  cpu_seconds
  cpu=$((cpu_total - cpu))
  echo "==> $name: $took s (CPU $cpu s)$([ "$rc" = 0 ] || echo ", FAILED (exit $rc)")" >&2
  summary+=("$(printf '%-12s %5d s   CPU %6d s%s' "$name" "$took" "$cpu" "$([ "$rc" = 0 ] || echo "  FAILED")")")
  [ "$rc" = 0 ] || status=1
}
# locked COMMAND...: COMMAND under flock $AUTOCLUSTER_FAULTS_LOCK when that is set.
locked() {
  if [ -n "${AUTOCLUSTER_FAULTS_LOCK:-}" ]; then flock "$AUTOCLUSTER_FAULTS_LOCK" "$@"; else "$@"; fi
}
# check_skips NAME [--strict]: fails the run if the part's output reports a skipped test or
# suite that scripts/allowed-skips.txt does not allow. swift-testing prints one line per skip:
#   <symbol> Test "display name" skipped: "comment"      (or Suite …, or without a comment)
# --strict: the slow fault scenarios must not skip either (the faults part runs them).
check_skips() {
  local file="$capture/$1" allowed
  allowed=$(grep -v -e '^#' -e '^[[:space:]]*$' scripts/allowed-skips.txt)
  if [ "${2:-}" = --strict ]; then allowed=$(printf '%s\n' "$allowed" | grep -v 'slow cluster scenario' || true); fi
  local skipped unexpected
  skipped=$(grep -a -E '(Test|Suite) .* skipped(\.|: ")' "$file" || true)
  unexpected=$(printf '%s\n' "$skipped" | grep -v -E -f <(printf '%s\n' "$allowed") | grep -v '^$' || true)
  local total bad
  total=$(printf '%s\n' "$skipped" | grep -c . || true)
  bad=$(printf '%s\n' "$unexpected" | grep -c . || true)
  echo "==> $1: $total skipped, $bad of them not on scripts/allowed-skips.txt" >&2
  if [ -n "$unexpected" ]; then
    printf '%s\n' "$unexpected" | sed 's/^/    /' >&2
    echo "test.sh: $1: a test was skipped that scripts/allowed-skips.txt does not allow (a missing prerequisite?)" >&2
    status=1
  fi
}

if wants build || wants suite; then part install scripts/install-deps.sh; fi
if [ -x scripts/check-protos.sh ] && { wants build || wants suite; }; then part protos scripts/check-protos.sh; fi

trap 'scripts/stop-stores.sh' EXIT
# (Not eval "$(…)": that would swallow a failed start and go on without the stores.)
stores_env=$(scripts/start-stores.sh --cluster --secure) || { echo "test.sh: the stores did not start (see the lines above)" >&2; exit 1; }
eval "$stores_env"

if [ "$ci" = 0 ]; then
  part build swift build --build-tests "${sanitize[@]}" "${scratch[@]}"
  part suite locked swift test --skip-build "${sanitize[@]}" "${scratch[@]}" "${parallel[@]}" "${extra[@]}"
  if [ "$faults" = 1 ]; then
    part faults locked scripts/faults.sh --skip-build -- "${sanitize[@]}" "${scratch[@]}" "${parallel[@]}"
  fi
else
  if wants build || wants suite || wants faults; then
    part build swift build --build-tests "${sanitize[@]}" "${scratch[@]}"
  fi
  if wants suite; then
    part suite locked swift test --skip-build "${sanitize[@]}" "${scratch[@]}" "${parallel[@]}" "${extra[@]}"
    check_skips suite
  fi
  if wants faults; then
    part faults locked scripts/faults.sh --skip-build -- "${sanitize[@]}" "${scratch[@]}" "${parallel[@]}"
    check_skips faults --strict
  fi
  if wants build; then
    # The package without its default trait (no tracing) must build too. After the suite and the
    # faults, which use the default build in the same scratch path.
    part traits-off swift build --disable-default-traits "${scratch[@]}"
  fi
  if wants tsan; then
    part tsan-build swift build --build-tests --sanitize=thread --scratch-path .build/thread
    part tsan locked env AUTOCLUSTER_SANITIZER=thread swift test --skip-build --sanitize=thread --scratch-path .build/thread --no-parallel \
      --filter 'ZooKeeperTests|EtcdTests|NodeListTests|ReliabilityTests|CoordinationTests' \
      --skip 'NodeListSimulationTests|PartitionTests|killDuringPipelined'
    # Left out under TSan: the single-threaded simulation, the multi-process partition tests, and
    # the SIGKILL-during-1,000-calls scenarios, whose premise (the kill lands while calls are in
    # flight) a 5-10x slower client cannot guarantee; the faults part runs those without TSan.
    check_skips tsan
  fi
  if wants asan; then
    part asan-build swift build --build-tests --sanitize=address --scratch-path .build/address
    part asan env AUTOCLUSTER_SANITIZER=address swift test --skip-build --sanitize=address --scratch-path .build/address --no-parallel \
      --filter 'ZooKeeperTests|EtcdTests'
    check_skips asan
  fi
  if wants fuzz; then
    part fuzz scripts/fuzz.sh --time "${AUTOCLUSTER_FUZZ_SECONDS:-60}"
  fi
fi

# No secret in any captured log line or in the output (errors, recorded issues). After the CI
# suite, the run must have registered a secret of each kind the stores issue (else the scan
# would prove nothing about them).
kinds=()
if [ "$ci" = 1 ] && wants suite; then
  kinds=(--require-kind "etcd auth token" --require-kind "ZooKeeper session password" --require-kind "Consul ACL token")
fi
if scripts/scan-secrets.sh --self-check "${kinds[@]}" "$capture/log" "$capture/output"; then
  rm -rf "$capture"
else
  status=1
  echo "test.sh: the capture is kept in $capture (remove it when done: it lists the secrets)" >&2
fi
echo "==> times (total $((SECONDS - run_started)) s):" >&2
printf '    %s\n' "${summary[@]}" >&2
exit $status
