// Package lifecycle holds what the stager and the buildpack lifecycle's
// builder must agree on (spec bridge.md §8, §9.3): where a buildpack key is
// unpacked in the staging container, the builder's flags and defaults, its
// exit codes, and the staging result it writes to result.json.
package lifecycle

import (
	"crypto/md5"
	"encoding/hex"
	"path/filepath"
)

// The builder's exit codes (§8.1) that the stager turns into CC error ids
// (§2.6).
const (
	ExitDetectFailed  = 222
	ExitCompileFailed = 223
	ExitReleaseFailed = 224
)

// Container paths of the staging task (§2.4, §8.1): the builder's flag
// defaults and the places the stager's recipe puts things.
const (
	BuildDir                  = "/tmp/app"
	BuildArtifactsCacheDir    = "/tmp/cache"
	BuildpacksDir             = "/tmp/buildpacks"
	BuildpacksDownloadDir     = "/tmp/buildpackdownloads"
	OutputBuildArtifactsCache = "/tmp/output-cache"
	OutputDroplet             = "/tmp/droplet"
	OutputMetadata            = "/tmp/result.json"
	Dir                       = "/tmp/lifecycle"
	BuilderPath               = Dir + "/builder"
	LauncherPath              = Dir + "/launcher"
	HealthcheckPath           = Dir + "/healthcheck"
)

// Type is the lifecycle_type of a buildpack staging result.
const Type = "buildpack"

// BuildpackPath is where the buildpack with key is unpacked under dir:
// dir/<hex(md5(key))>, the 2015 form that the stager and the builder both
// use (§9.3).
func BuildpackPath(dir, key string) string {
	sum := md5.Sum([]byte(key))
	return filepath.Join(dir, hex.EncodeToString(sum[:]))
}

// StagingResult is the builder's result.json, final form (§8.1); the
// stager hands it to CC verbatim inside {"result": …}.
type StagingResult struct {
	LifecycleMetadata LifecycleMetadata `json:"lifecycle_metadata"`
	ProcessTypes      map[string]string `json:"process_types"`
	ExecutionMetadata string            `json:"execution_metadata"`
	LifecycleType     string            `json:"lifecycle_type"`
}

// LifecycleMetadata names the buildpack that staged the app.
type LifecycleMetadata struct {
	BuildpackKey      string `json:"buildpack_key"`
	DetectedBuildpack string `json:"detected_buildpack"`
}
