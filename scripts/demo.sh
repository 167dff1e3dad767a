#!/usr/bin/env bash
# The first thing to run on a fresh machine: installs the stores, starts them on loopback,
# builds, and shows a round trip through both C clients against the real servers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
trap 'scripts/stop-stores.sh' EXIT
eval "$(scripts/start-stores.sh)"
swift build --build-tests
AUTOCLUSTER_REQUIRE_STORES=1 swift test --skip-build --filter "Link"
