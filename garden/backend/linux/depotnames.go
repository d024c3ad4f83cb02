package linux

// Files in a container's depot directory.
const (
	upperDirName     = "upper"
	workDirName      = "work"
	hostsName        = "hosts"
	processesDirName = "processes" // a directory per process: process.json, pid, exitcode
	resolvName       = "resolv.conf"
)
