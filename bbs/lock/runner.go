package lock

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/tedsuo/ifrit"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"diego/deploy/clock"
	"diego/deploy/logging"
)

// Deps are what a lock or presence runner needs besides its Config: the
// logger, the etcd connection (lock.Dial's, which the caller owns) and the
// clock its retries tick on.
type Deps struct {
	Logger *slog.Logger
	Client *clientv3.Client
	Clock  clock.Clock
}

// NewLockRunner returns a runner that acquires the lock cfg.Key and holds
// it. It closes ready only once the lock is held. It returns an error
// wrapping ErrLockLost as soon as the lock is lost, and nil once it has
// released the lock (revoked its lease) on a signal. Signalled before it
// acquires, it stops trying and returns nil.
//
// While the key is taken it retries when a watch sees the key deleted and,
// in any case, every cfg.RetryInterval on clk.
func NewLockRunner(cfg Config, deps Deps) ifrit.Runner {
	return &lockRunner{logger: deps.Logger, holder: newHolder(deps.Client, deps.Clock, cfg)}
}

type lockRunner struct {
	logger *slog.Logger
	holder *holder
}

func (r *lockRunner) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	h := r.holder
	ctx, cancel := contextUntilSignal(signals)
	defer cancel()

	acquireLog := logging.Session(r.logger, "lock.acquire", "key", h.key)
	acquireLog.Info("acquiring")
	c := h.acquire(ctx, acquireLog, func(kv *mvccpb.KeyValue) {
		acquireLog.Info("lock-taken", "owner", string(kv.Value), leaseAttr(clientv3.LeaseID(kv.Lease)))
	})
	if c == nil {
		acquireLog.Info("stopped-before-acquiring")
		return nil
	}

	holdLog := logging.Session(r.logger, "lock.hold", "key", h.key, leaseAttr(c.lease))
	err := h.hold(ctx, holdLog, c, func() {
		holdLog.Info("acquired")
		close(ready)
	})
	if err == nil {
		h.revokeLogged(holdLog, c.lease)
		holdLog.Info("released")
		return nil
	}

	// Return at once; the lease may still live (the key was overwritten,
	// or etcd is out of reach), so revoke it on the side.
	holdLog.Error("lost", "error", err)
	go func() { _ = h.revoke(c.lease) }()
	return fmt.Errorf("%w: %s: %w", ErrLockLost, h.key, err)
}

// NewPresenceRunner returns a runner that keeps cfg.Key = cfg.Value under
// a lease of its own while it runs, closing ready once the key is first
// written. Unlike a lock, a presence that is lost (say the lease expired
// during a partition) is written again under a new lease, retrying every
// cfg.RetryInterval, rather than ending the runner. While the key exists
// under another lease (another process claims the same cell id) it keeps
// retrying and logs the claimant. On a signal it revokes its lease and
// returns nil.
func NewPresenceRunner(cfg Config, deps Deps) ifrit.Runner {
	return &presenceRunner{logger: deps.Logger, holder: newHolder(deps.Client, deps.Clock, cfg)}
}

type presenceRunner struct {
	logger *slog.Logger
	holder *holder
}

func (r *presenceRunner) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	h := r.holder
	ctx, cancel := contextUntilSignal(signals)
	defer cancel()

	logger := logging.Session(r.logger, "presence.maintain", "key", h.key)
	onTaken := func(kv *mvccpb.KeyValue) {
		logger.Error("presence-claimed-by-another-lease",
			"claimant", string(kv.Value), leaseAttr(clientv3.LeaseID(kv.Lease)))
	}
	readyClosed := false
	for {
		c := h.acquire(ctx, logger, onTaken)
		if c == nil {
			logger.Info("stopped")
			return nil
		}
		holdLog := logger.With(leaseAttr(c.lease))
		err := h.hold(ctx, holdLog, c, func() {
			holdLog.Info("present")
			if !readyClosed {
				readyClosed = true
				close(ready)
			}
		})
		if err == nil {
			h.revokeLogged(holdLog, c.lease)
			holdLog.Info("removed")
			return nil
		}
		// Revoke first: if the server still has the old lease, the old
		// key would block the new one until it expired.
		holdLog.Error("presence-lost", "error", err)
		_ = h.revoke(c.lease)
	}
}

// contextUntilSignal returns a context that is done once a signal arrives
// (or cancel is called), so etcd calls in progress stop at a signal.
func contextUntilSignal(signals <-chan os.Signal) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-signals:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
