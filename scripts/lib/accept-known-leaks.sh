#!/usr/bin/env bash
# accept-known-leaks.sh COMMAND...: runs a sanitizer test COMMAND, its output passed through.
# When COMMAND fails, every test passed (swift-testing's "Test run with N tests … passed", no ✘)
# and the only failure is LeakSanitizer's report of leaks whose every direct leak was allocated
# at a site scripts/lsan-known-losses.txt lists (a library's own known loss, by exact build and
# address), prints what it accepted and exits 0. Otherwise exits with COMMAND's status.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] && exit 0
if python3 "$here/known_leaks.py" "$here/../lsan-known-losses.txt" "$out"; then exit 0; fi
exit "$rc"
