// Package daemon is the main every diego daemon shares: read -config, load
// the file, set up what every daemon has (the logger at the config's
// log_level, the clock, the debug_address pprof server, the final "ready"
// line), let the daemon wire what is particular to it, and run the whole
// under sigmon until a signal or a failure. Each cmd/<daemon>/main.go only
// names its pieces, and its wire.go lists only its own members.
package daemon

import (
	"expvar"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"slices"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
	"github.com/tedsuo/ifrit/sigmon"

	"diego/deploy/clock"
	"diego/deploy/config"
	"diego/deploy/httpserver"
	"diego/deploy/logging"
)

// Settings is what the kit reads from every daemon's config: the Common
// block (log_level, debug_address), which a config embeds.
type Settings interface {
	Settings() config.Common
}

// Daemon names a daemon's pieces.
type Daemon[C Settings] struct {
	// Name prefixes the messages written before logging is set up, and is
	// the logger's source.
	Name string
	// Load reads and validates the config file.
	Load func(path string) (C, error)
	// Wire builds the daemon's own members from its config and the kit.
	Wire func(cfg C, kit *Kit) (Process, error)
	// Starting gives the attributes of the "starting" log line.
	Starting func(cfg C) []any
}

// Kit is what every daemon is given: its logger, its clock, and a place to
// register what must be released at exit (or when wiring fails).
type Kit struct {
	Logger *slog.Logger
	Clock  clock.Clock

	cleanups []func()
}

// NewKit builds the kit of a daemon called name logging at level; Main uses
// it, and tests of a wire function may too.
func NewKit(name string, level slog.Level) *Kit {
	return &Kit{Logger: logging.New(os.Stdout, level, name), Clock: clock.NewClock()}
}

// Defer registers f to run at exit, after the process stops; registered
// functions run last first.
func (k *Kit) Defer(f func()) { k.cleanups = append(k.cleanups, f) }

// Cleanup runs the registered functions, last first, once.
func (k *Kit) Cleanup() {
	for _, f := range slices.Backward(k.cleanups) {
		f()
	}
	k.cleanups = nil
}

// ErrorLog sends an http.Server's own errors (TLS handshakes, bad
// requests) to the daemon's log.
func (k *Kit) ErrorLog() *log.Logger {
	return slog.NewLogLogger(k.Logger.Handler(), slog.LevelInfo)
}

// Process is what a daemon's wire function returns.
type Process struct {
	// Members are the daemon's own runners in start order; they stop in
	// reverse order.
	Members grouper.Members
	// OnReady, if set, runs once every member is ready, just before the
	// "ready" line (the BBS opens its API there).
	OnReady func()
	// Wrap, if set, wraps the whole group (the rep turns signals into an
	// evacuation there).
	Wrap func(ifrit.Runner) ifrit.Runner
}

// Runner is the daemon's whole process: the debug server first when
// debug_address is set, then the daemon's members, then the "ready" line;
// an ordered group, wrapped by p.Wrap.
func (p Process) Runner(common config.Common, logger *slog.Logger) ifrit.Runner {
	var members grouper.Members
	if common.DebugAddress != "" {
		members = append(members, grouper.Member{Name: "debug", Runner: Debug(common.DebugAddress)})
	}
	members = append(members, p.Members...)
	members = append(members, grouper.Member{Name: "ready", Runner: announce(logger, p.OnReady)})
	var runner ifrit.Runner = grouper.NewOrdered(os.Interrupt, members)
	if p.Wrap != nil {
		runner = p.Wrap(runner)
	}
	return runner
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
	common := cfg.Settings()
	level, err := logging.ParseLevel(common.LogLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: log_level: %v\n", d.Name, err)
		os.Exit(2)
	}
	kit := NewKit(d.Name, level)
	process, err := d.Wire(cfg, kit)
	if err != nil {
		kit.Cleanup()
		fmt.Fprintf(os.Stderr, "%s: %v\n", d.Name, err)
		os.Exit(1)
	}
	var attrs []any
	if d.Starting != nil {
		attrs = d.Starting(cfg)
	}
	logger := kit.Logger
	logger.Info("starting", attrs...)
	err = <-ifrit.Invoke(sigmon.New(process.Runner(common, logger))).Wait()
	kit.Cleanup()
	if err != nil {
		logger.Error("exited", "error", err)
		os.Exit(1)
	}
	logger.Info("exited")
}

// announce is the last member of a daemon's ordered group: once everything
// before it is ready it runs onReady, logs "ready" (what operators and tests
// wait for), then waits for a signal.
func announce(logger *slog.Logger, onReady func()) ifrit.Runner {
	return ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		if onReady != nil {
			onReady()
		}
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

// Background runs inner behind a member that is ready at once: a daemon
// that serves while one of its parts waits (nsync's bulker and TPS's
// watcher wait for their locks) does not hold back its "ready" line. It
// passes a signal on to inner and returns inner's error; inner ending by
// itself ends it too, so a lost lock still ends the daemon.
func Background(inner ifrit.Runner) ifrit.Runner {
	return ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		p := ifrit.Background(inner)
		close(ready)
		select {
		case sig := <-signals:
			p.Signal(sig)
			return <-p.Wait()
		case err := <-p.Wait():
			return err
		}
	})
}
