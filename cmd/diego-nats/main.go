// Command diego-nats runs one NATS server of a cluster from a JSON config:
// the BOSH release's nats job and the multi-VM cluster run it.
package main

import (
	"github.com/tedsuo/ifrit/grouper"

	"diego/deploy/daemon"
	"diego/deploy/members"
)

func main() {
	daemon.Daemon[members.NATSConfig]{
		Name: "nats",
		Load: members.LoadNATS,
		Wire: func(cfg members.NATSConfig, kit *daemon.Kit) (daemon.Process, error) {
			return daemon.Process{Members: grouper.Members{{Name: "nats", Runner: members.NewNATS(cfg, kit.Logger)}}}, nil
		},
	}.Main()
}
