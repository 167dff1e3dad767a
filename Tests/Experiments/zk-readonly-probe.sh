#!/usr/bin/env bash
# Shows whether a ZooKeeper server that lost its quorum answers a read-only client, with and
# without local sessions. For each case: a 3-server ensemble with -Dreadonlymode.enabled=true,
# two servers killed, then a raw read-only handshake (a ConnectRequest with readOnly=1, sent with
# bash's /dev/tcp) to the survivor. Prints the survivor's srvr Mode/Outstanding and what the
# handshake got back. Everything is on 127.0.0.1, bounded in time, and the servers it starts are
# stopped on exit (by the pids it launched).
#
#   Tests/Experiments/zk-readonly-probe.sh  # ports 30700-30722 (ZK_PROBE_BASE_PORT to change)
#
# Seen with Debian's ZooKeeper 3.8.0: without local sessions the handshake gets no answer (the
# server logs "Client attempting to establish new session" and never "Established session";
# srvr's Outstanding grows); with localSessionsEnabled=true it gets a session with readOnly=1.
set -euo pipefail
here="$(cd "$(dirname "$0")/../../scripts" && pwd)"
export AUTOCLUSTER_STORES_DIR="${AUTOCLUSTER_STORES_DIR:-${TMPDIR:-/tmp}/autocluster-zk-readonly-probe}"
. "$here/lib/stores.sh"
base="${ZK_PROBE_BASE_PORT:-30700}"
command -v java >/dev/null && [ -f /usr/share/java/zookeeper.jar ] || { log "ZooKeeper not installed — install ZooKeeper (Debian: apt-get install zookeeper)"; exit 1; }

stop_all() { for n in probe1 probe2 probe3; do end_server "$n"; done; }
trap stop_all EXIT

four() { timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && printf $2 >&3 && cat <&3" 2>/dev/null || true; }

# handshake PORT: a read-only ConnectRequest (protocol 0, zxid 0, timeout 6000 ms, session 0,
# 16-byte zero password, readOnly true); prints the answer's session id and readOnly flag.
handshake() {
  local answer
  answer=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1
    printf '\x00\x00\x00\x2d\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x17\x70\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10' >&3
    printf '\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01' >&3
    head -c 41 <&3 | od -An -tx1 -v" 2>/dev/null | tr -d ' \n') || true
  if [ ${#answer} -lt 82 ]; then
    echo "no answer within 5 s (got ${#answer} hex digits: ${answer:-nothing})"
  else
    echo "session 0x${answer:24:16}, negotiated timeout $((16#${answer:16:8})) ms, readOnly=${answer:80:2}"
  fi
}

probe() {
  local local_sessions=$1 i servers=()
  stop_all
  rm -rf "${STORES_DIR:?}"
  mkdir -p "$STORES_DIR"
  for i in 1 2 3; do servers+=("server.$i=127.0.0.1:$((base + 9 + i)):$((base + 19 + i))"); done
  for i in 1 2 3; do
    port_in_use "$((base + i - 1))" && { log "port $((base + i - 1)) is in use — set ZK_PROBE_BASE_PORT"; exit 1; }
    ZOOKEEPER_READONLY_MODE=1 zookeeper_server "probe$i" "$((base + i - 1))" "$i" "${servers[@]}"
    [ "$local_sessions" = 1 ] || sed -i '/^localSessions/d' "$STORES_DIR/probe$i/zoo.cfg"
  done
  for i in 1 2 3; do launch "probe$i"; done
  disown -a  # no "Killed" job reports when two of them are killed
  for i in 1 2 3; do wait_healthy "probe$i" 90; done
  echo "== localSessionsEnabled=$([ "$local_sessions" = 1 ] && echo true || echo false): ensemble up; killing probe2 and probe3"
  kill -KILL "$(cat "$STORES_DIR/probe2/pid")" "$(cat "$STORES_DIR/probe3/pid")"
  for i in $(seq 1 30); do four "$base" srvr | grep -q '^Mode: read-only' && break; sleep 1; done
  echo "survivor: $(four "$base" srvr | grep -E '^Mode' | tr '\n' ' ')"
  echo "read-only handshake: $(handshake "$base")"
  echo "survivor: $(four "$base" srvr | grep -E '^(Mode|Outstanding)' | tr '\n' ' ')"
}

probe 0
probe 1
