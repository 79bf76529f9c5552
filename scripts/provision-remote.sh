#!/usr/bin/env bash
# Provision a Mac from your laptop: copy this checkout to the Mac over SSH, then run
# scripts/provision.sh there with the options you give. The output is also saved locally.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$HERE/lib/common.sh"

usage() {
  cat <<'EOF'
Usage: provision-remote.sh [user@]host [options] [--] [provision.sh options]

  --ssh-option OPT   passed to ssh as -o OPT (repeatable), e.g. --ssh-option Port=2222
  --identity FILE    ssh private key (ssh -i)
  --source DIR       checkout to ship (default: the one holding this script)
  --remote-dir DIR   where it lands on the Mac, relative to the remote home (default notes-mcp-src)
  --log FILE         local copy of the output (default ./provision-<host>-<date>.log)
  -h, --help         this help

Everything else (or everything after --) goes to provision.sh on the Mac, for example:
  scripts/provision-remote.sh admin@203.0.113.7 -- --server-name notes.example.com --email you@example.com

sudo on the Mac asks for the admin password once (ssh allocates a terminal for it).
EOF
}

TARGET="" SSH_OPTS=() SOURCE=$(cd "$HERE/.." && pwd) REMOTE_DIR=notes-mcp-src LOG="" PASS=()
need() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value (see --help)"; fi; }
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --ssh-option) need "$@"; SSH_OPTS+=(-o "$2"); shift 2 ;;
    --identity) need "$@"; SSH_OPTS+=(-i "$2"); shift 2 ;;
    --source) need "$@"; SOURCE=$(cd "$2" && pwd); shift 2 ;;
    --remote-dir) need "$@"; REMOTE_DIR=$2; shift 2 ;;
    --log) need "$@"; LOG=$2; shift 2 ;;
    --) shift; PASS+=("$@"); break ;;
    -*) PASS+=("$1"); shift ;;
    *)
      if [ -z "$TARGET" ]; then TARGET=$1; else PASS+=("$1"); fi
      shift ;;
  esac
done
[ -n "$TARGET" ] || { usage >&2; exit 2; }
case $REMOTE_DIR in /* | *..* | '') die "--remote-dir must be a relative path inside the remote home" ;; esac
[ -f "$SOURCE/scripts/provision.sh" ] || die "$SOURCE is not a notes-mcp checkout"
LOG=${LOG:-./provision-${TARGET#*@}-$(date +%Y%m%d-%H%M%S).log}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/notes-mcp-remote.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
if git -C "$SOURCE" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$SOURCE" ls-files --cached --others --exclude-standard
else
  (cd "$SOURCE" && find . -type f ! -path './node_modules/*' ! -path './dist/*' ! -path './.git/*' ! -path './.ci/.node/*' | sed 's|^\./||')
fi | (cd "$SOURCE" && while IFS= read -r f; do if [ -f "$f" ]; then printf '%s\n' "$f"; fi; done) >"$WORK/files"

log "copying $(wc -l <"$WORK/files" | tr -d ' ') files from $SOURCE to $TARGET:$REMOTE_DIR"
DIR=$(shell_quote "$REMOTE_DIR")
TMP_DIR=$(shell_quote "$REMOTE_DIR.tmp")
# The remote commands are built here on purpose, from values quoted with shell_quote.
# shellcheck disable=SC2029
(cd "$SOURCE" && tar -czf - -T "$WORK/files") |
  ssh ${SSH_OPTS[@]+"${SSH_OPTS[@]}"} "$TARGET" \
    "rm -rf $TMP_DIR && mkdir -p $TMP_DIR && tar -xzf - -C $TMP_DIR && rm -rf $DIR && mv $TMP_DIR $DIR"

log "running provision.sh on $TARGET (output also in $LOG)"
TTY=()
[ -t 0 ] && TTY=(-t)
REMOTE="bash $DIR/scripts/provision.sh --source $DIR"
[ ${#PASS[@]} -gt 0 ] && REMOTE="$REMOTE $(shell_quote "${PASS[@]}")"
# shellcheck disable=SC2029
ssh ${TTY[@]+"${TTY[@]}"} ${SSH_OPTS[@]+"${SSH_OPTS[@]}"} "$TARGET" "$REMOTE" 2>&1 | tee "$LOG"
note "log: $LOG"
