# shellcheck shell=bash
# Helpers shared by provision.sh, uninstall.sh and verify.sh: logging that says what changed,
# privileged commands through sudo, files replaced only when their content differs.

CHANGES=0
WARNINGS=0

log() { printf '==> %s\n' "$*"; }
ok() { printf '    ok: %s\n' "$*"; }
changed() {
  CHANGES=$((CHANGES + 1))
  printf '    changed: %s\n' "$*"
}
note() { printf '    %s\n' "$*"; }
warn() {
  WARNINGS=$((WARNINGS + 1))
  printf 'warning: %s\n' "$*" >&2
}
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Run a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Run a command as another user (the service user) with that user's home and groups.
as_user() {
  local user=$1
  shift
  if [ "$(id -un)" = "$user" ]; then "$@"; else sudo -u "$user" -H "$@"; fi
}

# SHA-256: shasum ships with macOS, sha256sum with Linux (tests).
if command -v sha256sum >/dev/null 2>&1; then SHA256_CMD=(sha256sum); else SHA256_CMD=(shasum -a 256); fi
sha256() { "${SHA256_CMD[@]}" | cut -d' ' -f1; }

# launchctl in a domain: the system domain needs root, gui/<uid> must be the user itself.
lctl() {
  local domain=$1
  shift
  if [ "$domain" = system ]; then as_root launchctl "$@"; else launchctl "$@"; fi
}
# loaded DOMAIN/LABEL: is the job bootstrapped?
loaded() { lctl "${1%%/*}" print "$1" >/dev/null 2>&1; }

# ensure_dir DIR MODE OWNER GROUP [SUDO]: create a folder once; an existing one is left alone.
# SUDO is the command prefix for file operations: as_root (default) or "" (the user's own files).
ensure_dir() {
  local dir=$1 mode=$2 owner=$3 group=$4 priv=${5-as_root}
  if $priv test -d "$dir"; then
    return 0
  fi
  $priv mkdir -p "$dir"
  $priv chmod "$mode" "$dir"
  $priv chown "$owner:$group" "$dir"
  changed "created $dir"
}

# install_file SRC DEST MODE OWNER GROUP [SUDO]: replace DEST with SRC only when the content
# differs, atomically (temp file in the same folder, then rename). Sets FILE_CHANGED=1|0.
# shellcheck disable=SC2034 # read by the scripts that source this file
FILE_CHANGED=0
install_file() {
  local src=$1 dest=$2 mode=$3 owner=$4 group=$5 priv=${6-as_root}
  FILE_CHANGED=0
  if $priv test -f "$dest" && $priv cmp -s "$src" "$dest"; then
    ok "$dest is up to date"
    return 0
  fi
  local tmp
  tmp="$(dirname "$dest")/.$(basename "$dest").new.$$"
  $priv cp "$src" "$tmp"
  $priv chmod "$mode" "$tmp"
  $priv chown "$owner:$group" "$tmp"
  $priv mv -f "$tmp" "$dest"
  # shellcheck disable=SC2034
  FILE_CHANGED=1
  changed "wrote $dest"
}

# Quote arguments so they survive one more round of shell parsing (ssh, eval).
shell_quote() {
  local out="" arg
  for arg in "$@"; do
    out+="'${arg//\'/\'\\\'\'}' "
  done
  printf '%s' "${out% }"
}
