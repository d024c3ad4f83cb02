package sync

import (
	"context"
	"fmt"
	"sync"
	"time"

	bbsclient "diego/bbs/client"
	"diego/models"
)

// desiredFetchTimeout bounds one batched desired-LRP fetch. The fetch is
// shared, so it is not cut short when the operation that started it is.
const desiredFetchTimeout = 30 * time.Second

// desiredLoader fetches the desired LRPs of reserved containers for the
// LRP processor. Requests that arrive while a fetch is in flight wait for
// the next one, which asks the BBS for all their process guids at once
// (DesiredLRPs with a process_guids filter) instead of one request each
// (decision 125). A request is only ever answered by a fetch that began
// after it was made, so what it gets is as fresh as its own
// DesiredLRPByProcessGuid would have been.
type desiredLoader struct {
	bbs BBSClient

	mu       sync.Mutex
	waiting  []*desiredWaiter
	fetching bool
}

type desiredWaiter struct {
	processGuid string
	done        chan struct{}
	desired     *models.DesiredLRP
	err         error
}

func newDesiredLoader(bbs BBSClient) *desiredLoader {
	return &desiredLoader{bbs: bbs}
}

// Get returns the desired LRP of processGuid, ResourceNotFound when there
// is none.
func (l *desiredLoader) Get(ctx context.Context, processGuid string) (*models.DesiredLRP, error) {
	w := &desiredWaiter{processGuid: processGuid, done: make(chan struct{})}
	l.mu.Lock()
	l.waiting = append(l.waiting, w)
	if !l.fetching {
		l.fetching = true
		go l.fetchLoop(context.WithoutCancel(ctx))
	}
	l.mu.Unlock()
	select {
	case <-w.done:
		return w.desired, w.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fetchLoop fetches for everyone waiting, then for those who arrived
// meanwhile, until nobody waits.
func (l *desiredLoader) fetchLoop(ctx context.Context) {
	for {
		l.mu.Lock()
		batch := l.waiting
		l.waiting = nil
		if len(batch) == 0 {
			l.fetching = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		l.fetch(ctx, batch)
	}
}

func (l *desiredLoader) fetch(ctx context.Context, batch []*desiredWaiter) {
	seen := make(map[string]bool, len(batch))
	guids := make([]string, 0, len(batch))
	for _, w := range batch {
		if !seen[w.processGuid] {
			seen[w.processGuid] = true
			guids = append(guids, w.processGuid)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, desiredFetchTimeout)
	defer cancel()
	lrps, err := l.bbs.DesiredLRPs(ctx, bbsclient.DesiredLRPFilter{ProcessGuids: guids})
	byGuid := make(map[string]*models.DesiredLRP, len(lrps))
	for _, d := range lrps {
		byGuid[d.GetProcessGuid()] = d
	}
	for _, w := range batch {
		switch d, ok := byGuid[w.processGuid]; {
		case err != nil:
			w.err = err
		case !ok:
			w.err = fmt.Errorf("desired lrp %s: %w", w.processGuid, models.ErrResourceNotFound)
		default:
			w.desired = d
		}
		close(w.done)
	}
}
