#!/usr/bin/env bash
# Makes the certificates of the etcd TLS tests with openssl, into DIR (default: a new temp dir,
# printed on stdout):
#   ca.pem ca.key                 the test CA
#   server.pem server.key         etcd's server certificate, SAN IP:127.0.0.1, DNS:localhost
#   server-dns.pem server-dns.key the same with only DNS:localhost (for host name checks)
#   client.pem client.key         a client certificate signed by the CA (mTLS), CN=root
#   other-ca.pem other-ca.key     an unrelated CA (for "a wrong CA is refused")
#
#   scripts/make-test-certs.sh [DIR]
set -euo pipefail
command -v openssl >/dev/null || { echo "make-test-certs: openssl not found — apt-get install openssl" >&2; exit 1; }
dir="${1:-$(mktemp -d)}"
mkdir -p "$dir"
cd "$dir"

ca() { # NAME CN
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$2" \
    -keyout "$1.key" -out "$1.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
leaf() { # NAME CN EXTFILE-CONTENT
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf '%s\n' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca "AutoCluster test CA"
ca other-ca "Some other CA"
leaf server "localhost" "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth,clientAuth
keyUsage=critical,digitalSignature,keyEncipherment"
leaf server-dns "localhost" "subjectAltName=DNS:localhost
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature,keyEncipherment"
leaf client "root" "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature,keyEncipherment"
echo "$dir"
