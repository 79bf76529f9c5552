#!/usr/bin/env bash
# Remove one notes-mcp instance from this Mac: its launchd jobs, nginx server block, log
# rotation entry and config. The notes folder is never touched; the state folder (index,
# tokens, models) is deleted only when you say so.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$HERE/lib/common.sh"

usage() {
  cat <<'EOF'
Usage: uninstall.sh [options]

  --instance NAME     instance to remove (default: default)
  --mode daemon|agent how it was installed (default: daemon)
  --prefix DIR        install root (default /opt/notes-mcp; agent: ~/Library/notes-mcp)
  --arch arm64|x86_64 override CPU detection
  --delete-state      also delete the state folder and logs (index, tokens, downloaded models)
  --keep-state        keep them without asking
  --purge             when no instance is left: also remove nginx's job, the app and the service user
  -y, --yes           do not ask; keeps the state folder unless --delete-state is given
  --sysroot DIR       prefix for every system path (tests only)
  -h, --help          this help

Notes are kept in every case. Without --yes, asks before deleting the state folder.
EOF
}

INSTANCE=default MODE=daemon PREFIX="" ARCH="" STATE_ACTION=ask PURGE=0 YES=0 SYSROOT=""
need() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value (see --help)"; fi; }
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --instance) need "$@"; INSTANCE=$2; shift 2 ;;
    --mode) need "$@"; MODE=$2; shift 2 ;;
    --prefix) need "$@"; PREFIX=$2; shift 2 ;;
    --arch) need "$@"; ARCH=$2; shift 2 ;;
    --delete-state) STATE_ACTION=delete; shift ;;
    --keep-state) STATE_ACTION=keep; shift ;;
    --purge) PURGE=1; shift ;;
    -y | --yes) YES=1; shift ;;
    --sysroot) need "$@"; SYSROOT=$(cd "$2" && pwd); shift 2 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ "$STATE_ACTION" = ask ] && [ "$YES" = 1 ] && STATE_ACTION=keep

if [ -z "$ARCH" ]; then
  if [ "$(sysctl -n hw.optional.arm64 2>/dev/null || echo 0)" = 1 ]; then ARCH=arm64; else ARCH=x86_64; fi
fi
if [ "$ARCH" = arm64 ]; then BREW_PREFIX="$SYSROOT/opt/homebrew"; else BREW_PREFIX="$SYSROOT/usr/local"; fi
if [ "$MODE" = daemon ]; then
  PREFIX=${PREFIX:-$SYSROOT/opt/notes-mcp}
  OWNED=as_root
  DOMAIN=system
else
  PREFIX=${PREFIX:-$HOME/Library/notes-mcp}
  OWNED=""
  DOMAIN="gui/$(id -u)"
fi
NODE="$BREW_PREFIX/opt/node@24/bin/node"
# The instance's own pinned release, else the shared current one (the CLI wrapper's).
PROGRAM="$PREFIX/instances/$INSTANCE/current/bin/notes-mcp.js"
$OWNED test -f "$PROGRAM" || PROGRAM="$PREFIX/current/bin/notes-mcp.js"
if [ ! -x "$NODE" ] || ! $OWNED test -f "$PROGRAM"; then
  die "no notes-mcp install found at $PREFIX (with node at $NODE); see --prefix/--arch"
fi
LAYOUT_ARGS=(--instance "$INSTANCE" --mode "$MODE" --arch "$ARCH" --prefix "$PREFIX" --brew-prefix "$BREW_PREFIX")
[ -n "$SYSROOT" ] && LAYOUT_ARGS+=(--root "$SYSROOT")
[ "$MODE" = agent ] && LAYOUT_ARGS+=(--user "$(id -un)" --home "$HOME")
# The instance's own config file knows its folders; fall back to the defaults when it is gone.
CONFIG="$PREFIX/etc/$INSTANCE.json"
if [ -f "$CONFIG" ]; then
  json_get() { "$NODE" -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); process.stdout.write(String(c[process.argv[2]] ?? ""))' "$CONFIG" "$1"; }
  LAYOUT_ARGS+=(--notes "$(json_get notes)" --state "$(json_get state)" --port "$(json_get port)")
fi
LAYOUT=$("$NODE" "$PROGRAM" launchd layout --format shell "${LAYOUT_ARGS[@]}") || die "invalid instance settings"
eval "$LAYOUT"

log "launchd jobs of instance $NM_INSTANCE"
for job in "$NM_LABEL:$NM_PLIST:$DOMAIN" "$NM_VERIFY_LABEL:$NM_VERIFY_PLIST:$DOMAIN" "$NM_RENEW_LABEL:$NM_RENEW_PLIST:system"; do
  label=${job%%:*} rest=${job#*:}
  plist=${rest%:*} domain=${rest##*:}
  if loaded "$domain/$label"; then
    lctl "$domain" bootout "$domain/$label" || true
    changed "launchctl bootout $domain/$label"
  else
    ok "$domain/$label is not loaded"
  fi
  priv=as_root
  [ "$domain" = system ] || priv=""
  if $priv test -e "$plist"; then
    $priv rm -f "$plist"
    changed "removed $plist"
  fi
  $OWNED rm -f "$NM_JOBS_RECORDS/$label.sha"
done
# Its release pin and the records of what ran (the releases themselves may serve others).
if $OWNED test -d "$NM_PIN_DIR"; then
  $OWNED rm -rf "$NM_PIN_DIR"
  changed "removed $NM_PIN_DIR"
fi
for f in "$NM_NEWSYSLOG" "$NM_CONFIG"; do
  if as_root test -e "$f"; then
    as_root rm -f "$f"
    changed "removed $f"
  fi
done

log "nginx"
if as_root test -e "$NM_NGINX_SITE"; then
  as_root rm -f "$NM_NGINX_SITE"
  changed "removed $NM_NGINX_SITE"
  if loaded "system/$NM_NGINX_LABEL"; then
    as_root "$NM_NGINX_BIN" -t -q -c "$NM_NGINX_CONF" || die "nginx -t fails without $NM_NGINX_SITE; nginx keeps its running configuration"
    as_root launchctl kill SIGHUP "system/$NM_NGINX_LABEL"
    changed "reloaded nginx"
  fi
else
  ok "no server block for $NM_INSTANCE"
fi
if as_root test -d "$NM_TLS_DIR"; then
  as_root rm -rf "$NM_TLS_DIR"
  changed "removed $NM_TLS_DIR"
fi

log "state and logs"
note "notes are kept: $NM_NOTES"
if [ "$STATE_ACTION" = ask ]; then
  printf 'Delete the state folder %s and logs %s (index, tokens, downloaded models)? [y/N] ' "$NM_STATE" "$NM_LOGS"
  read -r answer || answer=""
  case $answer in [yY]*) STATE_ACTION=delete ;; *) STATE_ACTION=keep ;; esac
fi
if [ "$STATE_ACTION" = delete ]; then
  for d in "$NM_STATE" "$NM_LOGS"; do
    if $OWNED test -d "$d"; then
      $OWNED rm -rf "$d"
      changed "deleted $d"
    fi
  done
else
  ok "kept $NM_STATE and $NM_LOGS"
fi

REMAINING=$(find "$NM_ETC" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l | tr -d ' ')
if [ "$REMAINING" != 0 ]; then
  note "$REMAINING other instance(s) remain; nginx and the app stay installed"
elif [ "$PURGE" = 1 ]; then
  log "purge: no instance left"
  if loaded "system/$NM_NGINX_LABEL"; then
    as_root launchctl bootout "system/$NM_NGINX_LABEL" || true
    changed "launchctl bootout system/$NM_NGINX_LABEL"
  fi
  for f in "$NM_NGINX_PLIST" "$NM_NGINX_NEWSYSLOG"; do
    if as_root test -e "$f"; then
      as_root rm -f "$f"
      changed "removed $f"
    fi
  done
  $OWNED rm -rf "$PREFIX"
  changed "removed $PREFIX"
  if [ "$MODE" = daemon ] && dscl . -read "/Users/$NM_USER" >/dev/null 2>&1; then
    as_root dscl . -delete "/Users/$NM_USER"
    dscl . -read "/Groups/$NM_GROUP" >/dev/null 2>&1 && as_root dscl . -delete "/Groups/$NM_GROUP"
    changed "deleted service user $NM_USER"
  fi
  note "Homebrew, node@24 and nginx stay installed (brew uninstall them if you wish)"
else
  note "no instance left; run again with --purge to remove nginx's job, the app and the service user"
fi

if [ "$CHANGES" = 0 ]; then log "Nothing to remove."; else log "$CHANGES change(s) applied."; fi
