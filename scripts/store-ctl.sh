#!/usr/bin/env bash
# Fault injection for tests: acts on one server that scripts/start-stores.sh launched.
#
#   scripts/store-ctl.sh pid NAME             print its pid
#   scripts/store-ctl.sh kill NAME [SIGNAL]   send SIGNAL (default KILL) to it; KILL/TERM wait for exit
#   scripts/store-ctl.sh start NAME           start it again with its data, wait until it answers
#   scripts/store-ctl.sh health NAME          exit 0 when it answers
#
# NAME is zookeeper, etcd, or (after --cluster) zookeeper1-3, etcd1-3.
set -euo pipefail
. "$(dirname "$0")/lib/stores.sh"

usage() { sed -n '2,9p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1 name=$2
[ -f "$STORES_DIR/$name/run.sh" ] || { log "no server named $name in $STORES_DIR — start it with scripts/start-stores.sh"; exit 1; }

case "$cmd" in
  pid)
    server_alive "$name" || { log "$name is not running"; exit 1; }
    cat "$STORES_DIR/$name/pid" ;;
  kill)
    signal=${3:-KILL}
    server_alive "$name" || { log "$name is not running"; exit 1; }
    pid=$(cat "$STORES_DIR/$name/pid")
    kill "-$signal" "$pid"
    case "$signal" in
      KILL|9|TERM|15)
        for _ in $(seq 1 100); do server_alive "$name" || break; sleep 0.1; done ;;
    esac ;;
  start)
    server_alive "$name" && { log "$name is already running"; exit 0; }
    launch "$name"
    case "$name" in zookeeper*) limit=90 ;; *) limit=45 ;; esac
    wait_healthy "$name" "$limit" ;;
  health)
    healthy "$name" ;;
  *) usage ;;
esac
