#!/usr/bin/env bash
# Searches log and output files for every secret the tests use, and fails if one appears:
#
#   scripts/scan-secrets.sh [--self-check] FILE...      (run by scripts/test.sh after the suite)
#
# The secrets: the lines of $AUTOCLUSTER_TEST_SECRETS_FILE (passwords and tokens the tests
# registered with TestSecrets.register), the etcd root passwords start-stores.sh generated
# ($AUTOCLUSTER_STORES_DIR/*/password), every base64 line of the test private keys
# ($AUTOCLUSTER_TLS_DIR/*-key.pem), $CONSUL_HTTP_TOKEN, and the literal passwords and tokens
# of the test sources (`password: "…"`, `token: "…"` in Tests/). Secrets shorter than 8 characters
# are ignored. A finding names the file, the line number and the kind of secret — never the secret.
#
# --self-check first proves the scan can fail: one of the secrets is planted in a scratch file,
# which must be reported; and the first FILE (the capture) must hold the capture's start marker,
# i.e. logging really went through it. Exit: 0 clean, 1 a secret found, 2 the scan cannot be trusted.
set -euo pipefail
self_check=0
if [ "${1:-}" = "--self-check" ]; then self_check=1; shift; fi
[ $# -gt 0 ] || { echo "usage: scan-secrets.sh [--self-check] FILE..." >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/autocluster-scan.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"
: >"$work/kinds"   # KIND<TAB>SECRET

add() {  # KIND SECRET
  [ "${#2}" -ge 8 ] && printf '%s\t%s\n' "$1" "$2" >>"$work/kinds"
  return 0
}
if [ -n "${AUTOCLUSTER_TEST_SECRETS_FILE:-}" ] && [ -f "$AUTOCLUSTER_TEST_SECRETS_FILE" ]; then
  while IFS= read -r secret; do add "a test secret (TestSecrets.register)" "$secret"; done <"$AUTOCLUSTER_TEST_SECRETS_FILE"
fi
if [ -n "${AUTOCLUSTER_STORES_DIR:-}" ]; then
  for file in "$AUTOCLUSTER_STORES_DIR"/*/password; do
    [ -f "$file" ] || continue
    add "the etcd password in $file" "$(head -n 1 "$file")"
  done
fi
if [ -n "${AUTOCLUSTER_TLS_DIR:-}" ]; then
  for file in "$AUTOCLUSTER_TLS_DIR"/*-key.pem; do
    [ -f "$file" ] || continue
    while IFS= read -r line; do
      case "$line" in -----*) ;; *) [ "${#line}" -ge 16 ] && add "a line of the private key $file" "$line" ;; esac
    done <"$file"
  done
fi
if [ -n "${CONSUL_HTTP_TOKEN:-}" ]; then add "CONSUL_HTTP_TOKEN" "$CONSUL_HTTP_TOKEN"; fi
tests="$(cd "$(dirname "$0")/.." && pwd)/Tests"
if [ -d "$tests" ]; then
  # Literal (not interpolated) secrets in the test sources.
  while IFS= read -r secret; do add "a literal password or token in Tests/" "$secret"; done < <(
    grep -rhoE '(password|token|Token|credentials): "[^"\\]{8,}"' "$tests" --include='*.swift' | sed -E 's/^[^"]*"(.*)"$/\1/' | sort -u)
fi
sort -u -o "$work/kinds" "$work/kinds"
cut -f2- "$work/kinds" | sort -u >"$work/patterns"
count=$(wc -l <"$work/patterns")

# scan FILE...: report each line holding a secret (by kind); status 1 when any does.
scan() {
  local found=0 file hits
  for file in "$@"; do
    [ -f "$file" ] || continue
    # grep -F finds the lines fast; awk names which secret each holds, without printing it.
    hits=$(grep -n -a -F -f "$work/patterns" "$file" | awk -F'\t' -v file="$file" '
      NR == FNR { kind[NR] = $1; secret[NR] = substr($0, length($1) + 2); n = NR; next }
      {
        colon = index($0, ":"); line = substr($0, 1, colon - 1); text = substr($0, colon + 1)
        for (i = 1; i <= n; i++) if (index(text, secret[i])) print file ":" line ": " kind[i]
      }' "$work/kinds" -) || true
    if [ -n "$hits" ]; then
      printf '%s\n' "$hits" | sort -u | sed 's/^/secret scan: /' >&2
      found=1
    fi
  done
  return $found
}

if [ "$self_check" = 1 ]; then
  if [ "$count" -eq 0 ]; then
    echo "secret scan: no secrets known (AUTOCLUSTER_TEST_SECRETS_FILE, AUTOCLUSTER_STORES_DIR, AUTOCLUSTER_TLS_DIR unset?) — cannot check" >&2
    exit 2
  fi
  planted=$(sed -n '1p' "$work/patterns")
  printf 'a line\nsome text %s more text\nanother line\n' "$planted" >"$work/planted"
  if scan "$work/planted" 2>/dev/null; then
    echo "secret scan: self-check failed — a planted secret was not found; the scan cannot be trusted" >&2
    exit 2
  fi
  if ! grep -q -a '^=== autocluster test log capture' "$1" 2>/dev/null; then
    echo "secret scan: $1 has no capture marker — the whole-run log capture did not run (AUTOCLUSTER_TEST_LOG_FILE)" >&2
    exit 2
  fi
fi

if scan "$@"; then
  lines=0
  for file in "$@"; do [ -f "$file" ] && lines=$((lines + $(wc -l <"$file"))); done
  echo "secret scan: none of $count secrets in $lines lines of $*" >&2
else
  echo "secret scan: FAILED — a secret appears in a log line or error text above" >&2
  exit 1
fi
