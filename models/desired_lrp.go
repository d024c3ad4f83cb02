package models

// The BBS stores a desired LRP as two records (spec core §1.2): the
// scheduling info, which placement, convergence and routing read and which
// updates change, and the run info, which the cell needs to run it. These
// functions split and reassemble them.

// NewDesiredLRP assembles a desired LRP from its two records.
func NewDesiredLRP(s *DesiredLRPSchedulingInfo, r *DesiredLRPRunInfo) *DesiredLRP {
	key, res := s.GetDesiredLrpKey(), s.GetDesiredLrpResource()
	return &DesiredLRP{
		ProcessGuid:                   key.GetProcessGuid(),
		Domain:                        key.GetDomain(),
		LogGuid:                       key.GetLogGuid(),
		RootFs:                        res.GetRootFs(),
		MemoryMb:                      res.GetMemoryMb(),
		DiskMb:                        res.GetDiskMb(),
		MaxPids:                       res.GetMaxPids(),
		Instances:                     s.GetInstances(),
		Annotation:                    s.GetAnnotation(),
		Routes:                        s.GetRoutes(),
		ModificationTag:               s.GetModificationTag(),
		PlacementTags:                 s.GetPlacementTags(),
		EnvironmentVariables:          r.GetEnvironmentVariables(),
		Setup:                         r.GetSetup(),
		Action:                        r.GetAction(),
		Monitor:                       r.GetMonitor(),
		DeprecatedStartTimeoutS:       r.GetDeprecatedStartTimeoutS(),
		Privileged:                    r.GetPrivileged(),
		CpuWeight:                     r.GetCpuWeight(),
		Ports:                         r.GetPorts(),
		EgressRules:                   r.GetEgressRules(),
		LogSource:                     r.GetLogSource(),
		MetricsGuid:                   r.GetMetricsGuid(),
		CachedDependencies:            r.GetCachedDependencies(),
		LegacyDownloadUser:            r.GetLegacyDownloadUser(),
		TrustedSystemCertificatesPath: r.GetTrustedSystemCertificatesPath(),
		VolumeMounts:                  r.GetVolumeMounts(),
		Network:                       r.GetNetwork(),
		StartTimeoutMs:                r.GetStartTimeoutMs(),
		CertificateProperties:         r.GetCertificateProperties(),
		ImageUsername:                 r.GetImageUsername(),
		ImagePassword:                 r.GetImagePassword(),
		CheckDefinition:               r.GetCheckDefinition(),
		ImageLayers:                   r.GetImageLayers(),
		MetricTags:                    r.GetMetricTags(),
		Sidecars:                      r.GetSidecars(),
		LogRateLimit:                  r.GetLogRateLimit(),
		VolumeMountedFiles:            r.GetVolumeMountedFiles(),
	}
}

// DesiredLRPKey is the identity both records share.
func (d *DesiredLRP) DesiredLRPKey() *DesiredLRPKey {
	return &DesiredLRPKey{ProcessGuid: d.GetProcessGuid(), Domain: d.GetDomain(), LogGuid: d.GetLogGuid()}
}

// DesiredLRPSchedulingInfo is the mutable record of d.
func (d *DesiredLRP) DesiredLRPSchedulingInfo() *DesiredLRPSchedulingInfo {
	var drivers []string
	for _, m := range d.GetVolumeMounts() {
		drivers = append(drivers, m.GetDriver())
	}
	return &DesiredLRPSchedulingInfo{
		DesiredLrpKey: d.DesiredLRPKey(),
		Annotation:    d.GetAnnotation(),
		Instances:     d.GetInstances(),
		DesiredLrpResource: &DesiredLRPResource{
			MemoryMb: d.GetMemoryMb(), DiskMb: d.GetDiskMb(), RootFs: d.GetRootFs(), MaxPids: d.GetMaxPids(),
		},
		Routes:          d.GetRoutes(),
		ModificationTag: d.GetModificationTag(),
		VolumePlacement: &VolumePlacement{DriverNames: drivers},
		PlacementTags:   d.GetPlacementTags(),
	}
}

// DesiredLRPRunInfo is the immutable record of d, created at createdAt (Unix ns).
func (d *DesiredLRP) DesiredLRPRunInfo(createdAt int64) *DesiredLRPRunInfo {
	return &DesiredLRPRunInfo{
		DesiredLrpKey:                 d.DesiredLRPKey(),
		EnvironmentVariables:          d.GetEnvironmentVariables(),
		Setup:                         d.GetSetup(),
		Action:                        d.GetAction(),
		Monitor:                       d.GetMonitor(),
		DeprecatedStartTimeoutS:       d.GetDeprecatedStartTimeoutS(),
		Privileged:                    d.GetPrivileged(),
		CpuWeight:                     d.GetCpuWeight(),
		Ports:                         d.GetPorts(),
		EgressRules:                   d.GetEgressRules(),
		LogSource:                     d.GetLogSource(),
		MetricsGuid:                   d.GetMetricsGuid(),
		CreatedAt:                     createdAt,
		CachedDependencies:            d.GetCachedDependencies(),
		LegacyDownloadUser:            d.GetLegacyDownloadUser(),
		TrustedSystemCertificatesPath: d.GetTrustedSystemCertificatesPath(),
		VolumeMounts:                  d.GetVolumeMounts(),
		Network:                       d.GetNetwork(),
		StartTimeoutMs:                d.GetStartTimeoutMs(),
		CertificateProperties:         d.GetCertificateProperties(),
		ImageUsername:                 d.GetImageUsername(),
		ImagePassword:                 d.GetImagePassword(),
		CheckDefinition:               d.GetCheckDefinition(),
		ImageLayers:                   d.GetImageLayers(),
		MetricTags:                    d.GetMetricTags(),
		Sidecars:                      d.GetSidecars(),
		LogRateLimit:                  d.GetLogRateLimit(),
		VolumeMountedFiles:            d.GetVolumeMountedFiles(),
	}
}

// RoutingInfo keeps only what the route-emitter needs of d.
func (d *DesiredLRP) RoutingInfo() *DesiredLRP {
	return &DesiredLRP{
		ProcessGuid:     d.GetProcessGuid(),
		Domain:          d.GetDomain(),
		LogGuid:         d.GetLogGuid(),
		Instances:       d.GetInstances(),
		Routes:          d.GetRoutes(),
		ModificationTag: d.GetModificationTag(),
		MetricTags:      d.GetMetricTags(),
	}
}

// ApplyUpdate changes the scheduling info as update says (absent fields are
// left alone) and counts the write in its modification tag.
func (s *DesiredLRPSchedulingInfo) ApplyUpdate(u *DesiredLRPUpdate) {
	if u.Instances != nil {
		s.Instances = u.GetInstances()
	}
	if u.Routes != nil {
		s.Routes = u.GetRoutes()
	}
	if u.Annotation != nil {
		s.Annotation = u.GetAnnotation()
	}
	if s.ModificationTag == nil {
		s.ModificationTag = &ModificationTag{}
	}
	s.ModificationTag.Increment()
}

// VersionDownTo0 gives the form `.r0`-era readers expect (spec core §1.2):
// the `.r2` form, plus the start timeout in seconds and timeout actions in
// nanoseconds.
func (d *DesiredLRP) VersionDownTo0() *DesiredLRP {
	out := cloneDesired(d.VersionDownTo2())
	out.DeprecatedStartTimeoutS = uint32(out.GetStartTimeoutMs() / 1000)
	for _, a := range []*Action{out.GetSetup(), out.GetAction(), out.GetMonitor()} {
		a.SetDeprecatedTimeoutNs()
	}
	return out
}
