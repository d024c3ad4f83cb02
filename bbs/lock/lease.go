package lock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"diego/deploy/clock"
)

// Reasons a held key is lost; the lock runner wraps them with ErrLockLost.
var (
	errKeepAliveEnded = errors.New("lease keep-alive ended: lease expired or revoked, or etcd unreachable")
	errLeaseDeadline  = errors.New("no lease keep-alive response before the lease deadline")
	errKeyDeleted     = errors.New("key deleted")
	errKeyOverwritten = errors.New("key overwritten")
)

// holder creates a key under a lease of its own and keeps it. The lock and
// presence runners share it and differ only in what they do on a loss.
type holder struct {
	client *clientv3.Client
	clock  clock.Clock
	key    string
	value  []byte
	ttl    int64 // seconds
	retry  time.Duration
}

func newHolder(client *clientv3.Client, clk clock.Clock, cfg Config) *holder {
	return &holder{
		client: client,
		clock:  clk,
		key:    cfg.Key,
		value:  cfg.Value,
		ttl:    cfg.ttlSeconds(),
		retry:  cfg.retryInterval(),
	}
}

// claim is a key this holder created.
type claim struct {
	lease    clientv3.LeaseID
	revision int64 // of the Put that created the key
	// deadline is when, without a keep-alive response, the lease may
	// already have expired on the server.
	deadline time.Time
}

// deadlineAfter is a lease's latest safe moment: TTL after the request
// that granted or refreshed it started, less a tenth for the round trip
// and for etcd's expiry running a little early.
func deadlineAfter(start time.Time, ttlSeconds int64) time.Time {
	ttl := time.Duration(ttlSeconds) * time.Second
	return start.Add(ttl - ttl/10)
}

func leaseAttr(id clientv3.LeaseID) slog.Attr {
	return slog.String("lease", fmt.Sprintf("%x", int64(id)))
}

// acquire tries to create the key until it does, returning the claim, or
// until ctx is done, returning nil. onTaken is told who holds the key each
// time an attempt finds it taken.
func (h *holder) acquire(ctx context.Context, logger *slog.Logger, onTaken func(*mvccpb.KeyValue)) *claim {
	for {
		c, taken, rev, err := h.attempt(ctx)
		if ctx.Err() != nil {
			if c != nil {
				h.revokeLogged(logger, c.lease)
			}
			return nil
		}
		switch {
		case err != nil:
			logger.Error("attempt-failed", "error", err)
		case c != nil:
			return c
		case taken != nil:
			onTaken(taken)
		}
		if !h.waitToRetry(ctx, rev) {
			return nil
		}
	}
}

// attempt grants a lease and tries once to create the key under it. When
// the key is taken it returns the holder's key-value and the revision it
// was seen at; the new lease is revoked.
func (h *holder) attempt(ctx context.Context) (*claim, *mvccpb.KeyValue, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()

	start := time.Now()
	grant, err := h.client.Grant(ctx, h.ttl)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("granting lease: %w", err)
	}
	resp, err := h.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(h.key), "=", 0)).
		Then(clientv3.OpPut(h.key, string(h.value), clientv3.WithLease(grant.ID))).
		Else(clientv3.OpGet(h.key)).
		Commit()
	if err != nil {
		// The Put may have been applied even so; revoking undoes it.
		_ = h.revoke(grant.ID)
		return nil, nil, 0, fmt.Errorf("creating %s: %w", h.key, err)
	}
	if resp.Succeeded {
		return &claim{
			lease:    grant.ID,
			revision: resp.Header.Revision,
			deadline: deadlineAfter(start, grant.TTL),
		}, nil, 0, nil
	}

	// Unused, the lease would expire by itself; revoking is just tidier.
	_ = h.revoke(grant.ID)
	var taken *mvccpb.KeyValue
	if len(resp.Responses) > 0 {
		if rr := resp.Responses[0].GetResponseRange(); rr != nil && len(rr.Kvs) > 0 {
			taken = rr.Kvs[0]
		}
	}
	if taken == nil {
		// The compare failed, so the key existed; report its absence
		// as a holder without a value rather than as nothing.
		taken = &mvccpb.KeyValue{Key: []byte(h.key)}
	}
	return nil, taken, resp.Header.Revision, nil
}

// waitToRetry waits until the key is deleted after revision rev (if rev is
// positive), the retry interval passes, or ctx is done (returning false).
func (h *holder) waitToRetry(ctx context.Context, rev int64) bool {
	timer := h.clock.NewTimer(h.retry)
	defer timer.Stop()

	var events clientv3.WatchChan
	if rev > 0 {
		watchCtx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		defer cancel()
		events = h.client.Watch(watchCtx, h.key, clientv3.WithRev(rev+1), clientv3.WithFilterPut())
	}

	for {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C():
			return true
		case resp, ok := <-events:
			if ok && resp.CompactRevision != 0 {
				// A delete may be among the compacted events: look again.
				return true
			}
			if !ok || resp.Err() != nil {
				// The retry timer still stands in for the watch.
				events = nil
				continue
			}
			for _, ev := range resp.Events {
				if ev.Type == mvccpb.DELETE {
					return true
				}
			}
		}
	}
}

// hold keeps the claim's lease alive and watches the key. It calls onHeld
// once both are in place. It returns nil when ctx is done, and the reason
// as soon as the key is lost: the keep-alive ends, no keep-alive response
// comes before the lease deadline, or the key is deleted or overwritten.
func (h *holder) hold(ctx context.Context, logger *slog.Logger, c *claim, onHeld func()) error {
	// Neither the keep-alive nor the watch stops on ctx, so that a signal
	// is never mistaken for a loss.
	keepAliveCtx, stopKeepAlive := context.WithCancel(context.Background())
	defer stopKeepAlive()
	keepAlives, err := h.client.KeepAlive(keepAliveCtx, c.lease)
	if err != nil {
		return fmt.Errorf("%w: %w", errKeepAliveEnded, err)
	}

	var (
		events    clientv3.WatchChan
		stopWatch = func() {}
		// rewatch fires while the watch is broken and the key could not
		// be read; the keep-alive and the deadline guard the lease
		// meanwhile, and a check is retried.
		rewatch <-chan time.Time
	)
	watch := func(rev int64) {
		var watchCtx context.Context
		watchCtx, stopWatch = context.WithCancel(clientv3.WithRequireLeader(context.Background()))
		events = h.client.Watch(watchCtx, h.key, clientv3.WithRev(rev+1))
	}
	defer func() { stopWatch() }()
	watch(c.revision)

	// The keep-alive channel closes only once the client's own estimate of
	// the expiry has passed; this real-time deadline stops the holder
	// before the server can hand the key to someone else.
	deadline := time.NewTimer(time.Until(c.deadline))
	defer deadline.Stop()

	// checkCtx bounds the ownership checks, which run on the side so that
	// a slow read never delays noticing a loss.
	checkCtx, stopChecks := context.WithCancel(ctx)
	defer stopChecks()
	var checked chan ownership
	check := func() {
		checked = make(chan ownership, 1)
		go func(out chan<- ownership) {
			rev, err := h.stillOwned(checkCtx, c)
			out <- ownership{rev, err}
		}(checked)
	}

	onHeld()
	for {
		select {
		case <-ctx.Done():
			return nil

		case resp, ok := <-keepAlives:
			if !ok {
				return errKeepAliveEnded
			}
			deadline.Reset(time.Until(deadlineAfter(time.Now(), resp.TTL)))

		case <-deadline.C:
			return errLeaseDeadline

		case resp, ok := <-events:
			if ok && resp.Err() == nil {
				for _, ev := range resp.Events {
					if err := h.checkEvent(c, ev); err != nil {
						return err
					}
				}
				continue
			}
			// The watch broke (compaction, leader loss, etcd restart):
			// check that the key is still ours, then watch again from
			// where the check read, so no deletion goes unnoticed.
			stopWatch()
			events = nil
			check()

		case o := <-checked:
			checked = nil
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(o.err, errKeyDeleted), errors.Is(o.err, errKeyOverwritten):
				return o.err
			case o.err != nil:
				logger.Error("checking-key-failed", "error", o.err)
				rewatch = h.clock.After(h.retry)
			default:
				watch(o.revision)
			}

		case <-rewatch:
			rewatch = nil
			check()
		}
	}
}

// ownership is the outcome of stillOwned.
type ownership struct {
	revision int64
	err      error
}

// checkEvent reports a loss if ev changed the key to something not ours.
func (h *holder) checkEvent(c *claim, ev *clientv3.Event) error {
	if ev.Type == mvccpb.DELETE {
		return errKeyDeleted
	}
	if clientv3.LeaseID(ev.Kv.Lease) != c.lease || string(ev.Kv.Value) != string(h.value) {
		return errKeyOverwritten
	}
	return nil
}

// stillOwned reads the key and reports errKeyDeleted or errKeyOverwritten
// if it is no longer ours, or the revision it was read at if it is.
func (h *holder) stillOwned(ctx context.Context, c *claim) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := h.client.Get(ctx, h.key)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", h.key, err)
	}
	if len(resp.Kvs) == 0 {
		return 0, errKeyDeleted
	}
	kv := resp.Kvs[0]
	if kv.CreateRevision != c.revision || clientv3.LeaseID(kv.Lease) != c.lease || string(kv.Value) != string(h.value) {
		return 0, errKeyOverwritten
	}
	return resp.Header.Revision, nil
}

// revoke ends a lease, deleting the keys attached to it. It does not use
// the runner's context, which is done by the time a signalled runner
// releases.
func (h *holder) revoke(id clientv3.LeaseID) error {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if _, err := h.client.Revoke(ctx, id); err != nil {
		return fmt.Errorf("revoking lease %x: %w", int64(id), err)
	}
	return nil
}

func (h *holder) revokeLogged(logger *slog.Logger, id clientv3.LeaseID) {
	if err := h.revoke(id); err != nil {
		logger.Error("revoke-failed", "error", err, leaseAttr(id))
	}
}
