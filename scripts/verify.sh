#!/usr/bin/env bash
# Check a notes-mcp endpoint end to end after a boot, an upgrade or a config change: launchd
# state and nginx config (here, on the Mac), then scripts/lib/verify-client.mjs for the HTTP
# part: /health, the certificate, MCP initialize, tools/list latency timed on one kept-alive
# connection, a search_notes call, the auth and Origin negatives, and the baseline comparison.
# Prints one line per check and a summary (or --json); exits non-zero when any check fails.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$HERE/lib/common.sh"

usage() {
  cat <<'EOF'
Usage: verify.sh URL [options]

  URL                    the endpoint without /mcp: https://notes.example.com, https://127.0.0.1:8443,
                         or http://127.0.0.1:8765 (the daemon itself, on the Mac)
  --config FILE          the instance's config file (on the Mac: /opt/notes-mcp/etc/<instance>.json):
                         token file, state folder and the daemon's loopback /health come from it
  --token-file FILE      file holding a bearer token (e.g. the instance's access.token)
  --state DIR            the instance's state folder: the result goes to DIR/verify-last.json
                         (shown by `notes-mcp doctor`), the baseline next to it
  --record FILE          write the result (JSON) here instead
  --insecure             do not verify the TLS certificate (self-signed trials)
  --cacert FILE          also trust this CA (the private CA's ca.pem)
  --resolve-ip IP        connect to IP whatever the URL's name resolves to
  --samples N            tools/list calls to time, on one kept-alive connection (default 200, at least 100)
  --warmup N             untimed tools/list calls before them (default 20)
  --baseline FILE        latency baseline to compare with; recorded there when missing
                         (default DIR/verify-baseline-<host>-<port>.json with --state or
                         --config, else ~/.notes-mcp/baseline-<host>-<port>.json)
  --no-baseline          neither compare nor record
  --update-baseline      record this run as the new baseline
  --tolerance PCT        p50 and p95 may be PCT% slower than the baseline (default 50) ...
  --tolerance-ms MS      ... and never less than MS ms slower (default 5): fail above
                         max(baseline x (1 + PCT/100), baseline + MS)
  --instance NAME        instance whose launchd job is checked (default: default)
  --mode daemon|agent    launchd domain of that job (default: daemon)
  --nginx-conf FILE      nginx.conf to test (default /opt/notes-mcp/etc/nginx/nginx.conf)
  --no-service           skip the launchd and nginx -t checks (another machine, Linux)
  --query TEXT           search_notes query (default "notes")
  --min-cert-days N      fail when the certificate expires sooner (default 14; short-lived
                         certificates: a sixth of their lifetime, 1 day for 6-day ones)
  --timeout S            per-request timeout in seconds (default 15)
  --wait S               wait up to S seconds for /health to answer before checking (after a boot)
  --json                 print the result as JSON (the same object as the record)
  -h, --help             this help

Exit status: 0 when every check passes, 1 otherwise, 2 for bad usage.
EOF
}

URL="" CONFIG="" TOKEN_FILE="" STATE_DIR="" RECORD="" BASELINE="" INSTANCE=default MODE=daemon NGINX_CONF=""
NO_SERVICE=0 CLIENT=()
need() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value (see --help)"; fi; }
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --config) need "$@"; CONFIG=$2; shift 2 ;;
    --token-file) need "$@"; TOKEN_FILE=$2; shift 2 ;;
    --state) need "$@"; STATE_DIR=$2; shift 2 ;;
    --record) need "$@"; RECORD=$2; shift 2 ;;
    --baseline) need "$@"; BASELINE=$2; shift 2 ;;
    --instance) need "$@"; INSTANCE=$2; shift 2 ;;
    --mode) need "$@"; MODE=$2; shift 2 ;;
    --nginx-conf) need "$@"; NGINX_CONF=$2; shift 2 ;;
    --no-service) NO_SERVICE=1; shift ;;
    # verify.sh before 0.2 timed --runs separate curl processes; cron lines may still pass it.
    --runs) need "$@"; warn "--runs is gone: tools/list is timed over --samples calls (default 200, at least 100); ignoring --runs $2"; shift 2 ;;
    --insecure | --no-baseline | --update-baseline | --json) CLIENT+=("$1"); shift ;;
    --cacert | --resolve-ip | --samples | --warmup | --tolerance | --tolerance-ms | --query | --min-cert-days | --timeout | --wait)
      need "$@"; CLIENT+=("$1" "$2"); shift 2 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$URL" ] || die "one URL only (got $URL and $1)"; URL=$1; shift ;;
  esac
done
[ -n "$URL" ] || { usage >&2; exit 2; }
case $MODE in daemon | agent) ;; *) die "--mode must be daemon or agent" ;; esac
URL=${URL%/}
URL=${URL%/mcp}
[[ $URL =~ ^(https?)://(\[[0-9a-fA-F:]+\]|[^/:]+)(:([0-9]+))?$ ]] || die "URL must look like https://host[:port]"
HOST=${BASH_REMATCH[2]} PORT=${BASH_REMATCH[4]}
[ -n "$PORT" ] || { [ "${BASH_REMATCH[1]}" = https ] && PORT=443 || PORT=80; }

NODE=${NODE:-}
for candidate in "$(command -v node 2>/dev/null || true)" /opt/homebrew/opt/node@24/bin/node /usr/local/opt/node@24/bin/node; do
  if [ -z "$NODE" ] && [ -n "$candidate" ] && [ -x "$candidate" ]; then NODE=$candidate; fi
done
[ -n "$NODE" ] || die "node not found (set NODE=/path/to/node)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/notes-mcp-verify.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
chmod 700 "$WORK"

# The instance's config file names its token file, state folder and loopback port.
HEALTH_URL=""
# shellcheck disable=SC2016 # JavaScript, expanded by node
CONFIG_JS='
  const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const host = !c.host || c.host === "0.0.0.0" ? "127.0.0.1" : c.host === "::" ? "[::1]" : c.host.includes(":") ? `[${c.host}]` : c.host;
  for (const [k, v] of [["tokenFile", c.tokenFile], ["state", c.state], ["health", `http://${host}:${c.port ?? 8765}/health`]])
    if (v) console.log(`${k}\t${v}`);'
if [ -n "$CONFIG" ]; then
  [ -r "$CONFIG" ] || die "cannot read $CONFIG"
  FROM_CONFIG=$("$NODE" -e "$CONFIG_JS" "$CONFIG") || die "$CONFIG is not a notes-mcp config file"
  while IFS=$'\t' read -r key value; do
    case $key in
      tokenFile) [ -n "$TOKEN_FILE" ] || TOKEN_FILE=$value ;;
      state) [ -n "$STATE_DIR" ] || STATE_DIR=$value ;;
      health) HEALTH_URL=$value ;;
    esac
  done <<<"$FROM_CONFIG"
fi
# One baseline per endpoint: through nginx and straight to the daemon are different figures.
ENDPOINT_ID="${HOST//[^A-Za-z0-9.-]/_}-$PORT"
if [ -n "$STATE_DIR" ]; then
  RECORD=${RECORD:-$STATE_DIR/verify-last.json}
  BASELINE=${BASELINE:-$STATE_DIR/verify-baseline-$ENDPOINT_ID.json}
fi
BASELINE=${BASELINE:-$HOME/.notes-mcp/baseline-$ENDPOINT_ID.json}

# The token reaches the client through a file only (mode 600), never a command line.
if [ -n "$TOKEN_FILE" ]; then
  # shellcheck disable=SC2024 # root reads the token; the copy is ours, in our private folder
  if [ -r "$TOKEN_FILE" ]; then CLIENT+=(--token-file "$TOKEN_FILE")
  elif (umask 077 && sudo -n cat "$TOKEN_FILE" >"$WORK/token" 2>/dev/null) && [ -s "$WORK/token" ]; then
    CLIENT+=(--token-file "$WORK/token")
  else die "cannot read $TOKEN_FILE (run with sudo, or copy the token to a file you can read)"; fi
fi

# Checks only the Mac itself can make, handed to the client as status<TAB>name<TAB>detail lines.
CHECKS="$WORK/checks.tsv"
: >"$CHECKS"
check() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$CHECKS"; }
if [ "$NO_SERVICE" = 1 ] || ! command -v launchctl >/dev/null 2>&1; then
  why=$([ "$NO_SERVICE" = 1 ] && echo '--no-service' || echo 'launchctl not found (not macOS)')
  check SKIP service "$why"
  check SKIP nginx-config "$why"
else
  if [ "$MODE" = daemon ]; then DOMAIN=system; else DOMAIN="gui/$(id -u)"; fi
  LABEL="com.notes-mcp.$INSTANCE"
  # print works unprivileged on most macOS versions; never prompt for a password here.
  PRINTED=$(launchctl print "$DOMAIN/$LABEL" 2>/dev/null || sudo -n launchctl print "$DOMAIN/$LABEL" 2>/dev/null || true)
  STATE=$(printf '%s\n' "$PRINTED" | awk -F' = ' '/^\tstate = / { print $2; exit }')
  LAST_EXIT=$(printf '%s\n' "$PRINTED" | awk -F' = ' '/^\tlast exit code = / { print $2; exit }')
  if [ "$STATE" = running ]; then check PASS service "$DOMAIN/$LABEL is running"
  else check FAIL service "$DOMAIN/$LABEL is ${STATE:-not loaded}${LAST_EXIT:+, last exit code $LAST_EXIT} (sudo launchctl print $DOMAIN/$LABEL)"; fi
  NGINX_CONF=${NGINX_CONF:-/opt/notes-mcp/etc/nginx/nginx.conf}
  NGINX_BIN=""
  for b in /opt/homebrew/opt/nginx/bin/nginx /usr/local/opt/nginx/bin/nginx "$(command -v nginx 2>/dev/null || true)"; do
    if [ -z "$NGINX_BIN" ] && [ -n "$b" ] && [ -x "$b" ]; then NGINX_BIN=$b; fi
  done
  # shellcheck disable=SC2024 # the output is ours to read; only nginx needs root (for the TLS key)
  if [ ! -f "$NGINX_CONF" ] || [ -z "$NGINX_BIN" ]; then
    check SKIP nginx-config "no $NGINX_CONF or nginx binary"
  elif sudo -n "$NGINX_BIN" -t -q -c "$NGINX_CONF" >"$WORK/nginx-t" 2>&1; then
    check PASS nginx-config "nginx -t accepts $NGINX_CONF"
  elif ! sudo -n true 2>/dev/null; then
    check SKIP nginx-config "needs root to read the TLS key: run verify.sh with sudo"
  else
    check FAIL nginx-config "$(tail -n 1 "$WORK/nginx-t")"
  fi
fi

ARGS=(--url "$URL" --checks "$CHECKS" --baseline "$BASELINE")
[ -n "$RECORD" ] && ARGS+=(--record "$RECORD")
[ -n "$HEALTH_URL" ] && ARGS+=(--health-url "$HEALTH_URL")
set +e
"$NODE" "$HERE/lib/verify-client.mjs" "${ARGS[@]}" ${CLIENT[@]+"${CLIENT[@]}"}
STATUS=$?
set -e
exit "$STATUS"
