#!/usr/bin/env bash
# Ends exactly the servers scripts/start-stores.sh launched (by their pid files, never by
# name) and removes their data. Safe to run when nothing is running.
set -euo pipefail
. "$(dirname "$0")/lib/stores.sh"

[ -d "$STORES_DIR" ] || exit 0
for name in $(server_names); do
  if server_alive "$name"; then log "stopping $name (pid $(cat "$STORES_DIR/$name/pid"))"; fi
  end_server "$name"
done
if [ "${1:-}" != "--keep-data" ]; then
  for name in $(server_names); do rm -rf "${STORES_DIR:?}/$name/data"; done
fi
