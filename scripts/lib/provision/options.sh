# shellcheck shell=bash
# provision.sh: usage, options and the checks that need nothing but the options.

usage() {
  cat <<'USAGE'
Usage: provision.sh [options]

Run on the Mac as an admin user (not root); sudo is used for system changes. Run it from a git
clone (or a release checkout) of notes-mcp, never from the npm package: it builds the release
from the checkout's sources and lockfile.

Instance
  --instance NAME        instance name (default: default); several instances may share a Mac
  --mode daemon|agent    daemon: LaunchDaemon, runs at boot with nobody logged in (default);
                         agent: LaunchAgent in your GUI session (a personal Mac)
  --port N               loopback port of the daemon (default 8765; unique per instance)
  --notes DIR            notes folder (default /Users/Shared/notes-mcp/<instance>);
                         must be outside Desktop, Documents, Downloads, iCloud and cloud
                         storage (TCC), also through symlinks and whatever the letter case
  --user NAME            service user in daemon mode (default _notesmcp, created if missing)
  --model ID             embedding model: auto (default), bundled, or a model id
  --skip-model-fetch     do not run "notes-mcp model fetch" (nor check the model's files)
  --rotate-token         replace the instance token file (access.token) and restart the daemon
  --allowed-origin URL   browser origin allowed to call /mcp (repeatable; e.g. a web MCP client)
  --log-level LEVEL      daemon log level (default info)

Install
  --source DIR           checkout to install from (default: the checkout holding this script)
  --prefix DIR           install root (default /opt/notes-mcp; agent: ~/Library/notes-mcp)
  --arch arm64|x86_64    override CPU detection (picks /opt/homebrew or /usr/local)
  --upgrade-deps         brew upgrade node@24, nginx and openssl@3 (monthly patching), then
                         nginx -t, restart, verify; the old versions come back on failure

After a restart
  --tolerance PCT        tools/list p50/p95 may be PCT% slower than the instance's baseline
                         before the release is rolled back (default 50; see verify.sh)
  --tolerance-ms MS      ... and never less than MS ms slower (default 5)
  --new-baseline         record this run's latency as the instance's new baseline (after a
                         change that is meant to be slower)

Public endpoint (nginx + TLS)
  --server-name HOST     public DNS name or IPv4 address; without it nginx is not set up
  --tls MODE             letsencrypt (default), self-signed (private CA), existing
  --acme-client NAME     certbot (default for names) or acme.sh (default for IP addresses)
  --email ADDR           Let's Encrypt account email (recommended)
  --cert FILE --key FILE certificate chain and key for --tls existing
  --https-port N         HTTPS port (default 443)   --http-port N   HTTP port (default 80)
  --rate R --burst N     nginx limit per client address (default 10r/s, burst 40): beyond it, 429
  --no-nginx             loopback only: no nginx, no TLS

Machine
  --no-pmset             leave sleep/restart settings alone (default in agent mode)
  --max-files N          open-file limit of the daemon's launchd job (default 8192)
  --min-free-gb N        required free disk space (default 3)
  --sysroot DIR          prefix for every system path (tests on a stand-in macOS only)
  -h, --help             this help

Every run compares what should run (release, config, token, model, node) with what the Mac
recorded after the last healthy restart, and restarts when they differ, whatever an earlier
run did or did not finish. A restart that fails health or verification is rolled back.

Examples
  scripts/provision.sh --server-name notes.example.com --email you@example.com
  scripts/provision.sh --instance alice --port 8766 --server-name alice.example.com
  scripts/provision.sh --upgrade-deps <your usual options>
USAGE
}

INSTANCE=default MODE=daemon PORT=8765 NOTES="" SVC_USER="" MODEL="" SKIP_MODEL=0 ROTATE_TOKEN=0
SOURCE="" PREFIX="" ARCH="" UPGRADE_DEPS=0 TOLERANCE=50 TOLERANCE_MS=5 NEW_BASELINE=0
SERVER_NAME="" TLS=letsencrypt ACME_CLIENT="" EMAIL="" CERT="" KEY="" HTTPS_PORT=443 HTTP_PORT=80 NO_NGINX=0
PMSET="" MIN_FREE_GB=3 SYSROOT="" RATE="" BURST="" MAX_FILES="" EXTRA_LAYOUT=()

need() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value (see --help)"; fi; }

parse_options() {
  while [ $# -gt 0 ]; do
    case $1 in
      -h | --help) usage; exit 0 ;;
      --instance) need "$@"; INSTANCE=$2; shift 2 ;;
      --mode) need "$@"; MODE=$2; shift 2 ;;
      --port) need "$@"; PORT=$2; shift 2 ;;
      --notes) need "$@"; NOTES=$2; shift 2 ;;
      --user) need "$@"; SVC_USER=$2; shift 2 ;;
      --model) need "$@"; MODEL=$2; shift 2 ;;
      --skip-model-fetch) SKIP_MODEL=1; shift ;;
      --rotate-token) ROTATE_TOKEN=1; shift ;;
      --allowed-origin) need "$@"; EXTRA_LAYOUT+=(--allowed-origin "$2"); shift 2 ;;
      --log-level) need "$@"; EXTRA_LAYOUT+=(--log-level "$2"); shift 2 ;;
      --source) need "$@"; SOURCE=$(cd "$2" && pwd); shift 2 ;;
      --prefix) need "$@"; PREFIX=$2; shift 2 ;;
      --arch) need "$@"; ARCH=$2; shift 2 ;;
      --upgrade-deps) UPGRADE_DEPS=1; shift ;;
      --tolerance) need "$@"; TOLERANCE=$2; shift 2 ;;
      --tolerance-ms) need "$@"; TOLERANCE_MS=$2; shift 2 ;;
      --new-baseline) NEW_BASELINE=1; shift ;;
      --server-name) need "$@"; SERVER_NAME=$2; shift 2 ;;
      --tls) need "$@"; TLS=$2; shift 2 ;;
      --acme-client) need "$@"; ACME_CLIENT=$2; shift 2 ;;
      --email) need "$@"; EMAIL=$2; shift 2 ;;
      --cert) need "$@"; CERT=$2; shift 2 ;;
      --key) need "$@"; KEY=$2; shift 2 ;;
      --https-port) need "$@"; HTTPS_PORT=$2; shift 2 ;;
      --http-port) need "$@"; HTTP_PORT=$2; shift 2 ;;
      --no-nginx) NO_NGINX=1; shift ;;
      --rate) need "$@"; RATE=$2; shift 2 ;;
      --burst) need "$@"; BURST=$2; shift 2 ;;
      --max-files) need "$@"; MAX_FILES=$2; shift 2 ;;
      --no-pmset) PMSET=0; shift ;;
      --min-free-gb) need "$@"; MIN_FREE_GB=$2; shift 2 ;;
      --sysroot) need "$@"; SYSROOT=$(cd "$2" && pwd); shift 2 ;;
      *) die "unknown option $1 (see --help)" ;;
    esac
  done
}

is_ip() { [[ $1 =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; }

check_options() {
  case $MODE in daemon | agent) ;; *) die "--mode must be daemon or agent" ;; esac
  case $TLS in letsencrypt | self-signed | existing) ;; *) die "--tls must be letsencrypt, self-signed or existing" ;; esac
  [[ $PORT =~ ^[0-9]+$ ]] || die "--port must be a number"
  [[ $TOLERANCE =~ ^[0-9]+$ ]] || die "--tolerance must be a whole number of percent"
  [[ $TOLERANCE_MS =~ ^[0-9]+$ ]] || die "--tolerance-ms must be a whole number of milliseconds"
  [ -z "$PMSET" ] && { [ "$MODE" = daemon ] && PMSET=1 || PMSET=0; }
  [ -z "$SERVER_NAME" ] && NO_NGINX=1
  if [ "$TLS" = existing ] && [ "$NO_NGINX" = 0 ]; then
    if [ ! -f "$CERT" ] || [ ! -f "$KEY" ]; then die "--tls existing needs readable --cert and --key files"; fi
  fi
  if [ -z "$ACME_CLIENT" ]; then
    if is_ip "$SERVER_NAME"; then ACME_CLIENT=acme.sh; else ACME_CLIENT=certbot; fi
  fi
  case $ACME_CLIENT in certbot | acme.sh) ;; *) die "--acme-client must be certbot or acme.sh" ;; esac
  if is_ip "$SERVER_NAME" && [ "$ACME_CLIENT" = certbot ] && [ "$TLS" = letsencrypt ]; then
    die "certificates for IP addresses need the webroot-capable client: use --acme-client acme.sh"
  fi
  SOURCE=${SOURCE:-$(cd "$HERE/.." && pwd)}
  if [ "$MODE" = daemon ]; then
    PREFIX=${PREFIX:-$SYSROOT/opt/notes-mcp}
  else
    PREFIX=${PREFIX:-$HOME/Library/notes-mcp}
  fi
}
