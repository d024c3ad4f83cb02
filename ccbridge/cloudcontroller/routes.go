// Package cloudcontroller is a minimal Cloud Controller with a
// UAA-compatible login surface (spec cloud-controller.md): enough of the v2
// API for an unmodified cf CLI v6 to push, scale, stop, start, restage and
// delete apps on diego, plus the internal and blob endpoints the CC bridge
// (stager, nsync, TPS) calls. State is one bbolt file plus blobs on disk.
package cloudcontroller

import (
	"net/http"

	"diego/deploy/routes"
)

// Route names of the Cloud Controller's API.
const (
	InfoRoute              = "Info"
	UAALoginRoute          = "UAALogin"
	UAATokenRoute          = "UAAToken"
	ListOrgsRoute          = "ListOrgs"
	GetOrgRoute            = "GetOrg"
	CreateOrgRoute         = "CreateOrg"
	OrgSpacesRoute         = "OrgSpaces"
	OrgPrivateDomainsRoute = "OrgPrivateDomains"
	OrgUserRoute           = "OrgUser"
	GetSpaceRoute          = "GetSpace"
	CreateSpaceRoute       = "CreateSpace"
	SpaceManagerRoute      = "SpaceManager"
	SpaceDeveloperRoute    = "SpaceDeveloper"
	SpaceAuditorRoute      = "SpaceAuditor"
	SpaceAppsRoute         = "SpaceApps"
	SpaceRoutesRoute       = "SpaceRoutes"
	SpaceSummaryRoute      = "SpaceSummary"
	SharedDomainsRoute     = "SharedDomains"
	SharedDomainRoute      = "SharedDomain"
	PrivateDomainsRoute    = "PrivateDomains"
	StacksRoute            = "Stacks"
	StackRoute             = "Stack"
	BuildpacksRoute        = "Buildpacks"
	FeatureFlagRoute       = "FeatureFlag"
	ListAppsRoute          = "ListApps"
	CreateAppRoute         = "CreateApp"
	GetAppRoute            = "GetApp"
	UpdateAppRoute         = "UpdateApp"
	DeleteAppRoute         = "DeleteApp"
	RestageAppRoute        = "RestageApp"
	AppSummaryRoute        = "AppSummary"
	AppInstancesRoute      = "AppInstances"
	AppStatsRoute          = "AppStats"
	KillInstanceRoute      = "KillInstance"
	MapRouteRoute          = "MapRoute"
	UnmapRouteRoute        = "UnmapRoute"
	UploadBitsRoute        = "UploadBits"
	ResourceMatchRoute     = "ResourceMatch"
	ListRoutesRoute        = "ListRoutes"
	GetRouteRoute          = "GetRoute"
	CreateRouteRoute       = "CreateRoute"
	DeleteRouteRoute       = "DeleteRoute"
	ReservedRouteRoute     = "ReservedRoute"
	JobRoute               = "Job"
	EventsRoute            = "Events"
	LogAccessRoute         = "LogAccess"

	StagingAppBitsRoute        = "StagingAppBits"
	StagingDropletUploadRoute  = "StagingDropletUpload"
	StagingJobRoute            = "StagingJob"
	StagingDropletDownloadRute = "StagingDropletDownload"
	StagingCacheUploadRoute    = "StagingCacheUpload"
	StagingCacheDownloadRoute  = "StagingCacheDownload"
	StagingCompletedRoute      = "StagingCompleted"
)

// Routes is the CC's API on its one listener (spec §2.1, §3–§11). The
// bridge's internal app routes are ccclient.AppRoutes, served beside these.
var Routes = routes.Table{
	{Name: InfoRoute, Method: http.MethodGet, Path: "/v2/info"},
	{Name: UAALoginRoute, Method: http.MethodGet, Path: "/uaa/login"},
	{Name: UAATokenRoute, Method: http.MethodPost, Path: "/uaa/oauth/token"},
	{Name: ListOrgsRoute, Method: http.MethodGet, Path: "/v2/organizations"},
	{Name: GetOrgRoute, Method: http.MethodGet, Path: "/v2/organizations/:guid"},
	{Name: CreateOrgRoute, Method: http.MethodPost, Path: "/v2/organizations"},
	{Name: OrgSpacesRoute, Method: http.MethodGet, Path: "/v2/organizations/:guid/spaces"},
	{Name: OrgPrivateDomainsRoute, Method: http.MethodGet, Path: "/v2/organizations/:guid/private_domains"},
	{Name: OrgUserRoute, Method: http.MethodPut, Path: "/v2/organizations/:guid/users/:user_guid"},
	{Name: GetSpaceRoute, Method: http.MethodGet, Path: "/v2/spaces/:guid"},
	{Name: CreateSpaceRoute, Method: http.MethodPost, Path: "/v2/spaces"},
	{Name: SpaceManagerRoute, Method: http.MethodPut, Path: "/v2/spaces/:guid/managers/:user_guid"},
	{Name: SpaceDeveloperRoute, Method: http.MethodPut, Path: "/v2/spaces/:guid/developers/:user_guid"},
	{Name: SpaceAuditorRoute, Method: http.MethodPut, Path: "/v2/spaces/:guid/auditors/:user_guid"},
	{Name: SpaceAppsRoute, Method: http.MethodGet, Path: "/v2/spaces/:guid/apps"},
	{Name: SpaceRoutesRoute, Method: http.MethodGet, Path: "/v2/spaces/:guid/routes"},
	{Name: SpaceSummaryRoute, Method: http.MethodGet, Path: "/v2/spaces/:guid/summary"},
	{Name: SharedDomainsRoute, Method: http.MethodGet, Path: "/v2/shared_domains"},
	{Name: SharedDomainRoute, Method: http.MethodGet, Path: "/v2/shared_domains/:guid"},
	{Name: PrivateDomainsRoute, Method: http.MethodGet, Path: "/v2/private_domains"},
	{Name: StacksRoute, Method: http.MethodGet, Path: "/v2/stacks"},
	{Name: StackRoute, Method: http.MethodGet, Path: "/v2/stacks/:guid"},
	{Name: BuildpacksRoute, Method: http.MethodGet, Path: "/v2/buildpacks"},
	{Name: FeatureFlagRoute, Method: http.MethodGet, Path: "/v2/config/feature_flags/:name"},
	{Name: ListAppsRoute, Method: http.MethodGet, Path: "/v2/apps"},
	{Name: CreateAppRoute, Method: http.MethodPost, Path: "/v2/apps"},
	{Name: GetAppRoute, Method: http.MethodGet, Path: "/v2/apps/:guid"},
	{Name: UpdateAppRoute, Method: http.MethodPut, Path: "/v2/apps/:guid"},
	{Name: DeleteAppRoute, Method: http.MethodDelete, Path: "/v2/apps/:guid"},
	{Name: RestageAppRoute, Method: http.MethodPost, Path: "/v2/apps/:guid/restage"},
	{Name: AppSummaryRoute, Method: http.MethodGet, Path: "/v2/apps/:guid/summary"},
	{Name: AppInstancesRoute, Method: http.MethodGet, Path: "/v2/apps/:guid/instances"},
	{Name: AppStatsRoute, Method: http.MethodGet, Path: "/v2/apps/:guid/stats"},
	{Name: KillInstanceRoute, Method: http.MethodDelete, Path: "/v2/apps/:guid/instances/:index"},
	{Name: MapRouteRoute, Method: http.MethodPut, Path: "/v2/apps/:guid/routes/:route_guid"},
	{Name: UnmapRouteRoute, Method: http.MethodDelete, Path: "/v2/apps/:guid/routes/:route_guid"},
	{Name: UploadBitsRoute, Method: http.MethodPut, Path: "/v2/apps/:guid/bits"},
	{Name: ResourceMatchRoute, Method: http.MethodPut, Path: "/v2/resource_match"},
	{Name: ListRoutesRoute, Method: http.MethodGet, Path: "/v2/routes"},
	{Name: GetRouteRoute, Method: http.MethodGet, Path: "/v2/routes/:guid"},
	{Name: CreateRouteRoute, Method: http.MethodPost, Path: "/v2/routes"},
	{Name: DeleteRouteRoute, Method: http.MethodDelete, Path: "/v2/routes/:guid"},
	{Name: ReservedRouteRoute, Method: http.MethodGet, Path: "/v2/routes/reserved/domain/:domain_guid/host/:host"},
	{Name: JobRoute, Method: http.MethodGet, Path: "/v2/jobs/:guid"},
	{Name: EventsRoute, Method: http.MethodGet, Path: "/v2/events"},
	{Name: LogAccessRoute, Method: http.MethodGet, Path: "/internal/log_access/:guid"},

	{Name: StagingAppBitsRoute, Method: http.MethodGet, Path: "/staging/apps/:guid"},
	{Name: StagingDropletUploadRoute, Method: http.MethodPost, Path: "/staging/droplets/:guid/upload"},
	{Name: StagingJobRoute, Method: http.MethodGet, Path: "/staging/jobs/:guid"},
	{Name: StagingDropletDownloadRute, Method: http.MethodGet, Path: "/staging/droplets/:guid/download"},
	{Name: StagingCacheUploadRoute, Method: http.MethodPost, Path: "/staging/buildpack_cache/:guid/upload"},
	{Name: StagingCacheDownloadRoute, Method: http.MethodGet, Path: "/staging/buildpack_cache/:guid/download"},
	{Name: StagingCompletedRoute, Method: http.MethodPost, Path: "/internal/staging/:staging_guid/completed"},
}
