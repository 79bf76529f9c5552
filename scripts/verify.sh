#!/usr/bin/env bash
# Check a notes-mcp endpoint end to end after a boot, an upgrade or a config change: launchd
# state, nginx config, certificate expiry, /health, MCP initialize + tools/list (latency), a
# search_notes call, the auth and Origin negatives, and a comparison with a stored baseline.
# Prints one line per check, then a one-line summary; exits non-zero when any check fails.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$HERE/lib/common.sh"

usage() {
  cat <<'EOF'
Usage: verify.sh URL [options]

  URL                    the endpoint without /mcp: https://notes.example.com, https://127.0.0.1:8443,
                         or http://127.0.0.1:8765 (the daemon itself, on the Mac)
  --token-file FILE      file holding a bearer token (e.g. the instance's access.token)
  --insecure             do not verify the TLS certificate (self-signed trials)
  --cacert FILE          trust this CA (the private CA's ca.pem)
  --resolve-ip IP        connect to IP whatever the URL's name resolves to (curl --resolve)
  --runs N               tools/list calls to time (default 20)
  --baseline FILE        latency baseline to compare with; recorded there when missing
                         (default ~/.notes-mcp/baseline-<host>-<port>.env)
  --no-baseline          neither compare nor record
  --update-baseline      record this run as the new baseline
  --tolerance PCT        allowed p95 slowdown against the baseline (default 50)
  --instance NAME        instance whose launchd job is checked (default: default)
  --mode daemon|agent    launchd domain of that job (default: daemon)
  --nginx-conf FILE      nginx.conf to test (default /opt/notes-mcp/etc/nginx/nginx.conf)
  --no-service           skip the launchd and nginx -t checks (another machine, Linux)
  --query TEXT           search_notes query (default "notes")
  --min-cert-days N      fail when the certificate expires sooner (default 2)
  --timeout S            per-request timeout in seconds (default 15)
  -h, --help             this help

Exit status: 0 when every check passes, 1 otherwise.
EOF
}

URL="" TOKEN_FILE="" TLS_OPTS=() RESOLVE_IP="" RUNS=20 BASELINE="" NO_BASELINE=0 UPDATE_BASELINE=0 TOLERANCE=50
INSTANCE=default MODE=daemon NGINX_CONF="" NO_SERVICE=0 QUERY=notes MIN_CERT_DAYS=2 TIMEOUT=15
need() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value (see --help)"; fi; }
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --token-file) need "$@"; TOKEN_FILE=$2; shift 2 ;;
    --insecure) TLS_OPTS=(--insecure); shift ;;
    --cacert) need "$@"; TLS_OPTS=(--cacert "$2"); shift 2 ;;
    --resolve-ip) need "$@"; RESOLVE_IP=$2; shift 2 ;;
    --runs) need "$@"; RUNS=$2; shift 2 ;;
    --baseline) need "$@"; BASELINE=$2; shift 2 ;;
    --no-baseline) NO_BASELINE=1; shift ;;
    --update-baseline) UPDATE_BASELINE=1; shift ;;
    --tolerance) need "$@"; TOLERANCE=$2; shift 2 ;;
    --instance) need "$@"; INSTANCE=$2; shift 2 ;;
    --mode) need "$@"; MODE=$2; shift 2 ;;
    --nginx-conf) need "$@"; NGINX_CONF=$2; shift 2 ;;
    --no-service) NO_SERVICE=1; shift ;;
    --query) need "$@"; QUERY=$2; shift 2 ;;
    --min-cert-days) need "$@"; MIN_CERT_DAYS=$2; shift 2 ;;
    --timeout) need "$@"; TIMEOUT=$2; shift 2 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$URL" ] || die "one URL only (got $URL and $1)"; URL=$1; shift ;;
  esac
done
[ -n "$URL" ] || { usage >&2; exit 2; }
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive number"
URL=${URL%/}
URL=${URL%/mcp}
[[ $URL =~ ^(https?)://(\[[0-9a-fA-F:]+\]|[^/:]+)(:([0-9]+))?$ ]] || die "URL must look like https://host[:port]"
SCHEME=${BASH_REMATCH[1]} HOST=${BASH_REMATCH[2]} PORT=${BASH_REMATCH[4]}
[ -n "$PORT" ] || { [ "$SCHEME" = https ] && PORT=443 || PORT=80; }

NODE=${NODE:-}
for candidate in "$(command -v node 2>/dev/null || true)" /opt/homebrew/opt/node@24/bin/node /usr/local/opt/node@24/bin/node; do
  if [ -z "$NODE" ] && [ -n "$candidate" ] && [ -x "$candidate" ]; then NODE=$candidate; fi
done
[ -n "$NODE" ] || die "node not found (set NODE=/path/to/node)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/notes-mcp-verify.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
chmod 700 "$WORK"

# The token goes into a curl config file (mode 600), never onto a command line other users can see.
AUTH_CFG="$WORK/auth.curlrc"
: >"$AUTH_CFG"
if [ -n "$TOKEN_FILE" ]; then
  if [ -r "$TOKEN_FILE" ]; then TOKEN=$(tr -d ' \r\n' <"$TOKEN_FILE")
  elif TOKEN=$(sudo -n cat "$TOKEN_FILE" 2>/dev/null | tr -d ' \r\n') && [ -n "$TOKEN" ]; then :
  else die "cannot read $TOKEN_FILE (run with sudo, or copy the token to a file you can read)"; fi
  printf 'header = "Authorization: Bearer %s"\n' "$TOKEN" >"$AUTH_CFG"
  unset TOKEN
fi

CURL=(curl -sS --max-time "$TIMEOUT" ${TLS_OPTS[@]+"${TLS_OPTS[@]}"})
[ -n "$RESOLVE_IP" ] && CURL+=(--resolve "${HOST//[\[\]]/}:$PORT:$RESOLVE_IP")

PASSED=0 FAILED=() SKIPPED=0
pass() { PASSED=$((PASSED + 1)); printf 'PASS %-16s %s\n' "$1" "${2:-}"; }
fail() { FAILED+=("$1"); printf 'FAIL %-16s %s\n' "$1" "${2:-}"; }
skip() { SKIPPED=$((SKIPPED + 1)); printf 'SKIP %-16s %s\n' "$1" "${2:-}"; }

# JSON-RPC answer with id ID from a response body, plain JSON or SSE (data: lines); EXPR is a JS
# expression over it (m). Exits 2 when no such response is in the body.
NODE_PICK='
const fs = require("fs");
const [file, id, expr] = process.argv.slice(1);
const text = fs.readFileSync(file, "utf8");
const msgs = [];
if (/^\s*[[{]/.test(text)) { const v = JSON.parse(text); msgs.push(...(Array.isArray(v) ? v : [v])); }
else for (const event of text.split(/\r?\n\r?\n/)) {
  const data = event.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, "")).join("\n");
  if (data) try { msgs.push(JSON.parse(data)); } catch {}
}
const m = msgs.find((x) => x && String(x.id) === id);
if (!m) { console.error("no JSON-RPC response with id " + id + " in: " + text.slice(0, 300)); process.exit(2); }
const out = new Function("m", "return (" + expr + ");")(m);
process.stdout.write(typeof out === "string" ? out : JSON.stringify(out));
'
pick() { "$NODE" -e "$NODE_PICK" "$@"; }

SESSION=""
# mcp NAME BODY [curl args...]: POST to /mcp; leaves $WORK/NAME.body and .headers, prints "status seconds".
mcp() {
  local name=$1 body=$2
  shift 2
  local args=(-K "$AUTH_CFG" -X POST "$URL/mcp" -H 'Content-Type: application/json'
    -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-11-25'
    -D "$WORK/$name.headers" -o "$WORK/$name.body" -w '%{http_code} %{time_total}' --data-binary "$body")
  [ -n "$SESSION" ] && args+=(-H "Mcp-Session-Id: $SESSION")
  "${CURL[@]}" "${args[@]}" "$@" 2>"$WORK/$name.err" || printf '000 0'
}
status_of() { printf '%s' "${1%% *}"; }

# --------------------------------------------------------------------------------------------
if [ "$NO_SERVICE" = 1 ] || ! command -v launchctl >/dev/null 2>&1; then
  skip service "$([ "$NO_SERVICE" = 1 ] && echo '--no-service' || echo 'launchctl not found (not macOS)')"
  skip nginx-config "$([ "$NO_SERVICE" = 1 ] && echo '--no-service' || echo 'not macOS')"
else
  if [ "$MODE" = daemon ]; then DOMAIN=system; else DOMAIN="gui/$(id -u)"; fi
  LABEL="com.notes-mcp.$INSTANCE"
  # print works unprivileged on most macOS versions; never prompt for a password here.
  STATE=$({ launchctl print "$DOMAIN/$LABEL" 2>/dev/null || sudo -n launchctl print "$DOMAIN/$LABEL" 2>/dev/null; } |
    awk -F' = ' '/^\tstate = / { print $2; exit }' || true)
  if [ "$STATE" = running ]; then pass service "$DOMAIN/$LABEL is running"
  else fail service "$DOMAIN/$LABEL is ${STATE:-not loaded} (sudo launchctl print $DOMAIN/$LABEL)"; fi
  NGINX_CONF=${NGINX_CONF:-/opt/notes-mcp/etc/nginx/nginx.conf}
  NGINX_BIN=""
  for b in /opt/homebrew/opt/nginx/bin/nginx /usr/local/opt/nginx/bin/nginx "$(command -v nginx 2>/dev/null || true)"; do
    if [ -z "$NGINX_BIN" ] && [ -n "$b" ] && [ -x "$b" ]; then NGINX_BIN=$b; fi
  done
  # shellcheck disable=SC2024 # the output is ours to read; only nginx needs root (for the TLS key)
  if [ ! -f "$NGINX_CONF" ] || [ -z "$NGINX_BIN" ]; then
    skip nginx-config "no $NGINX_CONF or nginx binary"
  elif sudo -n "$NGINX_BIN" -t -q -c "$NGINX_CONF" >"$WORK/nginx-t" 2>&1; then
    pass nginx-config "nginx -t accepts $NGINX_CONF"
  elif ! sudo -n true 2>/dev/null; then
    skip nginx-config "needs root to read the TLS key: run verify.sh with sudo"
  else
    fail nginx-config "$(tail -n 1 "$WORK/nginx-t")"
  fi
fi

if [ "$SCHEME" != https ]; then
  skip certificate "plain HTTP"
else
  CONNECT="${RESOLVE_IP:-${HOST//[\[\]]/}}:$PORT"
  SNI=()
  [[ $HOST =~ ^[0-9.]+$|^\[ ]] || SNI=(-servername "$HOST")
  if END=$(openssl s_client -connect "$CONNECT" ${SNI[@]+"${SNI[@]}"} </dev/null 2>/dev/null | openssl x509 -noout -enddate 2>/dev/null); then
    END=${END#notAfter=}
    if openssl s_client -connect "$CONNECT" ${SNI[@]+"${SNI[@]}"} </dev/null 2>/dev/null |
      openssl x509 -noout -checkend $((MIN_CERT_DAYS * 86400)) >/dev/null 2>&1; then
      pass certificate "expires $END"
    else
      fail certificate "expires $END, within $MIN_CERT_DAYS day(s): check the renewal job (RUNBOOK.md)"
    fi
  else
    fail certificate "no TLS certificate from $CONNECT"
  fi
fi

HEALTH=$("${CURL[@]}" -o "$WORK/health.body" -w '%{http_code}' "$URL/health" 2>"$WORK/health.err" || printf '000')
if [ "$HEALTH" = 200 ] && "$NODE" -e 'const h = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); if (!h.status) process.exit(1)' "$WORK/health.body" 2>/dev/null; then
  pass health "$(head -c 160 "$WORK/health.body")"
else
  fail health "GET $URL/health -> $HEALTH $(head -c 160 "$WORK/health.err" "$WORK/health.body" 2>/dev/null | tr '\n' ' ')"
fi

INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"notes-mcp-verify","version":"1"}}}'
R=$(mcp init "$INIT")
if [ "$(status_of "$R")" = 200 ] && SERVER=$(pick "$WORK/init.body" 1 'm.result.serverInfo.name + " " + m.result.serverInfo.version + ", protocol " + m.result.protocolVersion' 2>"$WORK/init.pick"); then
  SESSION=$(awk 'tolower($1) == "mcp-session-id:" { print $2 }' "$WORK/init.headers" | tr -d '\r')
  pass initialize "$SERVER${SESSION:+, session }${SESSION:0:8}"
  mcp initialized '{"jsonrpc":"2.0","method":"notifications/initialized"}' >/dev/null
  INITIALIZED=1
else
  fail initialize "POST $URL/mcp -> $(status_of "$R") $(head -c 200 "$WORK/init.err" "$WORK/init.body" "$WORK/init.pick" 2>/dev/null | tr '\n' ' ')"
  INITIALIZED=0
fi

P50="" P95="" P99=""
if [ "$INITIALIZED" = 1 ]; then
  : >"$WORK/latencies"
  LIST_OK=1
  for i in $(seq 1 "$RUNS"); do
    R=$(mcp list "{\"jsonrpc\":\"2.0\",\"id\":$((i + 100)),\"method\":\"tools/list\"}")
    if [ "$(status_of "$R")" != 200 ] || ! NAMES=$(pick "$WORK/list.body" $((i + 100)) 'm.result.tools.map((t) => t.name).sort().join(",")' 2>/dev/null); then
      LIST_OK=0
      fail tools/list "call $i -> $(status_of "$R") $(head -c 200 "$WORK/list.body" 2>/dev/null)"
      break
    fi
    awk -v s="${R#* }" 'BEGIN { printf "%.1f\n", s * 1000 }' >>"$WORK/latencies"
  done
  if [ "$LIST_OK" = 1 ]; then
    MISSING=""
    for tool in search_notes read_note write_note list_notes reindex; do
      case ",$NAMES," in *",$tool,"*) ;; *) MISSING+=" $tool" ;; esac
    done
    sort -n "$WORK/latencies" >"$WORK/sorted"
    pct() { awk -v q="$1" '{ v[NR] = $1 } END { r = int(q * NR + 0.999999); if (r < 1) r = 1; print v[r] }' "$WORK/sorted"; }
    P50=$(pct 0.50) P95=$(pct 0.95) P99=$(pct 0.99)
    if [ -z "$MISSING" ]; then pass tools/list "$RUNS calls: p50 ${P50} ms, p95 ${P95} ms, p99 ${P99} ms ($NAMES)"
    else fail tools/list "missing tools:$MISSING (have: $NAMES)"; fi
  fi

  CALL=$("$NODE" -e 'process.stdout.write(JSON.stringify({jsonrpc: "2.0", id: 2, method: "tools/call", params: {name: "search_notes", arguments: {query: process.argv[1]}}}))' "$QUERY")
  R=$(mcp search "$CALL")
  if [ "$(status_of "$R")" = 200 ] && OUT=$(pick "$WORK/search.body" 2 'm.error ? "error " + JSON.stringify(m.error) : m.result.isError ? "isError " + JSON.stringify(m.result.content).slice(0, 200) : "ok " + ((m.result.content || []).length) + " content item(s)"' 2>&1) && [ "${OUT%% *}" = ok ]; then
    pass search_notes "\"$QUERY\": ${OUT#ok } in ${R#* } s"
  else
    fail search_notes "$(status_of "$R") ${OUT:-$(head -c 200 "$WORK/search.body")}"
  fi
  if [ -n "$SESSION" ]; then
    "${CURL[@]}" -K "$AUTH_CFG" -X DELETE -H "Mcp-Session-Id: $SESSION" -o /dev/null "$URL/mcp" 2>/dev/null || true
  fi
else
  skip tools/list "initialize failed"
  skip search_notes "initialize failed"
fi

# Negatives: no token, and a page from a foreign origin driving a browser at the endpoint.
SAVED_SESSION=$SESSION SESSION=""
NOAUTH=$("${CURL[@]}" -X POST "$URL/mcp" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
  -H 'MCP-Protocol-Version: 2025-11-25' -o /dev/null -w '%{http_code}' --data-binary "$INIT" 2>/dev/null || printf '000')
if [ "$NOAUTH" = 401 ]; then pass no-token "401 without a bearer token"; else fail no-token "expected 401 without a token, got $NOAUTH"; fi
R=$(mcp origin "$INIT" -H 'Origin: https://evil.example')
if [ "$(status_of "$R")" = 403 ]; then pass foreign-origin "403 for Origin https://evil.example"
else fail foreign-origin "expected 403 for a foreign Origin, got $(status_of "$R")"; fi
SESSION=$SAVED_SESSION

# Baseline: the first run records p50/p95/p99; later runs fail when p95 is TOLERANCE% slower.
BASELINE_NOTE=""
if [ "$NO_BASELINE" = 1 ] || [ -z "$P95" ]; then
  skip baseline "$([ "$NO_BASELINE" = 1 ] && echo '--no-baseline' || echo 'no latency measured')"
else
  if [ -z "$BASELINE" ]; then
    BASELINE="$HOME/.notes-mcp/baseline-${HOST//[^A-Za-z0-9.-]/_}-$PORT.env"
  fi
  if [ -f "$BASELINE" ] && [ "$UPDATE_BASELINE" = 0 ]; then
    BASE_P95=$(sed -n 's/^p95_ms=//p' "$BASELINE")
    LIMIT=$(awk -v b="$BASE_P95" -v t="$TOLERANCE" 'BEGIN { l = b * (1 + t / 100); if (l < b + 10) l = b + 10; printf "%.1f", l }')
    BASELINE_NOTE=", baseline p95 ${BASE_P95} ms"
    if awk -v p="$P95" -v l="$LIMIT" 'BEGIN { exit !(p <= l) }'; then
      pass baseline "p95 ${P95} ms <= ${LIMIT} ms (baseline ${BASE_P95} ms + ${TOLERANCE}%, $BASELINE)"
    else
      fail baseline "p95 ${P95} ms > ${LIMIT} ms (baseline ${BASE_P95} ms + ${TOLERANCE}%): slower than the recorded baseline"
    fi
  else
    mkdir -p "$(dirname "$BASELINE")"
    printf 'url=%s\ndate=%s\nruns=%s\np50_ms=%s\np95_ms=%s\np99_ms=%s\n' "$URL" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$RUNS" "$P50" "$P95" "$P99" >"$BASELINE"
    pass baseline "recorded p95 ${P95} ms in $BASELINE"
  fi
fi

TOTAL=$((PASSED + ${#FAILED[@]}))
LAT=""
[ -n "$P95" ] && LAT=" | tools/list p50=${P50}ms p95=${P95}ms p99=${P99}ms over $RUNS${BASELINE_NOTE}"
if [ "${#FAILED[@]}" = 0 ]; then
  printf 'verify: PASS %s %d/%d checks (%d skipped)%s\n' "$URL" "$PASSED" "$TOTAL" "$SKIPPED" "$LAT"
else
  printf 'verify: FAIL %s %d of %d checks failed: %s%s\n' "$URL" "${#FAILED[@]}" "$TOTAL" "${FAILED[*]}" "$LAT"
  exit 1
fi
