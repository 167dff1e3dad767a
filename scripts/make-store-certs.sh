#!/usr/bin/env bash
# Generates the certificates the security tests use, into DIR (created; files replaced):
#   ca.pem / ca-key.pem                 the test CA
#   server.pem / server-key.pem         issued by it for localhost and 127.0.0.1 (the etcd TLS members)
#   server-dns.pem / server-dns-key.pem the same with only DNS:localhost (host name checks)
#   client.pem / client-key.pem         a client certificate issued by it (mTLS)
#   untrusted-ca.pem                    another CA, trusted by nobody: a server or client presenting a
#   untrusted-client.pem / -key.pem     certificate from it must be refused
# Test material only: keys are unencrypted and live in DIR.
#
#   scripts/make-store-certs.sh DIR  (used by start-stores.sh --secure and by EtcdTLSTests)
set -euo pipefail
command -v openssl >/dev/null || { echo "make-store-certs: openssl not found (apt-get install openssl)" >&2; exit 1; }
dir=${1:?usage: make-store-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
days=30

ca() {  # NAME SUBJECT
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1-key.pem" -out "$1.pem" -days "$days" \
    -subj "/CN=$2" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
leaf() {  # NAME CA SUBJECT EXTENSIONS
  openssl req -newkey rsa:2048 -nodes -keyout "$1-key.pem" -out "$1.csr" -subj "/CN=$3" 2>/dev/null
  printf '%s\n' "$4" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2-key.pem" -CAcreateserial -out "$1.pem" \
    -days "$days" -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca "AutoCluster test CA"
ca untrusted-ca "AutoCluster untrusted CA"
leaf server ca localhost "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth,clientAuth"
leaf server-dns ca localhost "subjectAltName=DNS:localhost
extendedKeyUsage=serverAuth"
leaf client ca autocluster-client "extendedKeyUsage=clientAuth"
leaf untrusted-client untrusted-ca autocluster-intruder "extendedKeyUsage=clientAuth"
chmod 600 ./*-key.pem
ls "$dir"
