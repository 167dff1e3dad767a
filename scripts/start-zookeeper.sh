#!/usr/bin/env bash
# Starts ZooKeeper servers only (no etcd) in their own AUTOCLUSTER_STORES_DIR, for tests that
# kill and restart servers and so must not share them: a standalone server, and with
# --ensemble also a 3-server ensemble. Prints the export lines like start-stores.sh;
# scripts/store-ctl.sh and scripts/stop-stores.sh (with the same AUTOCLUSTER_STORES_DIR) control
# and end them.
#
#   AUTOCLUSTER_STORES_DIR=/tmp/zk-failover ZOOKEEPER_PORT=22181 \
#   ZOOKEEPER_ENSEMBLE_BASE_PORT=32181 scripts/start-zookeeper.sh --ensemble
#
# Ports: ZOOKEEPER_PORT (default 2181); ZOOKEEPER_ENSEMBLE_BASE_PORT (default 12181: clients
# base..base+2, quorum base+700.., election base+1700..). --no-standalone skips the standalone one.
# --read-only-mode: servers that lost their quorum serve read-only clients (ZOOKEEPER_READONLY_MODE=1).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib/stores.sh"

ensemble=0 standalone=1
for arg in "$@"; do
  case "$arg" in
    --ensemble) ensemble=1 ;;
    --no-standalone) standalone=0 ;;
    --read-only-mode) export ZOOKEEPER_READONLY_MODE=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) log "unknown option $arg (try --help)"; exit 2 ;;
  esac
done
command -v java >/dev/null && [ -f /usr/share/java/zookeeper.jar ] || { log "ZooKeeper not installed — run scripts/install-deps.sh first"; exit 1; }

zk_port="${ZOOKEEPER_PORT:-2181}"
zk_base="${ZOOKEEPER_ENSEMBLE_BASE_PORT:-12181}"

"$here/stop-stores.sh"
rm -rf "${STORES_DIR:?}"
mkdir -p "$STORES_DIR"

names=()
fail() {
  for name in "${names[@]}"; do end_server "$name"; done
  exit 1
}
require_free() { port_free "$1" "$2" || fail; }

if [ "$standalone" = 1 ]; then
  require_free "$zk_port" "set ZOOKEEPER_PORT to another port"
  zookeeper_server zookeeper "$zk_port"
  names+=(zookeeper)
fi
if [ "$ensemble" = 1 ]; then
  servers=()
  for i in 1 2 3; do
    servers+=("server.$i=127.0.0.1:$((zk_base + 700 + i - 1)):$((zk_base + 1700 + i - 1))")
  done
  for i in 1 2 3; do
    p=$((zk_base + i - 1))
    require_free "$p" "set ZOOKEEPER_ENSEMBLE_BASE_PORT to another port"
    require_free "$((zk_base + 700 + i - 1))" "set ZOOKEEPER_ENSEMBLE_BASE_PORT to another port"
    require_free "$((zk_base + 1700 + i - 1))" "set ZOOKEEPER_ENSEMBLE_BASE_PORT to another port"
    zookeeper_server "zookeeper$i" "$p" "$i" "${servers[@]}"
    names+=("zookeeper$i")
  done
fi

for name in "${names[@]}"; do launch "$name"; done
for name in "${names[@]}"; do
  wait_healthy "$name" 90 || fail
  log "$name is up (pid $(cat "$STORES_DIR/$name/pid"), log $STORES_DIR/$name/log)"
done

{
  echo "export AUTOCLUSTER_STORES_DIR=$STORES_DIR"
  [ "$standalone" = 1 ] && echo "export ZOOKEEPER_CONNECT=127.0.0.1:$zk_port"
  [ "$ensemble" = 1 ] && echo "export ZOOKEEPER_ENSEMBLE_CONNECT=127.0.0.1:$zk_base,127.0.0.1:$((zk_base + 1)),127.0.0.1:$((zk_base + 2))"
  true
} | tee "$STORES_DIR/env"
