package nsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"diego/ccbridge/ccclient"
	"diego/deploy/clock"
	"diego/deploy/logging"
	"diego/receptor"
)

// CC is what the bulker needs of the Cloud Controller's bulk API.
type CC interface {
	Fingerprints(ctx context.Context, token json.RawMessage, batchSize int) (ccclient.CCDesiredStateFingerprintResponse, error)
	DesireAppRequests(ctx context.Context, processGuids []string) ([]ccclient.DesireAppRequestFromCC, error)
}

// BulkerConfig are the bulker's settings (spec bridge §3.4).
type BulkerConfig struct {
	PollingInterval      time.Duration
	BatchSize            int
	DomainTTL            time.Duration
	UpdateLRPWorkers     int
	CommunicationTimeout time.Duration
}

// BulkerDeps are the bulker's collaborators.
type BulkerDeps struct {
	Logger   *slog.Logger
	Clock    clock.Clock
	Receptor Receptor
	CC       CC
	Recipes  RecipeBuilder
}

// Bulker reconciles the cf-apps desired LRPs with the CC's apps; it runs
// only while its lock is held (the lock runner goes before it).
type Bulker struct {
	cfg BulkerConfig
	BulkerDeps
}

// NewBulker builds the bulker.
func NewBulker(cfg BulkerConfig, deps BulkerDeps) *Bulker {
	if cfg.UpdateLRPWorkers < 1 {
		cfg.UpdateLRPWorkers = 1
	}
	return &Bulker{cfg: cfg, BulkerDeps: deps}
}

// Run syncs at once, is ready after that first pass, and syncs again a
// polling interval after each pass ends.
func (b *Bulker) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.Sync(ctx)
	}()
	select {
	case <-signals:
		cancel()
		<-done
		return nil
	case <-done:
	}
	close(ready)

	timer := b.Clock.NewTimer(b.cfg.PollingInterval)
	defer timer.Stop()
	for {
		select {
		case <-signals:
			return nil
		case <-timer.C():
			syncDone := make(chan struct{})
			go func() {
				defer close(syncDone)
				_ = b.Sync(ctx)
			}()
			select {
			case <-signals:
				cancel()
				<-syncDone
				return nil
			case <-syncDone:
			}
			timer.Reset(b.cfg.PollingInterval)
		}
	}
}

// Sync is one pass of spec bridge §3.4. It returns the first error that
// made the pass incomplete; only a complete, error-free pass bumps the
// freshness of the cf-apps domain.
func (b *Bulker) Sync(ctx context.Context) error {
	logger := logging.Session(b.Logger, "sync")
	start := b.Clock.Now()
	logger.Info("starting")

	existing, err := b.listDesired(ctx)
	if err != nil {
		logger.Error("failed-to-list-desired-lrps", "error", err)
		return err
	}

	var failures errorList
	token := ccclient.InitialToken
	pagesComplete := true
	for {
		page, err := b.fingerprints(ctx, token)
		if err != nil {
			logger.Error("failed-to-fetch-fingerprints", "error", err)
			failures.add(err)
			pagesComplete = false
			break
		}
		var missing []string
		stale := map[string]receptor.RoutingInfo{}
		for _, fp := range page.Fingerprints {
			lrp, ok := existing[fp.ProcessGuid]
			switch {
			case !ok:
				missing = append(missing, fp.ProcessGuid)
			case lrp.Annotation != fp.ETag:
				stale[fp.ProcessGuid] = lrp.Routes
			}
			delete(existing, fp.ProcessGuid)
		}
		if len(missing)+len(stale) > 0 {
			b.reconcile(ctx, logger, missing, stale, &failures)
		}
		if len(page.Fingerprints) < b.cfg.BatchSize {
			break
		}
		token = page.Token
	}
	// existing now holds only what the CC did not list.
	if pagesComplete {
		for guid := range existing {
			err := b.call(ctx, func(ctx context.Context) error { return b.Receptor.DeleteDesiredLRP(ctx, guid) })
			if err != nil && !isReceptorError(err, receptor.DesiredLRPNotFound) {
				logger.Error("failed-to-remove-desired-lrp", "process_guid", guid, "error", err)
				continue
			}
			logger.Info("removed-desired-lrp", "process_guid", guid)
		}
	}
	if err := failures.err(); err != nil {
		logger.Error("sync-incomplete", "error", err, "duration", b.Clock.Since(start).String())
		return err
	}
	if err := b.call(ctx, func(ctx context.Context) error {
		return b.Receptor.UpsertDomain(ctx, AppsDomain, b.cfg.DomainTTL)
	}); err != nil {
		logger.Error("failed-to-upsert-domain", "domain", AppsDomain, "error", err)
		return err
	}
	logger.Info("complete", "duration", b.Clock.Since(start).String())
	return nil
}

func (b *Bulker) listDesired(ctx context.Context) (map[string]receptor.DesiredLRPResponse, error) {
	var lrps []receptor.DesiredLRPResponse
	err := b.call(ctx, func(ctx context.Context) error {
		var err error
		lrps, err = b.Receptor.DesiredLRPsByDomain(ctx, AppsDomain)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]receptor.DesiredLRPResponse, len(lrps))
	for _, l := range lrps {
		out[l.ProcessGuid] = l
	}
	return out, nil
}

func (b *Bulker) fingerprints(ctx context.Context, token json.RawMessage) (ccclient.CCDesiredStateFingerprintResponse, error) {
	var page ccclient.CCDesiredStateFingerprintResponse
	err := b.call(ctx, func(ctx context.Context) error {
		var err error
		page, err = b.CC.Fingerprints(ctx, token, b.cfg.BatchSize)
		return err
	})
	return page, err
}

// call bounds one remote call by the communication timeout.
func (b *Bulker) call(ctx context.Context, f func(context.Context) error) error {
	if b.cfg.CommunicationTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.cfg.CommunicationTimeout)
		defer cancel()
	}
	return f(ctx)
}

// reconcile fetches the missing and stale apps' messages and creates or
// updates their desired LRPs with a pool of workers; stale maps each stale
// guid to its current routes.
func (b *Bulker) reconcile(ctx context.Context, logger *slog.Logger, missing []string, stale map[string]receptor.RoutingInfo, failures *errorList) {
	guids := append([]string{}, missing...)
	for g := range stale {
		guids = append(guids, g)
	}
	var apps []ccclient.DesireAppRequestFromCC
	err := b.call(ctx, func(ctx context.Context) error {
		var err error
		apps, err = b.CC.DesireAppRequests(ctx, guids)
		return err
	})
	if err != nil {
		logger.Error("failed-to-fetch-desire-app-requests", "error", err)
		failures.add(err)
		return
	}
	work := make(chan ccclient.DesireAppRequestFromCC)
	var wg sync.WaitGroup
	for range min(b.cfg.UpdateLRPWorkers, len(apps)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for app := range work {
				if routes, ok := stale[app.ProcessGuid]; ok {
					b.update(ctx, logger, app, routes, failures)
				} else {
					b.create(ctx, logger, app, failures)
				}
			}
		}()
	}
	for _, app := range apps {
		work <- app
	}
	close(work)
	wg.Wait()
}

func (b *Bulker) create(ctx context.Context, logger *slog.Logger, app ccclient.DesireAppRequestFromCC, failures *errorList) {
	logger = logger.With("process_guid", app.ProcessGuid)
	req, err := b.Recipes.BuildDesiredLRP(app)
	if err != nil {
		// A message nsync cannot build from is the CC's problem; it must not
		// keep the whole domain stale.
		logger.Error("failed-to-build-recipe", "error", err)
		return
	}
	err = b.call(ctx, func(ctx context.Context) error { return b.Receptor.CreateDesiredLRP(ctx, req) })
	switch {
	case err == nil:
		logger.Info("created-desired-lrp")
	case isReceptorError(err, receptor.InvalidLRP):
		logger.Error("invalid-desired-lrp", "error", err)
	default:
		logger.Error("failed-to-create-desired-lrp", "error", err)
		failures.add(fmt.Errorf("creating %s: %w", app.ProcessGuid, err))
	}
}

// update keeps the routing keys other than cf-router and tcp-router
// (diego-ssh, ...) as they are.
func (b *Bulker) update(ctx context.Context, logger *slog.Logger, app ccclient.DesireAppRequestFromCC, current receptor.RoutingInfo, failures *errorList) {
	logger = logger.With("process_guid", app.ProcessGuid)
	req, err := UpdateRequest(app, current)
	if err != nil {
		logger.Error("failed-to-build-update", "error", err)
		return
	}
	err = b.call(ctx, func(ctx context.Context) error { return b.Receptor.UpdateDesiredLRP(ctx, app.ProcessGuid, req) })
	if err != nil {
		logger.Error("failed-to-update-desired-lrp", "error", err)
		failures.add(fmt.Errorf("updating %s: %w", app.ProcessGuid, err))
		return
	}
	logger.Info("updated-desired-lrp")
}

// errorList collects a pass's failures from several workers.
type errorList struct {
	mu   sync.Mutex
	errs []error
}

func (e *errorList) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, err)
}

func (e *errorList) err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return errors.Join(e.errs...)
}
