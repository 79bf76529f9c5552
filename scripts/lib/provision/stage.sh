# shellcheck shell=bash
# Phase "stage": every file this instance should have, generated into $STAGE by the release's
# CLI and checked (plutil, nginx -t, the model's checksums), plus $STAGE/desired.env: what
# should run. Nothing is installed here; "converge" and "nginx" install and restart.

stage_nginx() {
  local other
  for other in "$NM_NGINX_SERVERS"/*.conf; do
    if [ ! -f "$other" ] || [ "$other" = "$NM_NGINX_SITE" ]; then continue; fi
    grep -q "server_name $SERVER_NAME;" "$other" && die "$SERVER_NAME is already served by $other"
  done
  local site_args=("${LAYOUT_ARGS[@]}" --https-port "$HTTPS_PORT" --http-port "$HTTP_PORT")
  [ -n "$RATE" ] && site_args+=(--rate "$RATE")
  [ -n "$BURST" ] && site_args+=(--burst "$BURST")
  "${NM[@]}" nginx conf "${site_args[@]}" --out "$STAGE/site.conf"
  mkdir -p "$STAGE/servers"
  for other in "$NM_NGINX_SERVERS"/*.conf; do
    if [ -f "$other" ] && [ "$other" != "$NM_NGINX_SITE" ]; then cp "$other" "$STAGE/servers/"; fi
  done
  cp "$STAGE/site.conf" "$STAGE/servers/$NM_INSTANCE.conf"
  # TLS catch-all on every HTTPS port the sites use, except a port an IP-address site already
  # owns as default_server (clients send no SNI to an IP: that site must stay the default).
  local port catch_all=0 main_args=("${LAYOUT_ARGS[@]}" --worker-user nobody --worker-group nobody --http-port "$HTTP_PORT")
  for port in $(cat "$STAGE"/servers/*.conf | sed -n 's/^    listen \([0-9]*\) ssl;$/\1/p' | sort -u); do
    if ! grep -q "^    listen $port ssl default_server;" "$STAGE"/servers/*.conf; then
      main_args+=(--https-port "$port")
      catch_all=1
    fi
  done
  [ "$catch_all" = 1 ] || main_args+=(--https-port 0)
  "${NM[@]}" nginx main "${main_args[@]}" --servers-dir "$STAGE/servers" --out "$STAGE/nginx-test.conf"
  # The candidate (the other instances' files plus ours) is tested before anything is installed.
  as_root "$NM_NGINX_BIN" -t -q -c "$STAGE/nginx-test.conf" || die "nginx -t rejects the new configuration; nothing was installed"
  ok "nginx -t accepts the configuration"
  "${NM[@]}" nginx main "${main_args[@]}" --out "$STAGE/nginx.conf"
  "${NM[@]}" launchd nginx-plist "${LAYOUT_ARGS[@]}" --out "$STAGE/nginx.plist"
  "${NM[@]}" launchd nginx-newsyslog "${LAYOUT_ARGS[@]}" --out "$STAGE/nginx-newsyslog.conf"
  plutil -lint "$STAGE/nginx.plist" >/dev/null || die "plutil rejects the generated nginx plist"
}

# The model the instance's config selects, fetched if missing and verified against its pinned
# checksums by notes-mcp itself ("model fetch" / "model info --verify"), never by a folder
# listing: a half-finished download fails here, before any restart.
stage_model() {
  # The state folder and model of this instance, without its config file: that names a token
  # file the first run has not installed yet.
  local cli=(env NOTES_MCP_CONFIG= "$NODE" "$RELEASE/bin/notes-mcp.js" --state "$NM_STATE")
  [ -n "$MODEL" ] && cli+=(--model "$MODEL")
  if [ "$SKIP_MODEL" = 1 ]; then
    ok "model check skipped (--skip-model-fetch)"
  elif [ -n "$MODEL" ] && [ "$MODEL" != auto ] && [ "$MODEL" != bundled ]; then
    ${SVC[@]+"${SVC[@]}"} "${cli[@]}" model fetch "$MODEL" || die "notes-mcp model fetch $MODEL failed (see above); the daemon was not touched"
  elif [ "$MODEL" != bundled ]; then
    # auto: the default Hub model once on disk, the bundled one otherwise; fetch the former.
    ${SVC[@]+"${SVC[@]}"} "${cli[@]}" model fetch || die "notes-mcp model fetch failed (see above); the daemon was not touched"
  fi
  # It exits non-zero when a checksum fails; its JSON says which file.
  local info=0
  ${SVC[@]+"${SVC[@]}"} "${cli[@]}" model info --verify --json >"$WORK/model.json" 2>"$WORK/model.err" || info=$?
  MODEL_FP=$("$NODE" -e '
    let m = {};
    try { m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); } catch { process.exit(2); }
    if (process.argv[2] !== "1" && m.verified === false) {
      for (const c of m.checks ?? []) if (!c.ok) console.error(`  ${c.path}: expected sha256 ${c.expected}, got ${c.actual ?? "unreadable"}`);
      process.exit(1);
    }
    process.stdout.write(m.fingerprint ?? "unknown");' "$WORK/model.json" "$SKIP_MODEL") || case $? in
    1) die "the model's files do not match their pinned checksums (a torn copy?): a Hub model: notes-mcp model fetch --force; the bundled one: restore models/ in the checkout. The daemon was not touched" ;;
    *) [ "$SKIP_MODEL" = 1 ] && MODEL_FP=unchecked || { cat "$WORK/model.err" >&2; die "notes-mcp model info --verify failed (exit $info)"; } ;;
  esac
  [ "$SKIP_MODEL" = 1 ] || ok "model verified: $MODEL_FP"
}

phase_stage() {
  STAGE="$WORK/stage"
  mkdir -p "$STAGE"
  "${NM[@]}" launchd config "${LAYOUT_ARGS[@]}" --out "$STAGE/config.json"
  "${NM[@]}" launchd plist "${LAYOUT_ARGS[@]}" --out "$STAGE/job.plist"
  "${NM[@]}" launchd newsyslog "${LAYOUT_ARGS[@]}" --out "$STAGE/newsyslog.conf"
  plutil -lint "$STAGE/job.plist" >/dev/null || die "plutil rejects the generated plist $STAGE/job.plist"
  local verify_args=(--url "http://$NM_HOST:$NM_PORT")
  if [ "$NO_NGINX" = 0 ]; then
    local suffix=""
    [ "$HTTPS_PORT" = 443 ] || suffix=":$HTTPS_PORT"
    # The whole chain, through this Mac's nginx even before DNS answers after a boot.
    verify_args=(--url "https://$SERVER_NAME$suffix" --resolve-ip 127.0.0.1 --cacert "$NM_CA_DIR/ca.pem")
    stage_nginx
  fi
  "${NM[@]}" launchd verify-plist "${LAYOUT_ARGS[@]}" "${verify_args[@]}" --out "$STAGE/verify.plist"
  plutil -lint "$STAGE/verify.plist" >/dev/null || die "plutil rejects the generated verify plist"

  if [ "$ROTATE_TOKEN" = 0 ] && $OWNED test -s "$NM_TOKEN_FILE"; then
    ok "token file $NM_TOKEN_FILE exists"
    $OWNED cat "$NM_TOKEN_FILE" >"$STAGE/token"
  else
    (umask 077 && openssl rand -hex 32 >"$STAGE/token")
    note "a new token for $NM_TOKEN_FILE is installed right before the restart"
  fi
  chmod 600 "$STAGE/token"
  stage_model

  # What should run. "converge" restarts the daemon whenever the record of what runs differs.
  {
    printf 'release=%s\n' "$RELEASE_ID"
    printf 'config=%s\n' "$(sha256 <"$STAGE/config.json")"
    printf 'plist=%s\n' "$(sha256 <"$STAGE/job.plist")"
    printf 'token=%s\n' "$(sha256 <"$STAGE/token")"
    printf 'model=%s\n' "$MODEL_FP"
    printf 'node=%s\n' "$NODE_KEG"
  } >"$STAGE/desired.env"
}
