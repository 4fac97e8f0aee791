#!/bin/sh
# Stops and disables the service when the package is removed (not on an
# upgrade). deb: $1 = remove | upgrade | deconfigure | failed-upgrade;
# rpm: $1 = 0 on erase, 1 on upgrade.
set -e
root="${DPKG_ROOT:-}"

case "$1" in
remove | 0)
	if [ -z "$root" ]; then
		if [ -d /run/systemd/system ]; then
			systemctl stop focussync.service >/dev/null 2>&1 || true
		fi
		systemctl disable focussync.service >/dev/null 2>&1 || true
	else
		systemctl --root="$root" disable focussync.service >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
