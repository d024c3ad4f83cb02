package linux

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// shiftedRoots keeps, per rootfs directory, a copy whose owners are shifted
// into the unprivileged containers' host id range (decision 24): runc 1.1
// has no idmapped mounts, and an overlay over the host's root-owned tree
// would show every file as nobody inside the user namespace. The copy is
// made once per rootfs (and again when the rootfs directory changes) and
// shared by every container as the overlay's lower layer.
type shiftedRoots struct {
	dir string // <depot>.rootfs, beside the depot

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func newShiftedRoots(dir string) *shiftedRoots {
	return &shiftedRoots{dir: dir, locks: map[string]*sync.Mutex{}}
}

func (s *shiftedRoots) lock(key string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.locks[key]
	if l == nil {
		l = &sync.Mutex{}
		s.locks[key] = l
	}
	return l
}

// stamp identifies the version of a rootfs directory: its own inode and
// change time (a rebuilt rootfs is a new directory or a touched one).
func stamp(dir string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d-%d-%d.%d", st.Ino, st.Dev, st.Ctim.Sec, st.Ctim.Nsec), nil
}

// get returns the shifted copy of rootfs, making it when missing or stale.
// Each version of a rootfs gets its own copy (<key>-<version>): a copy
// stays while containers may run on it, since an overlay sees files removed
// from its lower layer; prune removes stale ones when none can.
func (s *shiftedRoots) get(rootfs string) (string, error) {
	sum := sha256.Sum256([]byte(rootfs))
	key := hex.EncodeToString(sum[:8])
	l := s.lock(key)
	l.Lock()
	defer l.Unlock()
	want, err := stamp(rootfs)
	if err != nil {
		return "", fmt.Errorf("rootfs %s: %w", rootfs, err)
	}
	version := sha256.Sum256([]byte(want))
	target := filepath.Join(s.dir, key+"-"+hex.EncodeToString(version[:6]))
	if _, err := os.Stat(target); err == nil {
		return target, nil
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %w", s.dir, err)
	}
	tmp, err := os.MkdirTemp(s.dir, "tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := shiftCopy(rootfs, tmp, idMapBase); err != nil {
		return "", fmt.Errorf("copying rootfs %s with shifted owners: %w", rootfs, err)
	}
	// The source and version beside the copy, for prune.
	if err := os.WriteFile(target+".source", []byte(rootfs+"\n"+want), 0o600); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, target); err != nil {
		return "", err
	}
	return target, nil
}

// prune removes the copies of rootfs versions that are no longer current,
// and unfinished copies. It runs at start after the leftovers are
// destroyed, when no container uses any copy.
func (s *shiftedRoots) prune() {
	entries, _ := os.ReadDir(s.dir)
	for _, e := range entries {
		path := filepath.Join(s.dir, e.Name())
		if strings.HasPrefix(e.Name(), "tmp-") {
			_ = os.RemoveAll(path)
			continue
		}
		if !e.IsDir() {
			continue
		}
		source, err := os.ReadFile(path + ".source")
		stale := err != nil
		if !stale {
			src, version, _ := strings.Cut(string(source), "\n")
			current, err := stamp(src)
			stale = err != nil || current != version
		}
		if stale {
			_ = os.RemoveAll(path)
			_ = os.Remove(path + ".source")
		}
	}
}

// shiftCopy copies the tree src to dst (which exists), adding base to every
// owner and group and keeping modes, times, hard links, symlinks and device
// nodes. The copy's root is 0755 as overlay lowers need.
func shiftCopy(src, dst string, base uint32) error {
	links := map[[2]uint64]string{}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		uid, gid := int(st.Uid+base), int(st.Gid+base)
		if st.Uid >= idMapSize || st.Gid >= idMapSize {
			uid, gid = int(base+65534), int(base+65534) // unmappable: nobody
		}
		mode := uint32(info.Mode().Perm()) | uint32(st.Mode&(unix.S_ISUID|unix.S_ISGID|unix.S_ISVTX))
		switch {
		case info.IsDir():
			if rel != "." {
				if err := os.Mkdir(target, 0o700); err != nil {
					return err
				}
			}
		case info.Mode()&fs.ModeSymlink != 0:
			dest, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(dest, target); err != nil {
				return err
			}
			if err := os.Lchown(target, uid, gid); err != nil {
				return err
			}
			return nil
		case info.Mode().IsRegular():
			id := [2]uint64{st.Dev, st.Ino}
			if st.Nlink > 1 {
				if first, ok := links[id]; ok {
					return os.Link(first, target)
				}
				links[id] = target
			}
			if err := copyFile(path, target); err != nil {
				return err
			}
		default:
			// Devices, fifos and sockets are recreated as they are.
			if err := unix.Mknod(target, st.Mode, int(st.Rdev)); err != nil {
				return fmt.Errorf("mknod %s: %w", rel, err)
			}
		}
		if err := os.Lchown(target, uid, gid); err != nil {
			return err
		}
		// After chown, which clears set-id bits.
		if err := unix.Chmod(target, mode); err != nil {
			return err
		}
		return unix.UtimesNanoAt(unix.AT_FDCWD, target, []unix.Timespec{unix.NsecToTimespec(st.Atim.Nano()), unix.NsecToTimespec(st.Mtim.Nano())}, unix.AT_SYMLINK_NOFOLLOW)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// hostID is the host uid or gid of a container id.
func hostID(privileged bool, id int) int {
	if privileged {
		return id
	}
	return id + idMapBase
}
