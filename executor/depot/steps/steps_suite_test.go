package steps_test

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"diego/executor/depot/log_streamer"
	"diego/executor/depot/steps"
)

func TestSteps(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Steps Suite")
}

var discardLogger = slog.New(slog.DiscardHandler)

// fakeStreamer records what steps write; WithSource children share its
// buffers and remember their source.
type fakeStreamer struct {
	stdout, stderr *gbytes.Buffer
	source         string
	sources        *[]string
	mu             *sync.Mutex
	flushes        *atomic.Int32
}

func newFakeStreamer() *fakeStreamer {
	return &fakeStreamer{
		stdout: gbytes.NewBuffer(), stderr: gbytes.NewBuffer(), source: "APP",
		sources: &[]string{}, mu: &sync.Mutex{}, flushes: &atomic.Int32{},
	}
}

func (f *fakeStreamer) Stdout() io.Writer { return f.stdout }
func (f *fakeStreamer) Stderr() io.Writer { return f.stderr }
func (f *fakeStreamer) Flush()            { f.flushes.Add(1) }
func (f *fakeStreamer) WithSource(source string) log_streamer.LogStreamer {
	child := *f
	if source != "" {
		child.source = source
	}
	f.mu.Lock()
	*f.sources = append(*f.sources, child.source)
	f.mu.Unlock()
	return &child
}
func (f *fakeStreamer) SourceName() string      { return f.source }
func (f *fakeStreamer) Log(message string)      { fmt.Fprintln(f.stdout, message) }
func (f *fakeStreamer) LogError(message string) { fmt.Fprintln(f.stderr, message) }

func (f *fakeStreamer) Sources() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), *f.sources...)
}

// fakeStep is a step the test drives: it becomes ready and exits when told,
// and returns OnSignal (ErrCancelled unless set) when signalled.
type fakeStep struct {
	ReadyAtStart  bool
	OnSignal      error
	IgnoreSignals bool

	started   chan struct{}
	makeReady chan struct{}
	finish    chan error
	signals   atomic.Int32
	exited    chan struct{}
}

func newFakeStep() *fakeStep {
	return &fakeStep{
		OnSignal: steps.ErrCancelled,
		started:  make(chan struct{}), makeReady: make(chan struct{}),
		finish: make(chan error, 1), exited: make(chan struct{}),
	}
}

func (f *fakeStep) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	defer close(f.exited)
	close(f.started)
	readyC := f.makeReady
	if f.ReadyAtStart {
		close(ready)
		readyC = nil
	}
	for {
		select {
		case <-readyC:
			close(ready)
			readyC = nil
		case err := <-f.finish:
			return err
		case <-signals:
			f.signals.Add(1)
			if !f.IgnoreSignals {
				return f.OnSignal
			}
		}
	}
}

func (f *fakeStep) Ready()                   { close(f.makeReady) }
func (f *fakeStep) Exit(err error)           { f.finish <- err }
func (f *fakeStep) Signals() int             { return int(f.signals.Load()) }
func (f *fakeStep) Started() <-chan struct{} { return f.started }
func (f *fakeStep) Exited() <-chan struct{}  { return f.exited }

// stepFunc is a step from a function.
type stepFunc func(signals <-chan os.Signal, ready chan<- struct{}) error

func (f stepFunc) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	return f(signals, ready)
}

func succeeding() steps.Step {
	return stepFunc(func(_ <-chan os.Signal, ready chan<- struct{}) error { close(ready); return nil })
}

func failing(err error) steps.Step {
	return stepFunc(func(<-chan os.Signal, chan<- struct{}) error { return err })
}

// process runs a step the way ifrit does and lets the test watch it.
type process struct {
	signals chan os.Signal
	ready   chan struct{}
	done    chan error
}

func run(s steps.Step) *process {
	p := &process{signals: make(chan os.Signal, 1), ready: make(chan struct{}), done: make(chan error, 1)}
	go func() { p.done <- s.Run(p.signals, p.ready) }()
	return p
}

func (p *process) Signal() { p.signals <- os.Interrupt }
