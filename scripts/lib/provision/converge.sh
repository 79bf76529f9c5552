# shellcheck shell=bash
# Phase "converge": compare what should run ($STAGE/desired.env) with what this Mac recorded
# after the instance's last healthy restart ($NM_RUNNING), and when they differ (or the job is
# not running) install the config, token and plist, pin the instance to the release, restart,
# then check health and verification. A pass is recorded; a failure is rolled back to the
# recorded release and its files (kept in $NM_LAST_GOOD by content hash), then the run fails.

RECORD_KEYS=(release config plist token model node)

bootout_wait() { # bootout_wait DOMAIN/LABEL: let the daemon drain (ExitTimeOut) before bootstrapping again
  lctl "${1%%/*}" bootout "$1" 2>/dev/null || true
  local _
  for _ in $(seq 1 30); do loaded "$1" || return 0; sleep 1; done
  die "$1 did not stop within 30 s"
}

# pin RELEASE_DIR: point this instance (and only it) at a release; the old target becomes previous.
pin() {
  local now
  now=$($OWNED readlink "$NM_PIN_DIR/current" 2>/dev/null || true)
  if [ "$now" = "$1" ]; then return 0; fi
  [ -n "$now" ] && $OWNED ln -sfn "$now" "$NM_PIN_DIR/previous"
  $OWNED ln -sfn "$1" "$NM_PIN_DIR/current"
  changed "instance $NM_INSTANCE -> release $(basename "$1")${now:+ (previous: $(basename "$now"))}"
}

# restart_instance RELOAD: bootstrap when not loaded; bootout + bootstrap when the plist launchd
# holds is not the one installed (RELOAD=1); otherwise kickstart -k.
restart_instance() {
  local service="$DOMAIN/$NM_LABEL"
  if ! loaded "$service"; then
    lctl "$DOMAIN" enable "$service"
    lctl "$DOMAIN" bootstrap "$DOMAIN" "$NM_PLIST" || die "launchctl bootstrap $DOMAIN $NM_PLIST failed"
    changed "launchctl bootstrap $DOMAIN $NM_PLIST"
  elif [ "$1" = 1 ]; then
    bootout_wait "$service"
    lctl "$DOMAIN" enable "$service"
    lctl "$DOMAIN" bootstrap "$DOMAIN" "$NM_PLIST" || die "launchctl bootstrap $DOMAIN $NM_PLIST failed"
    changed "reloaded $service with its new plist"
  else
    lctl "$DOMAIN" kickstart -k "$service"
    changed "launchctl kickstart -k $service"
  fi
}

# write_running: keep the files that just ran healthily (by content hash), then the record.
write_running() {
  local config plist keep
  config=$(record_get "$STAGE/desired.env" config "")
  plist=$(record_get "$STAGE/desired.env" plist "")
  $OWNED cp "$STAGE/config.json" "$NM_LAST_GOOD/.config-$config.json.new"
  $OWNED mv -f "$NM_LAST_GOOD/.config-$config.json.new" "$NM_LAST_GOOD/config-$config.json"
  $OWNED cp "$STAGE/job.plist" "$NM_LAST_GOOD/.job-$plist.plist.new"
  $OWNED mv -f "$NM_LAST_GOOD/.job-$plist.plist.new" "$NM_LAST_GOOD/job-$plist.plist"
  { cat "$STAGE/desired.env"; printf 'at=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"; } >"$WORK/running.env"
  install_file "$WORK/running.env" "$NM_RUNNING" 644 "$OWNER" "$GROUP" "$OWNED" >/dev/null
  for keep in "$NM_LAST_GOOD"/*; do
    case $(basename "$keep") in "config-$config.json" | "job-$plist.plist") ;; *) $OWNED rm -f "$keep" ;; esac
  done
}

# Releases no pin, previous or record names, beyond the three newest, go.
prune_releases() {
  local keep="" old p
  for p in "$PREFIX"/instances/*/current "$PREFIX"/instances/*/previous "$NM_CURRENT"; do
    [ -L "$p" ] && keep+=" $(basename "$(readlink "$p")")"
  done
  for p in "$PREFIX"/instances/*/running.env; do
    [ -f "$p" ] && keep+=" $(record_get "$p" release "$OWNED")"
  done
  # shellcheck disable=SC2012 # release names are <version>-<hex>; ls -t is the portable mtime sort
  for old in $(cd "$PREFIX/releases" && ls -1t | tail -n +4); do
    case " $keep " in *" $old "*) continue ;; esac
    $OWNED rm -rf "${PREFIX:?}/releases/$old"
    changed "removed old release $old"
  done
}

rollback() {
  local failed=$1 old
  old=$(record_get "$NM_RUNNING" release "$OWNED")
  if [ -z "$old" ] || ! $OWNED test -f "$PREFIX/releases/$old/.complete"; then
    # Nothing ran healthily here before: stop the job rather than let KeepAlive crash-loop it.
    bootout_wait "$DOMAIN/$NM_LABEL"
    die "$failed (release $RELEASE_ID). Nothing ran healthily here before, so $DOMAIN/$NM_LABEL is stopped.
  Diagnose: tail -n 50 '$NM_STDERR_LOG' '$NM_LOG_FILE'; fix, then run provision.sh again."
  fi
  warn "$failed (release $RELEASE_ID): rolling instance $NM_INSTANCE back to release $old"
  rollback_deps
  DIE_HOOK=""
  local config plist
  config=$(record_get "$NM_RUNNING" config "$OWNED")
  plist=$(record_get "$NM_RUNNING" plist "$OWNED")
  $OWNED test -f "$NM_LAST_GOOD/config-$config.json" && $OWNED test -f "$NM_LAST_GOOD/job-$plist.plist" ||
    die "$failed (release $RELEASE_ID); the files of release $old are missing from $NM_LAST_GOOD, so nothing was rolled back.
  Provision from the checkout of release $old to return to it."
  install_file "$NM_LAST_GOOD/config-$config.json" "$NM_CONFIG" 644 "$OWNER" "$GROUP" "$OWNED"
  install_file "$NM_LAST_GOOD/job-$plist.plist" "$NM_PLIST" 644 "$JOB_OWNER" "$JOB_GROUP" "$JOB_PRIV"
  pin "$PREFIX/releases/$old"
  restart_instance 1
  if ! check_instance "$PREFIX/releases/$old"; then
    die "$failed (release $RELEASE_ID), and the rollback to $old failed too: $CHECK_FAILED.
  Diagnose: sudo launchctl print $DOMAIN/$NM_LABEL | grep -E 'state|last exit'; tail -n 50 '$NM_STDERR_LOG' '$NM_LOG_FILE'"
  fi
  # The token file stays (clients may already use a rotated one): record it as what runs.
  $OWNED cat "$NM_RUNNING" | sed "s/^token=.*/token=$(file_sha "$NM_TOKEN_FILE" "$OWNED")/" >"$WORK/running.env"
  install_file "$WORK/running.env" "$NM_RUNNING" 644 "$OWNER" "$GROUP" "$OWNED" >/dev/null
  die "$failed with release $RELEASE_ID. Rolled back: instance $NM_INSTANCE runs release $old again, healthy and verified.
  Fix the release (see $NM_LOG_FILE, $NM_STDERR_LOG), then run provision.sh again."
}

phase_converge() {
  if [ "$MODE" = daemon ]; then JOB_OWNER=root JOB_GROUP=wheel JOB_PRIV=as_root; else
    JOB_OWNER=$ADMIN JOB_GROUP=staff JOB_PRIV=""
    lctl "$DOMAIN" print "$DOMAIN" >/dev/null 2>&1 ||
      die "no GUI session for $ADMIN ($DOMAIN): log in once at the console or Screen Sharing, or use --mode daemon"
  fi
  local reasons=() key want have
  for key in "${RECORD_KEYS[@]}"; do
    want=$(record_get "$STAGE/desired.env" "$key" "")
    have=$(record_get "$NM_RUNNING" "$key" "$OWNED")
    [ "$want" = "$have" ] || reasons+=("$key")
  done
  running "$DOMAIN/$NM_LABEL" || reasons+=("the job is not running")
  if [ ${#reasons[@]} = 0 ]; then
    ok "$DOMAIN/$NM_LABEL runs release $RELEASE_ID with this config, token and model (recorded $(record_get "$NM_RUNNING" at "$OWNED"))"
    # Same content as what runs (or the record would differ): only modes and owners may drift.
    fix_drift "$NM_CONFIG" 644 "$OWNER" "$GROUP" "$OWNED"
    fix_drift "$NM_TOKEN_FILE" 600 "$NM_USER" "$NM_GROUP" "$OWNED"
    fix_drift "$NM_PLIST" 644 "$JOB_OWNER" "$JOB_GROUP" "$JOB_PRIV"
    return 0
  fi
  if $OWNED test -f "$NM_RUNNING"; then
    local joined
    joined=$(printf '%s, ' "${reasons[@]}")
    note "restart, because of: ${joined%, } (recorded: release $(record_get "$NM_RUNNING" release "$OWNED"))"
  else
    note "first start of instance $NM_INSTANCE on this Mac"
  fi
  ensure_dir "$(dirname "$NM_PLIST")" 755 "$JOB_OWNER" "$JOB_GROUP" "$JOB_PRIV"
  install_file "$STAGE/config.json" "$NM_CONFIG" 644 "$OWNER" "$GROUP" "$OWNED"
  install_file "$STAGE/token" "$NM_TOKEN_FILE" 600 "$NM_USER" "$NM_GROUP" "$OWNED"
  install_file "$STAGE/job.plist" "$NM_PLIST" 644 "$JOB_OWNER" "$JOB_GROUP" "$JOB_PRIV"
  pin "$RELEASE"
  local reload=0
  [ "$(record_get "$NM_RUNNING" plist "$OWNED")" = "$(record_get "$STAGE/desired.env" plist "")" ] || reload=1
  restart_instance "$reload"
  check_instance "$RELEASE" || rollback "$CHECK_FAILED"
  write_running
  $OWNED ln -sfn "$RELEASE" "$NM_CURRENT"
  prune_releases
}
