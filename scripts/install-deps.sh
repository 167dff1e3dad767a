#!/usr/bin/env bash
# Installs, with apt-get, the Debian packages AutoCluster builds and tests with —
# only those that are missing, so a second run does nothing. Needs root (or sudo).
set -euo pipefail

packages=(
  libzookeeper-mt-dev   # the official ZooKeeper C client (multi-threaded)
  libnghttp2-dev        # HTTP/2 engine of the etcd gRPC transport
  libprotobuf-c-dev     # etcd message encoding
  protobuf-c-compiler   # protoc-c, for scripts/generate-protos.sh
  zookeeper             # a real ZooKeeper server for the tests
  etcd-server           # a real etcd server for the tests
  etcd-client           # etcdctl, for interoperability tests
  nghttp2-client        # h2load, the etcd benchmark reference
  curl                  # health checks in start-stores.sh
  openssl               # test certificates for TLS
  procps                # ps/pgrep used by the scripts' checks
  iproute2              # ip netns / veth for the partition tests (PartitionTests)
  time                  # GNU time: each CI part's CPU seconds (scripts/test.sh)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
