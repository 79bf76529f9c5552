# shellcheck shell=bash
# What "healthy" means after a restart, for "converge" and its rollback: /health answers, the
# start's index pass is over, and verify.sh (from the release being checked) passes against
# the daemon itself.

# check_instance RELEASE_DIR: /health on loopback within 60 s, then verify.sh (from that release)
# straight against the daemon. Sets CHECK_FAILED when it fails.
CHECK_FAILED=""
check_instance() {
  local url="http://$NM_HOST:$NM_PORT" healthy=0 down=0 _
  for _ in $(seq 1 60); do
    if curl -fsS --max-time 2 "$url/health" >"$WORK/health.json" 2>/dev/null; then healthy=1; break; fi
    # A daemon that keeps exiting (KeepAlive restarts it every ThrottleInterval) will not answer.
    if running "$DOMAIN/$NM_LABEL"; then down=0; else down=$((down + 1)); fi
    if [ "$down" -ge 5 ]; then
      local code
      code=$(lctl "$DOMAIN" print "$DOMAIN/$NM_LABEL" 2>/dev/null | sed -n 's/^[[:space:]]*last exit code = //p' | head -n 1 || true)
      CHECK_FAILED="$url/health never answered: the job keeps exiting (last exit code ${code:-unknown})"
      return 1
    fi
    sleep 1
  done
  if [ "$healthy" = 0 ]; then
    CHECK_FAILED="$url/health did not answer within 60 s of the restart"
    return 1
  fi
  ok "$url/health answers: $(head -c 200 "$WORK/health.json")"
  # A start begins with an index pass (all of it after a model change): latency measured during
  # it says little about the release, so let it finish first (bounded).
  for _ in $(seq 1 "${NM_SETTLE_S:-120}"); do
    curl -fsS --max-time 2 "$url/health" >"$WORK/health.json" 2>/dev/null || break
    grep -q '"syncing":true' "$WORK/health.json" || break
    sleep 1
  done
  grep -q '"syncing":true' "$WORK/health.json" && note "the index is still syncing; verifying anyway"
  local args=("$url" --config "$NM_CONFIG" --no-service --tolerance "$TOLERANCE" --tolerance-ms "$TOLERANCE_MS")
  [ "$NEW_BASELINE" = 1 ] && [ "$1" = "$RELEASE" ] && args+=(--update-baseline)
  # Returning to the release that last passed: what it must show again is that it works; its
  # latency was judged when it went in, and a noisy figure now is no reason to give up on it.
  [ "$1" = "$RELEASE" ] || args+=(--no-baseline)
  # As the service user: it reads the token file and writes the record into the state folder.
  verify_once() { ${SVC[@]+"${SVC[@]}"} env NODE="$NODE" bash "$1/scripts/verify.sh" "${args[@]}" >"$WORK/verify.out" 2>&1; }
  if ! verify_once "$1"; then
    sed 's/^/      /' "$WORK/verify.out"
    # Latency is the one noisy check: a baseline failure alone is measured once more.
    if grep -Eq '^verify: FAIL .* checks failed: baseline( \||$)' "$WORK/verify.out"; then
      note "only the latency baseline failed: measuring once more before deciding"
      if verify_once "$1"; then
        ok "$(tail -n 1 "$WORK/verify.out")"
        return 0
      fi
      sed 's/^/      /' "$WORK/verify.out"
    fi
    CHECK_FAILED="verification failed: $(tail -n 1 "$WORK/verify.out")"
    return 1
  fi
  ok "$(tail -n 1 "$WORK/verify.out")"
}
