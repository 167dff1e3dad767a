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
leakcheck=()
faults=0
parallel=(--no-parallel)
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize=(--sanitize="$2"); scratch=(--scratch-path ".build/$2"); export AUTOCLUSTER_SANITIZER=$2
      if [ "$2" = address ]; then leakcheck=(scripts/lib/accept-known-leaks.sh); fi
      shift 2 ;;
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
# part NAME COMMAND...: runs COMMAND (a program, not a function) with its output (stdout and
# stderr) appended to the kept test output and to $capture/NAME, then prints how long it took:
# wall clock and CPU (user + system of it and its children, from GNU time), so a part's work can
# be told apart from waiting for a busy machine. A failure fails the run.
part() {
  local name=$1 rc=0
  shift
  echo "==> $name: $*" >&2
  /usr/bin/time -o "$capture/$name.time" -f '%e %U %S' "$@" 2>&1 | tee -a "$capture/output" "$capture/$name" || rc=$?
  report "$name" "$rc" ""
}
# report NAME RC NOTE: prints and records NAME's time from $capture/NAME.time.
report() {
  local took cpu
  # (The last line: GNU time puts "Command exited with non-zero status N" before it.)
  read -r took cpu < <(tail -n 1 "$capture/$1.time" 2>/dev/null | awk '{ printf "%d %d\n", $1, $2 + $3 }')
  echo "==> $1: ${took:-0} s (CPU ${cpu:-0} s)$3$([ "$2" = 0 ] || echo ", FAILED (exit $2)")" >&2
  summary+=("$(printf '%-12s %5d s   CPU %6d s%s%s' "$1" "${took:-0}" "${cpu:-0}" "$3" "$([ "$2" = 0 ] || echo "  FAILED")")")
  [ "$2" = 0 ] || status=1
}
# background NAME COMMAND...: starts COMMAND in the background under the idle scheduling policy
# (SCHED_IDLE: it runs only on a core nothing else wants), with its output into $capture/NAME;
# collect NAME then waits for it, prints that output and its time like part does. CI builds the
# sanitizer and fuzz variants this way behind the test parts, which mostly wait on servers and
# time-outs (the suite and the TSan suite use about a third of the two cores): the tests in front
# get the CPU whenever they want it, the build takes the rest. Not `nice`: swift-build's dispatch
# threads set their own nice value (0, or -4), and the compilers they start inherit that; the
# policy they inherit and keep. (The disk is shared: I/O priority would do nothing under this
# machine's mq-deadline scheduler.)
declare -A background_pid=()
background() {
  local name=$1
  shift
  echo "==> $name (in the background, idle priority): $*" >&2
  # setsid: its own process group, so that stop_background ends every process of it.
  setsid /usr/bin/time -o "$capture/$name.time" -f '%e %U %S' chrt --idle 0 "$@" >"$capture/$name" 2>&1 &
  background_pid[$name]=$!
}
collect() {
  local name=$1 rc=0
  wait "${background_pid[$name]}" || rc=$?
  unset "background_pid[$name]"
  tee -a "$capture/output" <"$capture/$name"
  report "$name" "$rc" ", in the background"
}
stop_background() {
  local pid
  for pid in "${background_pid[@]}"; do kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
}
# Under flock $AUTOCLUSTER_FAULTS_LOCK when that is set: the parts that can start fault servers.
locked=()
if [ -n "${AUTOCLUSTER_FAULTS_LOCK:-}" ]; then locked=(flock "$AUTOCLUSTER_FAULTS_LOCK"); fi
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

trap 'stop_background; scripts/stop-stores.sh' EXIT
# (Not eval "$(…)": that would swallow a failed start and go on without the stores.)
stores_env=$(scripts/start-stores.sh --cluster --secure) || { echo "test.sh: the stores did not start (see the lines above)" >&2; exit 1; }
eval "$stores_env"

if [ "$ci" = 0 ]; then
  part build swift build --build-tests "${sanitize[@]}" "${scratch[@]}"
  part suite "${locked[@]}" "${leakcheck[@]}" swift test --skip-build "${sanitize[@]}" "${scratch[@]}" "${parallel[@]}" "${extra[@]}"
  if [ "$faults" = 1 ]; then
    part faults "${locked[@]}" scripts/faults.sh --skip-build -- "${sanitize[@]}" "${scratch[@]}" "${parallel[@]}"
  fi
else
  if wants build || wants suite || wants faults; then
    part build swift build --build-tests "${sanitize[@]}" "${scratch[@]}"
  fi
  # The sanitizer parts build only the targets they run (AUTOCLUSTER_ONLY_TARGETS, see
  # Package.swift). TSan: the suites that cross C threads and the command their command tests
  # start (not ConsulTests, not the benchmarks). ASan: the two clients over C memory
  # (libzookeeper-mt, nghttp2, protobuf-c), without the node list, Consul or the command.
  tsan_targets=ZooKeeperTests,EtcdTests,NodeListTests,ReliabilityTests,CoordinationTests,AutoClusterCommand
  asan_targets=ZooKeeperTests,EtcdTests
  # The TSan build runs behind the suite and the faults.
  if wants tsan; then
    background tsan-build env AUTOCLUSTER_ONLY_TARGETS=$tsan_targets swift build --build-tests --sanitize=thread --scratch-path .build/thread
  fi
  if wants suite; then
    part suite "${locked[@]}" swift test --skip-build "${sanitize[@]}" "${scratch[@]}" "${parallel[@]}" "${extra[@]}"
    check_skips suite
  fi
  if wants faults; then
    part faults "${locked[@]}" scripts/faults.sh --skip-build -- "${sanitize[@]}" "${scratch[@]}" "${parallel[@]}"
    check_skips faults --strict
  fi
  if wants build; then
    # The package without its default trait (no tracing) must build too. After the suite and the
    # faults, which use the default build in the same scratch path.
    part traits-off swift build --disable-default-traits "${scratch[@]}"
  fi
  if wants tsan; then collect tsan-build; fi
  # The ASan and fuzz builds run behind the TSan suite (and the fuzz build behind the ASan suite).
  if wants asan; then
    background asan-build env AUTOCLUSTER_ONLY_TARGETS=$asan_targets swift build --build-tests --sanitize=address --scratch-path .build/address
  fi
  if wants fuzz; then background fuzz-build scripts/fuzz.sh --build-only; fi
  if wants tsan; then
    part tsan "${locked[@]}" env AUTOCLUSTER_SANITIZER=thread AUTOCLUSTER_ONLY_TARGETS=$tsan_targets \
      swift test --skip-build --sanitize=thread --scratch-path .build/thread --no-parallel \
      --skip 'NodeListSimulationTests|PartitionTests|killDuringPipelined'
    # Left out under TSan: the single-threaded simulation, the multi-process partition tests, and
    # the SIGKILL-during-1,000-calls scenarios, whose premise (the kill lands while calls are in
    # flight) a 5-10x slower client cannot guarantee; the faults part runs those without TSan.
    check_skips tsan
  fi
  if wants asan; then
    collect asan-build
    # accept-known-leaks.sh: a LeakSanitizer report of only the C client's own known loss
    # (scripts/lsan-known-losses.txt: exact library build and address) does not fail the part.
    part asan env AUTOCLUSTER_SANITIZER=address AUTOCLUSTER_ONLY_TARGETS=$asan_targets scripts/lib/accept-known-leaks.sh \
      swift test --skip-build --sanitize=address --scratch-path .build/address --no-parallel
    check_skips asan
  fi
  if wants fuzz; then
    collect fuzz-build
    part fuzz scripts/fuzz.sh --skip-build --time "${AUTOCLUSTER_FUZZ_SECONDS:-60}"
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
