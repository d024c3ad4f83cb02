package reexec

import (
	"fmt"
	"os"
)

// Texts a client of Diego's garden reads from guardian (runc and
// libcontainer's user lookup), so failure reasons read the same on either.

// userNotFoundError is libcontainer's text for a user missing from the
// rootfs /etc/passwd.
func userNotFoundError(name string) error {
	return fmt.Errorf("unable to find user %s: no matching entries in passwd file", name)
}

// executableNotFoundText is runc's (and Go's exec.LookPath's) text for an
// executable that is not there: a name not found on PATH, or a path that
// cannot be run.
func executableNotFoundText(path string, onPATH bool) string {
	if onPATH {
		return fmt.Sprintf("exec: %q: executable file not found in $PATH", path)
	}
	reason := "permission denied"
	if info, err := os.Stat(path); err != nil {
		reason = err.Error()
	} else if info.IsDir() {
		reason = "is a directory"
	}
	return fmt.Sprintf("exec: %q: %s", path, reason)
}
