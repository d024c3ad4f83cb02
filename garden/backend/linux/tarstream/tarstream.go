// Package tarstream is the exec shim's stream in and out (spec cell §2.7):
// it extracts a tar into the container and writes one from it, as the
// requesting user. It is apart from package reexec because archive/tar
// imports path/filepath, which Go initialises late, and the other
// re-executed parts start before it (decision 173).
package tarstream

import "diego/garden/backend/linux/reexec"

// init gives the shim the tar code, then runs the shim when this process is
// one that streams a tar (reexec's own init left it).
func init() {
	reexec.RegisterTar(extractTar, writeTar)
	reexec.Dispatch()
}
