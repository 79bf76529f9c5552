# shellcheck shell=bash
# Phase "nginx": install the staged nginx files, then make the running nginx match them: a
# reload (SIGHUP) when its config or certificates differ from what it last loaded (recorded in
# $NM_NGINX_RUNNING), a restart when its binary or OpenSSL changed (--upgrade-deps), a fresh
# bootstrap when its plist changed. Then Let's Encrypt and the renewal job.

# What nginx should be running: its config files, the certificates they name, its binaries.
nginx_state() {
  local f
  {
    for f in "$NM_NGINX_CONF" "$NM_NGINX_SERVERS"/*.conf; do [ -f "$f" ] && file_sha "$f"; done
    for f in "$PREFIX"/etc/tls/*/fullchain.pem "$PREFIX"/etc/tls/*/privkey.pem; do as_root test -e "$f" && file_sha "$f"; done
  } | sha256
}
nginx_kegs() { printf '%s %s\n' "$(opt_link nginx | sed 's|.*/||')" "$(opt_link openssl@3 | sed 's|.*/||')"; }
# SIGHUP through launchd; an nginx that is not running (it crashed) gets started instead.
reload_nginx() {
  as_root launchctl kill SIGHUP "system/$NM_NGINX_LABEL" 2>/dev/null || lctl system kickstart -k "system/$NM_NGINX_LABEL"
}
record_nginx() {
  printf 'config=%s\nkegs=%s\n' "$(nginx_state)" "$(nginx_kegs)" >"$WORK/nginx.running"
  as_root cp "$WORK/nginx.running" "$NM_NGINX_RUNNING.new"
  as_root mv -f "$NM_NGINX_RUNNING.new" "$NM_NGINX_RUNNING"
}

converge_nginx() {
  local service="system/$NM_NGINX_LABEL"
  converge_job system "$NM_NGINX_LABEL" "$STAGE/nginx.plist" "$NM_NGINX_PLIST" root wheel as_root
  if [ "$JOB_STARTED" = 1 ]; then
    record_nginx
  elif [ "$(record_get "$NM_NGINX_RUNNING" kegs)" != "$(nginx_kegs)" ]; then
    # A new binary or OpenSSL: SIGHUP would fork new workers from the old master. Restart.
    lctl system kickstart -k "$service"
    changed "restarted nginx on $(nginx_kegs)"
    record_nginx
  elif [ "$(record_get "$NM_NGINX_RUNNING" config)" != "$(nginx_state)" ]; then
    as_root "$NM_NGINX_BIN" -t -q -c "$NM_NGINX_CONF" || die "nginx -t rejects the installed configuration $NM_NGINX_CONF"
    reload_nginx
    changed "reloaded nginx (SIGHUP)"
    record_nginx
  else
    ok "nginx runs this configuration"
  fi
  local _
  for _ in $(seq 1 10); do
    running "$service" && return 0
    sleep 1
  done
  if as_root test -f "$NM_DEPS_ROLLBACK"; then
    rollback_deps
    DIE_HOOK=""
    lctl system kickstart -k "$service" || true
    die "nginx does not run after --upgrade-deps: the previous nginx and openssl@3 are back (see $NM_NGINX_LOGS/error.log)"
  fi
  die "nginx does not run: sudo launchctl print $service; tail $NM_NGINX_LOGS/error.log"
}

lets_encrypt() {
  local le_ok=0 account=() profile=()
  if ! issuer_is_ca; then
    ok "$NM_TLS_CERT comes from Let's Encrypt"
    le_ok=1
  elif [ "$ACME_CLIENT" = certbot ]; then
    if [ -n "$EMAIL" ]; then account=(-m "$EMAIL"); else account=(--register-unsafely-without-email); fi
    if as_root "$BREW_PREFIX/bin/certbot" certonly --webroot -w "$NM_ACME_ROOT" -d "$SERVER_NAME" --cert-name "$SERVER_NAME" \
      --config-dir "$NM_LE_DIR" --work-dir "$NM_LE_WORK" --logs-dir "$NM_LOGS/letsencrypt" \
      --non-interactive --agree-tos "${account[@]}" --keep-until-expiring; then
      as_root ln -sfn "$NM_LE_DIR/live/$SERVER_NAME/fullchain.pem" "$NM_TLS_CERT"
      as_root ln -sfn "$NM_LE_DIR/live/$SERVER_NAME/privkey.pem" "$NM_TLS_KEY"
      le_ok=2
    fi
  else
    # IP addresses get only the short-lived (about 6 days) profile: renew every 3 days.
    is_ip "$SERVER_NAME" && profile=(--cert-profile shortlived --days 3)
    [ -n "$EMAIL" ] && account=(--accountemail "$EMAIL")
    local acme=(as_root "$BREW_PREFIX/bin/acme.sh" --home "$NM_ACME_HOME" --config-home "$NM_ACME_HOME")
    if "${acme[@]}" --issue --server letsencrypt -d "$SERVER_NAME" -w "$NM_ACME_ROOT" ${profile[@]+"${profile[@]}"} ${account[@]+"${account[@]}"} &&
      as_root rm -f "$NM_TLS_CERT" "$NM_TLS_KEY" &&
      "${acme[@]}" --install-cert -d "$SERVER_NAME" --fullchain-file "$NM_TLS_CERT" --key-file "$NM_TLS_KEY" \
        --reloadcmd "/bin/launchctl kill SIGHUP system/$NM_NGINX_LABEL"; then
      le_ok=2
    fi
  fi
  if [ "$le_ok" = 2 ]; then
    reload_nginx
    record_nginx
    changed "installed the Let's Encrypt certificate for $SERVER_NAME and reloaded nginx"
  elif [ "$le_ok" = 0 ]; then
    warn "Let's Encrypt failed (is port $HTTP_PORT reachable from the internet at $SERVER_NAME?).
         nginx keeps serving the private-CA certificate. Clients must trust $NM_CA_DIR/ca.pem:
         copy it to the client machine and set NODE_EXTRA_CA_CERTS=/path/to/ca.pem (see RUNBOOK.md).
         Re-run provision.sh once the name resolves and port $HTTP_PORT is open."
    return 0
  fi
  "${NM[@]}" launchd renew-plist "${LAYOUT_ARGS[@]}" --client "$ACME_CLIENT" --out "$STAGE/renew.plist"
  converge_job system "$NM_RENEW_LABEL" "$STAGE/renew.plist" "$NM_RENEW_PLIST" root wheel as_root
}

phase_nginx() {
  if [ "$NO_NGINX" = 1 ]; then
    ok "skipped: the daemon listens on http://$NM_HOST:$NM_PORT only"
    return 0
  fi
  ensure_dir "$NM_NGINX_CONF_DIR" 755 root wheel
  ensure_dir "$NM_NGINX_SERVERS" 755 root wheel
  ensure_dir "$(dirname "$NM_NGINX_VAR")" 755 root wheel
  ensure_dir "$NM_NGINX_VAR" 755 root wheel
  ensure_dir "$(dirname "$NM_NGINX_LOGS")" 755 root wheel
  ensure_dir "$NM_NGINX_LOGS" 755 root wheel
  install_file "$STAGE/nginx.conf" "$NM_NGINX_CONF" 644 root wheel
  install_file "$STAGE/site.conf" "$NM_NGINX_SITE" 644 root wheel
  ensure_dir "$(dirname "$NM_NGINX_NEWSYSLOG")" 755 root wheel
  install_file "$STAGE/nginx-newsyslog.conf" "$NM_NGINX_NEWSYSLOG" 644 root wheel
  converge_nginx
  if [ "$TLS" = letsencrypt ]; then
    lets_encrypt
  elif [ "$TLS" = self-signed ]; then
    note "clients must trust the private CA: copy $NM_CA_DIR/ca.pem and set NODE_EXTRA_CA_CERTS (see RUNBOOK.md)"
  fi
}
