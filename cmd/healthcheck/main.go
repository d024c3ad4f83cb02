// Command healthcheck checks, from inside a container, that the app answers
// on its port: a TCP connect, or an HTTP GET that must return 200, to the
// container's first non-loopback IPv4 address (spec cell.md §3.8, bridge.md
// §8.5). The exit code says how it went; docs/healthcheck.md has the table.
// Its logic lives in ccbridge/lifecycle/healthcheck, which the lifecycle
// bundle's healthcheck is built from too. It must stay static: container
// rootfses have no dynamic loader.
package main

import (
	"os"

	"diego/ccbridge/lifecycle/healthcheck"
)

func main() {
	os.Exit(healthcheck.Main(os.Args[1:], os.Stderr))
}
