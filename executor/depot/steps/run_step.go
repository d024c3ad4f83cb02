package steps

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"diego/deploy/clock"
	"diego/executor"
	"diego/executor/depot/log_streamer"
	"diego/garden"
	"diego/models"
)

// Run step defaults (spec cell §3.6, §7.1).
const (
	DefaultGracefulShutdownInterval = 10 * time.Second
	DefaultExitTimeout              = time.Second
)

// RunConfig is what a run step needs besides its action.
type RunConfig struct {
	// Env is the CF_INSTANCE_* networking env (NetworkingEnv); the
	// action's own env overrides it.
	Env []string
	// GracefulShutdownInterval is how long an interrupted process has
	// between SIGTERM and SIGKILL; ExitTimeout how long it then has to go.
	GracefulShutdownInterval time.Duration
	ExitTimeout              time.Duration
	Clock                    clock.Clock
	// Monitor hides the `Exit status N` line (health checks).
	Monitor bool
}

type runStep struct {
	container garden.Container
	action    *models.RunAction
	streamer  log_streamer.LogStreamer
	logger    *slog.Logger
	cfg       RunConfig
}

// NewRun is the run action: a garden process whose output goes to the
// streamer. It is ready once the process has started.
func NewRun(container garden.Container, action *models.RunAction, streamer log_streamer.LogStreamer, logger *slog.Logger, cfg RunConfig) Step {
	if cfg.GracefulShutdownInterval <= 0 {
		cfg.GracefulShutdownInterval = DefaultGracefulShutdownInterval
	}
	if cfg.ExitTimeout <= 0 {
		cfg.ExitTimeout = DefaultExitTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.NewClock()
	}
	return &runStep{container: container, action: action, streamer: streamer, logger: logger.With("step", "run", "path", action.GetPath()), cfg: cfg}
}

type exitResult struct {
	status int
	err    error
}

func (s *runStep) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	var actionEnv []string
	for _, e := range s.action.GetEnv() {
		actionEnv = append(actionEnv, e.GetName()+"="+e.GetValue())
	}
	// The action's env wins over the networking env (decision 46).
	env := MergeEnv(s.cfg.Env, actionEnv)
	spec := garden.ProcessSpec{
		Path: s.action.GetPath(),
		Args: s.action.GetArgs(),
		Dir:  s.action.GetDir(),
		User: s.action.GetUser(),
		Env:  env,
	}
	if rl := s.action.GetResourceLimits(); rl != nil && rl.Nofile != nil {
		nofile := *rl.Nofile
		spec.Limits.Nofile = &nofile
	}
	pio := garden.ProcessIO{Stdout: io.Discard, Stderr: io.Discard}
	if !s.action.GetSuppressLogOutput() {
		pio.Stdout, pio.Stderr = s.streamer.Stdout(), s.streamer.Stderr()
	}

	process, err := s.container.Run(spec, pio)
	if err != nil {
		s.logger.Error("run-step.spawn-failed", "error", err)
		return err
	}
	s.logger.Debug("run-step.started", "garden_process_id", process.ID())
	close(ready)

	exited := make(chan exitResult, 1)
	go func() {
		status, err := process.Wait()
		exited <- exitResult{status, err}
	}()

	select {
	case r := <-exited:
		return s.exited(r)
	case <-signals:
	}

	s.logger.Info("run-step.interrupted", "garden_process_id", process.ID())
	if err := process.Signal(garden.SignalTerminate); err != nil {
		s.logger.Error("run-step.terminate-failed", "error", err)
	}
	grace := s.cfg.Clock.NewTimer(s.cfg.GracefulShutdownInterval)
	defer grace.Stop()
	select {
	case r := <-exited:
		s.logExitStatus(r, "")
		return ErrCancelled
	case <-grace.C():
	}

	s.logger.Info("run-step.killing", "garden_process_id", process.ID())
	if err := process.Signal(garden.SignalKill); err != nil {
		s.logger.Error("run-step.kill-failed", "error", err)
	}
	exitTimer := s.cfg.Clock.NewTimer(s.cfg.ExitTimeout)
	defer exitTimer.Stop()
	select {
	case r := <-exited:
		s.logExitStatus(r, fmt.Sprintf(" (exceeded %s graceful shutdown interval)", s.cfg.GracefulShutdownInterval))
		return ErrExceededGracefulShutdownInterval
	case <-exitTimer.C():
		s.streamer.Flush()
		s.logger.Error("run-step.did-not-exit", "garden_process_id", process.ID())
		return ErrProcessDidNotExit
	}
}

// exited handles a process that ended by itself.
func (s *runStep) exited(r exitResult) error {
	if r.err != nil {
		s.streamer.Flush()
		s.logger.Error("run-step.wait-failed", "error", r.err)
		return r.err
	}
	oom := r.status != 0 && s.outOfMemory()
	suffix := ""
	if oom {
		suffix = " (out of memory)"
	}
	s.logExitStatus(r, suffix)
	if r.status == 0 {
		return nil
	}
	return NewEmittableError(nil, "Exited with status %d%s", r.status, suffix)
}

// logExitStatus flushes the output and writes `Exit status N<suffix>`,
// unless output is suppressed or this is a health check.
func (s *runStep) logExitStatus(r exitResult, suffix string) {
	s.streamer.Flush()
	if r.err != nil || s.action.GetSuppressLogOutput() || s.cfg.Monitor {
		return
	}
	fmt.Fprintf(s.streamer.Stdout(), "Exit status %d%s\n", r.status, suffix)
}

// outOfMemory asks garden whether the container has been OOM-killed.
func (s *runStep) outOfMemory() bool {
	info, err := s.container.Info()
	if err != nil {
		s.logger.Error("run-step.info-failed", "error", err)
		return false
	}
	for _, ev := range info.Events {
		if strings.Contains(strings.ToLower(ev), "out of memory") {
			return true
		}
	}
	return false
}

// NetworkingEnv is the CF_INSTANCE_* env every run action gets (spec cell
// §3.6): the IPs, and the first mapped port with all the mappings.
func NetworkingEnv(externalIP, internalIP string, ports []executor.PortMapping) []string {
	env := []string{"CF_INSTANCE_IP=" + externalIP, "CF_INSTANCE_INTERNAL_IP=" + internalIP}
	if len(ports) == 0 {
		return append(env, "CF_INSTANCE_PORT=", "CF_INSTANCE_ADDR=", "CF_INSTANCE_PORTS=[]")
	}
	type portEnv struct {
		External uint16 `json:"external"`
		Internal uint16 `json:"internal"`
	}
	mappings := make([]portEnv, 0, len(ports))
	for _, p := range ports {
		mappings = append(mappings, portEnv{External: p.HostPort, Internal: p.ContainerPort})
	}
	encoded, _ := json.Marshal(mappings)
	first := strconv.Itoa(int(ports[0].HostPort))
	return append(env,
		"CF_INSTANCE_PORT="+first,
		"CF_INSTANCE_ADDR="+net.JoinHostPort(externalIP, first),
		"CF_INSTANCE_PORTS="+string(encoded),
	)
}

// MergeEnv merges NAME=value lists, later lists (and later entries) winning
// over earlier ones, so that each name appears once, at the place it first
// appeared (decision 46). An entry without "=" is a name with an empty value.
func MergeEnv(levels ...[]string) []string {
	var out []string
	at := map[string]int{}
	for _, level := range levels {
		for _, kv := range level {
			name, _, _ := strings.Cut(kv, "=")
			if i, ok := at[name]; ok {
				out[i] = kv
				continue
			}
			at[name] = len(out)
			out = append(out, kv)
		}
	}
	return out
}
