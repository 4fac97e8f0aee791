#!/bin/sh
# deb: $1 = configure, $2 = the version configured before (on an upgrade);
# rpm: $1 = 1 on install, 2 or more on an upgrade.
set -e
root="${DPKG_ROOT:-}"

upgrade=false
case "$1" in
configure) [ -n "${2:-}" ] && upgrade=true ;;
[2-9]) upgrade=true ;;
esac

if [ -d "$root/run/systemd/system" ] && [ -z "$root" ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	if $upgrade; then
		systemctl try-restart focussync.service >/dev/null 2>&1 || true
	fi
fi

if ! $upgrade; then
	# The package manager sets the group from its name, which it may not know
	# yet (dpkg --root resolves names on the host): set it by number.
	gid=$(awk -F: '$1 == "focussync" { print $3 }' "$root/etc/group" 2>/dev/null || true)
	if [ -n "$gid" ]; then
		chgrp "$gid" "$root/etc/focussync" "$root/etc/focussync/config.toml" 2>/dev/null || true
	fi
	cat <<'MSG'
focussync is installed; the service is neither enabled nor started. Next:
  1. Edit /etc/focussync/config.toml: [api] organization_id, workspace_id and
     the [[folder]] entries. Keep token_file = "/etc/focussync/token" (the
     service reads that file as its systemd credential).
  2. Put the API token in /etc/focussync/token (only root reads it):
       sudo install -m 0600 /dev/null /etc/focussync/token
       sudoedit /etc/focussync/token
  3. Check:  sudo focussync check --config /etc/focussync/config.toml
  4. Start:  sudo systemctl enable --now focussync
     Logs:   journalctl -u focussync -f
MSG
fi
exit 0
