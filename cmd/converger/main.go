// Command converger holds the converger lock and asks the BBS to converge
// tasks and LRPs on a timer and whenever a cell disappears.
package main

import (
	"diego/converger/config"
	"diego/deploy/daemon"
)

func main() {
	daemon.Daemon[config.Config]{
		Name: "converger",
		Load: config.Load,
		Wire: wire,
	}.Main()
}
