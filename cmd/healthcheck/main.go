// Command healthcheck checks, from inside a container, that the app answers
// on its port: a TCP connect, or an HTTP GET that must return 200, to the
// container's first non-loopback IPv4 address (spec cell.md §3.8, bridge.md
// §8.5). The exit code says how it went; docs/healthcheck.md has the table.
// It must stay static: container rootfses have no dynamic loader.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"diego/cmd/healthcheck/check"
)

// exitUsage is what a bad command line exits with, as the flag package does.
const exitUsage = 2

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c check.Checker
	var m check.Modes
	fs.StringVar(&c.Network, "network", "tcp", "network to dial")
	fs.StringVar(&c.URI, "uri", "", "HTTP path to GET (a 200 passes); empty: a TCP connect")
	fs.IntVar(&c.Port, "port", check.DefaultPort, "port to check")
	fs.DurationVar(&c.Timeout, "timeout", check.DefaultTimeout, "time one check may take")
	fs.DurationVar(&m.StartupInterval, "startup-interval", 0, "startup mode: check every interval until one passes")
	fs.DurationVar(&m.StartupTimeout, "startup-timeout", check.DefaultStartupTimeout, "startup mode: fail after this long (0: never)")
	fs.DurationVar(&m.LivenessInterval, "liveness-interval", 0, "liveness mode: check every interval, fail at the first failure")
	fs.DurationVar(&m.ReadinessInterval, "readiness-interval", 0, "readiness mode: check every interval, fail at the first failure")
	fs.DurationVar(&m.UntilReadyInterval, "until-ready-interval", 0, "until-ready mode: check every interval until one passes")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	if err := validate(fs, c, m); err != nil {
		fmt.Fprintf(stderr, "healthcheck: %s\n", err)
		fs.Usage()
		return exitUsage
	}
	err := check.Run(context.Background(), c.Check, m)
	if err != nil {
		fmt.Fprintln(stderr, err)
	}
	return check.Code(err)
}

func validate(fs *flag.FlagSet, c check.Checker, m check.Modes) error {
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	case c.Port < 1 || c.Port > 65535:
		return fmt.Errorf("-port must be 1-65535, got %d", c.Port)
	case c.Timeout <= 0:
		return fmt.Errorf("-timeout must be positive, got %s", c.Timeout)
	case c.Network == "":
		return errors.New("-network must not be empty")
	}
	return m.Validate()
}
