#!/usr/bin/env bash
# Builds the focussync binary for Linux and its .deb and .rpm packages:
#   dist/focussync_<version>_<arch>.deb and .rpm
# VERSION comes from `git describe --tags` (without the leading v) when a
# version tag exists, else 0.0.0-dev; set VERSION to override. GOARCH defaults
# to amd64. nfpm is installed into dist/tools with `go install`.
set -euo pipefail

NFPM_VERSION=v2.48.0

cd "$(dirname "$0")/.."
root=$PWD

export GOOS=linux GOARCH="${GOARCH:-amd64}" CGO_ENABLED=0
if [[ -z "${VERSION:-}" ]]; then
	desc=$(git describe --tags --always --dirty 2>/dev/null || true)
	if [[ $desc =~ ^v?([0-9]+\.[0-9]+\.[0-9]+.*)$ ]]; then
		VERSION=${BASH_REMATCH[1]}
	else
		VERSION=0.0.0-dev
	fi
fi
export VERSION
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
built=$(date -u +%FT%TZ)

stage=dist/stage
rm -rf "$stage"
mkdir -p "$stage" dist/tools

echo "build: focussync $VERSION ($commit) for $GOOS/$GOARCH"
go build -trimpath \
	-ldflags "-s -w -X main.version=$VERSION -X main.commit=$commit -X main.date=$built" \
	-o "$stage/focussync" ./cmd/focussync

# The packaged configuration: the example with the values the packaged unit
# needs (token from the systemd credential, state in the state directory).
# The token file is root's; the service reads it as the systemd credential
# "token" that the unit loads from the same file.
sed -e 's|^# *token_file = "/etc/focussync/token"|token_file = "/etc/focussync/token"|' \
	-e 's|^# *path = "/var/lib/focussync/state.db"|path = "/var/lib/focussync/state.db"|' \
	config.example.toml >"$stage/config.toml"
for want in 'token_file = "/etc/focussync/token"' 'path = "/var/lib/focussync/state.db"'; do
	if ! grep -qxF "$want" "$stage/config.toml"; then
		echo "build: config.example.toml has no commented line to turn into: $want" >&2
		exit 1
	fi
done

if [[ -f README.md ]]; then
	cp README.md "$stage/README.md"
else
	echo "build: warning: README.md is missing; packaging a pointer to the project page" >&2
	printf 'focussync\n\nSee https://github.com/focussync/focussync\n' >"$stage/README.md"
fi

nfpm=dist/tools/nfpm
if ! go version -m "$nfpm" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/goreleaser/nfpm/v2[[:space:]]+$NFPM_VERSION[[:space:]]"; then
	echo "build: installing nfpm $NFPM_VERSION"
	env -u GOOS -u GOARCH -u CGO_ENABLED GOBIN="$root/dist/tools" \
		go install "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION"
fi

for packager in deb rpm; do
	target="dist/focussync_${VERSION}_${GOARCH}.$packager"
	rm -f "$target"
	"$nfpm" package --config packaging/nfpm.yaml --packager "$packager" --target "$target"
done
echo "build: done"
ls -l dist/*.deb dist/*.rpm
