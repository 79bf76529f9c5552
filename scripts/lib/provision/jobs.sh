# shellcheck shell=bash
# Phase "jobs": log rotation, and the verify job (verify.sh after every boot, after this run
# and daily; its result lands in <state>/verify-last.json, which doctor reports).

# converge_job DOMAIN LABEL STAGED DEST OWNER GROUP SUDO: install the plist, then bootstrap it
# when launchd does not have it loaded, or bootout + bootstrap when what launchd loaded (the
# record in $NM_JOBS_RECORDS) is not the installed file. Sets JOB_STARTED=1|0.
JOB_STARTED=0
converge_job() {
  local domain=$1 label=$2 staged=$3 dest=$4 owner=$5 group=$6 priv=$7
  local record="$NM_JOBS_RECORDS/$label.sha" want have
  JOB_STARTED=0
  install_file "$staged" "$dest" 644 "$owner" "$group" "$priv"
  want=$(file_sha "$dest" "$priv")
  have=$({ $OWNED cat "$record" 2>/dev/null || true; })
  if ! loaded "$domain/$label"; then
    lctl "$domain" enable "$domain/$label"
    lctl "$domain" bootstrap "$domain" "$dest" || die "launchctl bootstrap $domain $dest failed"
    changed "launchctl bootstrap $domain $dest"
    JOB_STARTED=1
  elif [ "$want" != "$have" ]; then
    bootout_wait "$domain/$label"
    lctl "$domain" enable "$domain/$label"
    lctl "$domain" bootstrap "$domain" "$dest" || die "launchctl bootstrap $domain $dest failed"
    changed "reloaded $domain/$label with its new plist"
    JOB_STARTED=1
  else
    ok "$domain/$label is loaded"
  fi
  printf '%s\n' "$want" >"$WORK/job.sha"
  $OWNED cp "$WORK/job.sha" "$record"
}

phase_jobs() {
  ensure_dir "$(dirname "$NM_NEWSYSLOG")" 755 root wheel
  install_file "$STAGE/newsyslog.conf" "$NM_NEWSYSLOG" 644 root wheel
  converge_job "$DOMAIN" "$NM_VERIFY_LABEL" "$STAGE/verify.plist" "$NM_VERIFY_PLIST" "$JOB_OWNER" "$JOB_GROUP" "$JOB_PRIV"
  # RunAtLoad ran it if it was just bootstrapped; otherwise start a run now.
  [ "$JOB_STARTED" = 1 ] || lctl "$DOMAIN" kickstart "$DOMAIN/$NM_VERIFY_LABEL" >/dev/null 2>&1 || true
  note "the verify job checks $(record_get "$STAGE/desired.env" release "") end to end now (RunAtLoad), after every boot"
  note "and daily: its log is $NM_VERIFY_LOG, its result $NM_STATE/verify-last.json (notes-mcp doctor shows it)"
}
