package lock

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"diego/deploy/logging"
)

// PresenceEvent says that a cell's presence appeared or disappeared.
type PresenceEvent struct {
	CellID  string
	Present bool
}

// watchBackoff spaces out attempts to list or watch while etcd fails.
const watchBackoff = 500 * time.Millisecond

// WatchPresences reports cell presences appearing and disappearing under
// root until ctx is done, then closes the channel. It first reports every
// presence already there as appearing, so a consumer needs no separate
// list. If the watch breaks it resumes from the last revision it saw; if
// that revision was compacted it lists again and reports the differences,
// so no disappearance is missed. A presence rewritten in place (a new
// lease, a new value) is not reported.
func WatchPresences(ctx context.Context, logger *slog.Logger, client *clientv3.Client, root string) <-chan PresenceEvent {
	return watchPresencesFrom(ctx, logger, client, root, nil, 0)
}

// watchPresencesFrom resumes a watch that knew the cells in known as of
// revision rev; rev 0 starts with a list.
func watchPresencesFrom(ctx context.Context, logger *slog.Logger, client *clientv3.Client, root string, known []string, rev int64) <-chan PresenceEvent {
	out := make(chan PresenceEvent, 64)
	w := &presenceWatcher{
		logger: logging.Session(logger, "presence.watch", "root", root),
		client: client,
		root:   root,
		prefix: presencePrefix(root),
		out:    out,
		known:  map[string]bool{},
	}
	for _, id := range known {
		w.known[id] = true
	}
	go func() {
		defer close(out)
		w.run(ctx, rev)
	}()
	return out
}

type presenceWatcher struct {
	logger *slog.Logger
	client *clientv3.Client
	root   string
	prefix string
	out    chan<- PresenceEvent
	known  map[string]bool
}

// run reports changes after rev, the last revision reported (0: list
// first), until ctx is done.
func (w *presenceWatcher) run(ctx context.Context, rev int64) {
	for ctx.Err() == nil {
		if rev == 0 {
			var ok bool
			rev, ok = w.relist(ctx)
			if !ok {
				continue
			}
		}
		var compacted bool
		rev, compacted = w.watch(ctx, rev)
		if ctx.Err() != nil {
			return
		}
		if compacted {
			rev = 0
			continue
		}
		if !sleep(ctx, watchBackoff) {
			return
		}
	}
}

// relist reads every presence and reports the differences from what was
// known, returning the revision read at; false means try again.
func (w *presenceWatcher) relist(ctx context.Context) (int64, bool) {
	presences, rev, err := listPresences(ctx, w.client, w.root)
	if err != nil {
		if ctx.Err() == nil {
			w.logger.Error("list-failed", "error", err)
			sleep(ctx, watchBackoff)
		}
		return 0, false
	}
	for id := range w.known {
		if _, ok := presences[id]; !ok {
			delete(w.known, id)
			if !w.emit(ctx, PresenceEvent{CellID: id, Present: false}) {
				return 0, false
			}
		}
	}
	for id := range presences {
		if !w.known[id] {
			w.known[id] = true
			if !w.emit(ctx, PresenceEvent{CellID: id, Present: true}) {
				return 0, false
			}
		}
	}
	return rev, true
}

// watch reports events after rev until the watch ends, returning the last
// revision seen and whether the watch ended because rev was compacted.
func (w *presenceWatcher) watch(ctx context.Context, rev int64) (int64, bool) {
	watchCtx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range w.client.Watch(watchCtx, w.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if resp.CompactRevision != 0 {
			w.logger.Info("watch-compacted", "revision", rev, "compact_revision", resp.CompactRevision)
			return rev, true
		}
		if err := resp.Err(); err != nil {
			if ctx.Err() == nil {
				w.logger.Error("watch-failed", "error", err)
			}
			return rev, false
		}
		for _, ev := range resp.Events {
			id := strings.TrimPrefix(string(ev.Kv.Key), w.prefix)
			switch {
			case ev.Type == mvccpb.DELETE && w.known[id]:
				delete(w.known, id)
				if !w.emit(ctx, PresenceEvent{CellID: id, Present: false}) {
					return rev, false
				}
			case ev.Type == mvccpb.PUT && !w.known[id]:
				w.known[id] = true
				if !w.emit(ctx, PresenceEvent{CellID: id, Present: true}) {
					return rev, false
				}
			}
			rev = ev.Kv.ModRevision
		}
		if resp.IsProgressNotify() {
			rev = max(rev, resp.Header.Revision)
		}
	}
	if ctx.Err() == nil {
		w.logger.Error("watch-closed")
	}
	return rev, false
}

func (w *presenceWatcher) emit(ctx context.Context, ev PresenceEvent) bool {
	select {
	case w.out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
