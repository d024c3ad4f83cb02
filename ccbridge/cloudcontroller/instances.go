package cloudcontroller

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"diego/ccbridge/tps"
	"diego/deploy/routes"
)

var reasonCodes = map[string]struct {
	code   int
	status int
	tmpl   string
}{
	"StagingError":           {170001, 400, "Staging error: %s"},
	"NoAppDetectedError":     {170003, 400, "An app was not successfully detected by any available buildpack"},
	"BuildpackCompileFailed": {170004, 400, "App staging failed in the buildpack compile phase"},
	"BuildpackReleaseFailed": {170005, 400, "App staging failed in the buildpack release phase"},
	"StagingTimeExpired":     {170007, 504, "Staging time expired: %s"},
	"InsufficientResources":  {170008, 400, "Insufficient resources"},
	"NoCompatibleCell":       {170009, 400, "Found no compatible cell"},
	"StagerError":            {170011, 500, "Stager error: %s"},
}

// runningCount counts TPS instances below instances that are RUNNING or
// STARTING; -1 on a TPS failure (spec §5.4).
func runningCount(a App, insts []tps.LRPInstance, err error) int {
	if a.State != Started || a.ProcessGuid == "" {
		return 0
	}
	if err != nil {
		return -1
	}
	n := 0
	seen := map[uint]bool{}
	for _, i := range insts {
		if int(i.Index) < a.Instances && !seen[i.Index] && (i.State == tps.StateRunning || i.State == tps.StateStarting) {
			seen[i.Index] = true
			n++
		}
	}
	return n
}

func (s *Server) appSummaryMap(tx *bolt.Tx, a App, running int) map[string]any {
	rs := []map[string]any{}
	for _, rg := range a.RouteGuids {
		if rt, ok, _ := get[Route](tx, bRoutes, rg); ok {
			d, _, _ := get[Domain](tx, bDomains, rt.DomainGuid)
			rs = append(rs, map[string]any{"guid": rt.Guid, "host": rt.Host, "path": "", "port": nil,
				"domain": map[string]any{"guid": d.Guid, "name": d.Name}})
		}
	}
	env := a.EnvironmentJSON
	if env == nil {
		env = map[string]any{}
	}
	return map[string]any{"guid": a.Guid, "name": a.Name, "state": a.State, "instances": a.Instances, "running_instances": running,
		"memory": a.Memory, "disk_quota": a.DiskQuota, "routes": rs, "urls": s.uris(tx, a), "package_state": a.PackageState,
		"package_updated_at": rfc(a.PackageUpdatedAt), "stack_guid": a.StackGuid, "space_guid": a.SpaceGuid,
		"command": nullable(a.Command), "detected_start_command": a.DetectedStartCommand, "buildpack": nullable(a.Buildpack),
		"detected_buildpack": nullable(a.DetectedBuildpack), "environment_json": env, "health_check_timeout": s.healthTimeout(a),
		"staging_failed_reason": nullable(a.StagingFailedReason), "version": a.Version, "diego": true, "ports": []int{8080},
		"service_count": 0, "service_names": []string{}}
}

func (s *Server) spaceSummary(w http.ResponseWriter, r *http.Request) error {
	sg := routes.Param(r, "guid")
	var sp Space
	var apps []App
	err := s.view(func(tx *bolt.Tx) error {
		var ok bool
		var err error
		sp, ok, err = get[Space](tx, bSpaces, sg)
		if err != nil || !ok {
			return orNotFound(err, cfErr(404, 40004, "SpaceNotFound", "The app space could not be found: %s", sg))
		}
		list, err := all[App](tx, bApps)
		for _, a := range list {
			if a.SpaceGuid == sg {
				apps = append(apps, a)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	var pgs []string
	for _, a := range apps {
		if a.ProcessGuid != "" {
			pgs = append(pgs, a.ProcessGuid)
		}
	}
	status := map[string][]tps.LRPInstance{}
	var tpsErr error
	for i := 0; i < len(pgs); i += 100 {
		part, err := s.bridge.BulkStatus(r.Context(), pgs[i:min(i+100, len(pgs))])
		if err != nil {
			tpsErr = err
			break
		}
		for k, v := range part {
			status[k] = v
		}
	}
	out := []map[string]any{}
	err = s.view(func(tx *bolt.Tx) error {
		for _, a := range apps {
			out = append(out, s.appSummaryMap(tx, a, runningCount(a, status[a.ProcessGuid], tpsErr)))
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"guid": sp.Guid, "name": sp.Name, "apps": out, "services": []any{}})
	return nil
}

func (s *Server) appSummary(w http.ResponseWriter, r *http.Request) error {
	var a App
	if err := s.view(func(tx *bolt.Tx) (err error) { a, err = s.getAppTx(tx, routes.Param(r, "guid")); return }); err != nil {
		return err
	}
	var insts []tps.LRPInstance
	var tpsErr error
	if a.ProcessGuid != "" {
		insts, tpsErr = s.bridge.Instances(r.Context(), a.ProcessGuid)
	}
	return s.view(func(tx *bolt.Tx) error {
		m := s.appSummaryMap(tx, a, runningCount(a, insts, tpsErr))
		m["services"] = []any{}
		doms := []map[string]any{}
		ds, _ := all[Domain](tx, bDomains)
		for _, d := range ds {
			doms = append(doms, map[string]any{"guid": d.Guid, "name": d.Name, "owning_organization_guid": nil})
		}
		m["available_domains"] = doms
		writeJSON(w, 200, m)
		return nil
	})
}

// instanceGate answers the STOPPED, PENDING and FAILED rows of §5.5.
func instanceGate(a App, stoppedErr *apiError) error {
	switch {
	case a.State != Started:
		return stoppedErr
	case a.PackageState == Failed:
		rc, ok := reasonCodes[a.StagingFailedReason]
		if !ok {
			rc = reasonCodes["StagingError"]
		}
		desc := rc.tmpl
		if containsVerb(desc) {
			desc = fmt.Sprintf(desc, a.StagingFailedDescription)
		}
		return cfErr(rc.status, rc.code, a.StagingFailedReason, "%s: cannot get instances since staging failed", desc)
	case a.PackageState == Pending || a.ProcessGuid == "":
		return cfErr(400, 170002, "NotStaged", "App has not finished staging")
	}
	return nil
}

func containsVerb(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '%' && s[i+1] == 's' {
			return true
		}
	}
	return false
}

// byIndex keeps the first entry of each index below n (the key-set rule).
func byIndex(insts []tps.LRPInstance, n int) map[int]tps.LRPInstance {
	out := map[int]tps.LRPInstance{}
	for _, i := range insts {
		if int(i.Index) < n {
			if _, ok := out[int(i.Index)]; !ok {
				out[int(i.Index)] = i
			}
		}
	}
	return out
}

func (s *Server) appInstances(w http.ResponseWriter, r *http.Request) error {
	var a App
	if err := s.view(func(tx *bolt.Tx) (err error) { a, err = s.getAppTx(tx, routes.Param(r, "guid")); return }); err != nil {
		return err
	}
	if err := instanceGate(a, cfErr(400, 220001, "InstancesError", "Instances error: Request failed for app: %s as the app is in stopped state.", a.Name)); err != nil {
		return err
	}
	insts, err := s.bridge.Instances(r.Context(), a.ProcessGuid)
	if err != nil {
		return cfErr(503, 220002, "InstancesUnavailable", "Instances information unavailable: %s", err.Error())
	}
	got := byIndex(insts, a.Instances)
	out := map[string]any{}
	now := float64(s.clock.Now().Unix())
	for i := 0; i < a.Instances; i++ {
		inst, ok := got[i]
		if !ok {
			out[strconv.Itoa(i)] = map[string]any{"state": "DOWN", "since": now, "uptime": 0}
			continue
		}
		m := map[string]any{"state": inst.State, "since": float64(inst.Since), "uptime": inst.Uptime}
		if inst.Details != "" {
			m["details"] = inst.Details
		}
		out[strconv.Itoa(i)] = m
	}
	writeJSON(w, 200, out)
	return nil
}

func (s *Server) appStats(w http.ResponseWriter, r *http.Request) error {
	var a App
	var uris []string
	if err := s.view(func(tx *bolt.Tx) (err error) {
		a, err = s.getAppTx(tx, routes.Param(r, "guid"))
		uris = s.uris(tx, a)
		return
	}); err != nil {
		return err
	}
	if err := instanceGate(a, cfErr(400, 200003, "AppStoppedStatsError", "Could not fetch stats for stopped app: %s", a.Name)); err != nil {
		return err
	}
	insts, err := s.bridge.Stats(r.Context(), a.ProcessGuid, r.Header.Get("Authorization"))
	if err != nil {
		return cfErr(503, 200002, "StatsUnavailable", "Stats unavailable: %s", err.Error())
	}
	got := byIndex(insts, a.Instances)
	out := map[string]any{}
	for i := 0; i < a.Instances; i++ {
		inst, ok := got[i]
		stats := map[string]any{"name": a.Name, "uris": uris, "host": nil, "port": 0, "uptime": 0,
			"mem_quota": int64(a.Memory) << 20, "disk_quota": int64(a.DiskQuota) << 20, "fds_quota": s.cfg.FileDescriptors,
			"usage": map[string]any{"time": s.clock.Now().UTC().Format(time.RFC3339), "cpu": 0.0, "mem": 0, "disk": 0}}
		state := "DOWN"
		if ok {
			state = inst.State
			stats["host"], stats["port"], stats["uptime"] = nullable(inst.Host), inst.Port, inst.Uptime
			if inst.Stats != nil {
				stats["usage"] = map[string]any{"time": inst.Stats.Time.UTC().Format(time.RFC3339), "cpu": inst.Stats.CPU,
					"mem": inst.Stats.Mem, "disk": inst.Stats.Disk}
			}
		}
		out[strconv.Itoa(i)] = map[string]any{"state": state, "stats": stats}
	}
	writeJSON(w, 200, out)
	return nil
}

func (s *Server) killInstance(w http.ResponseWriter, r *http.Request) error {
	var a App
	if err := s.view(func(tx *bolt.Tx) (err error) { a, err = s.getAppTx(tx, routes.Param(r, "guid")); return }); err != nil {
		return err
	}
	idx, err := strconv.Atoi(routes.Param(r, "index"))
	if err != nil || idx < 0 || idx >= a.Instances {
		return cfErr(400, 220001, "InstancesError", "Instances error: bad index %s", routes.Param(r, "index"))
	}
	if a.ProcessGuid == "" {
		return cfErr(400, 220001, "InstancesError", "Instances error: app %s is not running", a.Name)
	}
	if err := s.bridge.KillIndex(r.Context(), a.ProcessGuid, idx); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
