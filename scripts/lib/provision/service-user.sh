# shellcheck shell=bash
# Phase "service_user": the hidden user and group the daemon runs as (daemon mode), and the
# instance's folders with their modes and owners (drift is corrected and reported).

create_service_user() {
  local used id="" candidate gid
  used=$( (dscl . -list /Users UniqueID; dscl . -list /Groups PrimaryGroupID) | awk '{ print $2 }')
  for candidate in $(seq 450 499); do
    if ! printf '%s\n' "$used" | grep -qx "$candidate"; then id=$candidate; break; fi
  done
  [ -n "$id" ] || die "no free id between 450 and 499 for the service user"
  if ! dscl . -read "/Groups/$NM_GROUP" >/dev/null 2>&1; then
    as_root dscl . -create "/Groups/$NM_GROUP"
    as_root dscl . -create "/Groups/$NM_GROUP" PrimaryGroupID "$id"
    as_root dscl . -create "/Groups/$NM_GROUP" RealName "notes-mcp service"
    as_root dscl . -create "/Groups/$NM_GROUP" Password '*'
  fi
  gid=$(dscl . -read "/Groups/$NM_GROUP" PrimaryGroupID | awk '{ print $2 }')
  as_root dscl . -create "/Users/$NM_USER"
  as_root dscl . -create "/Users/$NM_USER" UniqueID "$id"
  as_root dscl . -create "/Users/$NM_USER" PrimaryGroupID "$gid"
  as_root dscl . -create "/Users/$NM_USER" UserShell /usr/bin/false
  as_root dscl . -create "/Users/$NM_USER" NFSHomeDirectory /var/empty
  as_root dscl . -create "/Users/$NM_USER" RealName "notes-mcp service"
  as_root dscl . -create "/Users/$NM_USER" Password '*'
  as_root dscl . -create "/Users/$NM_USER" IsHidden 1
  changed "created hidden service user $NM_USER (uid $id)"
}

phase_service_user() {
  if [ "$MODE" = daemon ]; then
    if dscl . -read "/Users/$NM_USER" UniqueID >/dev/null 2>&1; then
      ok "service user $NM_USER exists"
    else
      create_service_user
    fi
    SVC=(as_user "$NM_USER")
  else
    SVC=()
  fi
  ensure_dir "$NM_ETC" 755 "$OWNER" "$GROUP" "$OWNED"
  ensure_dir "$PREFIX/instances" 755 "$OWNER" "$GROUP" "$OWNED"
  ensure_dir "$NM_PIN_DIR" 755 "$OWNER" "$GROUP" "$OWNED"
  ensure_dir "$NM_LAST_GOOD" 755 "$OWNER" "$GROUP" "$OWNED"
  ensure_dir "$PREFIX/var" 755 "$OWNER" "$GROUP" "$OWNED"
  ensure_dir "$NM_JOBS_RECORDS" 755 "$OWNER" "$GROUP" "$OWNED"
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
}
