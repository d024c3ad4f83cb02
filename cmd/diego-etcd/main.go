// Command diego-etcd runs one etcd member from a JSON config: the BOSH
// release's etcd job and the multi-VM cluster's database VMs run it.
package main

import (
	"github.com/tedsuo/ifrit/grouper"

	"diego/deploy/daemon"
	"diego/deploy/members"
)

func main() {
	daemon.Daemon[members.ETCDConfig]{
		Name: "etcd",
		Load: members.LoadETCD,
		Wire: func(cfg members.ETCDConfig, kit *daemon.Kit) (daemon.Process, error) {
			return daemon.Process{Members: grouper.Members{{Name: "etcd", Runner: members.NewETCD(cfg, kit.Logger)}}}, nil
		},
	}.Main()
}
