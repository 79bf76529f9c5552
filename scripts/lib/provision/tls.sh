# shellcheck shell=bash
# Phase "tls": the certificate nginx serves. Let's Encrypt needs nginx answering on :80 first,
# so a private-CA certificate always comes first (the "nginx" phase replaces it); --tls
# existing copies yours.

CA_SUBJECT="notes-mcp private CA"
san() { if is_ip "$SERVER_NAME"; then printf 'IP:%s' "$SERVER_NAME"; else printf 'DNS:%s' "$SERVER_NAME"; fi; }
issuer_is_ca() { as_root openssl x509 -noout -issuer -in "$NM_TLS_CERT" 2>/dev/null | grep -q "$CA_SUBJECT"; }
cert_valid_days() { as_root openssl x509 -noout -checkend $(($1 * 86400)) -in "$NM_TLS_CERT" >/dev/null 2>&1; }
cert_names_server() { as_root openssl x509 -noout -text -in "$NM_TLS_CERT" 2>/dev/null | grep -q "$(san | sed 's/^IP:/IP Address:/')"; }

# "<days left> <lifetime in days>" of the installed certificate.
cert_days() {
  as_root cat "$NM_TLS_CERT" | "$NODE" -e '
    const c = new (require("crypto").X509Certificate)(require("fs").readFileSync(0));
    const to = Date.parse(c.validTo);
    console.log(((to - Date.now()) / 864e5).toFixed(1), Math.round((to - Date.parse(c.validFrom)) / 864e5));'
}

make_private_cert() {
  if ! as_root test -f "$NM_CA_DIR/ca.key"; then
    printf '[req]\ndistinguished_name=dn\n[dn]\n[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' >"$WORK/ca.cnf"
    as_root openssl ecparam -genkey -name prime256v1 -noout -out "$NM_CA_DIR/ca.key"
    as_root chmod 600 "$NM_CA_DIR/ca.key"
    as_root openssl req -x509 -new -sha256 -days 3650 -key "$NM_CA_DIR/ca.key" -subj "/CN=$CA_SUBJECT" \
      -config "$WORK/ca.cnf" -extensions ca -out "$NM_CA_DIR/ca.pem"
    as_root chmod 644 "$NM_CA_DIR/ca.pem"
    changed "created the private CA $NM_CA_DIR/ca.pem"
  fi
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$(san)" >"$WORK/leaf.cnf"
  as_root openssl ecparam -genkey -name prime256v1 -noout -out "$NM_TLS_DIR/privkey.pem.new"
  as_root openssl req -new -key "$NM_TLS_DIR/privkey.pem.new" -subj "/CN=$SERVER_NAME" -out "$WORK/leaf.csr"
  # 397 days: Apple platforms reject longer-lived server certificates.
  as_root openssl x509 -req -sha256 -days 397 -in "$WORK/leaf.csr" -CA "$NM_CA_DIR/ca.pem" -CAkey "$NM_CA_DIR/ca.key" \
    -CAcreateserial -CAserial "$NM_CA_DIR/ca.srl" -extfile "$WORK/leaf.cnf" -out "$NM_TLS_DIR/fullchain.pem.new" \
    2>"$WORK/openssl.err" || { cat "$WORK/openssl.err" >&2; die "openssl could not sign the certificate"; }
  as_root rm -f "$NM_TLS_CERT" "$NM_TLS_KEY"
  as_root chmod 600 "$NM_TLS_DIR/privkey.pem.new"
  as_root mv -f "$NM_TLS_DIR/privkey.pem.new" "$NM_TLS_KEY"
  as_root mv -f "$NM_TLS_DIR/fullchain.pem.new" "$NM_TLS_CERT"
  changed "issued a certificate for $SERVER_NAME from the private CA"
}

phase_tls() {
  if [ "$NO_NGINX" = 1 ]; then
    ok "skipped (no --server-name or --no-nginx)"
    return 0
  fi
  ensure_dir "$PREFIX/etc/tls" 755 root wheel
  ensure_dir "$NM_CA_DIR" 755 root wheel
  ensure_dir "$NM_TLS_DIR" 700 root wheel
  ensure_dir "$NM_ACME_ROOT" 755 root wheel
  case $TLS in
    existing)
      install_file "$CERT" "$NM_TLS_CERT" 644 root wheel
      install_file "$KEY" "$NM_TLS_KEY" 600 root wheel
      ;;
    *)
      if as_root test -e "$NM_TLS_CERT" && cert_valid_days 30 && cert_names_server && issuer_is_ca; then
        ok "certificate $NM_TLS_CERT (private CA) is valid for 30+ days"
      elif as_root test -e "$NM_TLS_CERT" && ! issuer_is_ca && cert_valid_days 1 && cert_names_server; then
        local days lifetime
        read -r days lifetime < <(cert_days)
        # Let's Encrypt renews 90-day certificates 30 days ahead, 6-day ones every 3 days: a
        # certificate this close to its end means the renewal job is not working.
        if awk -v d="$days" -v l="$lifetime" 'BEGIN { m = l / 6; if (m > 14) m = 14; exit !(d < m) }'; then
          warn "$NM_TLS_CERT expires in $days days (of $lifetime): the renewal job $NM_RENEW_LABEL is not renewing it.
         Check: tail $NM_RENEW_LOG; sudo launchctl print system/$NM_RENEW_LABEL | grep -E 'runs|last exit'"
        else
          ok "certificate $NM_TLS_CERT ($days of $lifetime days left) is renewed by $NM_RENEW_LABEL"
        fi
      else
        make_private_cert
      fi
      ;;
  esac
}
