// Command launcher is the buildpack lifecycle's launcher (spec bridge.md
// §8.4): /tmp/lifecycle/launcher <app-dir> <start-command> <metadata>. It
// must stay static: the rootfs has no loader.
package main

import (
	"fmt"
	"os"
	"syscall"

	"diego/ccbridge/lifecycle/launcher"
)

func main() {
	cwd, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(os.Stderr, "launcher: %v\n", err)
		os.Exit(1)
	}
	plan, err := launcher.Prepare(os.Args[1:], os.Environ(), cwd)
	if err != nil {
		fmt.Fprintf(os.Stderr, "launcher: %v\n", err)
		os.Exit(1)
	}
	err = syscall.Exec(plan.Path, plan.Args, plan.Env)
	fmt.Fprintf(os.Stderr, "launcher: exec %s: %v\n", plan.Path, err)
	os.Exit(1)
}
