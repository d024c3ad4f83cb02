// Package daemon is the main every diego daemon shares: read -config, load
// the file, wire the process, run it under sigmon until a signal or a
// failure. Each cmd/<daemon>/main.go only names its pieces.
package daemon

import (
	"expvar"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/sigmon"

	"diego/deploy/httpserver"
)

// Daemon names a daemon's pieces.
type Daemon[C any] struct {
	// Name prefixes the messages written before logging is set up.
	Name string
	// Load reads and validates the config file.
	Load func(path string) (C, error)
	// Wire builds the process, its logger and what to release at exit
	// (cleanup may be nil).
	Wire func(cfg C) (runner ifrit.Runner, logger *slog.Logger, cleanup func(), err error)
	// Starting gives the attributes of the "starting" log line.
	Starting func(cfg C) []any
}

// Main runs the daemon and exits: 2 for a bad command line or config, 1 when
// wiring fails or the process ends in error, 0 after a clean stop.
func (d Daemon[C]) Main() {
	configPath := flag.String("config", "", fmt.Sprintf("path to the %s's JSON config file", d.Name))
	flag.Parse()
	if *configPath == "" {
		fmt.Fprintf(os.Stderr, "%s: -config <file> is required\n", d.Name)
		os.Exit(2)
	}
	cfg, err := d.Load(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	runner, logger, cleanup, err := d.Wire(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", d.Name, err)
		os.Exit(1)
	}
	if cleanup == nil {
		cleanup = func() {}
	}
	var attrs []any
	if d.Starting != nil {
		attrs = d.Starting(cfg)
	}
	logger.Info("starting", attrs...)
	if err := <-ifrit.Invoke(sigmon.New(runner)).Wait(); err != nil {
		logger.Error("exited", "error", err)
		cleanup()
		os.Exit(1)
	}
	cleanup()
	logger.Info("exited")
}

// Announce is the last member of a daemon's ordered group: once everything
// before it is ready it logs "ready" (what operators and tests wait for),
// then waits for a signal.
func Announce(logger *slog.Logger) ifrit.Runner {
	return ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		logger.Info("ready")
		close(ready)
		<-signals
		return nil
	})
}

// Debug serves pprof and expvar (/debug/vars, as Diego's daemons' debug
// servers do) on addr, for the debug_address every daemon accepts.
func Debug(addr string) ifrit.Runner {
	mux := http.NewServeMux()
	mux.Handle("/debug/vars", expvar.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return httpserver.New(addr, mux)
}
