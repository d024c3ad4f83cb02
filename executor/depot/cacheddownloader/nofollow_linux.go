package cacheddownloader

import "syscall"

// noFollow makes opening a file fail rather than follow a symlink.
const noFollow = syscall.O_NOFOLLOW
