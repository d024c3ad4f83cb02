//go:build unix

package ports

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir is shared by every process on the machine so their claims meet.
var lockDir = filepath.Join(os.TempDir(), "diego-test-ports")

// lockBlock takes a non-blocking exclusive flock on the block's file. The
// kernel drops it when the process exits, so a crashed test leaves no stale
// claim behind. If the lock file cannot be used at all (say a read-only
// temp dir), the block is taken unlocked: the bind check still applies.
func lockBlock(idx int) (lock io.Closer, ok bool) {
	if err := os.MkdirAll(lockDir, 0o777); err != nil {
		return nil, true
	}
	path := filepath.Join(lockDir, fmt.Sprintf("block-%02d.lock", idx))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, true
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false
		}
		return nil, true
	}
	return f, true
}
