#!/bin/sh
# Creates the system user and group focussync runs as. Honours DPKG_ROOT
# (dpkg --root with --force-script-chrootless) by working on that tree.
set -e
root="${DPKG_ROOT:-}"

has_entry() { # has_entry FILE NAME
	[ -f "$root/etc/$1" ] && grep -q "^$2:" "$root/etc/$1"
}

if [ -n "$root" ]; then
	on_root="--root $root"
else
	on_root=""
fi

if ! has_entry group focussync; then
	# shellcheck disable=SC2086
	groupadd $on_root --system focussync
fi
if ! has_entry passwd focussync; then
	# shellcheck disable=SC2086
	useradd $on_root --system --gid focussync --home-dir /var/lib/focussync --no-create-home \
		--shell /usr/sbin/nologin --comment "focussync daemon" focussync
fi
exit 0
