#!/usr/bin/env bash
# Regenerates the CEtcdProtos target from Protos/etcd/*.proto with protoc-c:
# .c files into Sources/CEtcdProtos, headers into Sources/CEtcdProtos/include, plus the
# umbrella header CEtcdProtos.h that the Swift module imports.
#
#   scripts/generate-protos.sh [OUTPUT_DIR]   (default: Sources/CEtcdProtos)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-Sources/CEtcdProtos}"
command -v protoc-c >/dev/null || { echo "generate-protos: protoc-c not found — apt-get install protobuf-c-compiler" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
protos=(kv auth rpc)
protoc-c --proto_path=Protos/etcd --c_out="$tmp" "${protos[@]/%/.proto}"

mkdir -p "$out/include"
rm -f "$out"/*.pb-c.c "$out"/include/*.pb-c.h "$out/placeholder.c"
for p in "${protos[@]}"; do
  # The .c files live one directory above their headers: point their includes at include/.
  sed -e 's|^#include "\([a-z]*\.pb-c\.h\)"|#include "include/\1"|' "$tmp/$p.pb-c.c" >"$out/$p.pb-c.c"
  cp "$tmp/$p.pb-c.h" "$out/include/$p.pb-c.h"
done
cat >"$out/include/CEtcdProtos.h" <<'H'
#ifndef CETCDPROTOS_H
#define CETCDPROTOS_H
// Umbrella header of the protoc-c output for Protos/etcd/*.proto (scripts/generate-protos.sh).
#include "kv.pb-c.h"
#include "auth.pb-c.h"
#include "rpc.pb-c.h"
#endif
H
