// Command bbs is the bulletin board: the only owner of diego's data in etcd,
// serving the BBS API (protobuf over HTTP(S)) and its event streams.
package main

import (
	"os"
	"runtime/debug"

	"diego/bbs/config"
	"diego/deploy/daemon"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// The BBS's heap is small and the machine's memory is not: collect
		// less often and give the CPU to requests (decision in docs/decisions.md).
		debug.SetGCPercent(400)
	}
	daemon.Daemon[config.Config]{
		Name: "bbs",
		Load: config.Load,
		Wire: wire,
		Starting: func(cfg config.Config) []any {
			return []any{"listen_addr", cfg.ListenAddr, "tls", cfg.TLS()}
		},
	}.Main()
}
