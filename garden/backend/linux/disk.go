package linux

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"diego/garden"
)

// Disk limits (spec cell §2.8): a container with a byte or inode limit gets
// its overlay's writable layers on an ext4 filesystem of that size, made in
// a sparse file and mounted through a loop device in the depot, so that
// writing past the limit fails in the container with ENOSPC. The host's
// filesystem needs no project quotas. A container without a limit keeps
// plain directories: no loop device, no mkfs (the fast path).
//
// The depot directory of a limited container holds:
//
//	disk/          the ext4 mount; disk/upper and disk/work the overlay's layers
//	upper, work    symlinks to them, where garden-init expects the layers
//	disk.json      the image's size and whether the layers are limited
const (
	diskDirName  = "disk"
	diskInfoName = "disk.json"
	// mkfsBin makes the ext4 filesystems (e2fsprogs).
	mkfsBin = "mkfs.ext4"
)

// diskInfo is what disk usage reports need to know about a container's
// layers, persisted in its depot directory.
type diskInfo struct {
	RootFS  string `json:"rootfs"`
	Limited bool   `json:"limited"`
	// The limited filesystem's own blocks and inodes when it was new
	// (inode tables, root, lost+found): not the container's usage.
	BaseBytes  uint64 `json:"base_bytes,omitempty"`
	BaseInodes uint64 `json:"base_inodes,omitempty"`
}

// imageSizes caches each rootfs directory's size: usage for scope total
// adds it to the container's own, and a scope-total limit subtracts it.
var imageSizes = struct {
	sync.Mutex
	m map[string]imageSize
}{m: map[string]imageSize{}}

type imageSize struct {
	modTime       time.Time
	bytes, inodes uint64
}

// rootfsSize is the bytes and inodes of a rootfs directory, measured once
// per directory (again when its top-level mtime changes).
func rootfsSize(rootfs string) (bytes, inodes uint64) {
	info, err := os.Stat(rootfs)
	if err != nil {
		return 0, 0
	}
	imageSizes.Lock()
	cached, ok := imageSizes.m[rootfs]
	imageSizes.Unlock()
	if ok && cached.modTime.Equal(info.ModTime()) {
		return cached.bytes, cached.inodes
	}
	bytes, inodes = diskUsage(rootfs)
	imageSizes.Lock()
	imageSizes.m[rootfs] = imageSize{modTime: info.ModTime(), bytes: bytes, inodes: inodes}
	imageSizes.Unlock()
	return bytes, inodes
}

// checkDiskLimits says what a disk limit would need and this host lacks.
func checkDiskLimits() error {
	if _, err := exec.LookPath(mkfsBin); err != nil {
		return fmt.Errorf("%s not found (apt-get install e2fsprogs): containers with a disk limit cannot be created", mkfsBin)
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		return fmt.Errorf("no /dev/loop-control (modprobe loop): containers with a disk limit cannot be created")
	}
	return nil
}

// prepareLayers makes the overlay's upper and work directories in dir:
// plain directories, or, for a disk limit on an overlay rootfs, on an ext4
// filesystem of the limit's size (less the image for scope total).
func prepareLayers(dir, rootfs string, readOnly bool, limits garden.DiskLimits) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating depot directory: %w", err)
	}
	info := diskInfo{}
	if !readOnly {
		// A raw rootfs is the host's own tree, not an image to count.
		info.RootFS = rootfs
	}
	bytes, inodes := limits.ByteHard, limits.InodeHard
	if readOnly || (bytes == 0 && inodes == 0) {
		for _, d := range []string{upperDirName, workDirName} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				return fmt.Errorf("creating depot directory: %w", err)
			}
		}
		return writeJSON(filepath.Join(dir, diskInfoName), info)
	}
	if limits.Scope == garden.DiskLimitScopeTotal {
		imageBytes, imageInodes := rootfsSize(rootfs)
		if bytes > 0 {
			if bytes <= imageBytes {
				return fmt.Errorf("disk limit is smaller than volume size: the limit is %d bytes, the image %d bytes", bytes, imageBytes)
			}
			bytes -= imageBytes
		}
		if inodes > 0 {
			if inodes <= imageInodes {
				return fmt.Errorf("inode limit is smaller than the image's %d inodes", imageInodes)
			}
			inodes -= imageInodes
		}
	}
	if bytes == 0 {
		// An inode limit alone: the filesystem may grow to the depot's
		// free space (the file is sparse).
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err != nil {
			return fmt.Errorf("measuring the depot: %w", err)
		}
		bytes = st.Bavail * uint64(st.Bsize)
	}
	mountPoint := filepath.Join(dir, diskDirName)
	if err := mountLimitedDisk(mountPoint, bytes, inodes); err != nil {
		return err
	}
	info.BaseBytes, info.BaseInodes = fsUsage(mountPoint)
	for _, d := range []string{upperDirName, workDirName} {
		if err := os.Mkdir(filepath.Join(dir, diskDirName, d), 0o755); err != nil {
			return fmt.Errorf("creating the limited %s directory: %w", d, err)
		}
		if err := os.Symlink(filepath.Join(diskDirName, d), filepath.Join(dir, d)); err != nil {
			return fmt.Errorf("linking the limited %s directory: %w", d, err)
		}
	}
	info.Limited = true
	return writeJSON(filepath.Join(dir, diskInfoName), info)
}

// minDiskBytes is the smallest filesystem mkfs.ext4 makes reliably.
const minDiskBytes = 1 << 20

// Sizing an ext4 for an inode limit: ext4 fixes its inode count at mkfs,
// at most one inode per inodeRatio bytes of data, and its inode tables take
// inodeSize bytes per inode on top of the data (sparse until used).
const (
	inodeRatio = 4096
	inodeSize  = 256
)

// mountLimitedDisk makes an ext4 filesystem for bytes of data (and at most
// inodes inodes, when set, and one per 4 KiB of bytes) in a sparse file and
// mounts it on mountPoint through a loop device. The file is unlinked once
// the loop device holds it, and the device clears itself at unmount, so
// unmounting frees everything.
func mountLimitedDisk(mountPoint string, bytes, inodes uint64) error {
	if bytes < minDiskBytes {
		bytes = minDiskBytes
	}
	size := bytes
	if inodes > 0 {
		inodes = min(inodes, bytes/inodeRatio)
		size += inodes * inodeSize
	}
	if err := os.Mkdir(mountPoint, 0o755); err != nil {
		return fmt.Errorf("creating the disk mount point: %w", err)
	}
	image := mountPoint + ".img"
	f, err := os.OpenFile(image, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating the disk image: %w", err)
	}
	defer f.Close()
	defer os.Remove(image)
	if err := f.Truncate(int64(size)); err != nil {
		return fmt.Errorf("sizing the disk image: %w", err)
	}
	// No journal (the layer dies with the container), no reserved blocks
	// (the limit is the container's), inode tables initialised lazily.
	args := []string{"-q", "-F", "-m", "0", "-O", "^has_journal", "-E", "lazy_itable_init=1,nodiscard",
		"-I", strconv.Itoa(inodeSize)}
	if inodes > 0 {
		args = append(args, "-N", strconv.FormatUint(inodes, 10))
	}
	if out, err := exec.Command(mkfsBin, append(args, image)...).CombinedOutput(); err != nil {
		return fmt.Errorf("making the disk filesystem: %w: %s", err, out)
	}
	dev, err := attachLoop(f)
	if err != nil {
		return err
	}
	defer dev.Close()
	if err := unix.Mount(dev.Name(), mountPoint, "ext4", unix.MS_NOATIME, ""); err != nil {
		return fmt.Errorf("mounting the disk filesystem: %w", err)
	}
	return nil
}

// attachLoop binds a free loop device to f, clearing itself when its last
// user (the mount) goes.
func attachLoop(f *os.File) (*os.File, error) {
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("opening /dev/loop-control: %w", err)
	}
	defer ctl.Close()
	// Another process may take the free device between the two calls:
	// then configuring it fails with EBUSY, and the next one is tried.
	for range 20 {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return nil, fmt.Errorf("finding a free loop device: %w", err)
		}
		dev, err := os.OpenFile(fmt.Sprintf("/dev/loop%d", n), os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("opening loop device %d: %w", n, err)
		}
		cfg := unix.LoopConfig{Fd: uint32(f.Fd())}
		cfg.Info.Flags = unix.LO_FLAGS_AUTOCLEAR
		err = unix.IoctlLoopConfigure(int(dev.Fd()), &cfg)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTTY) {
			// Before Linux 5.8: the two-step attach.
			err = unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_SET_FD, int(f.Fd()))
			if err == nil {
				if err = unix.IoctlLoopSetStatus64(int(dev.Fd()), &cfg.Info); err != nil {
					_ = unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_CLR_FD, 0)
				}
			}
		}
		if err == nil {
			return dev, nil
		}
		dev.Close()
		if !errors.Is(err, unix.EBUSY) {
			return nil, fmt.Errorf("configuring loop device %d: %w", n, err)
		}
	}
	return nil, errors.New("no free loop device")
}

// releaseLayers unmounts a limited container's filesystem, which frees its
// loop device and image. Nothing to do on the fast path.
func releaseLayers(dir string) error {
	mountPoint := filepath.Join(dir, diskDirName)
	err := unix.Unmount(mountPoint, 0)
	if errors.Is(err, unix.EBUSY) {
		// Something still holds it (a dying container's mount namespace):
		// detach it now, the kernel frees it with the last user.
		err = unix.Unmount(mountPoint, unix.MNT_DETACH)
	}
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting %s: %w", mountPoint, err)
	}
	return nil
}

// diskStat is a container's disk usage: its layers, and for the totals the
// image too. A limited container's usage is its filesystem's.
func diskStat(dir string) garden.ContainerDiskStat {
	var info diskInfo
	_ = readJSON(filepath.Join(dir, diskInfoName), &info)
	var bytes, inodes uint64
	if info.Limited {
		bytes, inodes = fsUsage(filepath.Join(dir, diskDirName))
		bytes -= min(bytes, info.BaseBytes)
		inodes -= min(inodes, info.BaseInodes)
	} else {
		bytes, inodes = diskUsage(filepath.Join(dir, upperDirName))
	}
	stat := garden.ContainerDiskStat{
		TotalBytesUsed: bytes, TotalInodesUsed: inodes, ExclusiveBytesUsed: bytes, ExclusiveInodesUsed: inodes,
	}
	if info.RootFS != "" {
		imageBytes, imageInodes := rootfsSize(info.RootFS)
		stat.TotalBytesUsed += imageBytes
		stat.TotalInodesUsed += imageInodes
	}
	return stat
}

// fsUsage is a filesystem's used blocks (in bytes) and inodes.
func fsUsage(mountPoint string) (bytes, inodes uint64) {
	var st unix.Statfs_t
	if err := unix.Statfs(mountPoint, &st); err != nil {
		return 0, 0
	}
	return (st.Blocks - st.Bfree) * uint64(st.Bsize), st.Files - st.Ffree
}

// diskUsage sums the blocks and inodes under dir.
func diskUsage(dir string) (bytes, inodes uint64) {
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		inodes++
		if info, err := d.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				bytes += uint64(st.Blocks) * 512
			}
		}
		return nil
	})
	return bytes, inodes
}
