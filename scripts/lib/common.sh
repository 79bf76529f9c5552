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
# DIE_HOOK names a function to run once before a fatal error exits (provision.sh: put upgraded
# Homebrew packages back); it must not call die itself.
DIE_HOOK=""
die() {
  printf 'error: %s\n' "$*" >&2
  local hook=$DIE_HOOK
  DIE_HOOK=""
  if [ -n "$hook" ]; then "$hook" || true; fi
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
# running DOMAIN/LABEL: does its process run? (The output is read whole: grep -q closing the
# pipe early would make launchctl fail, and pipefail with it.)
running() {
  local printed
  printed=$(lctl "${1%%/*}" print "$1" 2>/dev/null) || return 1
  [[ $printed == *$'\n'*"state = running"* ]]
}

# mode_owner PATH [SUDO]: "<octal mode> <owner>:<group>" (BSD stat, as on macOS).
mode_owner() { ${2-as_root} stat -f '%Lp %Su:%Sg' "$1"; }

# fix_drift PATH MODE OWNER GROUP [SUDO]: put back a mode or owner someone changed, and say so.
fix_drift() {
  local path=$1 mode=$2 owner=$3 group=$4 priv=${5-as_root} have
  have=$(mode_owner "$path" "$priv")
  if [ "$((8#${have%% *}))" != "$((8#$mode))" ]; then
    $priv chmod "$mode" "$path"
    changed "mode of $path was ${have%% *}, now $mode"
  fi
  if [ "${have#* }" != "$owner:$group" ]; then
    $priv chown "$owner:$group" "$path"
    changed "owner of $path was ${have#* }, now $owner:$group"
  fi
}

# ensure_dir DIR MODE OWNER GROUP [SUDO]: create a folder, or correct its mode and owner.
# SUDO is the command prefix for file operations: as_root (default) or "" (the user's own files).
ensure_dir() {
  local dir=$1 mode=$2 owner=$3 group=$4 priv=${5-as_root}
  if $priv test -d "$dir"; then
    fix_drift "$dir" "$mode" "$owner" "$group" "$priv"
    return 0
  fi
  $priv mkdir -p "$dir"
  $priv chmod "$mode" "$dir"
  $priv chown "$owner:$group" "$dir"
  changed "created $dir"
}

# install_file SRC DEST MODE OWNER GROUP [SUDO]: replace DEST with SRC only when the content
# differs, atomically (temp file in the same folder, then rename); an unchanged file gets its
# mode and owner corrected. Sets FILE_CHANGED=1|0.
# shellcheck disable=SC2034 # read by the scripts that source this file
FILE_CHANGED=0
install_file() {
  local src=$1 dest=$2 mode=$3 owner=$4 group=$5 priv=${6-as_root}
  FILE_CHANGED=0
  if $priv test -f "$dest" && $priv cmp -s "$src" "$dest"; then
    ok "$dest is up to date"
    fix_drift "$dest" "$mode" "$owner" "$group" "$priv"
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

# file_sha FILE [SUDO]: SHA-256 of a file ("none" when it does not exist).
file_sha() {
  if ${2-as_root} test -f "$1"; then ${2-as_root} cat "$1" | sha256; else printf 'none\n'; fi
}

# record_get FILE KEY [SUDO]: the value of KEY=value in a record file (empty when absent).
record_get() {
  { ${3-as_root} cat "$1" 2>/dev/null || true; } | sed -n "s/^$2=//p" | head -n 1
}

# Quote arguments so they survive one more round of shell parsing (ssh, eval).
shell_quote() {
  local out="" arg
  for arg in "$@"; do
    out+="'${arg//\'/\'\\\'\'}' "
  done
  printf '%s' "${out% }"
}
