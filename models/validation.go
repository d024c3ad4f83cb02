package models

import (
	"bytes"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Validation collects every problem of a model instead of stopping at the
// first, so that a client learns all it has to fix from one response. A
// failed validation is an InvalidRequest error whose message lists the
// problems joined with ", " (spec core §1.10).

const (
	// MaximumAnnotationLength bounds annotations of tasks and desired LRPs.
	MaximumAnnotationLength = 10 * 1024
	// MaximumRouteLength bounds the routes of a desired LRP, all values together.
	MaximumRouteLength = 4 * 1024
	// MaximumCPUWeight is the largest cpu_weight a desired LRP may ask for.
	MaximumCPUWeight = 100
	// MaximumVolumeMountedFilesSize bounds the contents of a desired LRP's
	// volume_mounted_files, all files together.
	MaximumVolumeMountedFilesSize = 1024 * 1024
	// maximumReasonLength truncates failure and rejection reasons.
	maximumReasonLength = 1024
)

var guidPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// problems accumulates validation failures in the order they are found.
type problems []string

func (p *problems) add(msg string) { *p = append(*p, msg) }

// field records "Invalid field: <name>" when bad is true.
func (p *problems) field(bad bool, name string) {
	if bad {
		p.add("Invalid field: " + name)
	}
}

// merge appends the problems of a nested validation.
func (p *problems) merge(err error) {
	if err == nil {
		return
	}
	if e, ok := err.(*Error); ok && e.GetType() == Error_InvalidRequest {
		p.add(e.GetMessage())
		return
	}
	p.add(err.Error())
}

// err returns nil or the InvalidRequest error listing every problem.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return NewError(Error_InvalidRequest, strings.Join(p, ", "))
}

func validGUID(guid string) bool { return guidPattern.MatchString(guid) }

// validRootFS requires a URL with a scheme: preloaded:<stack>, docker:///img.
func validRootFS(rootfs string) bool {
	if rootfs == "" {
		return false
	}
	u, err := url.Parse(rootfs)
	return err == nil && u.Scheme != ""
}

func (t *Task) Validate() error {
	var p problems
	p.field(t.GetDomain() == "", "domain")
	p.field(!validGUID(t.GetTaskGuid()), "task_guid")
	if t.GetTaskDefinition() == nil {
		p.field(true, "task_definition")
	} else {
		p.merge(t.GetTaskDefinition().Validate())
	}
	return p.err()
}

// Validate checks a task definition as Diego's BBS does (spec core §1.10).
// Egress rules are named without their details, volume mounts and metric
// tags are not checked, and cpu_weight keeps its 2015 bound (decision 36).
func (d *TaskDefinition) Validate() error {
	var p problems
	p.field(!validRootFS(d.GetRootFs()), "rootfs")
	validateAction(&p, "action", d.GetAction(), true)
	p.field(d.GetMemoryMb() < 0, "memory_mb")
	p.field(d.GetDiskMb() < 0, "disk_mb")
	p.field(d.GetLogRateLimit().GetBytesPerSecond() < -1, "log_rate_limit")
	p.field(d.GetMaxPids() < 0, "max_pids")
	p.field(len(d.GetAnnotation()) > MaximumAnnotationLength, "annotation")
	p.field(d.GetCpuWeight() > MaximumCPUWeight, "cpu_weight")
	validateEgress(&p, d.GetEgressRules(), false)
	validateImageCredentials(&p, d.GetImageUsername(), d.GetImagePassword())
	validateCachedDependencies(&p, d.GetCachedDependencies())
	validateImageLayers(&p, d.GetImageLayers(), d.GetLegacyDownloadUser())
	return p.err()
}

// validateAction checks an action field: a missing required action is
// "invalid action type"; an invalid one is "Invalid field: <name>" followed by
// what is wrong inside it.
func validateAction(p *problems, name string, a *Action, required bool) {
	if a == nil {
		if required {
			p.add(invalidActionType)
		}
		return
	}
	if err := a.Validate(); err != nil {
		p.field(true, name)
		p.merge(err)
	}
}

// validateEgress names each bad rule "egress_rules"; a desired LRP also
// says what is wrong with it, a task does not (as in Diego).
func validateEgress(p *problems, rules []*SecurityGroupRule, details bool) {
	for _, r := range rules {
		if err := r.Validate(); err != nil {
			p.field(true, "egress_rules")
			if details {
				p.merge(err)
			}
		}
	}
}

// validateCachedDependencies checks each dependency. It does not ask for
// legacy_download_user: Diego needs that user only for exclusive image
// layers, which become download actions (spec core §1.10).
func validateCachedDependencies(p *problems, deps []*CachedDependency) {
	for _, d := range deps {
		if err := d.Validate(); err != nil {
			p.field(true, "cached_dependency")
			p.merge(err)
		}
	}
}

// validateImageLayers checks each layer; an exclusive layer is downloaded
// as legacy_download_user, which must then be set.
func validateImageLayers(p *problems, layers []*ImageLayer, legacyDownloadUser string) {
	exclusive := false
	for _, l := range layers {
		exclusive = exclusive || l.GetLayerType() == ImageLayer_EXCLUSIVE
		if err := l.Validate(); err != nil {
			p.field(true, "image_layer")
			p.merge(err)
		}
	}
	p.field(exclusive && legacyDownloadUser == "", "legacy_download_user")
}

func validateVolumeMounts(p *problems, mounts []*VolumeMount) {
	for _, m := range mounts {
		p.merge(m.Validate())
	}
}

// validateMetricTags names the field once, then every bad value; when the
// LRP has a metrics_guid, a source_id tag must carry the same value.
func validateMetricTags(p *problems, tags map[string]*MetricTagValue, metricsGuid string) {
	var inner problems
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		inner.merge(tags[k].Validate())
	}
	if len(tags) > 0 && metricsGuid != "" {
		if src, ok := tags["source_id"]; !ok || src.GetStatic() != metricsGuid {
			inner.field(true, "source_id should match metrics_guid")
		}
	}
	if len(inner) > 0 {
		p.field(true, "metric_tags")
		*p = append(*p, inner...)
	}
}

// validateVolumeMountedFiles bounds the files' contents together.
func validateVolumeMountedFiles(p *problems, files []*File) {
	total := 0
	for _, f := range files {
		total += len(f.GetContent())
	}
	p.field(total > MaximumVolumeMountedFilesSize, "volumeMountedFiles")
}

func validateImageCredentials(p *problems, user, password string) {
	p.field(user == "" && password != "", "image_username")
	p.field(user != "" && password == "", "image_password")
}

// Validate checks a DesiredLRP as clients send it (spec core §1.10), in
// the order Diego's BBS reports the problems.
func (d *DesiredLRP) Validate() error {
	var p problems
	validateVolumeMountedFiles(&p, d.GetVolumeMountedFiles())
	p.field(d.GetDomain() == "", "domain")
	p.field(!validRootFS(d.GetRootFs()), "rootfs")
	p.field(d.GetInstances() < 0, "instances")
	p.field(d.GetMemoryMb() < 0, "memory_mb")
	p.field(d.GetDiskMb() < 0, "disk_mb")
	p.field(d.GetLogRateLimit().GetBytesPerSecond() < -1, "log_rate_limit_bytes_per_second")
	p.field(len(d.GetAnnotation()) > MaximumAnnotationLength, "annotation")
	p.field(d.GetMaxPids() < 0, "max_pids")
	p.field(routesLength(d.GetRoutes()) > MaximumRouteLength, "routes")
	validateMetricTags(&p, d.GetMetricTags(), d.GetMetricsGuid())
	p.field(!validGUID(d.GetProcessGuid()), "process_guid")
	validateRunParts(&p, runParts{
		setup: d.GetSetup(), action: d.GetAction(), monitor: d.GetMonitor(), env: d.GetEnvironmentVariables(),
		cpuWeight: d.GetCpuWeight(), egress: d.GetEgressRules(), cached: d.GetCachedDependencies(),
		legacyUser: d.GetLegacyDownloadUser(), layers: d.GetImageLayers(), mounts: d.GetVolumeMounts(),
		imageUser: d.GetImageUsername(), imagePassword: d.GetImagePassword(), check: d.GetCheckDefinition(),
		sidecars: d.GetSidecars(),
	})
	return p.err()
}

// runParts are the fields a DesiredLRP shares with its run info, validated
// the same way for both.
type runParts struct {
	setup, action, monitor   *Action
	env                      []*EnvironmentVariable
	cpuWeight                uint32
	egress                   []*SecurityGroupRule
	cached                   []*CachedDependency
	legacyUser               string
	layers                   []*ImageLayer
	mounts                   []*VolumeMount
	imageUser, imagePassword string
	check                    *CheckDefinition
	sidecars                 []*Sidecar
}

// validateRunParts follows the order of Diego's run info validation; the
// cpu_weight bound is the spec's (core §1.10), which modern Diego dropped.
func validateRunParts(p *problems, r runParts) {
	validateAction(p, "setup", r.setup, false)
	validateAction(p, "action", r.action, true)
	validateAction(p, "monitor", r.monitor, false)
	for _, e := range r.env {
		p.merge(e.Validate())
	}
	validateEgress(p, r.egress, true)
	validateCachedDependencies(p, r.cached)
	validateImageLayers(p, r.layers, r.legacyUser)
	var sidecars problems
	for _, s := range r.sidecars {
		sidecars.merge(s.Validate())
	}
	if len(sidecars) > 0 {
		p.field(true, "sidecars")
		*p = append(*p, sidecars...)
	}
	validateVolumeMounts(p, r.mounts)
	validateImageCredentials(p, r.imageUser, r.imagePassword)
	if r.check != nil {
		if err := r.check.Validate(); err != nil {
			p.field(true, "check_definition")
			p.merge(err)
		}
	}
	p.field(r.cpuWeight > MaximumCPUWeight, "cpu_weight")
}

func routesLength(r *ProtoRoutes) int {
	n := 0
	for _, v := range r.GetRoutes() {
		n += len(v)
	}
	return n
}

func (u *DesiredLRPUpdate) Validate() error {
	var p problems
	p.field(u.Instances != nil && u.GetInstances() < 0, "instances")
	p.field(len(u.GetAnnotation()) > MaximumAnnotationLength, "annotation")
	p.field(routesLength(u.GetRoutes()) > MaximumRouteLength, "routes")
	validateMetricTags(&p, u.GetMetricTags(), "")
	return p.err()
}

func (k *DesiredLRPKey) Validate() error {
	var p problems
	p.field(k.GetDomain() == "", "domain")
	p.field(!validGUID(k.GetProcessGuid()), "process_guid")
	return p.err()
}

func (r *DesiredLRPResource) Validate() error {
	var p problems
	p.field(!validRootFS(r.GetRootFs()), "rootfs")
	p.field(r.GetMemoryMb() < 0, "memory_mb")
	p.field(r.GetDiskMb() < 0, "disk_mb")
	p.field(r.GetMaxPids() < 0, "max_pids")
	return p.err()
}

func (s *DesiredLRPSchedulingInfo) Validate() error {
	var p problems
	p.merge(s.GetDesiredLrpKey().Validate())
	p.merge(s.GetDesiredLrpResource().Validate())
	p.field(routesLength(s.GetRoutes()) > MaximumRouteLength, "routes")
	p.field(s.GetInstances() < 0, "instances")
	p.field(len(s.GetAnnotation()) > MaximumAnnotationLength, "annotation")
	return p.err()
}

func (r *DesiredLRPRunInfo) Validate() error {
	var p problems
	p.merge(r.GetDesiredLrpKey().Validate())
	validateVolumeMountedFiles(&p, r.GetVolumeMountedFiles())
	validateRunParts(&p, runParts{
		setup: r.GetSetup(), action: r.GetAction(), monitor: r.GetMonitor(), env: r.GetEnvironmentVariables(),
		cpuWeight: r.GetCpuWeight(), egress: r.GetEgressRules(), cached: r.GetCachedDependencies(),
		legacyUser: r.GetLegacyDownloadUser(), layers: r.GetImageLayers(), mounts: r.GetVolumeMounts(),
		imageUser: r.GetImageUsername(), imagePassword: r.GetImagePassword(), check: r.GetCheckDefinition(),
		sidecars: r.GetSidecars(),
	})
	p.field(r.GetLogRateLimit().GetBytesPerSecond() < -1, "log_rate_limit")
	return p.err()
}

func (e *EnvironmentVariable) Validate() error {
	if e.GetName() == "" {
		return NewError(Error_InvalidRequest, "invalid field: name cannot be blank")
	}
	return nil
}

func (k *ActualLRPKey) Validate() error {
	var p problems
	p.field(!validGUID(k.GetProcessGuid()), "process_guid")
	p.field(k.GetIndex() < 0, "index")
	p.field(k.GetDomain() == "", "domain")
	return p.err()
}

func (k *ActualLRPInstanceKey) Validate() error {
	var p problems
	p.field(k.GetCellId() == "", "cell_id")
	p.field(k.GetInstanceGuid() == "", "instance_guid")
	return p.err()
}

func (n *ActualLRPNetInfo) Validate() error {
	var p problems
	p.field(n.GetAddress() == "", "address")
	return p.err()
}

// Validate checks that a stored actual LRP is consistent with its state
// (spec core §1.3).
func (a *ActualLRP) Validate() error {
	var p problems
	p.merge(a.GetActualLrpKey().Validate())
	p.field(a.GetSince() == 0, "since")
	hasKey := !isEmptyInstanceKey(a.GetActualLrpInstanceKey())
	hasNet := !isEmptyNetInfo(a.GetActualLrpNetInfo())
	hasPlacementError := a.GetPlacementError() != ""
	state := strings.ToLower(a.GetState())
	must := func(bad bool, what string) {
		if bad {
			p.add(what + " cannot be set when state is " + state)
		}
	}
	switch a.GetState() {
	case ActualLRPStateUnclaimed:
		must(hasKey, "instance key")
		must(hasNet, "net info")
		must(a.GetPresence() != ActualLRP_ORDINARY, "presence")
	case ActualLRPStateClaimed:
		p.merge(a.GetActualLrpInstanceKey().Validate())
		must(hasNet, "net info")
		must(hasPlacementError, "placement error")
	case ActualLRPStateRunning:
		p.merge(a.GetActualLrpInstanceKey().Validate())
		p.merge(a.GetActualLrpNetInfo().Validate())
		must(hasPlacementError, "placement error")
	case ActualLRPStateCrashed:
		must(hasKey, "instance key")
		must(hasNet, "net info")
		must(hasPlacementError, "placement error")
	default:
		p.field(true, "state")
	}
	return p.err()
}

func isEmptyInstanceKey(k *ActualLRPInstanceKey) bool {
	return k.GetInstanceGuid() == "" && k.GetCellId() == ""
}

func isEmptyNetInfo(n *ActualLRPNetInfo) bool {
	return n.GetAddress() == "" && len(n.GetPorts()) == 0 && n.GetInstanceAddress() == "" &&
		n.GetInstanceIpv6Address() == "" && n.GetPreferredAddress() == ActualLRPNetInfo_UNKNOWN
}

func (c *CachedDependency) Validate() error {
	var p problems
	p.field(c.GetFrom() == "", "from")
	p.field(c.GetTo() == "", "to")
	validateChecksum(&p, c.GetChecksumAlgorithm(), c.GetChecksumValue())
	return p.err()
}

// Validate checks an image layer as Diego does: known layer and media types,
// and a digest (algorithm and value) whenever either half is given or the
// layer is exclusive.
func (l *ImageLayer) Validate() error {
	var p problems
	alg, value, exclusive := l.GetDigestAlgorithm(), l.GetDigestValue(), l.GetLayerType() == ImageLayer_EXCLUSIVE
	p.field(l.GetUrl() == "", "url")
	p.field(l.GetDestinationPath() == "", "destination_path")
	p.field(l.GetLayerType() != ImageLayer_SHARED && !exclusive, "layer_type")
	switch l.GetMediaType() {
	case ImageLayer_TGZ, ImageLayer_TAR, ImageLayer_ZIP:
	default:
		p.field(true, "media_type")
	}
	knownAlg := alg == ImageLayer_SHA256 || alg == ImageLayer_SHA512
	p.field((value != "" || exclusive) && alg == ImageLayer_DigestAlgorithmInvalid, "digest_algorithm")
	p.field((alg != ImageLayer_DigestAlgorithmInvalid || exclusive) && value == "", "digest_value")
	p.field(value != "" && alg != ImageLayer_DigestAlgorithmInvalid && !knownAlg, "digest_algorithm")
	return p.err()
}

func (v *VolumeMount) Validate() error {
	var p problems
	if v.GetDriver() == "" {
		p.add("invalid volume_mount driver")
	}
	if v.GetMode() != "r" && v.GetMode() != "rw" {
		p.add("invalid volume_mount mode")
	}
	if v.GetShared() != nil && v.GetShared().GetVolumeId() == "" {
		p.add("invalid volume_mount volume id")
	}
	return p.err()
}

// Validate requires exactly one of a static value and a known dynamic one.
func (v *MetricTagValue) Validate() error {
	var p problems
	hasStatic := v.GetStatic() != ""
	hasDynamic := v.GetDynamic() == MetricTagValue_INDEX || v.GetDynamic() == MetricTagValue_INSTANCE_GUID
	if hasStatic == hasDynamic {
		p.field(true, "static")
		p.field(true, "dynamic")
	}
	return p.err()
}

func (c *CheckDefinition) Validate() error {
	var p problems
	for _, ch := range c.GetChecks() {
		p.merge(ch.Validate())
	}
	for _, ch := range c.GetReadinessChecks() {
		p.merge(ch.Validate())
	}
	return p.err()
}

func (c *Check) Validate() error {
	var p problems
	tcp, http := c.GetTcpCheck(), c.GetHttpCheck()
	switch {
	case (tcp == nil) == (http == nil):
		p.field(true, "check")
	case tcp != nil:
		p.field(tcp.GetPort() == 0 || tcp.GetPort() > 65535, "port")
	default:
		p.field(http.GetPort() == 0 || http.GetPort() > 65535, "port")
	}
	return p.err()
}

func (s *Sidecar) Validate() error {
	var p problems
	validateAction(&p, "action", s.GetAction(), true)
	p.field(s.GetMemoryMb() < 0, "memory_mb")
	p.field(s.GetDiskMb() < 0, "disk_mb")
	return p.err()
}

// Validate checks one egress rule (spec core §1.9).
func (r *SecurityGroupRule) Validate() error {
	var p problems
	hasPorts, hasRange, hasICMP := len(r.GetPorts()) > 0, r.GetPortRange() != nil, r.GetIcmpInfo() != nil
	switch r.GetProtocol() {
	case "tcp", "udp":
		validatePorts(&p, r)
		p.field(hasICMP, "icmp_info")
	case "icmp", "icmpv6":
		p.field(hasRange, "port_range")
		p.field(hasPorts, "ports")
		p.field(!hasICMP, "icmp_info")
	case "all":
		p.field(hasRange, "port_range")
		p.field(hasPorts, "ports")
		p.field(hasICMP, "icmp_info")
	default:
		p.field(true, "protocol")
	}
	if errs := validateDestinations(r.GetDestinations()); len(errs) > 0 {
		p.field(true, "destinations [ "+strings.Join(errs, ", ")+" ]")
	}
	return p.err()
}

// validatePorts: tcp and udp take ports or a port range, not both; each
// bound that is wrong is reported, as Diego does.
func validatePorts(p *problems, r *SecurityGroupRule) {
	hasPorts, pr := len(r.GetPorts()) > 0, r.GetPortRange()
	switch {
	case !hasPorts && pr == nil:
		p.add("Missing required field: ports or port_range")
	case hasPorts && pr != nil:
		p.add("Invalid: ports and port_range provided")
	case pr != nil:
		p.field(pr.GetStart() < 1, "port_range")
		p.field(pr.GetEnd() < 1, "port_range")
		p.field(pr.GetStart() > pr.GetEnd(), "port_range")
	default:
		for _, port := range r.GetPorts() {
			p.field(port < 1, "ports")
		}
	}
}

// validateDestinations accepts IPs, CIDRs and "a-b" ranges (a ≤ b),
// possibly comma-joined, and returns what is wrong with each bad one.
func validateDestinations(dests []string) []string {
	if len(dests) == 0 {
		return []string{"Must have at least 1 destination"}
	}
	var errs []string
	for _, d := range dests {
		for _, one := range strings.Split(d, ",") {
			if msg := validateDestination(one); msg != "" {
				errs = append(errs, msg)
			}
		}
	}
	return errs
}

// validateDestination reads d as Diego does: up to the first "-" or "/" it
// is an IP; "/" makes it a CIDR, "-" a range whose start is not after its
// end (compared in the 16-byte form, so mixed families fail).
func validateDestination(d string) string {
	n := strings.IndexAny(d, "-/")
	switch {
	case n == -1:
		if net.ParseIP(d) == nil {
			return "Invalid IP"
		}
	case d[n] == '/':
		if _, _, err := net.ParseCIDR(d); err != nil {
			return err.Error()
		}
	default:
		a, b := net.ParseIP(d[:n]), net.ParseIP(d[n+1:])
		if a == nil || b == nil || bytes.Compare(a.To16(), b.To16()) > 0 {
			return "Invalid IP"
		}
	}
	return ""
}

func validateChecksum(p *problems, algorithm, value string) {
	switch {
	case algorithm == "" && value == "":
	case algorithm == "":
		p.field(true, "checksum algorithm")
	case value == "":
		p.field(true, "checksum value")
	default:
		switch strings.ToLower(algorithm) {
		case "md5", "sha1", "sha256":
		default:
			p.field(true, "invalid algorithm")
		}
	}
}

// truncateReason bounds failure and rejection reasons stored on records.
func truncateReason(s string) string {
	if len(s) > maximumReasonLength {
		return s[:maximumReasonLength]
	}
	return s
}
