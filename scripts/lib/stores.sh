# Shared by start-stores.sh, stop-stores.sh and store-ctl.sh: where the stores'
# state lives and how one server is launched, checked and ended.
#
# Layout of $AUTOCLUSTER_STORES_DIR (default ${TMPDIR:-/tmp}/autocluster-stores):
#   env            the export lines start-stores.sh printed
#   NAME/run.sh    the exact command that runs server NAME (exec'd, so its pid is the server's)
#   NAME/pid       the pid start-stores.sh launched
#   NAME/health    "zookeeper PORT" or "etcd PORT"
#   NAME/log       the server's output
#   NAME/data      its data (a fresh directory on every start)

STORES_DIR="${AUTOCLUSTER_STORES_DIR:-${TMPDIR:-/tmp}/autocluster-stores}"

log() { echo "stores: $*" >&2; }

# port_in_use PORT: something on 127.0.0.1 accepts connections on PORT.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# port_free PORT ADVICE: PORT on 127.0.0.1 is free, or becomes free within
# $AUTOCLUSTER_PORT_WAIT_SECONDS (default 15): a server that was just stopped may still be
# closing its listener. Else says who holds it (when ss can tell) and what to do; status 1.
port_free() {
  local port=$1 advice=$2 limit=$(( ${AUTOCLUSTER_PORT_WAIT_SECONDS:-15} * 5 )) waited=0 holder=""
  while port_in_use "$port"; do
    if [ "$waited" -ge "$limit" ]; then
      if command -v ss >/dev/null; then
        holder=$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'users:(([^)]*))' | head -n 1 || true)
      fi
      log "port $port on 127.0.0.1 is still in use after ${AUTOCLUSTER_PORT_WAIT_SECONDS:-15} s${holder:+ ($holder)} — $advice"
      return 1
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
}

# server_alive NAME: the pid we launched for NAME still runs, and is still that server
# (its command line carries the server's directory, so a reused pid is not mistaken for it).
server_alive() {
  local dir="$STORES_DIR/$1" pid
  [ -f "$dir/pid" ] || return 1
  pid=$(cat "$dir/pid")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/" || return 1
}

# healthy NAME: the server answers (ZooKeeper: ruok → imok; etcd: /health → true).
healthy() {
  local kind port
  read -r kind port <"$STORES_DIR/$1/health"
  case "$kind" in
    zookeeper)
      local answer
      answer=$(timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf ruok >&3 && cat <&3" 2>/dev/null) || true
      [ "$answer" = "imok" ] || return 1
      # ruok only says the process runs; srvr says whether it serves (has a quorum).
      timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf srvr >&3 && cat <&3" 2>/dev/null | grep -q '^Mode:'
      ;;
    etcd)
      curl -fsS --max-time 3 "http://127.0.0.1:$port/health" 2>/dev/null | grep -q '"health":"true"'
      ;;
    etcds)
      # TLS member (with client-certificate authentication when it asks for one).
      local tls="$STORES_DIR/tls"
      curl -fsS --max-time 3 --cacert "$tls/ca.pem" --cert "$tls/client.pem" --key "$tls/client-key.pem" \
        "https://127.0.0.1:$port/health" 2>/dev/null | grep -q '"health":"true"'
      ;;
    etcd-auth)
      # Auth-enabled member: /health answers without credentials once the member serves.
      curl -fsS --max-time 3 "http://127.0.0.1:$port/health" 2>/dev/null | grep -q '"health":"true"'
      ;;
    *) return 1 ;;
  esac
}

# launch NAME: run NAME/run.sh in the background, detached from this shell, and record its pid.
launch() {
  local dir="$STORES_DIR/$1"
  nohup setsid bash "$dir/run.sh" >>"$dir/log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
}

# wait_healthy NAME SECONDS: poll until NAME answers; on time-out say which log to read.
wait_healthy() {
  local name=$1 limit=$2 waited=0
  while ! healthy "$name"; do
    if ! server_alive "$name"; then
      log "$name exited during start-up — see $STORES_DIR/$name/log:"
      tail -n 20 "$STORES_DIR/$name/log" >&2 || true
      return 1
    fi
    if [ "$waited" -ge $((limit * 5)) ]; then
      log "$name did not answer within ${limit}s — see $STORES_DIR/$name/log:"
      tail -n 20 "$STORES_DIR/$name/log" >&2 || true
      return 1
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
}

# end NAME: TERM the pid we launched (never a process found by name), KILL after 10 s.
end_server() {
  local name=$1 dir="$STORES_DIR/$1" pid i
  if server_alive "$name"; then
    pid=$(cat "$dir/pid")
    # A stopped (SIGSTOP) server cannot act on TERM until it is continued.
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do server_alive "$name" || break; sleep 0.2; done
    if server_alive "$name"; then
      kill -KILL "$pid" 2>/dev/null || true
      # The next start reuses the ports: wait until the process is really gone.
      for i in $(seq 1 25); do server_alive "$name" || break; sleep 0.2; done
      if server_alive "$name"; then log "$name (pid $pid) is still running 5 s after SIGKILL"; fi
    fi
  fi
  rm -f "$dir/pid"
}

# server_names: every server this directory knows of.
server_names() {
  local d
  for d in "$STORES_DIR"/*/; do
    [ -f "$d/run.sh" ] && basename "$d"
  done
}

# zookeeper_server NAME CLIENT_PORT [MYID SERVERS...]: write the config and run.sh of one server
# (shared by start-stores.sh and start-zookeeper.sh, so both start identical servers).
# With ZOOKEEPER_READONLY_MODE=1 a server cut off from its quorum serves read-only clients:
# that takes -Dreadonlymode.enabled=true and local sessions (3.6+ refuses to open a global
# session in read-only mode: the handshake of a read-only client never gets an answer).
zookeeper_server() {
  local name=$1 port=$2 myid=${3:-} dir="$STORES_DIR/$1" readonly_flag=""
  shift 3 || shift $#
  mkdir -p "$dir/data"
  cat >"$dir/zoo.cfg" <<CFG
tickTime=1000
initLimit=10
syncLimit=5
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
CFG
  if [ -n "$myid" ]; then
    echo "$myid" >"$dir/data/myid"
    printf '%s\n' "$@" >>"$dir/zoo.cfg"
  fi
  if [ "${ZOOKEEPER_READONLY_MODE:-0}" = 1 ]; then
    printf '%s\n' localSessionsEnabled=true localSessionsUpgradingEnabled=true >>"$dir/zoo.cfg"
    readonly_flag="-Dreadonlymode.enabled=true "
  fi
  # extendedTypesEnabled: TTL nodes. znode.container.checkIntervalMs: the container manager, which
  # removes empty container nodes and expired TTL nodes, looks every second instead of every
  # minute (the ZooKeeper tests wait for it).
  cat >"$dir/run.sh" <<RUN
exec java -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \\
  -Dzookeeper.forceSync=no -Dzookeeper.extendedTypesEnabled=true -Dznode.container.checkIntervalMs=1000 ${readonly_flag}\\
  -Dzookeeper.log.dir=$dir -Dzookeeper.root.logger=INFO,CONSOLE -Dzookeeper.console.threshold=INFO \\
  -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar \\
  org.apache.zookeeper.server.quorum.QuorumPeerMain $dir/zoo.cfg
RUN
  echo "zookeeper $port" >"$dir/health"
}
