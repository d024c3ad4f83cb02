package healthcheck

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// exitUsage is what a bad command line exits with, as the flag package does.
const exitUsage = 2

// Main is the whole healthcheck binary (spec cell.md §3.8, bridge.md §8.5):
// it parses args, runs the check in the modes asked for and returns the
// exit code. cmd/healthcheck and the lifecycle bundle's healthcheck are
// built from it, so there is one copy of the command line.
func Main(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Checker
	var m Modes
	fs.StringVar(&c.Network, "network", "tcp", "network to dial")
	fs.StringVar(&c.URI, "uri", "", "HTTP path to GET (a 200 passes); empty: a TCP connect")
	fs.IntVar(&c.Port, "port", DefaultPort, "port to check")
	fs.DurationVar(&c.Timeout, "timeout", DefaultTimeout, "time one check may take")
	fs.DurationVar(&m.StartupInterval, "startup-interval", 0, "startup mode: check every interval until one passes")
	fs.DurationVar(&m.StartupTimeout, "startup-timeout", DefaultStartupTimeout, "startup mode: fail after this long (0: never)")
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
	err := Run(context.Background(), c.Check, m)
	if err != nil {
		fmt.Fprintln(stderr, err)
	}
	return Code(err)
}

func validate(fs *flag.FlagSet, c Checker, m Modes) error {
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
