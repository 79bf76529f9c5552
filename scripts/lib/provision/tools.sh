# shellcheck shell=bash
# Phase "tools": Command Line Tools, Homebrew, node@24 (and nginx, certbot or acme.sh when
# exposing); with --upgrade-deps, brew upgrade of node@24, nginx and openssl@3.
#
# An upgrade only swaps Homebrew's opt/<formula> links (the old kegs stay: cleanup is off), and
# every launchd job runs binaries through those links. The old targets are kept in
# $NM_DEPS_ROLLBACK until a restart on the new versions passed health and verification; until
# then any failure (in this run or a later one) points the links back.

DEPS_FORMULAE=(node@24 nginx openssl@3)

brew_formula() { # brew_formula FORMULA BINARY
  if [ -x "$2" ]; then
    ok "$1 installed"
  else
    "$BREW" install "$1"
    [ -x "$2" ] || die "brew install $1 did not provide $2"
    changed "brew install $1"
  fi
}

opt_link() { readlink "$BREW_PREFIX/opt/$1" 2>/dev/null || true; }

# Put the opt links of the formulae upgraded by an unverified --upgrade-deps back (DIE_HOOK).
rollback_deps() {
  local formula target
  $OWNED test -f "$NM_DEPS_ROLLBACK" || return 0
  while IFS='=' read -r formula target; do
    if [ -z "$formula" ] || [ -z "$target" ]; then continue; fi
    ln -sfn "$target" "$BREW_PREFIX/opt/$formula"
    printf '    rolled back: %s -> %s\n' "$formula" "${target##*/}" >&2
  done < <($OWNED cat "$NM_DEPS_ROLLBACK")
  $OWNED rm -f "$NM_DEPS_ROLLBACK"
}

upgrade_deps() {
  local f installed=() before="$WORK/deps-before" merged="$WORK/deps-rollback" formula target upgraded=0
  for f in "${DEPS_FORMULAE[@]}" certbot acme.sh; do
    if [ -e "$BREW_PREFIX/opt/$f" ]; then installed+=("$f"); fi
  done
  : >"$before"
  for f in "${installed[@]}"; do printf '%s=%s\n' "$f" "$(opt_link "$f")" >>"$before"; done
  # The targets to go back to are on disk before brew touches anything; an earlier unverified
  # upgrade keeps its own (older, last verified) ones.
  { $OWNED cat "$NM_DEPS_ROLLBACK" 2>/dev/null || true; } >"$merged"
  while IFS='=' read -r formula target; do
    grep -q "^$formula=" "$merged" || printf '%s=%s\n' "$formula" "$target" >>"$merged"
  done <"$before"
  $OWNED mkdir -p "$(dirname "$NM_DEPS_ROLLBACK")"
  $OWNED cp "$merged" "$NM_DEPS_ROLLBACK"
  DIE_HOOK=rollback_deps
  "$BREW" update || die "brew update failed"
  "$BREW" upgrade "${installed[@]}" || die "brew upgrade ${installed[*]} failed"
  while IFS='=' read -r formula target; do
    [ "$(opt_link "$formula")" = "$target" ] && continue
    upgraded=1
    changed "brew upgrade $formula: ${target##*/} -> $(opt_link "$formula" | sed 's|.*/||')"
  done <"$before"
  # Keep only the links that still differ from what was verified last.
  : >"$WORK/deps-left"
  while IFS='=' read -r formula target; do
    [ "$(opt_link "$formula")" = "$target" ] || printf '%s=%s\n' "$formula" "$target" >>"$WORK/deps-left"
  done <"$merged"
  if [ -s "$WORK/deps-left" ]; then $OWNED cp "$WORK/deps-left" "$NM_DEPS_ROLLBACK"; else
    $OWNED rm -f "$NM_DEPS_ROLLBACK"
    DIE_HOOK=""
  fi
  if [ "$upgraded" = 0 ]; then
    ok "${installed[*]}: up to date"
    return 0
  fi
  # A node that no longer starts would take every later step down with it: check it now.
  "$BREW_PREFIX/opt/node@24/bin/node" --version >/dev/null 2>&1 ||
    die "the upgraded node@24 does not run ($BREW_PREFIX/opt/node@24/bin/node --version fails); the previous versions are back"
  ok "the upgraded node runs: $("$BREW_PREFIX/opt/node@24/bin/node" --version)"
}

phase_tools() {
  if [ "$ARCH" = arm64 ]; then BREW_PREFIX="$SYSROOT/opt/homebrew"; else BREW_PREFIX="$SYSROOT/usr/local"; fi
  BREW="$BREW_PREFIX/bin/brew"
  NM_DEPS_ROLLBACK="$PREFIX/var/deps-rollback.env"
  if xcode-select -p >/dev/null 2>&1; then
    ok "Command Line Tools at $(xcode-select -p)"
  else
    note "installing the Command Line Tools (compilers for native addons) with softwareupdate"
    touch /tmp/.com.apple.dt.CommandLineTools.installondemand.in-progress
    local clt
    clt=$(softwareupdate -l 2>/dev/null | sed -n 's/^.*Label: \(Command Line Tools.*\)$/\1/p' | (sort -V 2>/dev/null || sort) | tail -n 1)
    [ -n "$clt" ] || die "softwareupdate offers no Command Line Tools; run 'xcode-select --install' once in a GUI session"
    as_root softwareupdate -i "$clt" --verbose
    rm -f /tmp/.com.apple.dt.CommandLineTools.installondemand.in-progress
    xcode-select -p >/dev/null 2>&1 || die "Command Line Tools still missing after installing $clt"
    changed "installed $clt"
  fi
  if [ -x "$BREW" ]; then
    ok "Homebrew at $BREW_PREFIX"
  else
    [ -z "$SYSROOT" ] || die "no Homebrew under the sysroot $SYSROOT"
    note "installing Homebrew (non-interactive; sudo is still fresh)"
    /bin/bash -c "$(curl -fsSL https://raw.githubusercontent.com/Homebrew/install/HEAD/install.sh)"
    [ -x "$BREW" ] || die "Homebrew did not install to $BREW_PREFIX"
    changed "installed Homebrew"
  fi
  brew_formula node@24 "$BREW_PREFIX/opt/node@24/bin/node"
  NODE="$BREW_PREFIX/opt/node@24/bin/node"
  export PATH="$BREW_PREFIX/opt/node@24/bin:$BREW_PREFIX/bin:$BREW_PREFIX/sbin:$PATH"
  if [ "$NO_NGINX" = 0 ]; then
    brew_formula nginx "$BREW_PREFIX/opt/nginx/bin/nginx"
    if [ "$TLS" = letsencrypt ]; then
      if [ "$ACME_CLIENT" = certbot ]; then brew_formula certbot "$BREW_PREFIX/bin/certbot"; else brew_formula acme.sh "$BREW_PREFIX/bin/acme.sh"; fi
    fi
  fi
  # An earlier --upgrade-deps whose restart was never verified (killed, or failed) is still
  # pending: this run verifies it, or puts the old versions back.
  if $OWNED test -f "$NM_DEPS_ROLLBACK"; then
    note "an earlier --upgrade-deps is not verified yet: this run restarts and verifies on it"
  fi
  if $OWNED test -f "$NM_DEPS_ROLLBACK"; then DIE_HOOK=rollback_deps; fi
  if [ "$UPGRADE_DEPS" = 1 ]; then upgrade_deps; fi
  NODE_KEG=$(opt_link node@24 | sed 's|.*/||')
}
