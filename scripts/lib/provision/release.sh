# shellcheck shell=bash
# Phase "release": build <prefix>/releases/<version>-<hash> from the checkout (once per source
# state). Nothing is switched here: the instance moves to it in "converge", right before its
# restart. Then the instance's layout (every path, label and port) from the release's CLI.

list_sources() {
  if git -C "$SOURCE" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$SOURCE" ls-files --cached --others --exclude-standard
  else
    (cd "$SOURCE" && find . -type f ! -path './node_modules/*' ! -path './dist/*' ! -path './.git/*' ! -path './.ci/.node/*' | sed 's|^\./||')
  fi | LC_ALL=C sort
}

phase_release() {
  [ -f "$SOURCE/package.json" ] || die "$SOURCE is not a notes-mcp checkout (no package.json)"
  [ -f "$SOURCE/package-lock.json" ] || die "$SOURCE has no package-lock.json: provision from a git clone or release checkout, not from the npm package"
  # Tracked files deleted from the working tree are still listed by git: keep existing files only.
  list_sources | (cd "$SOURCE" && while IFS= read -r f; do if [ -f "$f" ]; then printf '%s\n' "$f"; fi; done) >"$WORK/files"
  local source_hash version
  source_hash=$(cd "$SOURCE" && tr '\n' '\0' <"$WORK/files" | xargs -0 "${SHA256_CMD[@]}" | sha256)
  version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$SOURCE/package.json" | head -n 1)
  RELEASE_ID="${version:-0}-${source_hash:0:12}"
  ensure_dir "$PREFIX" 755 "$OWNER" "$GROUP" "$OWNED"
  ensure_dir "$PREFIX/releases" 755 "$OWNER" "$GROUP" "$OWNED"
  RELEASE="$PREFIX/releases/$RELEASE_ID"
  if $OWNED test -f "$RELEASE/.complete"; then
    ok "release $RELEASE_ID is installed"
  else
    note "building release $RELEASE_ID from $SOURCE (npm ci compiles native addons: a few minutes)"
    local build="$WORK/build"
    mkdir -p "$build"
    (cd "$SOURCE" && tar -cf - -T "$WORK/files") | (cd "$build" && tar -xf -)
    (cd "$build" && npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund)
    [ -f "$build/dist/src/cli/main.js" ] || die "the build produced no dist/src/cli/main.js"
    # .complete last: a release folder without it (a killed build) is rebuilt, never run.
    touch "$build/.complete"
    $OWNED rm -rf "$RELEASE"
    $OWNED mv "$build" "$RELEASE"
    $OWNED chown -R "$OWNER:$GROUP" "$RELEASE"
    changed "installed release $RELEASE_ID"
  fi

  NM=("$NODE" "$RELEASE/bin/notes-mcp.js")
  LAYOUT_ARGS=(--instance "$INSTANCE" --mode "$MODE" --arch "$ARCH" --prefix "$PREFIX" --port "$PORT" --brew-prefix "$BREW_PREFIX")
  [ -n "$SYSROOT" ] && LAYOUT_ARGS+=(--root "$SYSROOT")
  [ -n "$NOTES" ] && LAYOUT_ARGS+=(--notes "$NOTES")
  [ -n "$SVC_USER" ] && [ "$MODE" = daemon ] && LAYOUT_ARGS+=(--user "$SVC_USER")
  [ "$MODE" = agent ] && LAYOUT_ARGS+=(--user "$ADMIN" --home "$HOME")
  [ -n "$MODEL" ] && LAYOUT_ARGS+=(--model "$MODEL")
  [ -n "$SERVER_NAME" ] && LAYOUT_ARGS+=(--server-name "$SERVER_NAME")
  [ -n "$MAX_FILES" ] && LAYOUT_ARGS+=(--max-files "$MAX_FILES")
  [ ${#EXTRA_LAYOUT[@]} -gt 0 ] && LAYOUT_ARGS+=("${EXTRA_LAYOUT[@]}")
  local layout
  layout=$("${NM[@]}" launchd layout --format shell "${LAYOUT_ARGS[@]}") || die "invalid instance settings (see the message above)"
  eval "$layout"
  if [ "$MODE" = daemon ]; then DOMAIN=system; else DOMAIN="gui/$(id -u)"; fi

  # Two instances never share a port or a public name.
  local other
  for other in "$NM_ETC"/*.json; do
    if [ ! -f "$other" ] || [ "$other" = "$NM_CONFIG" ]; then continue; fi
    grep -q "\"port\": $NM_PORT," "$other" && die "port $NM_PORT is already used by instance $(basename "$other" .json): pick another --port"
    [ -n "$SERVER_NAME" ] && grep -q "\"$SERVER_NAME\"" "$other" && die "$SERVER_NAME already belongs to instance $(basename "$other" .json)"
  done

  # The CLI wrapper runs the shared current link (the newest healthy release).
  printf '#!/bin/sh\n# notes-mcp on this Mac: the newest healthy release, run by Homebrew node@24.\nexec %s %s "$@"\n' \
    "$(shell_quote "$NODE")" "$(shell_quote "$NM_CURRENT/bin/notes-mcp.js")" >"$WORK/wrapper"
  ensure_dir "$PREFIX/bin" 755 "$OWNER" "$GROUP" "$OWNED"
  install_file "$WORK/wrapper" "$NM_WRAPPER" 755 "$OWNER" "$GROUP" "$OWNED"
}
