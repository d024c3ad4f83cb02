package evacuator

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/tedsuo/ifrit"

	"diego/deploy/logging"
)

// evacuationSignal is the 2015 drain signal, SIGUSR1: it starts an
// evacuation and never stops the rep by itself. (A variable only so that
// tests can use another: ginkgo answers SIGUSR1 with a progress report.)
var evacuationSignal os.Signal = syscall.SIGUSR1

// TrapSignals wraps the rep's whole group, inside sigmon (deploy/daemon),
// so that evacuation signals set the flag instead of shutting the group
// down (spec cell §7.4 item 6):
//
//   - SIGUSR1, which it subscribes to itself (sigmon does not, and Go's
//     default for it would kill the process), always sets the flag;
//   - with evacuateOnShutdown, the first SIGTERM or SIGINT sets the flag
//     and is not passed on; a second one is, and stops the rep at once;
//   - every other signal is passed on to the group.
//
// Once evacuating, the group ends when its Evacuator returns. TrapSignals
// is ready when the group is and returns what the group returns.
func TrapSignals(logger *slog.Logger, group ifrit.Runner, flag *Flag, evacuateOnShutdown bool) ifrit.Runner {
	return &signalTrap{logger: logger, group: group, flag: flag, evacuateOnShutdown: evacuateOnShutdown}
}

type signalTrap struct {
	logger             *slog.Logger
	group              ifrit.Runner
	flag               *Flag
	evacuateOnShutdown bool
}

func (t *signalTrap) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	logger := logging.Session(t.logger, "evacuation-signals")
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, evacuationSignal)
	defer signal.Stop(usr1)

	group := ifrit.Background(t.group)
	groupReady := group.Ready()
	trapped := false
	for {
		select {
		case <-groupReady:
			groupReady = nil
			close(ready)

		case err := <-group.Wait():
			return err

		case sig := <-usr1:
			logger.Info("evacuation-signal", "signal", sig.String())
			t.flag.Evacuate()

		case sig := <-signals:
			if t.evacuateOnShutdown && !trapped && (sig == syscall.SIGTERM || sig == os.Interrupt) {
				trapped = true
				logger.Info("evacuating-on-shutdown", "signal", sig.String())
				t.flag.Evacuate()
				continue
			}
			logger.Info("stopping", "signal", sig.String())
			group.Signal(sig)
		}
	}
}
