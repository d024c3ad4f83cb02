// Command diego is the command-line tool for people: tasks, LRPs, cells,
// domains and events over the receptor API. `diego help` lists the commands.
package main

import (
	"context"
	"os"
	"os/signal"

	"diego/receptor/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Run(ctx, os.Args[1:], cli.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}
