// Package transformer turns a container's actions into its step tree (spec
// cell §3.6): serial(setup, long_running), where long_running is
// codependent(action, sidecars, health checks) when anything runs beside
// the action and the action alone otherwise. One type switch over the
// actions builds every step.
package transformer

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"
	"unicode/utf8"

	"github.com/tedsuo/ifrit"
	"google.golang.org/protobuf/proto"

	check "diego/ccbridge/lifecycle/healthcheck"
	"diego/deploy/clock"
	"diego/executor"
	"diego/executor/depot/log_streamer"
	"diego/executor/depot/steps"
	"diego/garden"
	"diego/models"
)

// Defaults (spec cell §3.11, §7.1).
const (
	DefaultMaxConcurrentDownloads  = 5
	DefaultMaxConcurrentUploads    = 5
	DefaultHealthCheckWorkPoolSize = 64
)

// MaxFailureReasonLength bounds run_result.failure_reason (spec cell §3.7).
const MaxFailureReasonLength = 10000

// truncationMarker joins the head and tail of a truncated failure reason.
const truncationMarker = "\n... (truncated)\n"

// Config is what the transformer needs of the executor's configuration.
// Zero values take the defaults.
type Config struct {
	CellID string
	// GracefulShutdownInterval is SIGTERM → SIGKILL for run steps (10 s).
	GracefulShutdownInterval time.Duration
	// ExitTimeout is how long a killed process has to go (1 s).
	ExitTimeout time.Duration
	// HealthyMonitoringInterval (30 s) and UnhealthyMonitoringInterval
	// (500 ms) pace the monitor's checks.
	HealthyMonitoringInterval   time.Duration
	UnhealthyMonitoringInterval time.Duration
	// TempDir holds upload temp files (default os.TempDir()).
	TempDir string
	// Limits shared by every container of the cell.
	MaxConcurrentDownloads  int
	MaxConcurrentUploads    int
	HealthCheckWorkPoolSize int
}

// Deps are what the step trees use.
type Deps struct {
	// Clock paces timeouts, monitors and retries (default the real one).
	Clock clock.Clock
	// Downloader serves download actions (*cacheddownloader.Downloader);
	// Uploader upload actions (*steps.HTTPUploader).
	Downloader steps.Downloader
	Uploader   steps.Uploader
}

// Transformer builds step trees; one per executor, shared by its
// containers (so the limits are cell-wide).
type Transformer struct {
	cfg          Config
	deps         Deps
	downloads    steps.Limiter
	uploads      steps.Limiter
	healthChecks steps.Limiter
}

// New returns a Transformer.
func New(cfg Config, deps Deps) *Transformer {
	if cfg.GracefulShutdownInterval <= 0 {
		cfg.GracefulShutdownInterval = steps.DefaultGracefulShutdownInterval
	}
	if cfg.ExitTimeout <= 0 {
		cfg.ExitTimeout = steps.DefaultExitTimeout
	}
	if cfg.HealthyMonitoringInterval <= 0 {
		cfg.HealthyMonitoringInterval = steps.DefaultHealthyMonitoringInterval
	}
	if cfg.UnhealthyMonitoringInterval <= 0 {
		cfg.UnhealthyMonitoringInterval = steps.DefaultUnhealthyMonitoringInterval
	}
	if deps.Clock == nil {
		deps.Clock = clock.NewClock()
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	if cfg.MaxConcurrentDownloads <= 0 {
		cfg.MaxConcurrentDownloads = DefaultMaxConcurrentDownloads
	}
	if cfg.MaxConcurrentUploads <= 0 {
		cfg.MaxConcurrentUploads = DefaultMaxConcurrentUploads
	}
	if cfg.HealthCheckWorkPoolSize <= 0 {
		cfg.HealthCheckWorkPoolSize = DefaultHealthCheckWorkPoolSize
	}
	return &Transformer{
		cfg:          cfg,
		deps:         deps,
		downloads:    steps.NewLimiter(cfg.MaxConcurrentDownloads),
		uploads:      steps.NewLimiter(cfg.MaxConcurrentUploads),
		healthChecks: steps.NewLimiter(cfg.HealthCheckWorkPoolSize),
	}
}

// ErrInvalidAction is what StepsRunner's refusals wrap: it is the
// executor's StepsInvalid error, so errors.Is(err, executor.ErrStepsInvalid)
// holds.
var ErrInvalidAction = executor.ErrStepsInvalid

// IsInterrupted says whether a step tree's error is entirely the result of
// a signal (steps.IsInterrupted).
func IsInterrupted(err error) bool { return steps.IsInterrupted(err) }

// FailureReason is the run_result.failure_reason for a step tree's error:
// its text, truncated by TruncateFailureReason ("" for nil).
func FailureReason(err error) string {
	if err == nil {
		return ""
	}
	return TruncateFailureReason(err.Error())
}

// TruncateFailureReason keeps a reason within MaxFailureReasonLength bytes
// by keeping its head and tail around "\n... (truncated)\n".
func TruncateFailureReason(reason string) string {
	if len(reason) <= MaxFailureReasonLength {
		return reason
	}
	keep := MaxFailureReasonLength - len(truncationMarker)
	head := keep / 2
	tail := len(reason) - (keep - head)
	for head > 0 && !utf8.RuneStart(reason[head]) {
		head--
	}
	for tail < len(reason) && !utf8.RuneStart(reason[tail]) {
		tail++
	}
	return reason[:head] + truncationMarker + reason[tail:]
}

// StepsRunner builds container's step tree against its garden container,
// logging to streamer (the container's log streamer, log_streamer.New from
// its log_config). The steps log through logger as it is: the depot's
// already carries container_guid.
//
// The tree is serial(setup, long_running). long_running is the action alone
// when nothing runs beside it; otherwise it is codependent(action,
// sidecars…, health) where health is the check_definition's checks when it
// has any, else the monitor action (spec cell §3.6, §3.8; decisions 44, 45).
// As in Diego, an action that exits 0 beside a monitor or checks does not
// end the instance while the health checks keep passing; with sidecars, any
// member's exit ends it.
//
// The runner closes ready when the tree is ready: when the health checks
// (or the monitor) first pass, or, without them, as soon as the processes
// have started (after setup). It returns the tree's error: nil on success,
// otherwise the error whose text (FailureReason) is the failure_reason. A
// signal interrupts the tree; the runner then returns once every process
// has stopped, with an error for which IsInterrupted holds (or nil, or a
// real failure that happened on the way down). The runner is a
// ReadinessReporter.
//
// An action that cannot be built is refused with an error wrapping
// ErrInvalidAction.
func (t *Transformer) StepsRunner(logger *slog.Logger, container executor.Container, gc garden.Container, streamer log_streamer.LogStreamer) (ifrit.Runner, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if streamer == nil {
		streamer = log_streamer.NewNoop()
	}
	if container.Action == nil {
		return nil, fmt.Errorf("%w: the container has no run action", ErrInvalidAction)
	}
	named := []struct {
		name   string
		action *models.Action
	}{{"setup", container.Setup}, {"run", container.Action}, {"monitor", container.Monitor}}
	for i, sc := range container.Sidecars {
		if sc.Action == nil {
			return nil, fmt.Errorf("%w: sidecar %d has no action", ErrInvalidAction, i)
		}
		named = append(named, struct {
			name   string
			action *models.Action
		}{fmt.Sprintf("sidecar %d", i), sc.Action})
	}
	for _, a := range named {
		if err := a.action.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %s action: %v", ErrInvalidAction, a.name, err)
		}
	}

	b := &builder{t: t, logger: logger, gc: gc,
		env: steps.NetworkingEnv(container.ExternalIP, container.InternalIP, container.Ports)}

	action, err := b.step(container.Action, streamer, false)
	if err != nil {
		return nil, err
	}
	members := []steps.Step{action}
	for _, sc := range container.Sidecars {
		sidecar, err := b.step(sc.Action, streamer, false)
		if err != nil {
			return nil, err
		}
		members = append(members, sidecar)
	}

	r := &runner{streamer: streamer, logger: logger}
	liveness, readiness := t.checks(container)
	healthCfg := steps.HealthCheckConfig{
		Clock:           t.deps.Clock,
		StartTimeout:    time.Duration(container.StartTimeoutMs) * time.Millisecond,
		StartupInterval: t.cfg.UnhealthyMonitoringInterval,
		Limiter:         t.healthChecks,
	}
	healthStreamer := streamer.WithSource(checkLogSource(container.CheckDefinition))
	switch {
	case len(liveness) > 0 || len(readiness) > 0:
		if len(liveness) > 0 {
			members = append(members, steps.NewHealthCheck(liveness, streamer, healthStreamer, logger, healthCfg))
		}
		if len(readiness) > 0 {
			r.readiness = make(chan bool, 1)
			members = append(members, steps.NewReadiness(readiness, healthStreamer, logger, healthCfg, r.reportReadiness))
		}
	case container.Monitor != nil:
		// Build one check now, so an unbuildable monitor is refused here
		// rather than failing every check.
		if _, err := b.step(container.Monitor, streamer, true); err != nil {
			return nil, err
		}
		newCheck := func() steps.Step {
			check, err := b.step(container.Monitor, streamer, true)
			if err != nil { // cannot happen: it was built above
				return failedStep{err}
			}
			return check
		}
		members = append(members, steps.NewMonitor(newCheck, streamer, logger, steps.MonitorConfig{
			Clock:             t.deps.Clock,
			StartTimeout:      time.Duration(container.StartTimeoutMs) * time.Millisecond,
			HealthyInterval:   t.cfg.HealthyMonitoringInterval,
			UnhealthyInterval: t.cfg.UnhealthyMonitoringInterval,
			Limiter:           t.healthChecks,
		}))
	}

	tree := action
	if len(members) > 1 {
		tree = steps.NewCodependentWith(members, steps.CodependentOptions{CancelOthersOnExit: len(container.Sidecars) > 0})
	}
	if container.Setup != nil {
		setup, err := b.step(container.Setup, streamer, false)
		if err != nil {
			return nil, err
		}
		tree = steps.NewSerial([]steps.Step{setup, tree})
	}
	r.tree = tree
	return r, nil
}

// ReadinessReporter is what StepsRunner's runner also is: Readiness
// delivers the latest readiness each time it changes (false until the
// readiness checks first pass); it is nil when the container has no
// readiness checks.
type ReadinessReporter interface {
	Readiness() <-chan bool
}

// runner runs a container's tree.
type runner struct {
	tree      steps.Step
	streamer  log_streamer.LogStreamer
	logger    *slog.Logger
	readiness chan bool
}

func (r *runner) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	r.logger.Info("steps.running")
	err := r.tree.Run(signals, ready)
	r.streamer.Flush()
	r.logger.Info("steps.finished", "error", errText(err), "interrupted", IsInterrupted(err))
	return err
}

// Readiness is the readiness channel (ReadinessReporter).
func (r *runner) Readiness() <-chan bool { return r.readiness }

// reportReadiness keeps only the latest value for a slow reader.
func (r *runner) reportReadiness(ready bool) {
	select {
	case <-r.readiness:
	default:
	}
	r.readiness <- ready
}

// DefaultCheckTimeout bounds one declarative check when the definition
// gives no timeout (Diego's default).
const DefaultCheckTimeout = time.Second

// HealthLogSource is the checks' log source unless the definition names one.
const HealthLogSource = "HEALTH"

func checkLogSource(def *models.CheckDefinition) string {
	if s := def.GetLogSource(); s != "" {
		return s
	}
	return HealthLogSource
}

// checks turns the check_definition into the executor's probes: the
// liveness (startup then liveness) checks and the readiness checks. A check
// that is not exactly one of tcp and http with a port is skipped, as Diego
// does.
func (t *Transformer) checks(c executor.Container) (liveness, readiness []steps.Check) {
	def := c.CheckDefinition
	if def == nil {
		return nil, nil
	}
	ip := net.ParseIP(c.InternalIP).To4()
	convert := func(in []*models.Check) []steps.Check {
		var out []steps.Check
		for _, chk := range in {
			if chk.Validate() != nil {
				continue
			}
			var probe check.Checker
			var timeoutMs, intervalMs uint64
			if tcp := chk.GetTcpCheck(); tcp != nil {
				probe.Port = int(tcp.GetPort())
				timeoutMs, intervalMs = tcp.GetConnectTimeoutMs(), tcp.GetIntervalMs()
			} else {
				h := chk.GetHttpCheck()
				probe.Port = int(h.GetPort())
				probe.URI = h.GetPath()
				if probe.URI == "" {
					probe.URI = "/"
				}
				timeoutMs, intervalMs = h.GetRequestTimeoutMs(), h.GetIntervalMs()
			}
			probe.Network = "tcp"
			probe.Timeout = DefaultCheckTimeout
			if timeoutMs > 0 {
				probe.Timeout = time.Duration(timeoutMs) * time.Millisecond
			}
			probe.IP = containerIP(ip)
			interval := t.cfg.HealthyMonitoringInterval
			if intervalMs > 0 {
				interval = time.Duration(intervalMs) * time.Millisecond
			}
			out = append(out, steps.Check{Probe: probe, Interval: interval})
		}
		return out
	}
	return convert(def.GetChecks()), convert(def.GetReadinessChecks())
}

// containerIP is the address the checks dial: the container's own IPv4
// address, which the healthcheck binary would find inside the container.
func containerIP(ip net.IP) func() (net.IP, error) {
	return func() (net.IP, error) {
		if ip == nil {
			return nil, &check.Error{Code: check.CodeNoInterface,
				Message: "failed to find a suitable interface: the container has no IPv4 address"}
		}
		return ip, nil
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// builder builds the steps of one container.
type builder struct {
	t      *Transformer
	logger *slog.Logger
	gc     garden.Container
	env    []string
}

// step builds the step for action under streamer. monitor marks a health
// check: its run steps log their output (suppress_log_output is turned
// off), hide their exit status, and fail with their stderr.
func (b *builder) step(action *models.Action, streamer log_streamer.LogStreamer, monitor bool) (steps.Step, error) {
	if action == nil {
		return nil, fmt.Errorf("%w: missing action", ErrInvalidAction)
	}
	cfg, deps := b.t.cfg, b.t.deps
	switch a := action.Unwrap().(type) {
	case *models.RunAction:
		s := streamer.WithSource(a.GetLogSource())
		runCfg := steps.RunConfig{
			Env:                      b.env,
			GracefulShutdownInterval: cfg.GracefulShutdownInterval,
			ExitTimeout:              cfg.ExitTimeout,
			Clock:                    deps.Clock,
			Monitor:                  monitor,
		}
		if !monitor {
			return steps.NewRun(b.gc, a, s, b.logger, runCfg), nil
		}
		check := proto.Clone(a).(*models.RunAction)
		check.SuppressLogOutput = false
		output := &steps.OutputBuffer{}
		return steps.NewOutputWrapper(steps.NewRun(b.gc, check, steps.CaptureStderr(s, output), b.logger, runCfg), output), nil

	case *models.DownloadAction:
		if deps.Downloader == nil {
			return nil, errors.New("transformer: no downloader configured")
		}
		return steps.NewDownload(b.gc, a, deps.Downloader, b.t.downloads, sourced(streamer, a.GetLogSource()), b.logger), nil

	case *models.UploadAction:
		if deps.Uploader == nil {
			return nil, errors.New("transformer: no uploader configured")
		}
		return steps.NewUpload(b.gc, a, deps.Uploader, cfg.TempDir, b.t.uploads, sourced(streamer, a.GetLogSource()), b.logger), nil

	case *models.TimeoutAction:
		s := sourced(streamer, a.GetLogSource())
		inner, err := b.step(a.GetAction(), s, monitor)
		if err != nil {
			return nil, err
		}
		// Validation requires timeout_ms (spec core §3): the legacy
		// nanosecond field alone is refused.
		timeout := time.Duration(a.GetTimeoutMs()) * time.Millisecond
		if timeout <= 0 {
			return nil, fmt.Errorf("%w: timeout action without a timeout", ErrInvalidAction)
		}
		return steps.NewTimeout(inner, timeout, deps.Clock, b.logger), nil

	case *models.EmitProgressAction:
		s := sourced(streamer, a.GetLogSource())
		inner, err := b.step(a.GetAction(), s, monitor)
		if err != nil {
			return nil, err
		}
		return steps.NewEmitProgress(inner, a.GetStartMessage(), a.GetSuccessMessage(), a.GetFailureMessagePrefix(), s, b.logger), nil

	case *models.TryAction:
		inner, err := b.step(a.GetAction(), sourced(streamer, a.GetLogSource()), monitor)
		if err != nil {
			return nil, err
		}
		return steps.NewTry(inner, b.logger), nil

	case *models.ParallelAction:
		children, err := b.steps(a.GetActions(), sourced(streamer, a.GetLogSource()), monitor)
		if err != nil {
			return nil, err
		}
		return steps.NewParallel(children), nil

	case *models.SerialAction:
		children, err := b.steps(a.GetActions(), sourced(streamer, a.GetLogSource()), monitor)
		if err != nil {
			return nil, err
		}
		return steps.NewSerial(children), nil

	case *models.CodependentAction:
		children, err := b.steps(a.GetActions(), sourced(streamer, a.GetLogSource()), monitor)
		if err != nil {
			return nil, err
		}
		return steps.NewCodependent(children), nil
	}
	return nil, fmt.Errorf("%w: unknown action type", ErrInvalidAction)
}

func (b *builder) steps(actions []*models.Action, streamer log_streamer.LogStreamer, monitor bool) ([]steps.Step, error) {
	out := make([]steps.Step, 0, len(actions))
	for _, a := range actions {
		s, err := b.step(a, streamer, monitor)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// sourced is streamer under an action's log_source, when it names one.
func sourced(streamer log_streamer.LogStreamer, source string) log_streamer.LogStreamer {
	if source == "" {
		return streamer
	}
	return streamer.WithSource(source)
}

// failedStep fails at once.
type failedStep struct{ err error }

func (f failedStep) Run(<-chan os.Signal, chan<- struct{}) error { return f.err }
