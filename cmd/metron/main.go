// Command metron is the agent on every VM: it reads dropsonde envelopes on
// UDP 127.0.0.1:3457, tags them and forwards them, signed, to the doppler.
package main

import (
	"diego/deploy/daemon"
	"diego/metron/agent/config"
)

func main() {
	daemon.Daemon[config.Config]{
		Name: "metron",
		Load: config.Load,
		Wire: wire,
	}.Main()
}
