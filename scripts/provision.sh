#!/usr/bin/env bash
# Turn a Mac into a notes-mcp server: Homebrew, node@24, nginx, the app in a fixed prefix, a
# service user, a token, launchd jobs, TLS and power settings. Idempotent: run it again after
# any change (or to upgrade); a run that finds everything in place changes nothing and says so.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$HERE/lib/common.sh"

usage() {
  cat <<'EOF'
Usage: provision.sh [options]

Run on the Mac as an admin user (not root); sudo is used for system changes.

Instance
  --instance NAME        instance name (default: default); several instances may share a Mac
  --mode daemon|agent    daemon: LaunchDaemon, runs at boot with nobody logged in (default);
                         agent: LaunchAgent in your GUI session (a personal Mac)
  --port N               loopback port of the daemon (default 8765; unique per instance)
  --notes DIR            notes folder (default /Users/Shared/notes-mcp/<instance>);
                         must be outside Desktop, Documents, Downloads and iCloud (TCC)
  --user NAME            service user in daemon mode (default _notesmcp, created if missing)
  --model ID             embedding model: auto (default), bundled, or a model id
  --skip-model-fetch     do not run "notes-mcp model fetch"
  --rotate-token         replace the instance token file (access.token) and restart the daemon
  --allowed-origin URL   browser origin allowed to call /mcp (repeatable; e.g. a web MCP client)
  --log-level LEVEL      daemon log level (default info)

Install
  --source DIR           checkout to install from (default: the checkout holding this script)
  --prefix DIR           install root (default /opt/notes-mcp; agent: ~/Library/notes-mcp)
  --arch arm64|x86_64    override CPU detection (picks /opt/homebrew or /usr/local)

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

Examples
  scripts/provision.sh --server-name notes.example.com --email you@example.com
  scripts/provision.sh --instance alice --port 8766 --server-name alice.example.com
EOF
}

INSTANCE=default MODE=daemon PORT=8765 NOTES="" SVC_USER="" MODEL="" SKIP_MODEL=0 ROTATE_TOKEN=0
SOURCE=$(cd "$HERE/.." && pwd) PREFIX="" ARCH=""
SERVER_NAME="" TLS=letsencrypt ACME_CLIENT="" EMAIL="" CERT="" KEY="" HTTPS_PORT=443 HTTP_PORT=80 NO_NGINX=0
PMSET="" MIN_FREE_GB=3 SYSROOT="" RATE="" BURST="" MAX_FILES="" EXTRA_LAYOUT=()

need() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value (see --help)"; fi; }
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

case $MODE in daemon | agent) ;; *) die "--mode must be daemon or agent" ;; esac
case $TLS in letsencrypt | self-signed | existing) ;; *) die "--tls must be letsencrypt, self-signed or existing" ;; esac
[[ $PORT =~ ^[0-9]+$ ]] || die "--port must be a number"
[ -z "$PMSET" ] && { [ "$MODE" = daemon ] && PMSET=1 || PMSET=0; }
[ -z "$SERVER_NAME" ] && NO_NGINX=1
if [ "$TLS" = existing ] && [ "$NO_NGINX" = 0 ]; then
  if [ ! -f "$CERT" ] || [ ! -f "$KEY" ]; then die "--tls existing needs readable --cert and --key files"; fi
fi
is_ip() { [[ $1 =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; }
if [ -z "$ACME_CLIENT" ]; then
  if is_ip "$SERVER_NAME"; then ACME_CLIENT=acme.sh; else ACME_CLIENT=certbot; fi
fi
case $ACME_CLIENT in certbot | acme.sh) ;; *) die "--acme-client must be certbot or acme.sh" ;; esac
if is_ip "$SERVER_NAME" && [ "$ACME_CLIENT" = certbot ] && [ "$TLS" = letsencrypt ]; then
  die "certificates for IP addresses need the webroot-capable client: use --acme-client acme.sh"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/notes-mcp-provision.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export HOMEBREW_NO_AUTO_UPDATE=1 HOMEBREW_NO_INSTALL_CLEANUP=1 HOMEBREW_NO_ENV_HINTS=1 NONINTERACTIVE=1

# ---------------------------------------------------------------------------------------------
log "preflight"
command -v sw_vers >/dev/null 2>&1 || die "this is not macOS (sw_vers not found)"
MACOS=$(sw_vers -productVersion)
[ "${MACOS%%.*}" -ge 13 ] 2>/dev/null || die "macOS $MACOS is too old: node@24 needs macOS 13 (Ventura) or newer"
ok "macOS $MACOS"
if [ -z "$ARCH" ]; then
  if [ "$(sysctl -n hw.optional.arm64 2>/dev/null || echo 0)" = 1 ]; then ARCH=arm64; else ARCH=x86_64; fi
  if [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)" = 1 ]; then
    warn "this shell runs under Rosetta; installing the native arm64 Homebrew anyway"
  fi
fi
ok "CPU $ARCH"
[ "$(id -u)" != 0 ] || die "run provision.sh as your admin user, not root: Homebrew refuses to run as root"
ADMIN=$(id -un)
case " $(id -Gn) " in *" admin "*) ok "$ADMIN is an administrator" ;; *) die "$ADMIN is not in the admin group" ;; esac
sudo -n true 2>/dev/null || { note "sudo will ask for $ADMIN's password once"; sudo -v; }
ok "sudo works"

if [ -n "$NOTES" ]; then
  case $NOTES in /*) ;; *) die "--notes must be an absolute path" ;; esac
  # launchd jobs have no TCC grants: these folders answer EPERM to a daemon, whatever the Unix mode.
  case $NOTES in
    /Users/*/Desktop | /Users/*/Desktop/* | /Users/*/Documents | /Users/*/Documents/* | /Users/*/Downloads | /Users/*/Downloads/* | /Users/*/Library/Mobile\ Documents/* | /Users/*/Pictures/* | /Users/*/Movies/* | /Users/*/Music/* | /Volumes/*)
      die "$NOTES is protected by macOS privacy controls (TCC): a launchd job gets EPERM there. Use e.g. /Users/Shared/notes-mcp/$INSTANCE" ;;
  esac
  ok "notes folder $NOTES is outside TCC-protected folders"
fi

DISK_PROBE="${SYSROOT:-}/"
[ -d "${SYSROOT}/opt" ] && DISK_PROBE="${SYSROOT}/opt"
FREE_KB=$(df -Pk "$DISK_PROBE" | awk 'NR == 2 { print $4 }')
[ "$FREE_KB" -ge $((MIN_FREE_GB * 1024 * 1024)) ] || die "only $((FREE_KB / 1024 / 1024)) GB free on $DISK_PROBE; need $MIN_FREE_GB GB (model, node_modules, index)"
ok "$((FREE_KB / 1024 / 1024)) GB free"

if fdesetup status 2>/dev/null | grep -q 'FileVault is On'; then
  warn "FileVault is on. After an unattended reboot (power loss, kernel panic, macOS update) the Mac waits at the
         FileVault unlock screen and NO launchd daemon starts until someone logs in (Screen Sharing/console).
         Plan reboots with 'sudo fdesetup authrestart', or turn FileVault off on a dedicated server. See RUNBOOK.md."
else
  ok "FileVault is off: the Mac boots unattended"
fi

# ---------------------------------------------------------------------------------------------
log "Homebrew and Command Line Tools"
if [ "$ARCH" = arm64 ]; then BREW_PREFIX="$SYSROOT/opt/homebrew"; else BREW_PREFIX="$SYSROOT/usr/local"; fi
BREW="$BREW_PREFIX/bin/brew"
if xcode-select -p >/dev/null 2>&1; then
  ok "Command Line Tools at $(xcode-select -p)"
else
  note "installing the Command Line Tools (compilers for native addons) with softwareupdate"
  touch /tmp/.com.apple.dt.CommandLineTools.installondemand.in-progress
  CLT=$(softwareupdate -l 2>/dev/null | sed -n 's/^.*Label: \(Command Line Tools.*\)$/\1/p' | (sort -V 2>/dev/null || sort) | tail -n 1)
  [ -n "$CLT" ] || die "softwareupdate offers no Command Line Tools; run 'xcode-select --install' once in a GUI session"
  as_root softwareupdate -i "$CLT" --verbose
  rm -f /tmp/.com.apple.dt.CommandLineTools.installondemand.in-progress
  xcode-select -p >/dev/null 2>&1 || die "Command Line Tools still missing after installing $CLT"
  changed "installed $CLT"
fi
if [ -x "$BREW" ]; then
  ok "Homebrew at $BREW_PREFIX"
else
  [ -z "$SYSROOT" ] || die "no Homebrew under the sysroot $SYSROOT"
  note "installing Homebrew (non-interactive)"
  /bin/bash -c "$(curl -fsSL https://raw.githubusercontent.com/Homebrew/install/HEAD/install.sh)"
  [ -x "$BREW" ] || die "Homebrew did not install to $BREW_PREFIX"
  changed "installed Homebrew"
fi
brew_formula() { # brew_formula FORMULA BINARY
  if [ -x "$2" ]; then
    ok "$1 installed"
  else
    "$BREW" install "$1"
    [ -x "$2" ] || die "brew install $1 did not provide $2"
    changed "brew install $1"
  fi
}
brew_formula node@24 "$BREW_PREFIX/opt/node@24/bin/node"
NODE="$BREW_PREFIX/opt/node@24/bin/node"
export PATH="$BREW_PREFIX/opt/node@24/bin:$BREW_PREFIX/bin:$BREW_PREFIX/sbin:$PATH"
if [ "$NO_NGINX" = 0 ]; then
  brew_formula nginx "$BREW_PREFIX/opt/nginx/bin/nginx"
  if [ "$TLS" = letsencrypt ]; then
    if [ "$ACME_CLIENT" = certbot ]; then brew_formula certbot "$BREW_PREFIX/bin/certbot"; else brew_formula acme.sh "$BREW_PREFIX/bin/acme.sh"; fi
  fi
fi

# ---------------------------------------------------------------------------------------------
log "application"
[ -f "$SOURCE/package.json" ] || die "$SOURCE is not a notes-mcp checkout (no package.json)"
list_sources() {
  if git -C "$SOURCE" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$SOURCE" ls-files --cached --others --exclude-standard
  else
    (cd "$SOURCE" && find . -type f ! -path './node_modules/*' ! -path './dist/*' ! -path './.git/*' ! -path './.ci/.node/*' | sed 's|^\./||')
  fi | LC_ALL=C sort
}
# Tracked files deleted from the working tree are still listed by git: keep existing files only.
list_sources | (cd "$SOURCE" && while IFS= read -r f; do if [ -f "$f" ]; then printf '%s\n' "$f"; fi; done) >"$WORK/files"
SOURCE_HASH=$(cd "$SOURCE" && tr '\n' '\0' <"$WORK/files" | xargs -0 "${SHA256_CMD[@]}" | sha256)
VERSION=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$SOURCE/package.json" | head -n 1)
RELEASE_ID="${VERSION:-0}-${SOURCE_HASH:0:12}"
if [ "$MODE" = daemon ]; then
  PREFIX=${PREFIX:-$SYSROOT/opt/notes-mcp}
  OWNER=root GROUP=wheel OWNED=as_root
else
  PREFIX=${PREFIX:-$HOME/Library/notes-mcp}
  OWNER=$ADMIN GROUP=staff OWNED=""
fi
ensure_dir "$PREFIX" 755 "$OWNER" "$GROUP" "$OWNED"
ensure_dir "$PREFIX/releases" 755 "$OWNER" "$GROUP" "$OWNED"
RELEASE="$PREFIX/releases/$RELEASE_ID"
APP_CHANGED=0
if $OWNED test -f "$RELEASE/.complete"; then
  ok "release $RELEASE_ID is installed"
else
  note "building release $RELEASE_ID from $SOURCE (npm ci compiles native addons: a few minutes)"
  BUILD="$WORK/build"
  mkdir -p "$BUILD"
  (cd "$SOURCE" && tar -cf - -T "$WORK/files") | (cd "$BUILD" && tar -xf -)
  (cd "$BUILD" && npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund)
  [ -f "$BUILD/dist/src/cli/main.js" ] || die "the build produced no dist/src/cli/main.js"
  touch "$BUILD/.complete"
  $OWNED rm -rf "$RELEASE"
  $OWNED mv "$BUILD" "$RELEASE"
  $OWNED chown -R "$OWNER:$GROUP" "$RELEASE"
  changed "installed release $RELEASE_ID"
fi
CURRENT=$(readlink "$PREFIX/current" 2>/dev/null || true)
if [ "$CURRENT" = "$RELEASE" ]; then
  ok "current -> $RELEASE_ID"
else
  [ -n "$CURRENT" ] && $OWNED ln -sfn "$CURRENT" "$PREFIX/previous"
  $OWNED ln -sfn "$RELEASE" "$PREFIX/current"
  APP_CHANGED=1
  changed "current -> $RELEASE_ID${CURRENT:+ (previous: $(basename "$CURRENT"))}"
fi
# Keep the current, the previous and the three newest releases; older ones go.
PREVIOUS=$(readlink "$PREFIX/previous" 2>/dev/null || true)
# shellcheck disable=SC2012 # release names are <version>-<hex>; ls -t is the portable mtime sort
for old in $(cd "$PREFIX/releases" && ls -1t | tail -n +4); do
  case "$PREFIX/releases/$old" in "$RELEASE" | "$PREVIOUS") continue ;; esac
  $OWNED rm -rf "${PREFIX:?}/releases/$old"
  changed "removed old release $old"
done

NM=("$NODE" "$RELEASE/bin/notes-mcp.js")
LAYOUT_ARGS=(--instance "$INSTANCE" --mode "$MODE" --arch "$ARCH" --prefix "$PREFIX" --port "$PORT" --brew-prefix "$BREW_PREFIX")
[ -n "$SYSROOT" ] && LAYOUT_ARGS+=(--root "$SYSROOT")
[ -n "$NOTES" ] && LAYOUT_ARGS+=(--notes "$NOTES")
[ -n "$SVC_USER" ] && [ "$MODE" = daemon ] && LAYOUT_ARGS+=(--user "$SVC_USER")
[ "$MODE" = agent ] && LAYOUT_ARGS+=(--user "$ADMIN" --home "$HOME")
[ -n "$MODEL" ] && LAYOUT_ARGS+=(--model "$MODEL")
[ -n "$SERVER_NAME" ] && LAYOUT_ARGS+=(--server-name "$SERVER_NAME")
[ -n "$MAX_FILES" ] && LAYOUT_ARGS+=(--max-files "$MAX_FILES")
[ ${#EXTRA_LAYOUT[@]} -gt 0 ] && LAYOUT_ARGS+=("${EXTRA_LAYOUT[@]}")
LAYOUT=$("${NM[@]}" launchd layout --format shell "${LAYOUT_ARGS[@]}") || die "invalid instance settings (see the message above)"
eval "$LAYOUT"

printf '#!/bin/sh\n# notes-mcp on this Mac: the current release run by Homebrew node@24.\nexec %s %s "$@"\n' \
  "$(shell_quote "$NODE")" "$(shell_quote "$PREFIX/current/bin/notes-mcp.js")" >"$WORK/wrapper"
ensure_dir "$PREFIX/bin" 755 "$OWNER" "$GROUP" "$OWNED"
install_file "$WORK/wrapper" "$NM_WRAPPER" 755 "$OWNER" "$GROUP" "$OWNED"

# Two instances never share a port or a public name.
for other in "$NM_ETC"/*.json; do
  if [ ! -f "$other" ] || [ "$other" = "$NM_CONFIG" ]; then continue; fi
  grep -q "\"port\": $NM_PORT," "$other" && die "port $NM_PORT is already used by instance $(basename "$other" .json): pick another --port"
  [ -n "$SERVER_NAME" ] && grep -q "\"$SERVER_NAME\"" "$other" && die "$SERVER_NAME already belongs to instance $(basename "$other" .json)"
done

# ---------------------------------------------------------------------------------------------
log "service user and folders"
if [ "$MODE" = daemon ]; then
  if dscl . -read "/Users/$NM_USER" UniqueID >/dev/null 2>&1; then
    ok "service user $NM_USER exists"
  else
    used=$( (dscl . -list /Users UniqueID; dscl . -list /Groups PrimaryGroupID) | awk '{ print $2 }')
    ID=""
    for candidate in $(seq 450 499); do
      if ! printf '%s\n' "$used" | grep -qx "$candidate"; then ID=$candidate; break; fi
    done
    [ -n "$ID" ] || die "no free id between 450 and 499 for the service user"
    if ! dscl . -read "/Groups/$NM_GROUP" >/dev/null 2>&1; then
      as_root dscl . -create "/Groups/$NM_GROUP"
      as_root dscl . -create "/Groups/$NM_GROUP" PrimaryGroupID "$ID"
      as_root dscl . -create "/Groups/$NM_GROUP" RealName "notes-mcp service"
      as_root dscl . -create "/Groups/$NM_GROUP" Password '*'
    fi
    GID=$(dscl . -read "/Groups/$NM_GROUP" PrimaryGroupID | awk '{ print $2 }')
    as_root dscl . -create "/Users/$NM_USER"
    as_root dscl . -create "/Users/$NM_USER" UniqueID "$ID"
    as_root dscl . -create "/Users/$NM_USER" PrimaryGroupID "$GID"
    as_root dscl . -create "/Users/$NM_USER" UserShell /usr/bin/false
    as_root dscl . -create "/Users/$NM_USER" NFSHomeDirectory /var/empty
    as_root dscl . -create "/Users/$NM_USER" RealName "notes-mcp service"
    as_root dscl . -create "/Users/$NM_USER" Password '*'
    as_root dscl . -create "/Users/$NM_USER" IsHidden 1
    changed "created hidden service user $NM_USER (uid $ID)"
  fi
  SVC=(as_user "$NM_USER")
else
  SVC=()
fi
ensure_dir "$NM_ETC" 755 "$OWNER" "$GROUP" "$OWNED"
ensure_dir "$(dirname "$NM_STATE")" 755 "$OWNER" "$GROUP" "$OWNED"
ensure_dir "$NM_STATE" 750 "$NM_USER" "$NM_GROUP" "$OWNED"
ensure_dir "$(dirname "$NM_LOGS")" 755 "$OWNER" "$GROUP" "$OWNED"
ensure_dir "$NM_LOGS" 750 "$NM_USER" "$NM_GROUP" "$OWNED"
if $OWNED test -d "$NM_NOTES"; then
  ok "notes folder $NM_NOTES exists (left as it is)"
  if ! ${SVC[@]+"${SVC[@]}"} test -r "$NM_NOTES" -a -x "$NM_NOTES"; then
    warn "$NM_USER cannot read $NM_NOTES: sudo chown -R $NM_USER:$NM_GROUP '$NM_NOTES' (or grant read access)"
  elif ! ${SVC[@]+"${SVC[@]}"} test -w "$NM_NOTES"; then
    warn "$NM_USER cannot write to $NM_NOTES: write_note will fail until it can"
  fi
else
  ensure_dir "$(dirname "$NM_NOTES")" 755 "$OWNER" "$GROUP" "$OWNED"
  ensure_dir "$NM_NOTES" 2770 "$NM_USER" "$NM_GROUP" "$OWNED"
fi

# ---------------------------------------------------------------------------------------------
log "configuration, token and launchd job for instance $NM_INSTANCE"
STAGE="$WORK/stage"
mkdir -p "$STAGE"
"${NM[@]}" launchd config "${LAYOUT_ARGS[@]}" --out "$STAGE/config.json"
install_file "$STAGE/config.json" "$NM_CONFIG" 644 "$OWNER" "$GROUP" "$OWNED"
CONFIG_CHANGED=$FILE_CHANGED

TOKEN_CHANGED=0
if [ "$ROTATE_TOKEN" = 0 ] && $OWNED test -s "$NM_TOKEN_FILE"; then
  ok "token file $NM_TOKEN_FILE exists"
else
  (umask 077 && openssl rand -hex 32 >"$WORK/token")
  install_file "$WORK/token" "$NM_TOKEN_FILE" 600 "$NM_USER" "$NM_GROUP" "$OWNED"
  TOKEN_CHANGED=1
  note "clients authenticate with the token in $NM_TOKEN_FILE (mode 600, owner $NM_USER)"
fi

if [ "$SKIP_MODEL" = 1 ] || [ "$MODEL" = bundled ]; then
  ok "model fetch skipped (${MODEL:-skip requested})"
elif [ -n "$($OWNED ls -A "$NM_STATE/models" 2>/dev/null)" ]; then
  ok "embedding model already in $NM_STATE/models"
else
  note "downloading the embedding model (once; the daemon never fetches at run time)"
  ${SVC[@]+"${SVC[@]}"} env NOTES_MCP_CONFIG="$NM_CONFIG" "$NODE" "$RELEASE/bin/notes-mcp.js" model fetch
  changed "fetched the embedding model into $NM_STATE/models"
fi

"${NM[@]}" launchd plist "${LAYOUT_ARGS[@]}" --out "$STAGE/job.plist"
"${NM[@]}" launchd newsyslog "${LAYOUT_ARGS[@]}" --out "$STAGE/newsyslog.conf"
plutil -lint "$STAGE/job.plist" >/dev/null || die "plutil rejects the generated plist $STAGE/job.plist"
if [ "$MODE" = daemon ]; then
  DOMAIN=system JOB_OWNER=root JOB_GROUP=wheel
  ensure_dir "$(dirname "$NM_PLIST")" 755 root wheel
else
  DOMAIN="gui/$(id -u)" JOB_OWNER=$ADMIN JOB_GROUP=staff
  lctl "$DOMAIN" print "$DOMAIN" >/dev/null 2>&1 ||
    die "no GUI session for $ADMIN ($DOMAIN): log in once at the console or Screen Sharing, or use --mode daemon"
  ensure_dir "$(dirname "$NM_PLIST")" 755 "$ADMIN" staff ""
fi
JOB_PRIV=as_root
[ "$MODE" = agent ] && JOB_PRIV=""
install_file "$STAGE/job.plist" "$NM_PLIST" 644 "$JOB_OWNER" "$JOB_GROUP" "$JOB_PRIV"
PLIST_CHANGED=$FILE_CHANGED
ensure_dir "$(dirname "$NM_NEWSYSLOG")" 755 root wheel
install_file "$STAGE/newsyslog.conf" "$NM_NEWSYSLOG" 644 root wheel

bootout_wait() { # bootout_wait DOMAIN/LABEL: let the daemon drain (ExitTimeOut) before bootstrapping again
  lctl "${1%%/*}" bootout "$1" 2>/dev/null || true
  local _
  for _ in $(seq 1 30); do loaded "$1" || return 0; sleep 1; done
  die "$1 did not stop within 30 s"
}
start_job() { # start_job DOMAIN LABEL PLIST PLIST_CHANGED RESTART
  local service="$1/$2"
  if ! loaded "$service"; then
    lctl "$1" enable "$service"
    lctl "$1" bootstrap "$1" "$3"
    changed "launchctl bootstrap $1 $3"
  elif [ "$4" = 1 ]; then
    bootout_wait "$service"
    lctl "$1" enable "$service"
    lctl "$1" bootstrap "$1" "$3"
    changed "reloaded $service with its new plist"
  elif [ "$5" = 1 ]; then
    lctl "$1" kickstart -k "$service"
    changed "launchctl kickstart -k $service"
  else
    ok "$service is loaded"
  fi
}
RESTART=0
[ "$APP_CHANGED" = 1 ] || [ "$CONFIG_CHANGED" = 1 ] || [ "$TOKEN_CHANGED" = 1 ] && RESTART=1
start_job "$DOMAIN" "$NM_LABEL" "$NM_PLIST" "$PLIST_CHANGED" "$RESTART"

# ---------------------------------------------------------------------------------------------
if [ "$NO_NGINX" = 1 ]; then
  log "nginx and TLS: skipped (no --server-name or --no-nginx); the daemon listens on http://$NM_HOST:$NM_PORT only"
else
  log "TLS certificate for $SERVER_NAME"
  ensure_dir "$PREFIX/etc/tls" 755 root wheel
  ensure_dir "$NM_CA_DIR" 755 root wheel
  ensure_dir "$NM_TLS_DIR" 700 root wheel
  ensure_dir "$NM_ACME_ROOT" 755 root wheel
  CA_SUBJECT="notes-mcp private CA"
  san() { if is_ip "$SERVER_NAME"; then printf 'IP:%s' "$SERVER_NAME"; else printf 'DNS:%s' "$SERVER_NAME"; fi; }
  issuer_is_ca() { as_root openssl x509 -noout -issuer -in "$NM_TLS_CERT" 2>/dev/null | grep -q "$CA_SUBJECT"; }
  cert_valid_days() { as_root openssl x509 -noout -checkend $(($1 * 86400)) -in "$NM_TLS_CERT" >/dev/null 2>&1; }
  cert_names_server() { as_root openssl x509 -noout -text -in "$NM_TLS_CERT" 2>/dev/null | grep -q "$(san | sed 's/^IP:/IP Address:/')"; }
  make_private_cert() {
    if ! as_root test -f "$NM_CA_DIR/ca.key"; then
      printf '[req]\ndistinguished_name=dn\n[dn]\n[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' >"$WORK/ca.cnf"
      as_root openssl ecparam -genkey -name prime256v1 -noout -out "$NM_CA_DIR/ca.key"
      as_root chmod 600 "$NM_CA_DIR/ca.key"
      as_root openssl req -x509 -new -sha256 -days 3650 -key "$NM_CA_DIR/ca.key" -subj "/CN=$CA_SUBJECT" \
        -config "$WORK/ca.cnf" -extensions ca -out "$NM_CA_DIR/ca.pem"
      as_root chmod 644 "$NM_CA_DIR/ca.pem"
      changed "created the private CA $NM_CA_DIR/ca.pem"
    fi
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$(san)" >"$WORK/leaf.cnf"
    as_root openssl ecparam -genkey -name prime256v1 -noout -out "$NM_TLS_DIR/privkey.pem.new"
    as_root openssl req -new -key "$NM_TLS_DIR/privkey.pem.new" -subj "/CN=$SERVER_NAME" -out "$WORK/leaf.csr"
    # 397 days: Apple platforms reject longer-lived server certificates.
    as_root openssl x509 -req -sha256 -days 397 -in "$WORK/leaf.csr" -CA "$NM_CA_DIR/ca.pem" -CAkey "$NM_CA_DIR/ca.key" \
      -CAcreateserial -CAserial "$NM_CA_DIR/ca.srl" -extfile "$WORK/leaf.cnf" -out "$NM_TLS_DIR/fullchain.pem.new" \
      2>"$WORK/openssl.err" || { cat "$WORK/openssl.err" >&2; die "openssl could not sign the certificate"; }
    as_root rm -f "$NM_TLS_CERT" "$NM_TLS_KEY"
    as_root chmod 600 "$NM_TLS_DIR/privkey.pem.new"
    as_root mv -f "$NM_TLS_DIR/privkey.pem.new" "$NM_TLS_KEY"
    as_root mv -f "$NM_TLS_DIR/fullchain.pem.new" "$NM_TLS_CERT"
    changed "issued a certificate for $SERVER_NAME from the private CA"
  }
  CERT_CHANGED=0
  case $TLS in
    existing)
      install_file "$CERT" "$NM_TLS_CERT" 644 root wheel && [ "$FILE_CHANGED" = 1 ] && CERT_CHANGED=1
      install_file "$KEY" "$NM_TLS_KEY" 600 root wheel && [ "$FILE_CHANGED" = 1 ] && CERT_CHANGED=1
      ;;
    *)
      # Let's Encrypt needs nginx answering on :80 first, so a private-CA certificate always comes first.
      if as_root test -e "$NM_TLS_CERT" && cert_valid_days 30 && cert_names_server; then
        ok "certificate $NM_TLS_CERT is valid for 30+ days"
      elif as_root test -e "$NM_TLS_CERT" && ! issuer_is_ca && cert_valid_days 1; then
        ok "certificate $NM_TLS_CERT is renewed by $NM_RENEW_LABEL"
      else
        make_private_cert
        CERT_CHANGED=1
      fi
      ;;
  esac

  log "nginx"
  ensure_dir "$NM_NGINX_CONF_DIR" 755 root wheel
  ensure_dir "$NM_NGINX_SERVERS" 755 root wheel
  ensure_dir "$(dirname "$NM_NGINX_VAR")" 755 root wheel
  ensure_dir "$NM_NGINX_VAR" 755 root wheel
  ensure_dir "$(dirname "$NM_NGINX_LOGS")" 755 root wheel
  ensure_dir "$NM_NGINX_LOGS" 755 root wheel
  for other in "$NM_NGINX_SERVERS"/*.conf; do
    if [ ! -f "$other" ] || [ "$other" = "$NM_NGINX_SITE" ]; then continue; fi
    grep -q "server_name $SERVER_NAME;" "$other" && die "$SERVER_NAME is already served by $other"
  done
  SITE_ARGS=("${LAYOUT_ARGS[@]}" --https-port "$HTTPS_PORT" --http-port "$HTTP_PORT")
  [ -n "$RATE" ] && SITE_ARGS+=(--rate "$RATE")
  [ -n "$BURST" ] && SITE_ARGS+=(--burst "$BURST")
  MAIN_ARGS=("${LAYOUT_ARGS[@]}" --worker-user nobody --worker-group nobody --http-port "$HTTP_PORT")
  "${NM[@]}" nginx conf "${SITE_ARGS[@]}" --out "$STAGE/site.conf"
  # Test the candidate configuration (the other instances' files plus ours) before installing anything.
  mkdir -p "$STAGE/servers"
  for other in "$NM_NGINX_SERVERS"/*.conf; do
    [ -f "$other" ] && [ "$other" != "$NM_NGINX_SITE" ] && cp "$other" "$STAGE/servers/"
  done
  cp "$STAGE/site.conf" "$STAGE/servers/$NM_INSTANCE.conf"
  "${NM[@]}" nginx main "${MAIN_ARGS[@]}" --servers-dir "$STAGE/servers" --out "$STAGE/nginx-test.conf"
  as_root "$NM_NGINX_BIN" -t -q -c "$STAGE/nginx-test.conf" || die "nginx -t rejects the new configuration; nothing was installed"
  ok "nginx -t accepts the configuration"
  "${NM[@]}" nginx main "${MAIN_ARGS[@]}" --out "$STAGE/nginx.conf"
  "${NM[@]}" launchd nginx-plist "${LAYOUT_ARGS[@]}" --out "$STAGE/nginx.plist"
  "${NM[@]}" launchd nginx-newsyslog "${LAYOUT_ARGS[@]}" --out "$STAGE/nginx-newsyslog.conf"
  plutil -lint "$STAGE/nginx.plist" >/dev/null || die "plutil rejects the generated nginx plist"
  NGINX_CONF_CHANGED=0
  install_file "$STAGE/nginx.conf" "$NM_NGINX_CONF" 644 root wheel
  [ "$FILE_CHANGED" = 1 ] && NGINX_CONF_CHANGED=1
  install_file "$STAGE/site.conf" "$NM_NGINX_SITE" 644 root wheel
  [ "$FILE_CHANGED" = 1 ] && NGINX_CONF_CHANGED=1
  [ "$CERT_CHANGED" = 1 ] && NGINX_CONF_CHANGED=1
  install_file "$STAGE/nginx-newsyslog.conf" "$NM_NGINX_NEWSYSLOG" 644 root wheel
  install_file "$STAGE/nginx.plist" "$NM_NGINX_PLIST" 644 root wheel
  NGINX_PLIST_CHANGED=$FILE_CHANGED
  reload_nginx() { as_root launchctl kill SIGHUP "system/$NM_NGINX_LABEL"; }
  if loaded "system/$NM_NGINX_LABEL" && [ "$NGINX_PLIST_CHANGED" = 0 ] && [ "$NGINX_CONF_CHANGED" = 1 ]; then
    reload_nginx
    changed "reloaded nginx (SIGHUP)"
  else
    start_job system "$NM_NGINX_LABEL" "$NM_NGINX_PLIST" "$NGINX_PLIST_CHANGED" 0
  fi

  if [ "$TLS" = letsencrypt ]; then
    log "Let's Encrypt ($ACME_CLIENT)"
    if ! issuer_is_ca; then
      ok "$NM_TLS_CERT comes from Let's Encrypt"
      LE_OK=1
    else
      LE_OK=0
      PROFILE=()
      if [ "$ACME_CLIENT" = certbot ]; then
        if [ -n "$EMAIL" ]; then ACCOUNT=(-m "$EMAIL"); else ACCOUNT=(--register-unsafely-without-email); fi
        if as_root "$BREW_PREFIX/bin/certbot" certonly --webroot -w "$NM_ACME_ROOT" -d "$SERVER_NAME" --cert-name "$SERVER_NAME" \
          --config-dir "$NM_LE_DIR" --work-dir "$NM_LE_WORK" --logs-dir "$NM_LOGS/letsencrypt" \
          --non-interactive --agree-tos "${ACCOUNT[@]}" --keep-until-expiring; then
          as_root ln -sfn "$NM_LE_DIR/live/$SERVER_NAME/fullchain.pem" "$NM_TLS_CERT"
          as_root ln -sfn "$NM_LE_DIR/live/$SERVER_NAME/privkey.pem" "$NM_TLS_KEY"
          LE_OK=1
        fi
      else
        # IP addresses get only the short-lived (about 6 days) profile: renew every 3 days.
        is_ip "$SERVER_NAME" && PROFILE=(--cert-profile shortlived --days 3)
        if [ -n "$EMAIL" ]; then ACCOUNT=(--accountemail "$EMAIL"); else ACCOUNT=(); fi
        ACME=(as_root "$BREW_PREFIX/bin/acme.sh" --home "$NM_ACME_HOME" --config-home "$NM_ACME_HOME")
        if "${ACME[@]}" --issue --server letsencrypt -d "$SERVER_NAME" -w "$NM_ACME_ROOT" ${PROFILE[@]+"${PROFILE[@]}"} ${ACCOUNT[@]+"${ACCOUNT[@]}"} &&
          as_root rm -f "$NM_TLS_CERT" "$NM_TLS_KEY" &&
          "${ACME[@]}" --install-cert -d "$SERVER_NAME" --fullchain-file "$NM_TLS_CERT" --key-file "$NM_TLS_KEY" \
            --reloadcmd "/bin/launchctl kill SIGHUP system/$NM_NGINX_LABEL"; then
          LE_OK=1
        fi
      fi
      if [ "$LE_OK" = 1 ]; then
        reload_nginx
        changed "installed the Let's Encrypt certificate for $SERVER_NAME and reloaded nginx"
      else
        warn "Let's Encrypt failed (is port $HTTP_PORT reachable from the internet at $SERVER_NAME?).
         nginx keeps serving the private-CA certificate. Clients must trust $NM_CA_DIR/ca.pem:
         copy it to the client machine and set NODE_EXTRA_CA_CERTS=/path/to/ca.pem (see RUNBOOK.md).
         Re-run provision.sh once the name resolves and port $HTTP_PORT is open."
      fi
    fi
    if [ "$LE_OK" = 1 ]; then
      "${NM[@]}" launchd renew-plist "${LAYOUT_ARGS[@]}" --client "$ACME_CLIENT" --out "$STAGE/renew.plist"
      install_file "$STAGE/renew.plist" "$NM_RENEW_PLIST" 644 root wheel
      start_job system "$NM_RENEW_LABEL" "$NM_RENEW_PLIST" "$FILE_CHANGED" 0
    fi
  elif [ "$TLS" = self-signed ]; then
    note "clients must trust the private CA: copy $NM_CA_DIR/ca.pem and set NODE_EXTRA_CA_CERTS (see RUNBOOK.md)"
  fi
fi

# ---------------------------------------------------------------------------------------------
log "power settings"
if [ "$PMSET" = 0 ]; then
  ok "left alone (--no-pmset or agent mode)"
else
  PM=$(pmset -g)
  pm_value() { printf '%s\n' "$PM" | awk -v k="$1" '$1 == k { print $2; exit }'; }
  if [ "$(pm_value sleep)" = 0 ] && [ "$(pm_value disksleep)" = 0 ] && [ "$(pm_value autorestart)" = 1 ] && [ "$(pm_value womp)" = 1 ]; then
    ok "never sleeps, restarts after a power failure, wakes on network"
  else
    as_root pmset -a sleep 0 disksleep 0 autorestart 1 womp 1
    changed "pmset: sleep 0, disksleep 0, autorestart 1, womp 1"
  fi
fi

# ---------------------------------------------------------------------------------------------
log "health"
HEALTH_URL="http://$NM_HOST:$NM_PORT/health"
HEALTHY=0
for _ in $(seq 1 60); do
  if curl -fsS --max-time 2 "$HEALTH_URL" >"$WORK/health.json" 2>/dev/null; then HEALTHY=1; break; fi
  sleep 1
done
if [ "$HEALTHY" = 1 ]; then
  ok "$HEALTH_URL answers: $(head -c 200 "$WORK/health.json")"
else
  die "$HEALTH_URL does not answer after 60 s. Diagnose with:
  sudo launchctl print $DOMAIN/$NM_LABEL | grep -E 'state|last exit'
  tail -n 50 '$NM_STDERR_LOG' '$NM_LOG_FILE'"
fi

# ---------------------------------------------------------------------------------------------
log "summary"
SUDO_READ="sudo " SUDO_SVC="sudo -u $NM_USER " VERIFY_MODE=""
[ "$MODE" = agent ] && SUDO_READ="" SUDO_SVC="" VERIFY_MODE=" --mode agent"
if [ "$NO_NGINX" = 1 ]; then
  ENDPOINT="http://$NM_HOST:$NM_PORT"
  note "endpoint:  $ENDPOINT/mcp (this Mac only)"
else
  SUFFIX=""
  [ "$HTTPS_PORT" = 443 ] || SUFFIX=":$HTTPS_PORT"
  ENDPOINT="https://$SERVER_NAME$SUFFIX"
  note "endpoint:  $ENDPOINT/mcp"
fi
note "token:     ${SUDO_READ}cat '$NM_TOKEN_FILE'"
note "config:    $NM_CONFIG   (CLI: ${SUDO_SVC}$NM_WRAPPER --config '$NM_CONFIG' status)"
note "logs:      $NM_LOG_FILE"
note "check:     ${SUDO_READ}scripts/verify.sh $ENDPOINT --instance $NM_INSTANCE$VERIFY_MODE --token-file '$NM_TOKEN_FILE'"
[ "$APP_CHANGED" = 1 ] && for other in "$NM_ETC"/*.json; do
  [ -f "$other" ] && [ "$other" != "$NM_CONFIG" ] &&
    note "instance $(basename "$other" .json) still runs the previous release until: sudo launchctl kickstart -k system/com.notes-mcp.$(basename "$other" .json)"
done
if [ "$CHANGES" = 0 ]; then
  log "No changes: everything was already up to date."
else
  if [ "$WARNINGS" = 0 ]; then log "$CHANGES change(s) applied."; else log "$CHANGES change(s) applied; $WARNINGS warning(s) above."; fi
fi
