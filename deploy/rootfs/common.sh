# Shared by build.sh and build-stack.sh (sourced, not run): the checks and
# the per-output lock that both builds start with. Expects log and die.

# require_root_and_tools WHY TOOL...: refuse to go on without root or a tool.
require_root_and_tools() {
	local why=$1
	shift
	[ "$(id -u)" -eq 0 ] || die "must run as root ($why)"
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || die "$tool is missing (this script expects a Debian host)"
	done
}

# lock_output DIR: set OUT (absolute), PARENT, NAME and ARCH, and take the
# lock of DIR on fd 9, so concurrent callers (two test processes, `make
# rootfs`) build once and the others find the stamp.
lock_output() {
	OUT=$1
	[ "$OUT" != / ] || die "refusing to build into /"
	mkdir -p "$(dirname "$OUT")"
	OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
	PARENT=$(dirname "$OUT")
	NAME=$(basename "$OUT")
	ARCH=$(dpkg --print-architecture)
	exec 9>"$PARENT/.$NAME.lock"
	if ! flock -n 9; then
		log "waiting for another build of $OUT"
		flock 9
	fi
}
