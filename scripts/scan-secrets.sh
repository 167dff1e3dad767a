#!/usr/bin/env bash
# Searches log and output files for every secret the tests use, and fails if one appears:
#
#   scripts/scan-secrets.sh [--self-check] [--require-kind KIND]... FILE...   (run by scripts/test.sh)
#
# The secrets: the lines of $AUTOCLUSTER_TEST_SECRETS_FILE (what the tests registered with
# TestSecrets.register, each as KIND<TAB>SECRET: passwords, etcd auth tokens, ZooKeeper session
# passwords, Consul ACL tokens), the etcd root passwords start-stores.sh generated
# ($AUTOCLUSTER_STORES_DIR/*/password), every base64 line of the test private keys
# ($AUTOCLUSTER_TLS_DIR/*-key.pem), $CONSUL_HTTP_TOKEN, and the literal passwords and tokens
# of the test sources (`password: "…"`, `token: "…"` in Tests/). Secrets shorter than 8 characters
# are ignored. Each is searched as it is and in the forms a log line or an error could carry it
# in: percent-encoded (as in a URL), JSON-escaped (`\/`, `\"`, `\uXXXX`), and base64 — also
# inside a longer base64 text (as in an `Authorization: Basic` header), at each of the three
# byte alignments. A finding names the file, the line number, the kind of secret and the form —
# never the secret.
#
# --self-check first proves the scan can fail: one secret of each kind is planted in a scratch
# file in every form (plus a made-up secret with the characters that each encoding changes),
# and each must be reported; and the first FILE (the capture) must hold the capture's start
# marker, i.e. logging really went through it. --require-kind KIND (a registered kind, e.g.
# "etcd auth token") fails the self-check when the run registered no secret of that kind.
# Exit: 0 clean, 1 a secret found, 2 the scan cannot be trusted.
set -euo pipefail
self_check=0
required_kinds=()
while [ $# -gt 0 ]; do
  case "$1" in
    --self-check) self_check=1; shift ;;
    --require-kind) required_kinds+=("$2"); shift 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: scan-secrets.sh [--self-check] [--require-kind KIND]... FILE..." >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/autocluster-scan.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"
: >"$work/kinds"   # KIND<TAB>SECRET

add() {  # KIND SECRET
  [ "${#2}" -ge 8 ] && printf '%s\t%s\n' "$1" "$2" >>"$work/kinds"
  return 0
}
if [ -n "${AUTOCLUSTER_TEST_SECRETS_FILE:-}" ] && [ -f "$AUTOCLUSTER_TEST_SECRETS_FILE" ]; then
  tab=$'\t'
  while IFS= read -r line; do
    case "$line" in
      *"$tab"*) add "${line%%"$tab"*} (TestSecrets.register)" "${line#*"$tab"}" ;;
      *) add "a test secret (TestSecrets.register)" "$line" ;;
    esac
  done <"$AUTOCLUSTER_TEST_SECRETS_FILE"
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
cp "$work/kinds" "$work/originals"

# forms: KIND<TAB>SECRET lines in, KIND (FORM)<TAB>VARIANT lines out, for every form of each
# secret that differs from it and is at least 8 characters long. Bytes, not characters (LC_ALL=C).
forms() {
  LC_ALL=C awk -F'\t' '
    BEGIN {
      for (i = 0; i < 256; i++) ord[sprintf("%c", i)] = i
      b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    }
    # RFC 3986 (unreserved characters kept), or with strict set every byte but letters and digits.
    function percent(s, upper, strict,   out, i, c) {
      out = ""
      for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c ~ /[A-Za-z0-9]/ || (!strict && c ~ /[._~-]/)) out = out c
        else out = out sprintf(upper ? "%%%02X" : "%%%02x", ord[c])
      }
      return out
    }
    function json(s, slash,   out, i, c) {
      out = ""
      for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "\"") out = out "\\\""
        else if (c == "\\") out = out "\\\\"
        else if (c == "/" && slash) out = out "\\/"
        else if (ord[c] < 32 || ord[c] == 127) out = out sprintf("\\u%04x", ord[c])
        else out = out c
      }
      return out
    }
    # The base64 characters of s that do not depend on the bytes around it, when s starts at
    # byte offset k (0, 1, 2) of a longer base64-encoded text.
    function base64core(s, k,   bytes, n, i, out, v, skip, full) {
      bytes = substr("\001\001", 1, k) s
      n = length(bytes)
      full = n - n % 3
      out = ""
      for (i = 1; i <= full; i += 3) {
        v = ord[substr(bytes, i, 1)] * 65536 + ord[substr(bytes, i + 1, 1)] * 256 + ord[substr(bytes, i + 2, 1)]
        out = out substr(b64, int(v / 262144) % 64 + 1, 1) substr(b64, int(v / 4096) % 64 + 1, 1) \
                  substr(b64, int(v / 64) % 64 + 1, 1) substr(b64, v % 64 + 1, 1)
      }
      skip = (k == 0) ? 0 : k + 1   # the characters that hold bits of the filler bytes
      return substr(out, skip + 1)
    }
    function emit(kind, form, variant, secret) {
      if (variant != secret && length(variant) >= 8 && !seen[kind SUBSEP variant]++) print kind " (" form ")\t" variant
    }
    {
      kind = $1; secret = substr($0, length($1) + 2)
      print kind "\t" secret
      emit(kind, "percent-encoded", percent(secret, 1, 0), secret)
      emit(kind, "percent-encoded", percent(secret, 0, 0), secret)
      emit(kind, "percent-encoded", percent(secret, 1, 1), secret)
      emit(kind, "JSON-escaped", json(secret, 0), secret)
      emit(kind, "JSON-escaped", json(secret, 1), secret)
      for (k = 0; k < 3; k++) {
        core = base64core(secret, k)
        emit(kind, "base64", core, secret)
        url = core; gsub(/\+/, "-", url); gsub(/\//, "_", url)
        emit(kind, "base64url", url, secret)
      }
    }'
}
forms <"$work/originals" | sort -u >"$work/kinds"
cut -f2- "$work/kinds" | sort -u >"$work/patterns"
count=$(wc -l <"$work/originals")
variants=$(wc -l <"$work/patterns")

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
  for kind in "${required_kinds[@]}"; do
    # (Not `cut | grep -q`: under pipefail, grep -q leaving at the first match kills cut with
    # SIGPIPE once the list outgrows the pipe, and the pipeline fails although the kind is there.)
    if ! grep -q -F "$kind" < <(cut -f1 "$work/originals"); then
      echo "secret scan: the run registered no $kind — the scan cannot show that it covers them" >&2
      exit 2
    fi
  done
  # Plant one secret of each kind in each form, each form encoded here by other means than
  # forms() (coreutils base64, od), so that a wrong encoder cannot agree with itself.
  # The made-up secret has the characters that percent-encoding and JSON escaping change.
  printf 'the self-check (made up)\t%s\n' 'self/check+secret="quoted"\back' >>"$work/originals"
  printf 'the self-check (made up)\t%s\n' 'self/check+secret="quoted"\back' | forms >>"$work/kinds"
  cut -f2- "$work/kinds" | sort -u >"$work/patterns"
  percent_of() {  # every byte but [A-Za-z0-9._~-] as %XX
    local hex out="" i byte
    hex=$(printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n')
    for ((i = 0; i < ${#hex}; i += 2)); do
      byte=${hex:i:2}
      case "$byte" in
        2d|2e|5f|7e|3[0-9]|4[1-9a-f]|5[0-9a]|6[1-9a-f]|7[0-9a]) out+=$(printf "\\x$byte") ;;
        *) out+="%${byte^^}" ;;
      esac
    done
    printf '%s' "$out"
  }
  failed=0
  while IFS=$'\t' read -r kind secret; do
    json=${secret//\\/\\\\}; json=${json//\"/\\\"}; json=${json//\//\\/}
    i=0
    for planted in "$secret" "$(percent_of "$secret")" "$json" "$(printf '%s--' "$secret" | base64 -w0)" \
        "$(printf 'x%s--' "$secret" | base64 -w0)" "$(printf 'xy%s--' "$secret" | base64 -w0)" \
        "$(printf 'user:%s' "$secret" | base64 -w0)"; do
      i=$((i + 1))
      printf 'a line\nsome text %s more text\nanother line\n' "$planted" >"$work/planted"
      if scan "$work/planted" 2>/dev/null; then
        echo "secret scan: self-check failed — a planted $kind (form $i) was not found; the scan cannot be trusted" >&2
        failed=1
      fi
    done
  done < <(awk -F'\t' '!seen[$1]++' "$work/originals")
  [ "$failed" = 0 ] || exit 2
  planted_kinds=$(awk -F'\t' '!seen[$1]++' "$work/originals" | wc -l)
  if ! grep -q -a '^=== autocluster test log capture' "$1" 2>/dev/null; then
    echo "secret scan: $1 has no capture marker — the whole-run log capture did not run (AUTOCLUSTER_TEST_LOG_FILE)" >&2
    exit 2
  fi
  echo "secret scan: self-check: one secret of each of $planted_kinds kinds planted in 7 forms (as is, percent-encoded, JSON-escaped, base64 at 3 alignments and after user:), each found" >&2
fi

if scan "$@"; then
  lines=0
  for file in "$@"; do [ -f "$file" ] && lines=$((lines + $(wc -l <"$file"))); done
  echo "secret scan: none of $count secrets ($variants forms) in $lines lines of $*" >&2
else
  echo "secret scan: FAILED — a secret appears in a log line or error text above" >&2
  exit 1
fi
