// Command builder is the buildpack lifecycle's builder (spec bridge.md
// §8.1), run by the staging task in the container as
// /tmp/lifecycle/builder. It must stay static: the rootfs has no loader.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"diego/ccbridge/lifecycle/builder"
)

func main() {
	cfg, err := builder.ParseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "builder: %v\n", err)
		os.Exit(1)
	}
	err = builder.Builder{Config: cfg, Stdout: os.Stdout, Stderr: os.Stderr}.Run()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, err)
	var exit *builder.ExitError
	if errors.As(err, &exit) {
		os.Exit(exit.Code)
	}
	os.Exit(1)
}
