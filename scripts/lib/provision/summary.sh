# shellcheck shell=bash
# Phase "summary": where things are, which other instances run other releases, what changed.

phase_summary() {
  # Everything restarted on the upgraded Homebrew packages passed: they are the baseline now.
  if $OWNED test -f "$NM_DEPS_ROLLBACK"; then
    $OWNED rm -f "$NM_DEPS_ROLLBACK"
    DIE_HOOK=""
    ok "the upgraded Homebrew packages are verified"
  fi
  local sudo_read="sudo " sudo_svc="sudo -u $NM_USER " endpoint other pinned
  [ "$MODE" = agent ] && sudo_read="" sudo_svc=""
  if [ "$NO_NGINX" = 1 ]; then
    endpoint="http://$NM_HOST:$NM_PORT"
    note "endpoint:  $endpoint/mcp (this Mac only)"
  else
    local suffix=""
    [ "$HTTPS_PORT" = 443 ] || suffix=":$HTTPS_PORT"
    endpoint="https://$SERVER_NAME$suffix"
    note "endpoint:  $endpoint/mcp"
  fi
  note "token:     ${sudo_read}cat '$NM_TOKEN_FILE'"
  note "config:    $NM_CONFIG   (CLI: ${sudo_svc}$NM_WRAPPER --config '$NM_CONFIG' status)"
  note "logs:      $NM_LOG_FILE, verify: $NM_VERIFY_LOG"
  note "check:     ${sudo_read}scripts/verify.sh $endpoint --config '$NM_CONFIG' --instance $NM_INSTANCE${sudo_read:+ --mode daemon}"
  # Each instance runs its own pinned release; say which ones this run did not move.
  for other in "$PREFIX"/instances/*/current; do
    [ -L "$other" ] || continue
    pinned=$(basename "$(readlink "$other")")
    [ "$(basename "$(dirname "$other")")" = "$NM_INSTANCE" ] && continue
    [ "$pinned" = "$RELEASE_ID" ] && continue
    note "instance $(basename "$(dirname "$other")") stays on release $pinned (this run installed $RELEASE_ID):"
    note "  provision it again (--instance $(basename "$(dirname "$other")") ...) to move it, with health checks and rollback"
  done
  if [ "$CHANGES" = 0 ]; then
    log "No changes: everything was already up to date."
  elif [ "$WARNINGS" = 0 ]; then
    log "$CHANGES change(s) applied."
  else
    log "$CHANGES change(s) applied; $WARNINGS warning(s) above."
  fi
}
