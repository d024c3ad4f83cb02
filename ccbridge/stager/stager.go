// Package stager holds the stager API's route table and its messages (spec
// bridge.md §2.2–§2.5): the staging request CC sends, the staging response
// the stager posts back, and the annotation the staging task carries
// between the two. The server (ccbridge/stager/handlers) and any client
// (a Cloud Controller) share them.
package stager

import (
	"encoding/json"
	"net/http"

	"diego/deploy/routes"
	"diego/models"
)

// Route names.
const (
	StageRoute             = "Stage"
	StopStagingRoute       = "StopStaging"
	StagingCompletedRoute  = "StagingCompleted"
	StagingGuidParam       = "staging_guid"
	BuildpackLifecycle     = "buildpack"
	DockerLifecycle        = "docker"
	StagingDomain          = "cf-app-staging"
	StagingLogSource       = "STG"
	DefaultStagingTimeout  = 15 * 60 // seconds, for a request timeout ≤ 0
	StagingCPUWeight       = 50
	TrustedSystemCertsPath = "/etc/cf-system-certificates"
)

// Routes is the stager's API (§2.2).
var Routes = routes.Table{
	{Name: StageRoute, Method: http.MethodPut, Path: "/v1/staging/:staging_guid"},
	{Name: StopStagingRoute, Method: http.MethodDelete, Path: "/v1/staging/:staging_guid"},
	{Name: StagingCompletedRoute, Method: http.MethodPost, Path: "/v1/staging/:staging_guid/completed"},
}

// StagingRequestFromCC is the body of PUT /v1/staging/:staging_guid (§2.3).
type StagingRequestFromCC struct {
	AppId              string                        `json:"app_id"`
	FileDescriptors    int                           `json:"file_descriptors"`
	MemoryMB           int                           `json:"memory_mb"`
	DiskMB             int                           `json:"disk_mb"`
	Environment        []*models.EnvironmentVariable `json:"environment"`
	EgressRules        []*models.SecurityGroupRule   `json:"egress_rules,omitempty"`
	Timeout            int                           `json:"timeout"`
	LogGuid            string                        `json:"log_guid"`
	Lifecycle          string                        `json:"lifecycle"`
	LifecycleData      *json.RawMessage              `json:"lifecycle_data,omitempty"`
	CompletionCallback string                        `json:"completion_callback"`
	IsolationSegment   string                        `json:"isolation_segment,omitempty"`
}

// BuildpackStagingData is a buildpack request's lifecycle_data (§2.3).
type BuildpackStagingData struct {
	AppBitsDownloadUri             string      `json:"app_bits_download_uri"`
	BuildArtifactsCacheDownloadUri string      `json:"build_artifacts_cache_download_uri,omitempty"`
	BuildArtifactsCacheUploadUri   string      `json:"build_artifacts_cache_upload_uri"`
	DropletUploadUri               string      `json:"droplet_upload_uri"`
	Buildpacks                     []Buildpack `json:"buildpacks"`
	Stack                          string      `json:"stack"`
}

// Buildpack is one entry of buildpacks; name "custom" is a user's URL that
// the builder downloads itself.
type Buildpack struct {
	Name       string `json:"name"`
	Key        string `json:"key"`
	Url        string `json:"url"`
	SkipDetect bool   `json:"skip_detect"`
}

// CustomBuildpack is the name of a user-supplied buildpack URL.
const CustomBuildpack = "custom"

// StagingResponseForCC is what the stager posts to CC's completion URL, in
// its final form (§2.5, §9.2): exactly one of result and error.
type StagingResponseForCC struct {
	Result *json.RawMessage `json:"result,omitempty"`
	Error  *StagingError    `json:"error,omitempty"`
}

// StagingError is a failed staging's error, its id one of §2.6.
type StagingError struct {
	Id      string `json:"id"`
	Message string `json:"message"`
}

// The staging error ids (§2.6).
const (
	StagingErrorID             = "StagingError"
	InsufficientResourcesID    = "InsufficientResources"
	NoCompatibleCellID         = "NoCompatibleCell"
	CellCommunicationErrorID   = "CellCommunicationError"
	NoAppDetectedErrorID       = "NoAppDetectedError"
	BuildpackCompileFailedID   = "BuildpackCompileFailed"
	BuildpackReleaseFailedID   = "BuildpackReleaseFailed"
	StagingFailedMessage       = "staging failed"
	NoCompilerDefinedMessage   = "no compiler defined for requested stack"
	MissingAppIDMessage        = "missing app id"
	MissingLifecycleDataMsg    = "missing lifecycle data"
	MissingAppBitsDownloadURI  = "missing app bits download uri"
	UnsupportedLifecycleScheme = "unsupported lifecycle bundle URL scheme"
)

// StagingTaskAnnotation is the staging task's annotation (§2.4): how the
// completion is handled, and where it goes.
type StagingTaskAnnotation struct {
	Lifecycle          string `json:"lifecycle"`
	CompletionCallback string `json:"completion_callback"`
}
