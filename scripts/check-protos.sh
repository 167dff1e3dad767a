#!/usr/bin/env bash
# Fails when the committed protoc-c output in Sources/CEtcdProtos is not what
# scripts/generate-protos.sh makes from Protos/etcd/*.proto today.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scripts/generate-protos.sh "$tmp/CEtcdProtos"
if ! diff -r "$tmp/CEtcdProtos" Sources/CEtcdProtos >"$tmp/diff"; then
  cat "$tmp/diff" >&2
  echo "check-protos: Sources/CEtcdProtos is stale — run scripts/generate-protos.sh and commit the result" >&2
  exit 1
fi
echo "check-protos: Sources/CEtcdProtos matches Protos/etcd" >&2
