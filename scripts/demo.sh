#!/usr/bin/env bash
# The first thing to run on a fresh machine. It installs ZooKeeper and etcd (apt), starts them
# on loopback, builds the `autocluster` command, and then, for each store:
#
#   1. starts three members (`autocluster run`) n1, n2, n3 — each listens on its address,
#      joins the node list and keeps itself in it;
#   2. kills n2 with SIGKILL — a crashed node cannot remove itself, so it stays listed;
#   3. starts a fourth member n4; by the time it is ready n2 has been swept (n1, n3 and n4 are a
#      majority of the list and vote it dead);
#   4. stops the members with SIGTERM — each leaves the list on its way out;
#
# printing the node list after every step. With CONSUL_HTTP_ADDR set (docker compose) it
# does the same on Consul. Everything it started (members and stores) is stopped on exit,
# by pid.
#
# Environment: DEMO_BASE_PORT (17001) — the members listen on 127.0.0.1:BASE..BASE+3;
# the stores' ports as in scripts/start-stores.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

base_port="${DEMO_BASE_PORT:-17001}"
grace=2   # seconds: entries younger than this are never swept

members=()          # pids of the members this script started
logs="$(mktemp -d "${TMPDIR:-/tmp}/autocluster-demo.XXXXXX")"
stores_started=0

cleanup() {
  local pid
  for pid in "${members[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${members[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$stores_started" = 1 ]; then scripts/stop-stores.sh || true; fi
  rm -rf "$logs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -t 1 ]; then
  say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  say() { printf '\n== %s\n' "$*"; }
fi

scripts/install-deps.sh
stores_started=1
# (Not eval "$(…)": that would swallow a failed start and go on without the stores.)
stores_env=$(scripts/start-stores.sh) || { echo "demo.sh: the stores did not start (see the lines above)" >&2; exit 1; }
eval "$stores_env"

say "building the autocluster command"
swift build --product autocluster
bin="$(swift build --show-bin-path)/autocluster"

# member NAME INDEX URL KEY: start `autocluster run` in the background and remember its pid.
member() {
  local name=$1 index=$2 url=$3 key=$4
  "$bin" run --store "$url" --key "$key" --name "$name" --address "127.0.0.1:$((base_port + index - 1))" \
    --refresh 1s --sweep-grace "${grace}s" --probe-timeout 300ms >"$logs/$name.out" 2>"$logs/$name.log" &
  members+=("$!")
  eval "pid_$name=$!"
}

# listed URL KEY NAME: whether NAME is in the list.
listed() { "$bin" list --store "$1" --key "$2" --output json 2>/dev/null | grep -q "\"name\":\"$3\""; }

# wait_until SECONDS COMMAND...: poll until COMMAND succeeds.
wait_until() {
  local limit=$1 waited=0
  shift
  until "$@"; do
    sleep 0.2
    waited=$((waited + 1))
    if [ "$waited" -gt $((limit * 5)) ]; then echo "demo: timed out waiting for: $*" >&2; return 1; fi
  done
}

# forget PID: drop a member that has ended from the list of pids to stop.
forget() {
  local keep=() pid
  for pid in "${members[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
  members=("${keep[@]}")
}

show() { "$bin" list --store "$1" --key "$2"; }

demo_store() {
  local label=$1 url=$2 key="/autocluster/demo-$$"
  say "$label: $url, key $key"

  for i in 1 2 3; do
    member "n$i" "$i" "$url" "$key"
    wait_until 30 listed "$url" "$key" "n$i"
  done
  say "$label: three members running"
  show "$url" "$key"

  kill -KILL "$pid_n2"
  wait "$pid_n2" 2>/dev/null || true
  forget "$pid_n2"
  say "$label: n2 killed with SIGKILL — it could not leave, so it is still listed"
  show "$url" "$key"

  sleep "$grace"   # let n2's entry outgrow the sweep grace period
  member n4 4 "$url" "$key"
  wait_until 30 listed "$url" "$key" n4
  wait_until 10 grep -q "^n4 ready" "$logs/n4.out"
  if listed "$url" "$key" n2; then echo "demo: n4 joined but n2 is still listed" >&2; exit 1; fi
  say "$label: n4 joined; n2 was swept by the majority's votes"
  grep "^n4 ready" "$logs/n4.out"
  show "$url" "$key"

  for name in n1 n3 n4; do
    eval "pid=\$pid_$name"
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    forget "$pid"
  done
  say "$label: members stopped with SIGTERM — each left the list"
  show "$url" "$key"
}

demo_store ZooKeeper "zookeeper://$ZOOKEEPER_CONNECT"
demo_store etcd "etcd://${ETCD_ENDPOINTS#http://}"
if [ -n "${CONSUL_HTTP_ADDR:-}" ]; then
  consul_addr="${CONSUL_HTTP_ADDR#http://}"
  demo_store Consul "consul://$consul_addr"
fi

say "done — stopping everything this demo started"
