package models

// Older BBS route revisions predate image layers: `.r2` readers get them
// folded into what they knew (spec core §1.2). A shared layer becomes a
// cached dependency; an exclusive layer becomes a download action run
// before the rest (in the setup of an LRP, ahead of the action of a task).

// layerCacheKey is the cache key of a layer with a digest.
func layerCacheKey(l *ImageLayer) string {
	if l.GetDigestValue() == "" {
		return ""
	}
	return l.GetDigestAlgorithm().String() + ":" + l.GetDigestValue()
}

func checksumAlgorithm(l *ImageLayer) string {
	switch l.GetDigestAlgorithm() {
	case ImageLayer_SHA256:
		return "sha256"
	case ImageLayer_SHA512:
		return "sha512"
	}
	return ""
}

// foldImageLayers returns the cached dependencies and download actions that
// stand in for layers.
func foldImageLayers(layers []*ImageLayer, user string) (deps []*CachedDependency, downloads []*Action) {
	for _, l := range layers {
		switch l.GetLayerType() {
		case ImageLayer_SHARED:
			deps = append(deps, &CachedDependency{
				Name: l.GetName(), From: l.GetUrl(), To: l.GetDestinationPath(), CacheKey: layerCacheKey(l),
				ChecksumAlgorithm: checksumAlgorithm(l), ChecksumValue: l.GetDigestValue(),
			})
		case ImageLayer_EXCLUSIVE:
			downloads = append(downloads, WrapAction(&DownloadAction{
				Artifact: l.GetName(), From: l.GetUrl(), To: l.GetDestinationPath(), CacheKey: layerCacheKey(l),
				User: user, ChecksumAlgorithm: checksumAlgorithm(l), ChecksumValue: l.GetDigestValue(),
			}))
		}
	}
	return deps, downloads
}

// before runs downloads ahead of a (in parallel with each other).
func before(downloads []*Action, a *Action) *Action {
	if len(downloads) == 0 {
		return a
	}
	fetch := WrapAction(&ParallelAction{Actions: downloads})
	if a == nil {
		return fetch
	}
	return WrapAction(&SerialAction{Actions: []*Action{fetch, a}})
}

// VersionDownTo2 gives the form `.r2` readers expect: no image layers.
func (d *DesiredLRP) VersionDownTo2() *DesiredLRP {
	if len(d.GetImageLayers()) == 0 {
		return d
	}
	out := cloneDesired(d)
	deps, downloads := foldImageLayers(out.ImageLayers, out.GetLegacyDownloadUser())
	out.CachedDependencies = append(out.CachedDependencies, deps...)
	out.Setup = before(downloads, out.Setup)
	out.ImageLayers = nil
	return out
}

// VersionDownTo2 gives the form `.r2` readers expect: no image layers.
func (t *Task) VersionDownTo2() *Task {
	if len(t.GetTaskDefinition().GetImageLayers()) == 0 {
		return t
	}
	out := cloneTask(t)
	def := out.TaskDefinition
	deps, downloads := foldImageLayers(def.ImageLayers, def.GetLegacyDownloadUser())
	def.CachedDependencies = append(def.CachedDependencies, deps...)
	def.Action = before(downloads, def.Action)
	def.ImageLayers = nil
	return out
}
