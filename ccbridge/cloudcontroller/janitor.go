package cloudcontroller

import (
	"context"
	"os"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// JanitorInterval is how often the janitor runs its checks.
const JanitorInterval = 30 * time.Second

// Janitor is the CC's background work as an ifrit.Runner: at start it
// re-sends the staging request of every app with a staging in flight
// (spec §8.3); then, every JanitorInterval, it fails stagings older than
// staging_timeout + 5 min (§8.2), drops jobs older than 24 h (§2.5) and
// trims the resource cache to 90 % of resource_pool_max_bytes (§7.1).
func (s *Server) Janitor() func(signals <-chan os.Signal, ready chan<- struct{}) error {
	return func(signals <-chan os.Signal, ready chan<- struct{}) error {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ticker := s.clock.NewTicker(JanitorInterval)
		defer ticker.Stop()
		close(ready)
		go s.resendStagings(ctx)
		for {
			select {
			case <-signals:
				return nil
			case <-ticker.C():
				s.sweepOnce(ctx)
			}
		}
	}
}

func (s *Server) resendStagings(ctx context.Context) {
	var calls []effects
	err := s.view(func(tx *bolt.Tx) error {
		apps, err := all[App](tx, bApps)
		for _, a := range apps {
			if a.StagingTaskID == "" {
				continue
			}
			call, err := s.stagingCall(tx, &a)
			if err != nil {
				return err
			}
			calls = append(calls, effects{stage: call})
		}
		return err
	})
	if err != nil {
		s.logger.Error("resend-stagings-failed", "error", err)
		return
	}
	for _, eff := range calls {
		if err := s.bridge.Stage(ctx, eff.stage.guid, eff.stage.req); err != nil {
			s.logger.Error("resend-staging-failed", "error", err)
		}
	}
}

// sweepOnce runs the periodic checks.
func (s *Server) sweepOnce(ctx context.Context) {
	now := s.clock.Now()
	limit := s.cfg.StagingTimeout.Duration() + 5*time.Minute
	var expired []string
	err := s.update(func(tx *bolt.Tx) error {
		apps, err := all[App](tx, bApps)
		if err != nil {
			return err
		}
		for _, a := range apps {
			if a.StagingTaskID == "" || a.StagingStartedAt == nil || now.Sub(*a.StagingStartedAt) <= limit {
				continue
			}
			expired = append(expired, a.Guid+"-"+a.StagingTaskID)
			a.PackageState, a.StagingTaskID, a.StagingStartedAt = Failed, "", nil
			a.StagingFailedReason, a.StagingFailedDescription = "StagingTimeExpired", "staging took longer than "+limit.String()
			s.touch(&a)
			if err := put(tx, bApps, a.Guid, a); err != nil {
				return err
			}
		}
		jobs, err := all[Job](tx, bJobs)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if now.Sub(j.CreatedAt) > 24*time.Hour {
				if err := tx.Bucket(bJobs).Delete([]byte(j.Guid)); err != nil {
					return err
				}
			}
		}
		return s.trimResources(tx)
	})
	if err != nil {
		s.logger.Error("janitor-failed", "error", err)
	}
	for _, g := range expired {
		if err := s.bridge.StopStaging(ctx, g); err != nil {
			s.logger.Error("stop-staging-failed", "error", err)
		}
	}
}

// trimResources deletes the least recently stored cache files down to
// 90 % of resource_pool_max_bytes once the pool exceeds it.
func (s *Server) trimResources(tx *bolt.Tx) error {
	type entry struct {
		sha string
		c   cached
	}
	var entries []entry
	var total int64
	err := tx.Bucket(bResources).ForEach(func(k, v []byte) error {
		c, _, err := get[cached](tx, bResources, string(k))
		entries = append(entries, entry{string(k), c})
		total += c.Size
		return err
	})
	if err != nil || total <= s.cfg.ResourcePoolMaxBytes {
		return err
	}
	slices.SortFunc(entries, func(a, b entry) int { return a.c.StoredAt.Compare(b.c.StoredAt) })
	target := s.cfg.ResourcePoolMaxBytes * 9 / 10
	for _, e := range entries {
		if total <= target {
			break
		}
		if err := tx.Bucket(bResources).Delete([]byte(e.sha)); err != nil {
			return err
		}
		_ = os.Remove(s.store.resourcePath(e.sha))
		total -= e.c.Size
	}
	return nil
}
