# shellcheck shell=bash
# Phase "power": a server Mac never sleeps, restarts after a power failure, wakes on network.

phase_power() {
  if [ "$PMSET" = 0 ]; then
    ok "left alone (--no-pmset or agent mode)"
    return 0
  fi
  local pm
  pm=$(pmset -g)
  pm_value() { printf '%s\n' "$pm" | awk -v k="$1" '$1 == k { print $2; exit }'; }
  if [ "$(pm_value sleep)" = 0 ] && [ "$(pm_value disksleep)" = 0 ] && [ "$(pm_value autorestart)" = 1 ] && [ "$(pm_value womp)" = 1 ]; then
    ok "never sleeps, restarts after a power failure, wakes on network"
  else
    as_root pmset -a sleep 0 disksleep 0 autorestart 1 womp 1
    changed "pmset: sleep 0, disksleep 0, autorestart 1, womp 1"
  fi
}
