#!/usr/bin/env bash
# Builds diego's stack rootfs: a minimal Debian bookworm tree that the local
# cluster maps `preloaded:cflinuxfs2`, `cflinuxfs3` and `cflinuxfs4` to, so
# that Diego's usual LRP and task examples run unchanged (`nc -z`, `curl`,
# `bash`, GNU coreutils and tar, CA certificates, user vcap). The busybox
# rootfs (build.sh) stays the default rootfs and the tests' fast one.
#
#   deploy/rootfs/build-stack.sh OUT_DIR         build OUT_DIR (skipped when up to date)
#   deploy/rootfs/build-stack.sh --verify DIR    check DIR against its stamp's manifest hash
#
# The tree comes from Debian's packages through mmdebstrap (installed with
# apt when missing): the Essential packages plus PACKAGES below, without
# apt, man pages, locales or documentation (copyright files stay).
# OUT_DIR/.diego-rootfs records the inputs and the sha256 of the tree's
# manifest (build.sh --manifest); a build whose inputs match the stamp is
# skipped without touching the network. Builds into one OUT_DIR are
# serialized with flock. Every mtime is SOURCE_DATE_EPOCH, so two builds
# from the same mirror state give the same tree (pin one with a
# snapshot.debian.org mirror).
#
# Environment:
#   DIEGO_ROOTFS_DEBIAN_MIRROR  the Debian mirror (default http://deb.debian.org/debian)
#   DIEGO_ROOTFS_DEBIAN_SUITE   the suite (default bookworm)
#   SOURCE_DATE_EPOCH           the mtime of every entry (default 1704067200, 2024-01-01)
#   DIEGO_ROOTFS_FORCE=1        rebuild even when the stamp matches
set -euo pipefail

# Bump when the layout this script produces changes: it invalidates every stamp.
SCRIPT_VERSION=1
STAMP=.diego-rootfs
EPOCH=${SOURCE_DATE_EPOCH:-1704067200}
SUITE=${DIEGO_ROOTFS_DEBIAN_SUITE:-bookworm}
MIRROR=${DIEGO_ROOTFS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=bash,coreutils,tar,netcat-openbsd,curl,ca-certificates
VCAP_ID=2000
HERE=$(cd "$(dirname "$0")" && pwd)

export LC_ALL=C TZ=UTC
umask 022

log() { echo "stack rootfs: $*" >&2; }
die() { echo "stack rootfs: error: $*" >&2; exit 1; }
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
usage() {
	echo "usage: $0 OUT_DIR | --verify DIR" >&2
	exit 2
}

if [ $# -eq 2 ]; then
	[ "$1" = --verify ] || usage
	[ -f "$2/$STAMP" ] || die "$2 has no $STAMP stamp"
	want=$(sed -n 's/^manifest_sha256=//p' "$2/$STAMP")
	got=$("$HERE/build.sh" --manifest "$2" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] || die "$2 has changed since it was built: manifest $got, stamp $want"
	log "$2 matches its stamp (manifest $got)"
	exit 0
elif [ $# -ne 1 ] || [[ $1 == -* ]]; then
	usage
fi
[[ $EPOCH =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH must be a number of seconds, got '$EPOCH'"
require_root_and_tools "mmdebstrap's root mode; the tree holds root- and vcap-owned files" dpkg apt-get flock sha256sum find touch

lock_output "$1"

inputs() {
	echo "# diego stack rootfs (Debian), built by deploy/rootfs/build-stack.sh"
	echo "script_version=$SCRIPT_VERSION"
	echo "source_date_epoch=$EPOCH"
	echo "arch=$ARCH"
	echo "suite=$SUITE"
	echo "mirror=$MIRROR"
	echo "packages=$PACKAGES"
}

if [ "${DIEGO_ROOTFS_FORCE:-}" != 1 ] && [ -f "$OUT/$STAMP" ] &&
	[ "$(sed -n '/^manifest_sha256=/q;p' "$OUT/$STAMP")" = "$(inputs)" ]; then
	log "$OUT is up to date (Debian $SUITE: $PACKAGES)"
	exit 0
fi
if [ -e "$OUT" ]; then
	[ -d "$OUT" ] || die "$OUT exists and is not a directory"
	if [ ! -f "$OUT/$STAMP" ] && [ -n "$(ls -A "$OUT")" ]; then
		die "$OUT is not empty and has no $STAMP stamp; refusing to replace it"
	fi
fi

if ! command -v mmdebstrap >/dev/null; then
	log "installing mmdebstrap (Debian's package)"
	{ apt-get update -qq && apt-get install -y -qq mmdebstrap >/dev/null; } || die "could not install mmdebstrap with apt"
fi

start=$(date +%s.%N)
WORK=$(mktemp -d "$PARENT/.$NAME.build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
R=$WORK/rootfs

# The variant "essential" is Debian's Essential:yes set (bash, coreutils,
# tar, dpkg, …) with no apt: nothing in a container installs packages.
# The path excludes keep documentation and translations out of the tree.
log "running mmdebstrap ($SUITE from $MIRROR)"
SOURCE_DATE_EPOCH=$EPOCH mmdebstrap --quiet --mode=root --format=directory --variant=essential \
	--include="$PACKAGES" \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-exclude=/usr/share/info/*' \
	--dpkgopt='path-exclude=/usr/share/lintian/*' \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/*/copyright' \
	"$SUITE" "$R" "$MIRROR" >&2 || die "mmdebstrap failed"

for f in bin/bash usr/bin/nc.openbsd usr/bin/curl bin/tar usr/bin/env etc/ssl/certs/ca-certificates.crt; do
	[ -e "$R/$f" ] || die "the tree has no /$f"
done

# What a build leaves that varies from run to run, or that a container
# must not share: logs, caches, the machine id, dpkg's backups.
rm -rf "$R"/var/log/* "$R"/var/cache/* "$R"/var/lib/apt/lists/* "$R"/tmp/* "$R"/var/tmp/* \
	"$R"/var/lib/dpkg/*-old "$R"/etc/*- "$R"/etc/apt/sources.list.d/* "$R"/etc/apt/sources.list
: >"$R/etc/machine-id"
: >"$R/etc/hosts"
: >"$R/etc/resolv.conf"
echo localhost >"$R/etc/hostname"

# vcap, as in cflinuxfs: uid and gid 2000, home /home/vcap, bash.
grep -q '^vcap:' "$R/etc/passwd" || echo "vcap:x:$VCAP_ID:$VCAP_ID::/home/vcap:/bin/bash" >>"$R/etc/passwd"
grep -q '^vcap:' "$R/etc/group" || echo "vcap:x:$VCAP_ID:" >>"$R/etc/group"
if [ -f "$R/etc/shadow" ]; then
	grep -q '^vcap:' "$R/etc/shadow" || echo 'vcap:*:19723:0:99999:7:::' >>"$R/etc/shadow"
fi
mkdir -p "$R/home/vcap" "$R/app"
chown "$VCAP_ID:$VCAP_ID" "$R/home/vcap" "$R/app"
chmod 0755 "$R/home/vcap" "$R/app"
chmod 1777 "$R/tmp" "$R/var/tmp"

find "$R" -exec touch -h -d "@$EPOCH" {} +
sum=$("$HERE/build.sh" --manifest "$R" | sha256sum | cut -d' ' -f1)
{
	inputs
	echo "manifest_sha256=$sum"
	# For people: what went in (not part of the comparison above).
	echo "# installed: $(chroot "$R" dpkg-query -W -f '${Package}=${Version} ' | sed 's/ $//')"
} >"$R/$STAMP"
chmod 0644 "$R/$STAMP"
touch -h -d "@$EPOCH" "$R/$STAMP" "$R"

if [ -e "$OUT" ]; then
	mv "$OUT" "$WORK/old"
fi
mv "$R" "$OUT"

elapsed=$(echo "$start $(date +%s.%N)" | awk '{ printf "%.1f", $2 - $1 }')
log "built $OUT in ${elapsed}s: Debian $SUITE, $(chroot "$OUT" dpkg-query -W | wc -l) packages, $(du -sh "$OUT" | cut -f1), manifest $sum"
