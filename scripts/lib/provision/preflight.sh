# shellcheck shell=bash
# Phase "preflight": is this a Mac we can provision? Nothing is installed or changed here,
# except that sudo's timestamp is kept fresh for the rest of the run.

# sudo asks once; a background loop refreshes the timestamp (sudo -n true) until the run ends,
# so a long Command Line Tools install cannot outlast it before Homebrew's installer needs it.
SUDO_KEEPER=""
keep_sudo_alive() {
  local every=${NM_SUDO_REFRESH_S:-60} parent=$$
  # Its output goes nowhere: a leftover sleep must not hold the run's stdout open.
  (
    while sleep "$every"; do
      kill -0 "$parent" 2>/dev/null || exit 0
      sudo -n true 2>/dev/null || exit 0
    done
  ) >/dev/null 2>&1 &
  SUDO_KEEPER=$!
}
stop_sudo_keeper() { if [ -n "$SUDO_KEEPER" ]; then kill "$SUDO_KEEPER" 2>/dev/null || true; fi; }

# resolve_path PATH: PATH with every symlink resolved, also below the deepest folder that exists.
resolve_path() {
  local out="" rest=${1#/} comp target hops=0
  while [ -n "$rest" ]; do
    comp=${rest%%/*}
    if [ "$comp" = "$rest" ]; then rest=""; else rest=${rest#*/}; fi
    case $comp in
      '' | .) continue ;;
      ..) out=${out%/*}; continue ;;
    esac
    if [ -L "$out/$comp" ]; then
      hops=$((hops + 1))
      [ "$hops" -le 40 ] || return 1
      target=$(readlink "$out/$comp")
      case $target in /*) out="" ;; esac
      rest="${target#/}${rest:+/$rest}"
    else
      out="$out/$comp"
    fi
  done
  printf '%s\n' "${out:-/}"
}

# tcc_protected PATH: is PATH (already resolved) in a folder macOS privacy controls guard? APFS
# is case-insensitive, so compare case-folded.
tcc_protected() {
  local p
  p=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')
  case $p in
    /users/*/desktop | /users/*/desktop/* | /users/*/documents | /users/*/documents/* | \
      /users/*/downloads | /users/*/downloads/* | /users/*/pictures/* | /users/*/movies/* | /users/*/music/* | \
      /users/*/library/mobile\ documents | /users/*/library/mobile\ documents/* | \
      /users/*/library/cloudstorage | /users/*/library/cloudstorage/* | \
      /users/*/library/containers/* | /users/*/library/group\ containers/* | \
      /volumes/* | /system/volumes/data/users/*/desktop* | /system/volumes/data/users/*/documents*)
      return 0 ;;
  esac
  return 1
}

phase_preflight() {
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
  # Who owns the install root: root in daemon mode, you in agent mode.
  if [ "$MODE" = daemon ]; then OWNER=root GROUP=wheel OWNED=as_root; else OWNER=$ADMIN GROUP=staff OWNED=""; fi

  if [ -n "$NOTES" ]; then
    case $NOTES in /*) ;; *) die "--notes must be an absolute path" ;; esac
    local resolved
    resolved=$(resolve_path "$NOTES") || die "$NOTES: too many symbolic links"
    # launchd jobs have no TCC grants: these folders answer EPERM to a daemon, whatever the Unix mode.
    if tcc_protected "$NOTES" || tcc_protected "$resolved"; then
      die "$NOTES${resolved:+ (resolves to $resolved)} is protected by macOS privacy controls (TCC): a launchd job gets EPERM there. Use e.g. /Users/Shared/notes-mcp/$INSTANCE"
    fi
    ok "notes folder $NOTES is outside TCC-protected folders${resolved:+ (resolved: $resolved)}"
  fi

  local probe="${SYSROOT:-}/" free_kb
  [ -d "${SYSROOT}/opt" ] && probe="${SYSROOT}/opt"
  free_kb=$(df -Pk "$probe" | awk 'NR == 2 { print $4 }')
  [ "$free_kb" -ge $((MIN_FREE_GB * 1024 * 1024)) ] || die "only $((free_kb / 1024 / 1024)) GB free on $probe; need $MIN_FREE_GB GB (model, node_modules, index)"
  ok "$((free_kb / 1024 / 1024)) GB free"

  if fdesetup status 2>/dev/null | grep -q 'FileVault is On'; then
    warn "FileVault is on. After an unattended reboot (power loss, kernel panic, macOS update) the Mac waits at the
         FileVault unlock screen and NO launchd daemon starts until someone logs in (Screen Sharing/console).
         Plan reboots with 'sudo fdesetup authrestart', or turn FileVault off on a dedicated server. See RUNBOOK.md."
  else
    ok "FileVault is off: the Mac boots unattended"
  fi

  sudo -n true 2>/dev/null || { note "sudo will ask for $ADMIN's password once"; sudo -v; }
  keep_sudo_alive
  ok "sudo works (kept fresh for this run)"
}
