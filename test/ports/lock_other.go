//go:build !unix

package ports

import "io"

// lockBlock cannot coordinate processes here; the bind check still applies.
func lockBlock(int) (lock io.Closer, ok bool) {
	return nil, true
}
