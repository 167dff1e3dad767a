#!/usr/bin/env bash
# Starts a standalone ZooKeeper and a single-member etcd on loopback, each with its data in a
# fresh directory, waits until each really answers, and prints the export lines for the tests:
#
#   env=$(scripts/start-stores.sh) && eval "$env"   # or: scripts/start-stores.sh --cluster
#
# --cluster also starts a 3-server ZooKeeper ensemble and a 3-member etcd cluster on their own
# loopback ports, for failover tests. --secure also starts, for the security tests, four more
# single etcd members: one serving TLS, one requiring client certificates (mTLS), one with
# authentication enabled (user root, a generated password), and one with both TLS and
# authentication (user root, another generated password, in a mode-600 file like the first);
# certificates are generated into
# $AUTOCLUSTER_STORES_DIR/tls (ca.pem, server.pem, client.pem, untrusted-ca.pem, ...). Servers started by an earlier run with the same
# AUTOCLUSTER_STORES_DIR are ended first, so starting twice leaves no orphans.
#
# Ports (environment):
#   ZOOKEEPER_PORT (2181)   ETCD_PORT (2379), its peer port ETCD_PORT+1
#   ZOOKEEPER_ENSEMBLE_BASE_PORT (12181: clients 12181-12183, quorum +700, election +1700)
#   ETCD_CLUSTER_BASE_PORT (12379: clients 12379,12381,12383, peers one above each)
#   ETCD_SECURE_BASE_PORT (12479: TLS 12479, mTLS 12481, auth 12483, TLS+auth 12485, peers one above each)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib/stores.sh"

cluster=0
secure=0
for arg in "$@"; do
  case "$arg" in
    --cluster) cluster=1 ;;
    --secure) secure=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) log "unknown option $arg (try --help)"; exit 2 ;;
  esac
done

for tool in java etcd curl; do
  command -v "$tool" >/dev/null || { log "$tool not found — run scripts/install-deps.sh first"; exit 1; }
done
[ -f /usr/share/java/zookeeper.jar ] || { log "/usr/share/java/zookeeper.jar not found — run scripts/install-deps.sh first"; exit 1; }

zk_port="${ZOOKEEPER_PORT:-2181}"
etcd_port="${ETCD_PORT:-2379}"
zk_base="${ZOOKEEPER_ENSEMBLE_BASE_PORT:-12181}"
etcd_base="${ETCD_CLUSTER_BASE_PORT:-12379}"
secure_base="${ETCD_SECURE_BASE_PORT:-12479}"

# End whatever an earlier start left running, then start from empty directories.
"$here/stop-stores.sh"
rm -rf "${STORES_DIR:?}"
mkdir -p "$STORES_DIR"

started=()
fail() {
  for name in "${started[@]}"; do end_server "$name"; done
  exit 1
}

require_free() { port_free "$1" "$2" || fail; }

# etcd_member NAME CLIENT_PORT PEER_PORT INITIAL_CLUSTER TOKEN: write the run.sh of one member.
etcd_member() {
  local name=$1 port=$2 peer=$3 initial=$4 token=$5 dir="$STORES_DIR/$1"
  mkdir -p "$dir/data"
  cat >"$dir/run.sh" <<RUN
exec etcd --name $name --data-dir $dir/data \\
  --listen-client-urls http://127.0.0.1:$port --advertise-client-urls http://127.0.0.1:$port \\
  --listen-peer-urls http://127.0.0.1:$peer --initial-advertise-peer-urls http://127.0.0.1:$peer \\
  --initial-cluster $initial --initial-cluster-token $token --initial-cluster-state new \\
  --heartbeat-interval 100 --election-timeout 1000 \\
  --unsafe-no-fsync --logger zap --log-outputs stderr
RUN
  echo "etcd $port" >"$dir/health"
}

# --- the single servers
require_free "$zk_port" "set ZOOKEEPER_PORT to another port"
require_free "$etcd_port" "set ETCD_PORT to another port"
require_free "$((etcd_port + 1))" "set ETCD_PORT to another port (its peer port is ETCD_PORT+1)"
zookeeper_server zookeeper "$zk_port"
etcd_member etcd "$etcd_port" "$((etcd_port + 1))" "etcd=http://127.0.0.1:$((etcd_port + 1))" autocluster-single
names=(zookeeper etcd)

# --- the clusters
if [ "$cluster" = 1 ]; then
  servers=()
  for i in 1 2 3; do
    servers+=("server.$i=127.0.0.1:$((zk_base + 700 + i - 1)):$((zk_base + 1700 + i - 1))")
  done
  initial=""
  for i in 1 2 3; do
    initial+="${initial:+,}etcd$i=http://127.0.0.1:$((etcd_base + 2 * (i - 1) + 1))"
  done
  for i in 1 2 3; do
    p=$((zk_base + i - 1))
    require_free "$p" "set ZOOKEEPER_ENSEMBLE_BASE_PORT to another port"
    zookeeper_server "zookeeper$i" "$p" "$i" "${servers[@]}"
    p=$((etcd_base + 2 * (i - 1)))
    require_free "$p" "set ETCD_CLUSTER_BASE_PORT to another port"
    etcd_member "etcd$i" "$p" "$((p + 1))" "$initial" autocluster-cluster
    names+=("zookeeper$i" "etcd$i")
  done
fi

# --- the secure members
if [ "$secure" = 1 ]; then
  command -v openssl >/dev/null || { log "openssl not found — run scripts/install-deps.sh first"; exit 1; }
  "$here/make-store-certs.sh" "$STORES_DIR/tls" >/dev/null
  tls="$STORES_DIR/tls"
  for i in 0 1 2 3; do
    p=$((secure_base + 2 * i))
    require_free "$p" "set ETCD_SECURE_BASE_PORT to another port"
    require_free "$((p + 1))" "set ETCD_SECURE_BASE_PORT to another port"
  done
  p=$secure_base
  etcd_member etcd-tls "$p" "$((p + 1))" "etcd-tls=http://127.0.0.1:$((p + 1))" autocluster-tls
  sed -i "s|http://127.0.0.1:$p|https://127.0.0.1:$p|g; s|--unsafe-no-fsync|--cert-file $tls/server.pem --key-file $tls/server-key.pem --unsafe-no-fsync|" \
    "$STORES_DIR/etcd-tls/run.sh"
  echo "etcds $p" >"$STORES_DIR/etcd-tls/health"
  p=$((secure_base + 2))
  etcd_member etcd-mtls "$p" "$((p + 1))" "etcd-mtls=http://127.0.0.1:$((p + 1))" autocluster-mtls
  sed -i "s|http://127.0.0.1:$p|https://127.0.0.1:$p|g; s|--unsafe-no-fsync|--cert-file $tls/server.pem --key-file $tls/server-key.pem --client-cert-auth --trusted-ca-file $tls/ca.pem --unsafe-no-fsync|" \
    "$STORES_DIR/etcd-mtls/run.sh"
  echo "etcds $p" >"$STORES_DIR/etcd-mtls/health"
  p=$((secure_base + 4))
  etcd_member etcd-auth "$p" "$((p + 1))" "etcd-auth=http://127.0.0.1:$((p + 1))" autocluster-auth
  echo "etcd-auth $p" >"$STORES_DIR/etcd-auth/health"
  p=$((secure_base + 6))
  etcd_member etcd-tls-auth "$p" "$((p + 1))" "etcd-tls-auth=http://127.0.0.1:$((p + 1))" autocluster-tls-auth
  sed -i "s|http://127.0.0.1:$p|https://127.0.0.1:$p|g; s|--unsafe-no-fsync|--cert-file $tls/server.pem --key-file $tls/server-key.pem --unsafe-no-fsync|" \
    "$STORES_DIR/etcd-tls-auth/run.sh"
  echo "etcds $p" >"$STORES_DIR/etcd-tls-auth/health"
  names+=(etcd-tls etcd-mtls etcd-auth etcd-tls-auth)
fi

for name in "${names[@]}"; do
  launch "$name"
  started+=("$name")
done
for name in "${names[@]}"; do
  case "$name" in zookeeper*) limit=90 ;; *) limit=45 ;; esac
  wait_healthy "$name" "$limit" || fail
  log "$name is up (pid $(cat "$STORES_DIR/$name/pid"), log $STORES_DIR/$name/log)"
done

# enable_auth NAME ENDPOINT [etcdctl TLS flags…]: a root user with a fresh random password,
# kept in NAME/password (mode 600), then authentication on.
enable_auth() {
  local name=$1 endpoint=$2 password
  shift 2
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  (umask 077 && echo "$password" >"$STORES_DIR/$name/password")
  chmod 600 "$STORES_DIR/$name/password"
  if ! { ETCDCTL_API=3 etcdctl --endpoints="$endpoint" "$@" user add root --new-user-password="$password" \
        && ETCDCTL_API=3 etcdctl --endpoints="$endpoint" "$@" user grant-role root root \
        && ETCDCTL_API=3 etcdctl --endpoints="$endpoint" "$@" auth enable; } >/dev/null 2>"$STORES_DIR/$name/setup.log"; then
    log "could not enable authentication on $name — see $STORES_DIR/$name/setup.log"
    fail
  fi
}
if [ "$secure" = 1 ]; then
  enable_auth etcd-auth "127.0.0.1:$((secure_base + 4))"
  enable_auth etcd-tls-auth "https://127.0.0.1:$((secure_base + 6))" --cacert "$STORES_DIR/tls/ca.pem"
fi

{
  echo "export AUTOCLUSTER_STORES_DIR=$STORES_DIR"
  echo "export ZOOKEEPER_CONNECT=127.0.0.1:$zk_port"
  echo "export ETCD_ENDPOINTS=http://127.0.0.1:$etcd_port"
  if [ "$cluster" = 1 ]; then
    echo "export ZOOKEEPER_ENSEMBLE_CONNECT=127.0.0.1:$zk_base,127.0.0.1:$((zk_base + 1)),127.0.0.1:$((zk_base + 2))"
    echo "export ETCD_CLUSTER_ENDPOINTS=http://127.0.0.1:$etcd_base,http://127.0.0.1:$((etcd_base + 2)),http://127.0.0.1:$((etcd_base + 4))"
  fi
  if [ "$secure" = 1 ]; then
    echo "export AUTOCLUSTER_TLS_DIR=$STORES_DIR/tls"
    echo "export ETCD_TLS_ENDPOINT=https://127.0.0.1:$secure_base"
    echo "export ETCD_MTLS_ENDPOINT=https://127.0.0.1:$((secure_base + 2))"
    echo "export ETCD_AUTH_ENDPOINT=http://127.0.0.1:$((secure_base + 4))"
    echo "export ETCD_AUTH_USER=root"
    echo "export ETCD_AUTH_PASSWORD_FILE=$STORES_DIR/etcd-auth/password"
    echo "export ETCD_TLS_AUTH_ENDPOINT=https://127.0.0.1:$((secure_base + 6))"
    echo "export ETCD_TLS_AUTH_PASSWORD_FILE=$STORES_DIR/etcd-tls-auth/password"
  fi
} | tee "$STORES_DIR/env"
