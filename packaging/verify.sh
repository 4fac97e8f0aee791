#!/usr/bin/env bash
# Builds the packages (packaging/build.sh) and checks them without touching
# this system's services, users or /etc:
#   1. the .deb's control data, conffiles and maintainer scripts;
#   2. the .deb's file list, modes and owners;
#   3. the packaged binary runs and reports the version;
#   4. `systemd-analyze verify` accepts the packaged unit as shipped, in a
#      throwaway root holding the package's files and this host's systemd units;
#   5. dpkg installs, removes and purges the .deb in a throwaway root
#      (dpkg --root, maintainer scripts run chrootless against that root):
#      the user and group are created, files land with their modes, the
#      README's `sudo focussync check --config /etc/focussync/config.toml`
#      passes (chroot) after the administrator's edit, and so does the same
#      check as the service's user with the token as its systemd credential;
#      remove keeps the configuration, token and state, purge deletes them;
#   6. the .rpm's file list, config files and scripts (rpm -qp).
# Installs the Debian packages systemd (for systemd-analyze) and rpm with
# apt-get when they are missing.
set -euo pipefail

cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
ok() { echo "ok: $*"; }

need() { # need COMMAND DEBIAN-PACKAGE
	command -v "$1" >/dev/null 2>&1 && return 0
	echo "installing $2 (for $1)"
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
	command -v "$1" >/dev/null 2>&1 || fail "$1 is still missing after installing $2"
}

step "build"
packaging/build.sh
deb=$(ls -t dist/focussync_*_amd64.deb | head -n 1)
rpm=$(ls -t dist/focussync_*_amd64.rpm | head -n 1)
version=${deb#dist/focussync_}
version=${version%_amd64.deb}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

step "dpkg-deb --info $deb"
info=$(dpkg-deb --info "$deb")
echo "$info"
grep -q '^ Package: focussync$' <<<"$info" || fail "package name"
grep -q '^ Architecture: amd64$' <<<"$info" || fail "architecture"
for s in preinst postinst prerm postrm conffiles; do
	grep -Eq "^ +[0-9]+ bytes, +[0-9]+ lines +\*? *$s( |$)" <<<"$info" || fail "control member $s missing"
done
conffiles=$(dpkg-deb --info "$deb" conffiles)
[[ $conffiles == "/etc/focussync/config.toml" ]] || fail "conffiles = $conffiles"
ok "control data, maintainer scripts, conffiles = $conffiles"

step "dpkg-deb --contents $deb"
contents=$(dpkg-deb --contents "$deb")
echo "$contents"
check_entry() { # check_entry MODE OWNER PATH
	grep -Eq "^$1 $2 +[0-9]+ [0-9-]+ [0-9:]+ \./${3#/}$" <<<"$contents" || fail "$3 is not listed as $1 $2"
	ok "$3 $1 $2"
}
check_entry -rwxr-xr-x root/root /usr/bin/focussync
check_entry -rw-r--r-- root/root /lib/systemd/system/focussync.service
check_entry drwxr-x--- root/focussync /etc/focussync/
check_entry -rw-r----- root/focussync /etc/focussync/config.toml
check_entry -rw-r--r-- root/root /usr/share/doc/focussync/README.md
check_entry -rw-r--r-- root/root /usr/share/doc/focussync/copyright
grep -Eq ' \./usr/share/doc/focussync/changelog\.Debian\.gz$' <<<"$contents" || fail "no changelog.Debian.gz"
ok "/usr/share/doc/focussync/changelog.Debian.gz"

step "the packaged files"
x=$tmp/extract
dpkg-deb -x "$deb" "$x"
out=$("$x/usr/bin/focussync" version)
echo "$out"
grep -q "^focussync $version$" <<<"$out" || fail "version output does not name $version"
cmp -s "$x/lib/systemd/system/focussync.service" packaging/focussync.service || fail "packaged unit differs from packaging/focussync.service"
cmp -s "$x/usr/share/doc/focussync/copyright" packaging/copyright || fail "packaged copyright differs from packaging/copyright"
zcat "$x/usr/share/doc/focussync/changelog.Debian.gz" | grep -q '^focussync (' || fail "changelog.Debian.gz is not a Debian changelog"
for placeholder in 'organization_id = 11' 'workspace_id = 22' 'task_id = 101'; do
	! grep -qxF "$placeholder" "$x/etc/focussync/config.toml" || fail "packaged config sets the example's $placeholder"
done
out=$("$x/usr/bin/focussync" check --config "$x/etc/focussync/config.toml" 2>&1) && fail "check passes the packaged config before the administrator's edit: $out"
grep -qF 'no [[folder]] configured' <<<"$out" || fail "check of the unedited packaged config does not say what is missing: $out"
grep -qxF 'token_file = "/etc/focussync/token"' "$x/etc/focussync/config.toml" || fail "packaged config lacks token_file = /etc/focussync/token"
grep -qxF 'path = "/var/lib/focussync/state.db"' "$x/etc/focussync/config.toml" || fail "packaged config lacks the state path"
ok "binary runs; unit is packaging/focussync.service; config sets token_file and state path"

step "systemd-analyze verify (the unit as packaged)"
need systemd-analyze systemd
systemd-analyze --version | head -n 1
ar=$tmp/analyze
dpkg-deb -x "$deb" "$ar"
mkdir -p "$ar/usr/lib/systemd" "$ar/bin"
cp -a /usr/lib/systemd/system "$ar/usr/lib/systemd/"
[[ -x /bin/kill ]] || fail "/bin/kill (procps) is missing: the unit's ExecReload needs it"
cp /bin/kill "$ar/bin/kill"
analysis=$(systemd-analyze verify --root="$ar" focussync.service 2>&1) || fail "systemd-analyze verify: $analysis"
[[ -z $analysis ]] || fail "systemd-analyze verify printed warnings: $analysis"
ok "systemd-analyze verify --root: no errors, no warnings"
sec=$(systemd-analyze security --offline=yes --root="$ar" focussync.service 2>/dev/null | tail -n 1 || true)
[[ -n $sec ]] && echo "systemd-analyze security: $sec"

step "dpkg install, remove and purge in a throwaway root"
r=$tmp/root
mkdir -p "$r/etc" "$r/var/lib/dpkg/info" "$r/var/lib/dpkg/updates" "$r/var/lib/dpkg/triggers" "$r/var/log"
touch "$r/var/lib/dpkg/status"
echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
echo 'root:x:0:' >"$r/etc/group"
echo 'root:*:19000:0:99999:7:::' >"$r/etc/shadow"
echo 'root:*::' >"$r/etc/gshadow"
chmod 0640 "$r/etc/shadow" "$r/etc/gshadow"
dpkg_r() { dpkg --root="$r" --force-not-root --force-script-chrootless --log="$r/var/log/dpkg.log" "$@"; }

dpkg_r -i "$deb"
grep -qx 'focussync:x:[0-9]*:[0-9]*:focussync daemon:/var/lib/focussync:/usr/sbin/nologin' "$r/etc/passwd" || fail "no focussync user in $(cat "$r/etc/passwd")"
gid=$(awk -F: '$1 == "focussync" { print $3 }' "$r/etc/group")
[[ -n $gid ]] || fail "no focussync group"
ok "preinstall created user and group: $(grep '^focussync:' "$r/etc/passwd")"
[[ $(stat -c '%a %u' "$r/usr/bin/focussync") == "755 0" ]] || fail "binary mode"
[[ $(stat -c '%a %u %g' "$r/etc/focussync/config.toml") == "640 0 $gid" ]] || fail "config mode/owner: $(stat -c '%a %u %g' "$r/etc/focussync/config.toml")"
[[ -f $r/lib/systemd/system/focussync.service ]] || fail "unit not installed"
dpkg_r -s focussync | grep -q '^Status: install ok installed$' || fail "dpkg status"
ok "installed: binary 0755, config 0640 root:focussync (gid $gid), unit in place, status installed"

step "the packaged check, as the README says (in the throwaway root)"
# The administrator's edit: organization, workspace and one folder.
cfg=$r/etc/focussync/config.toml
cp -p "$cfg" "$tmp/config.orig"
sed -i -E '/^\[api\]/,/^\[/ { s|^#? *organization_id = .*|organization_id = 4711|; s|^#? *workspace_id = .*|workspace_id = 815| }' "$cfg"
awk '/^\[\[folder\]\]/ { exit } { print }' "$cfg" >"$tmp/config.new"
printf '[[folder]]\npath = "/srv/share/clients/acme"\ntask_id = 4242\n' >>"$tmp/config.new"
cat "$tmp/config.new" >"$cfg"
mkdir -p "$r/srv/share/clients/acme"
install -m 0600 /dev/null "$r/etc/focussync/token"
echo 'toggl_sk_packaged_check' >"$r/etc/focussync/token"
# sudo focussync check --config /etc/focussync/config.toml
out=$(chroot "$r" /usr/bin/focussync check --config /etc/focussync/config.toml 2>&1) || fail "packaged check failed: $out"
echo "$out"
grep -qF 'token:  found in /etc/focussync/token (not tested)' <<<"$out" || fail "check does not find the token in /etc/focussync/token"
grep -qF 'Focus was not contacted' <<<"$out" || fail "check does not say that Focus was not contacted"
grep -qF '/srv/share/clients/acme -> task 4242 (organization 4711, workspace 815)' <<<"$out" || fail "check does not show the folder"
ok "root's check passes with the packaged config"
# The service's view: its user, with the token as the systemd credential.
uid=$(awk -F: '$1 == "focussync" { print $3 }' "$r/etc/passwd")
cred=$r/run/credentials/focussync.service
mkdir -p "$cred"
install -m 0400 -o "$uid" -g "$gid" "$r/etc/focussync/token" "$cred/token"
install -d -m 0700 -o "$uid" -g "$gid" "$r/var/lib/focussync" # StateDirectory=
out=$(CREDENTIALS_DIRECTORY=/run/credentials/focussync.service chroot --userspec="$uid:$gid" "$r" \
	/usr/bin/focussync check --config /etc/focussync/config.toml 2>&1) || fail "check as the service failed: $out"
grep -qF 'token:  found in /run/credentials/focussync.service/token (systemd credential token)' <<<"$out" ||
	fail "the service's user does not read the credential: $out"
ok "the service's user reads the token as the credential \"token\" with the same config"
rm -rf "$r/run" "$r/srv" "$r/var/lib/focussync"
cat "$tmp/config.orig" >"$cfg"

echo 'toggl_sk_test' >"$r/etc/focussync/token"
mkdir -p "$r/var/lib/focussync"
echo state >"$r/var/lib/focussync/state.db"
echo '# edited' >>"$r/etc/focussync/config.toml"
dpkg_r -r focussync
[[ ! -e $r/usr/bin/focussync ]] || fail "binary left after remove"
for f in /etc/focussync/config.toml /etc/focussync/token /var/lib/focussync/state.db; do
	[[ -f $r$f ]] || fail "remove deleted $f"
done
grep -q '^focussync:' "$r/etc/passwd" || fail "remove deleted the user"
ok "remove: binary gone; edited config, token, state database and user kept"

dpkg_r -P focussync
for f in /etc/focussync/config.toml /etc/focussync/token /var/lib/focussync; do
	[[ ! -e $r$f ]] || fail "purge left $f"
done
ok "purge: config, token and state database deleted"

step "rpm -qp $rpm"
need rpm rpm
rpm -qpi "$rpm" 2>/dev/null | sed -n '1,12p'
files=$(rpm -qplv "$rpm" 2>/dev/null)
echo "$files"
for p in /usr/bin/focussync /usr/lib/systemd/system/focussync.service /etc/focussync/config.toml /usr/share/doc/focussync/README.md; do
	grep -q " $p$" <<<"$files" || fail "rpm lacks $p"
done
owners=$(rpm -qp --queryformat '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]' "$rpm" 2>/dev/null)
grep -qx -- '-rw-r----- root:focussync /etc/focussync/config.toml' <<<"$owners" || fail "rpm config mode/owner: $owners"
[[ $(rpm -qpc "$rpm" 2>/dev/null) == "/etc/focussync/config.toml" ]] || fail "rpm config files"
rpm -qp --queryformat '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm" 2>/dev/null | grep -q '^cn /etc/focussync/config.toml$' || fail "config is not %config(noreplace)"
scripts=$(rpm -qp --scripts "$rpm" 2>/dev/null)
for s in preinstall postinstall preuninstall postuninstall; do
	grep -q "^$s scriptlet" <<<"$scripts" || fail "rpm lacks the $s scriptlet"
done
ok "rpm: files, config 0640 root:focussync %config(noreplace), four scriptlets"

printf '\nverify: all checks passed for %s and %s\n' "$deb" "$rpm"
