package linux

import (
	"encoding/json"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// The garden server and a container's garden-init talk over a SOCK_SEQPACKET
// unix socket in the container's depot directory: one connection per
// request, one JSON message per packet, so a request and the stdio fds it
// carries (SCM_RIGHTS) arrive together.

// Request kinds.
const (
	kindExec   = "exec"    // run a process
	kindTarIn  = "tar-in"  // extract the tar on stdin into Path
	kindTarOut = "tar-out" // write Path as a tar to stdout
)

// spawnRequest asks garden-init to start something in the container. The
// fds travel with it: stdin, stdout, stderr (or one pty slave used for all
// three when TTY is set).
type spawnRequest struct {
	Kind    string            `json:"kind"`
	Path    string            `json:"path,omitempty"`
	Args    []string          `json:"args,omitempty"`
	Env     []string          `json:"env,omitempty"`
	Dir     string            `json:"dir,omitempty"`
	User    string            `json:"user,omitempty"`
	Rlimits map[string]uint64 `json:"rlimits,omitempty"`
	TTY     bool              `json:"tty,omitempty"`
}

// initMessage is a packet from garden-init: the pid once started, the exit
// status when done, or why starting failed.
type initMessage struct {
	Pid      int    `json:"pid,omitempty"`
	Exited   bool   `json:"exited,omitempty"`
	Status   int    `json:"status"`
	Error    string `json:"error,omitempty"`
	NotFound bool   `json:"not_found,omitempty"`
}

// controlMessage is a packet from the server about a running process.
type controlMessage struct {
	Signal int `json:"signal"`
}

// shimSpec is what garden-init hands the garden-exec shim (as JSON in its
// environment), which applies it in the child before exec.
type shimSpec struct {
	Kind    string            `json:"kind"`
	Path    string            `json:"path,omitempty"`
	Args    []string          `json:"args,omitempty"`
	Env     []string          `json:"env,omitempty"`
	Dir     string            `json:"dir,omitempty"`
	User    string            `json:"user,omitempty"`
	Rlimits map[string]uint64 `json:"rlimits,omitempty"`
}

const shimSpecEnv = "GARDEN_EXEC_SPEC"

func sendPacket(conn *net.UnixConn, v any, files ...*os.File) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = unix.UnixRights(fds...)
	}
	_, _, err = conn.WriteMsgUnix(body, oob, nil)
	return err
}

// maxPacket bounds one message; a spawn request with a large environment
// is the biggest.
const maxPacket = 1 << 20

func recvPacket(conn *net.UnixConn, v any) ([]*os.File, error) {
	buf := make([]byte, maxPacket)
	oob := make([]byte, unix.CmsgSpace(4*8))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("connection closed")
	}
	var files []*os.File
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return nil, fmt.Errorf("parsing control message: %w", err)
		}
		for _, m := range msgs {
			fds, err := unix.ParseUnixRights(&m)
			if err != nil {
				return nil, fmt.Errorf("parsing fds: %w", err)
			}
			for _, fd := range fds {
				files = append(files, os.NewFile(uintptr(fd), "fd"))
			}
		}
	}
	if err := json.Unmarshal(buf[:n], v); err != nil {
		for _, f := range files {
			f.Close()
		}
		return nil, fmt.Errorf("decoding message: %w", err)
	}
	return files, nil
}
