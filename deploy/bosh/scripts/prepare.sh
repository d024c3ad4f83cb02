#!/usr/bin/env bash
# Makes deploy/bosh ready for `bosh create-release`: copies the module's
# source (with its dependencies vendored) under src/diego, and adds the Go
# toolchain go.mod names as the golang package's blob. Needs the bosh CLI
# and network access to go.dev.
set -euo pipefail
release=$(cd "$(dirname "$0")/.." && pwd)
module=$(cd "${release}/../.." && pwd)
version=$(sed -n 's/^toolchain go//p' "${module}/go.mod")
[ -n "${version}" ] || version=$(sed -n 's/^go //p' "${module}/go.mod")

rm -rf "${release}/src/diego"
mkdir -p "${release}/src/diego"
(cd "${module}" && git ls-files -z | grep -zv '^deploy/bosh/' | xargs -0 cp --parents -t "${release}/src/diego")
(cd "${release}/src/diego" && go mod vendor)

tarball="go${version}.linux-amd64.tar.gz"
if ! bosh blobs --dir "${release}" | grep -q "golang/${tarball}"; then
  curl -fsSLo "/tmp/${tarball}" "https://go.dev/dl/${tarball}"
  bosh add-blob --dir "${release}" "/tmp/${tarball}" "golang/${tarball}"
fi
echo "ready: cd ${release} && bosh create-release --force"
