#!/usr/bin/env bash
# Installs the Go toolchain that go.mod names into /usr/local/go (or
# $GO_INSTALL_DIR), for a fresh Debian machine whose own Go (1.19 on bookworm)
# is too old to switch toolchains itself. Debian's go downloads the
# golang.org/toolchain module through the Go module proxy: the same artifact
# GOTOOLCHAIN=auto would use.
set -euo pipefail
DEST=${GO_INSTALL_DIR:-/usr/local/go}
cd "$(dirname "$0")/.."
want=$(sed -n 's/^toolchain \(go[0-9.]*\)$/\1/p' go.mod)
[ -n "$want" ] || want=go$(sed -n 's/^go \([0-9.]*\)$/\1/p' go.mod)
if [ -x "$DEST"/bin/go ] && [ "$("$DEST"/bin/go env GOVERSION)" = "$want" ]; then
	exit 0
fi
if ! command -v go >/dev/null; then
	echo "installing Debian's golang-go to fetch $want"
	apt-get update -qq && apt-get install -y -qq golang-go ca-certificates >/dev/null
fi
arch=$(dpkg --print-architecture)
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
echo "fetching $want for linux/$arch from the Go module proxy"
dir=$(cd "$tmp" && GOFLAGS=-modcacherw GOMODCACHE="$tmp/mc" GO111MODULE=on GOTOOLCHAIN=local \
	go mod download -json "golang.org/toolchain@v0.0.1-$want.linux-$arch" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[ -d "$dir" ] || { echo "could not download $want" >&2; exit 1; }
rm -rf ${DEST}
cp -a "$dir" ${DEST}
# Module zips carry no file modes: make the commands executable again.
chmod -R u+w ${DEST}
chmod +x ${DEST}/bin/* ${DEST}/pkg/tool/*/*
${DEST}/bin/go version
