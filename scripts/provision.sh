#!/usr/bin/env bash
# Turn a Mac into a notes-mcp server: Homebrew, node@24, nginx, the app in a fixed prefix, a
# service user, a token, launchd jobs, TLS and power settings. Converges on the desired state:
# run it again after any change, after an interrupted run, or to upgrade; a run that finds
# everything in place (and running) changes nothing and says so.
#
# The phases live in scripts/lib/provision/, one file each, and run in the order below.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$HERE/lib/common.sh"
# shellcheck source=lib/provision/options.sh
. "$HERE/lib/provision/options.sh"
# shellcheck source=lib/provision/preflight.sh
. "$HERE/lib/provision/preflight.sh"
# shellcheck source=lib/provision/tools.sh
. "$HERE/lib/provision/tools.sh"
# shellcheck source=lib/provision/release.sh
. "$HERE/lib/provision/release.sh"
# shellcheck source=lib/provision/service-user.sh
. "$HERE/lib/provision/service-user.sh"
# shellcheck source=lib/provision/tls.sh
. "$HERE/lib/provision/tls.sh"
# shellcheck source=lib/provision/stage.sh
. "$HERE/lib/provision/stage.sh"
# shellcheck source=lib/provision/health.sh
. "$HERE/lib/provision/health.sh"
# shellcheck source=lib/provision/converge.sh
. "$HERE/lib/provision/converge.sh"
# shellcheck source=lib/provision/nginx.sh
. "$HERE/lib/provision/nginx.sh"
# shellcheck source=lib/provision/jobs.sh
. "$HERE/lib/provision/jobs.sh"
# shellcheck source=lib/provision/power.sh
. "$HERE/lib/provision/power.sh"
# shellcheck source=lib/provision/summary.sh
. "$HERE/lib/provision/summary.sh"

PHASES=(
  preflight    # macOS, CPU, admin, TCC, disk, FileVault; sudo kept fresh
  tools        # Command Line Tools, Homebrew, node@24, nginx, ACME client; --upgrade-deps
  release      # <prefix>/releases/<id> built once per source state; the instance's layout
  service_user # the hidden service user; folders, modes and owners
  tls          # the certificate nginx serves (private CA first, or yours)
  stage        # every file generated and checked; what should run (desired.env)
  converge     # install, pin, restart, health, verify; record or roll back
  nginx        # nginx config, reload or restart by its record; Let's Encrypt, renewal job
  jobs         # log rotation; the verify job (after boot, after this run, daily)
  power        # never sleep, restart after power loss
  summary      # where things are; what changed
)

parse_options "$@"
check_options
WORK=$(mktemp -d "${TMPDIR:-/tmp}/notes-mcp-provision.XXXXXX")
trap 'stop_sudo_keeper; rm -rf "$WORK"' EXIT
export HOMEBREW_NO_AUTO_UPDATE=1 HOMEBREW_NO_INSTALL_CLEANUP=1 HOMEBREW_NO_ENV_HINTS=1 NONINTERACTIVE=1

n=0
for phase in "${PHASES[@]}"; do
  n=$((n + 1))
  log "[$n/${#PHASES[@]}] ${phase//_/ }"
  "phase_$phase"
done
