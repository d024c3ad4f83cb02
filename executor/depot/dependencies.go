package depot

// Cached dependencies: fetched into shared directories before the garden
// container is created, bind-mounted read-only, released at delete (spec
// cell §3.3 step 3.1).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"

	"diego/executor"
	"diego/executor/depot/cacheddownloader"
	"diego/executor/depot/steps"
	"diego/garden"
)

// DependencyFetcher downloads a container's cached dependencies into
// shared directories, bind-mounted read-only (spec cell §3.3 step 3.1).
type DependencyFetcher interface {
	FetchAsDirectory(ctx context.Context, logger *slog.Logger, u *url.URL, cacheKey string, checksum cacheddownloader.ChecksumInfo) (string, int64, error)
	CloseDirectory(cacheKey, dir string) error
}

type fetchedDependency struct{ cacheKey, dir string }

// fetchDependencies downloads the cached dependencies and returns their
// read-only bind mounts; the directories are released at delete.
func (d *Depot) fetchDependencies(logger *slog.Logger, c executor.Container) ([]garden.BindMount, error) {
	if len(c.CachedDependencies) == 0 {
		return nil, nil
	}
	if d.fetcher == nil {
		return nil, errors.New("no downloader for cached dependencies")
	}
	var mounts []garden.BindMount
	for _, dep := range c.CachedDependencies {
		u, err := url.Parse(dep.From)
		if err != nil {
			return mounts, fmt.Errorf("cached dependency %q: %w", dep.Name, err)
		}
		if dep.Name != "" {
			d.appLog.Info(c, fmt.Sprintf("Downloading %s...", dep.Name))
		}
		dir, size, err := d.fetcher.FetchAsDirectory(context.Background(), logger, u, dep.CacheKey,
			cacheddownloader.ChecksumInfo{Algorithm: dep.ChecksumAlgorithm, Value: dep.ChecksumValue})
		if err != nil {
			if dep.Name != "" {
				d.appLog.Error(c, fmt.Sprintf("Downloading %s failed", dep.Name))
			}
			return mounts, fmt.Errorf("cached dependency %q: %w", dep.Name, err)
		}
		if dep.Name != "" {
			d.appLog.Info(c, fmt.Sprintf("Downloaded %s (%s)", dep.Name, steps.HumanSize(size)))
		}
		d.mu.Lock()
		if e, ok := d.containers[c.Guid]; ok {
			e.deps = append(e.deps, fetchedDependency{cacheKey: dep.CacheKey, dir: dir})
		}
		d.mu.Unlock()
		mounts = append(mounts, garden.BindMount{SrcPath: dir, DstPath: dep.To,
			Mode: garden.BindMountModeRO, Origin: garden.BindMountOriginHost})
	}
	return mounts, nil
}
