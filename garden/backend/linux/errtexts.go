package linux

import (
	"fmt"
)

// The texts below are the ones a client of Diego's garden (guardian, with
// runc and libcontainer's user lookup) reads, so that messages surfacing
// in failure reasons and logs read the same on either server.

// streamInError is guardian's text for a stream in whose extraction
// failed: the extractor's exit status and what it said.
func streamInError(status int, output string) error {
	return fmt.Errorf("error streaming in: exit status %d. Output: %s", status, output)
}
