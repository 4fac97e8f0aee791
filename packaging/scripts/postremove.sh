#!/bin/sh
# Never deletes the configuration or the state database on remove: a later
# install carries on where this one stopped. Only a deb purge deletes the
# state database and the token (dpkg itself deletes config.toml then).
# deb: $1 = remove | purge | upgrade | ...; rpm: $1 = 0 on erase, 1 on upgrade.
set -e
root="${DPKG_ROOT:-}"

if [ -z "$root" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi

if [ "$1" = purge ]; then
	rm -rf "$root/var/lib/focussync"
	rm -f "$root/etc/focussync/token"
	rmdir "$root/etc/focussync" 2>/dev/null || true
fi
exit 0
