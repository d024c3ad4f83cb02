#!/usr/bin/env bash
# Builds diego's busybox rootfs: the directory garden uses as its default
# rootfs and for `preloaded:cflinuxfs*`. It is assembled offline from two
# Debian packages, busybox-static and bash-static, which are downloaded (never
# installed on the host) into a cache and unpacked with dpkg-deb.
#
#   deploy/rootfs/build.sh OUT_DIR         build OUT_DIR (skipped when up to date)
#   deploy/rootfs/build.sh --manifest DIR  print DIR's content manifest
#   deploy/rootfs/build.sh --verify DIR    check DIR against its stamp's manifest hash
#
# The tree is reproducible: the same package versions and SOURCE_DATE_EPOCH
# give the same files, modes, owners and mtimes. OUT_DIR/.diego-rootfs records
# the inputs and the sha256 of the manifest; a build whose inputs match the
# stamp is skipped. Builds into the same OUT_DIR are serialized with flock.
#
# Environment:
#   DIEGO_ROOTFS_DEB_CACHE  where the .debs are kept (/var/cache/diego/rootfs-debs)
#   SOURCE_DATE_EPOCH       the mtime of every entry (default 1704067200, 2024-01-01)
#   DIEGO_ROOTFS_BUSYBOX_VERSION, DIEGO_ROOTFS_BASH_VERSION
#                           pin a package version (default: apt's candidate)
#   DIEGO_ROOTFS_FORCE=1    rebuild even when the stamp matches
set -euo pipefail

# Bump when the layout this script produces changes: it invalidates every stamp.
SCRIPT_VERSION=1
STAMP=.diego-rootfs
EPOCH=${SOURCE_DATE_EPOCH:-1704067200}
DEB_CACHE=${DIEGO_ROOTFS_DEB_CACHE:-/var/cache/diego/rootfs-debs}
VCAP_ID=2000

export LC_ALL=C TZ=UTC
umask 022

log() { echo "rootfs: $*" >&2; }
die() { echo "rootfs: error: $*" >&2; exit 1; }
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
	echo "usage: $0 OUT_DIR | --manifest DIR | --verify DIR" >&2
	exit 2
}

# manifest DIR: one line per entry (path, type, mode, owner, mtime, link
# target), then the sha256 of every regular file; the stamp is left out. Sizes
# of directories depend on the filesystem, so no sizes: the hashes cover content.
manifest() {
	local dir=$1
	(
		cd "$dir"
		find . -mindepth 1 ! -path "./$STAMP" -printf '%P %y %m %U:%G %T@ %l\n' | sort
		find . -type f ! -path "./$STAMP" -print0 | sort -z | xargs -0r sha256sum | sed 's#  \./#  #'
	)
}

if [ $# -eq 2 ]; then
	[[ $1 =~ ^--(manifest|verify)$ ]] || usage
elif [ $# -ne 1 ] || [[ $1 == -* ]]; then
	usage
fi
case $1 in
--manifest)
	[ -d "$2" ] || die "$2 is not a directory"
	manifest "$2"
	exit 0
	;;
--verify)
	[ -f "$2/$STAMP" ] || die "$2 has no $STAMP stamp"
	want=$(sed -n 's/^manifest_sha256=//p' "$2/$STAMP")
	got=$(manifest "$2" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] || die "$2 has changed since it was built: manifest $got, stamp $want"
	log "$2 matches its stamp (manifest $got)"
	exit 0
	;;
esac
[[ $EPOCH =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH must be a number of seconds, got '$EPOCH'"

require_root_and_tools "the tree holds root- and vcap-owned files; apt may need updating" dpkg-deb dpkg apt-get apt-cache flock sha256sum find touch

lock_output "$1"

# candidates: "PKG VERSION" for each package apt can download, from the local
# lists (one apt-cache call: each one decompresses the lists, about half a second).
candidates() {
	apt-cache policy busybox-static bash-static 2>/dev/null |
		awk '/^[^ ].*:$/ { pkg = substr($0, 1, length($0) - 1) }
			$1 == "Candidate:" && $2 != "(none)" { print pkg, $2 }'
}

stamp_value() { # stamp_value FILE KEY
	sed -n "s/^$2=//p" "$1" 2>/dev/null | head -n1
}

BUSYBOX_VERSION=${DIEGO_ROOTFS_BUSYBOX_VERSION:-}
BASH_VERSION_PIN=${DIEGO_ROOTFS_BASH_VERSION:-}
if [ -z "$BUSYBOX_VERSION" ] || [ -z "$BASH_VERSION_PIN" ]; then
	found=$(candidates)
	if [ "$(echo "$found" | grep -c .)" -ne 2 ]; then
		log "apt does not know busybox-static/bash-static yet: running apt-get update"
		if ! apt-get update -qq; then
			# Offline with a rootfs this script built: keep it rather than fail.
			if [ "$(stamp_value "$OUT/$STAMP" script_version)" = "$SCRIPT_VERSION" ]; then
				log "apt-get update failed; keeping the existing rootfs in $OUT"
				exit 0
			fi
			die "apt-get update failed and there is no rootfs in $OUT to fall back on"
		fi
		found=$(candidates)
	fi
	BUSYBOX_VERSION=${BUSYBOX_VERSION:-$(echo "$found" | awk '$1 == "busybox-static" { print $2 }')}
	BASH_VERSION_PIN=${BASH_VERSION_PIN:-$(echo "$found" | awk '$1 == "bash-static" { print $2 }')}
fi
[ -n "$BUSYBOX_VERSION" ] || die "no version of busybox-static is available from apt"
[ -n "$BASH_VERSION_PIN" ] || die "no version of bash-static is available from apt"

# The stamp's inputs; manifest_sha256 follows them in the stamp.
inputs() {
	echo "# diego busybox rootfs, built by deploy/rootfs/build.sh"
	echo "script_version=$SCRIPT_VERSION"
	echo "source_date_epoch=$EPOCH"
	echo "arch=$ARCH"
	echo "busybox-static=$BUSYBOX_VERSION"
	echo "bash-static=$BASH_VERSION_PIN"
}

if [ "${DIEGO_ROOTFS_FORCE:-}" != 1 ] && [ -f "$OUT/$STAMP" ] &&
	[ "$(grep -v '^manifest_sha256=' "$OUT/$STAMP")" = "$(inputs)" ]; then
	log "$OUT is up to date (busybox-static $BUSYBOX_VERSION, bash-static $BASH_VERSION_PIN)"
	exit 0
fi

# Never replace a directory this script did not make.
if [ -e "$OUT" ]; then
	[ -d "$OUT" ] || die "$OUT exists and is not a directory"
	if [ ! -f "$OUT/$STAMP" ] && [ -n "$(ls -A "$OUT")" ]; then
		die "$OUT is not empty and has no $STAMP stamp; refusing to replace it"
	fi
fi

start=$(date +%s.%N)
WORK=$(mktemp -d "$PARENT/.$NAME.build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# apt's sha256 of both .debs, as "PKG SHA256" lines.
SUMS=$(apt-cache show --no-all-versions "busybox-static=$BUSYBOX_VERSION" "bash-static=$BASH_VERSION_PIN" 2>/dev/null |
	awk '$1 == "Package:" { pkg = $2 } $1 == "SHA256:" && !seen[pkg]++ { print pkg, $2 }' || true)

# fetch PKG VERSION: prints the path of the cached .deb, downloading it when
# the cache has no file whose sha256 matches apt's record for that version.
fetch() {
	local pkg=$1 version=$2 want f
	want=$(echo "$SUMS" | awk -v p="$pkg" '$1 == p { print $2 }')
	[ -n "$want" ] || die "apt has no record of $pkg $version (pin another version or run apt-get update)"
	mkdir -p "$DEB_CACHE"
	for f in "$DEB_CACHE/${pkg}"_*.deb; do
		[ -f "$f" ] || continue
		if [ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$want" ]; then
			echo "$f"
			return
		fi
	done
	log "downloading $pkg $version into $DEB_CACHE"
	local dl
	dl=$(mktemp -d "$DEB_CACHE/.download.XXXXXX")
	# apt's download sandbox user cannot write into a root-only directory.
	if ! (cd "$dl" && apt-get download -qq -o APT::Sandbox::User=root "$pkg=$version" >&2); then
		rm -rf "$dl"
		die "apt-get download $pkg=$version failed"
	fi
	f=$(find "$dl" -name '*.deb' | head -n1)
	[ -n "$f" ] && [ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$want" ] || {
		rm -rf "$dl"
		die "the downloaded $pkg $version does not match apt's sha256"
	}
	mv "$f" "$DEB_CACHE/${pkg}_${version//:/%3a}_$ARCH.deb"
	rm -rf "$dl"
	echo "$DEB_CACHE/${pkg}_${version//:/%3a}_$ARCH.deb"
}

busybox_deb=$(fetch busybox-static "$BUSYBOX_VERSION")
bash_deb=$(fetch bash-static "$BASH_VERSION_PIN")

mkdir "$WORK/busybox" "$WORK/bash"
dpkg-deb -x "$busybox_deb" "$WORK/busybox"
dpkg-deb -x "$bash_deb" "$WORK/bash"
[ -x "$WORK/busybox/bin/busybox" ] || die "$busybox_deb has no /bin/busybox"
[ -x "$WORK/bash/bin/bash-static" ] || die "$bash_deb has no /bin/bash-static"

R=$WORK/rootfs
mkdir "$R"
for d in bin sbin usr usr/bin usr/sbin usr/local usr/local/bin usr/share usr/share/doc \
	etc home home/vcap root proc sys dev tmp var var/tmp; do
	mkdir -p "$R/$d"
done

install -m 0755 "$WORK/busybox/bin/busybox" "$R/bin/busybox"
install -m 0755 "$WORK/bash/bin/bash-static" "$R/bin/bash"
for pkg in busybox-static bash-static; do
	src=$WORK/${pkg%-static}/usr/share/doc/$pkg/copyright
	if [ -f "$src" ]; then
		mkdir -p "$R/usr/share/doc/$pkg"
		install -m 0644 "$src" "$R/usr/share/doc/$pkg/copyright"
	fi
done

# One relative symlink per applet, in the directory busybox lists it under
# (bin/ls -> busybox, usr/bin/wget -> ../../bin/busybox). Applets listed
# without a directory (linuxrc) are skipped; real files (bin/bash) win.
applets=0
while IFS= read -r applet; do
	case $applet in */*) ;; *) continue ;; esac
	dir=${applet%/*}
	[ -e "$R/$applet" ] && continue
	case $dir in bin | sbin | usr/bin | usr/sbin) ;; *) die "busybox lists $applet outside bin, sbin, usr/bin, usr/sbin" ;; esac
	case $dir in
	bin) ln -s busybox "$R/$applet" ;;
	*/*) ln -s ../../bin/busybox "$R/$applet" ;;
	*) ln -s ../bin/busybox "$R/$applet" ;;
	esac
	applets=$((applets + 1))
done < <("$R/bin/busybox" --list-full | sort)
[ -L "$R/bin/sh" ] || die "busybox $BUSYBOX_VERSION lists no sh applet"

cat >"$R/etc/passwd" <<EOF
root:x:0:0:root:/root:/bin/sh
vcap:x:$VCAP_ID:$VCAP_ID::/home/vcap:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$R/etc/group" <<EOF
root:x:0:
vcap:x:$VCAP_ID:
nogroup:x:65534:
EOF
cat >"$R/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
shadow: files
hosts: files dns
EOF
cat >"$R/etc/shells" <<'EOF'
/bin/sh
/bin/bash
EOF
cat >"$R/etc/os-release" <<EOF
NAME="diego busybox rootfs"
ID=diego-busybox
PRETTY_NAME="diego busybox rootfs (busybox-static $BUSYBOX_VERSION, bash-static $BASH_VERSION_PIN)"
VERSION_ID=$SCRIPT_VERSION
EOF
# Placeholders: garden bind-mounts or writes these per container.
: >"$R/etc/hosts"
: >"$R/etc/resolv.conf"

# Owners and modes, then one mtime for everything.
chown -R -h 0:0 "$R"
chown "$VCAP_ID:$VCAP_ID" "$R/home/vcap"
find "$R" -type d -exec chmod 0755 {} +
find "$R/etc" -type f -exec chmod 0644 {} +
chmod 1777 "$R/tmp" "$R/var/tmp"
chmod 0700 "$R/root"
chmod 0555 "$R/proc" "$R/sys"
find "$R" -exec touch -h -d "@$EPOCH" {} +

sum=$(manifest "$R" | sha256sum | cut -d' ' -f1)
{
	inputs
	echo "manifest_sha256=$sum"
} >"$R/$STAMP"
chmod 0644 "$R/$STAMP"
touch -h -d "@$EPOCH" "$R/$STAMP" "$R"

# Swap the new tree in; the old one (if any) goes after.
if [ -e "$OUT" ]; then
	mv "$OUT" "$WORK/old"
fi
mv "$R" "$OUT"

elapsed=$(echo "$start $(date +%s.%N)" | awk '{ printf "%.1f", $2 - $1 }')
log "built $OUT in ${elapsed}s: busybox-static $BUSYBOX_VERSION ($applets applets), bash-static $BASH_VERSION_PIN, $(du -sh "$OUT" | cut -f1), manifest $sum"
