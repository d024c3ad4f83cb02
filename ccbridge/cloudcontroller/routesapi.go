package cloudcontroller

import (
	"net/http"
	"regexp"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"diego/deploy/routes"
)

var hostRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}$`)

func (s *Server) routeURL(tx *bolt.Tx, rt Route) string {
	d, _, _ := get[Domain](tx, bDomains, rt.DomainGuid)
	if rt.Host == "" {
		return d.Name
	}
	return rt.Host + "." + d.Name
}

func (s *Server) routeResource(tx *bolt.Tx, rt Route, depth int, withApps bool) map[string]any {
	e := map[string]any{"host": rt.Host, "path": "", "port": nil, "domain_guid": rt.DomainGuid, "space_guid": rt.SpaceGuid,
		"service_instance_guid": nil, "domain_url": "/v2/shared_domains/" + rt.DomainGuid, "space_url": "/v2/spaces/" + rt.SpaceGuid,
		"apps_url": "/v2/routes/" + rt.Guid + "/apps"}
	if depth >= 1 {
		if d, ok, _ := get[Domain](tx, bDomains, rt.DomainGuid); ok {
			e["domain"] = domainResource(d)
		}
		if sp, ok, _ := get[Space](tx, bSpaces, rt.SpaceGuid); ok {
			e["space"] = s.spaceResource(tx, sp, 0)
		}
		if withApps {
			apps := []map[string]any{}
			list, _ := all[App](tx, bApps)
			for _, a := range list {
				if slices.Contains(a.RouteGuids, rt.Guid) {
					apps = append(apps, s.appResource(tx, a, 0))
				}
			}
			e["apps"] = apps
		}
	}
	return envelope(rt.Meta, "/v2/routes/"+rt.Guid, e)
}

func (s *Server) routeItems(tx *bolt.Tx, space string) ([]item, error) {
	rts, err := all[Route](tx, bRoutes)
	var out []item
	for _, rt := range rts {
		if space != "" && rt.SpaceGuid != space {
			continue
		}
		sp, _, _ := get[Space](tx, bSpaces, rt.SpaceGuid)
		out = append(out, item{seq: rt.Seq, attrs: map[string]string{"host": rt.Host, "domain_guid": rt.DomainGuid,
			"space_guid": rt.SpaceGuid, "organization_guid": sp.OrgGuid},
			render: func(d int) map[string]any { return s.routeResource(tx, rt, d, true) }})
	}
	return out, err
}

func (s *Server) listRoutes(w http.ResponseWriter, r *http.Request) error {
	return s.list(w, r, []string{"host", "domain_guid", "organization_guid", "space_guid"}, false,
		func(tx *bolt.Tx, lq listQuery) ([]item, error) { return s.routeItems(tx, "") })
}

func (s *Server) spaceRoutes(w http.ResponseWriter, r *http.Request) error {
	sg := routes.Param(r, "guid")
	return s.list(w, r, []string{"host", "domain_guid"}, false, func(tx *bolt.Tx, lq listQuery) ([]item, error) {
		if _, ok, err := get[Space](tx, bSpaces, sg); err != nil || !ok {
			return nil, orNotFound(err, cfErr(404, 40004, "SpaceNotFound", "The app space could not be found: %s", sg))
		}
		return s.routeItems(tx, sg)
	})
}

func errRouteNotFound(g string) *apiError {
	return cfErr(404, 210002, "RouteNotFound", "The route could not be found: %s", g)
}

func (s *Server) getRoute(w http.ResponseWriter, r *http.Request) error {
	g := routes.Param(r, "guid")
	return s.view(func(tx *bolt.Tx) error {
		rt, ok, err := get[Route](tx, bRoutes, g)
		if err != nil || !ok {
			return orNotFound(err, errRouteNotFound(g))
		}
		writeJSON(w, 200, s.routeResource(tx, rt, depthOf(r), true))
		return nil
	})
}

func (s *Server) createRoute(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Host         string `json:"host"`
		DomainGuid   string `json:"domain_guid"`
		SpaceGuid    string `json:"space_guid"`
		Path         string `json:"path"`
		Port         *int   `json:"port"`
		GeneratePort bool   `json:"generate_port"`
	}
	if _, err := s.decode(r, &body); err != nil {
		return err
	}
	var out map[string]any
	err := s.update(func(tx *bolt.Tx) error {
		d, ok, err := get[Domain](tx, bDomains, body.DomainGuid)
		if err != nil || !ok {
			return orNotFound(err, errRelation("domain "+body.DomainGuid+" does not exist"))
		}
		if _, ok, err := get[Space](tx, bSpaces, body.SpaceGuid); err != nil || !ok {
			return orNotFound(err, errRelation("space "+body.SpaceGuid+" does not exist"))
		}
		invalid := func(m string) error { return cfErr(400, 210001, "RouteInvalid", "The route is invalid: %s", m) }
		switch {
		case body.Host != "" && !hostRE.MatchString(body.Host):
			return invalid("host is invalid")
		case len(body.Host)+1+len(d.Name) > 253:
			return invalid("host is invalid")
		case body.Path != "":
			return invalid("path routes are not supported")
		case (body.Port != nil && *body.Port != 0) || body.GeneratePort:
			return invalid("TCP routes are not supported")
		}
		key := []byte(d.Guid + "/" + strings.ToLower(body.Host))
		if tx.Bucket(bRouteKeys).Get(key) != nil {
			return cfErr(400, 210003, "RouteHostTaken", "The host is taken: %s", body.Host)
		}
		rt := Route{Meta: s.newMeta(tx, bRoutes), Host: body.Host, DomainGuid: d.Guid, SpaceGuid: body.SpaceGuid}
		if err := put(tx, bRoutes, rt.Guid, rt); err != nil {
			return err
		}
		out = s.routeResource(tx, rt, max(1, depthOf(r)), false)
		return tx.Bucket(bRouteKeys).Put(key, []byte(rt.Guid))
	})
	if err != nil {
		return err
	}
	writeJSON(w, 201, out)
	return nil
}

func (s *Server) deleteRoute(w http.ResponseWriter, r *http.Request) error {
	g := routes.Param(r, "guid")
	var eff effects
	err := s.update(func(tx *bolt.Tx) error {
		eff = effects{}
		rt, ok, err := get[Route](tx, bRoutes, g)
		if err != nil || !ok {
			return orNotFound(err, errRouteNotFound(g))
		}
		apps, err := all[App](tx, bApps)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bRoutes).Delete([]byte(g)); err != nil {
			return err
		}
		if err := tx.Bucket(bRouteKeys).Delete([]byte(rt.DomainGuid + "/" + strings.ToLower(rt.Host))); err != nil {
			return err
		}
		for _, a := range apps {
			if i := slices.Index(a.RouteGuids, g); i >= 0 {
				a.RouteGuids = slices.Delete(a.RouteGuids, i, i+1)
				if err := s.saveMapping(tx, a, &eff); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.apply(r, "", eff)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// saveMapping stores a after a mapping change: new etag and, when running,
// a re-desire (spec §8.2).
func (s *Server) saveMapping(tx *bolt.Tx, a App, eff *effects) error {
	s.touch(&a)
	if a.ProcessGuid != "" {
		if err := s.desire(tx, a, eff); err != nil {
			return err
		}
	}
	return put(tx, bApps, a.Guid, a)
}

func (s *Server) reservedRoute(w http.ResponseWriter, r *http.Request) error {
	key := routes.Param(r, "domain_guid") + "/" + strings.ToLower(routes.Param(r, "host"))
	return s.view(func(tx *bolt.Tx) error {
		if tx.Bucket(bRouteKeys).Get([]byte(key)) == nil {
			return errRouteNotFound(key)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func (s *Server) mapRoute(w http.ResponseWriter, r *http.Request) error {
	g, rg := routes.Param(r, "guid"), routes.Param(r, "route_guid")
	var eff effects
	err := s.update(func(tx *bolt.Tx) error {
		eff = effects{}
		a, err := s.getAppTx(tx, g)
		if err != nil {
			return err
		}
		rt, ok, err := get[Route](tx, bRoutes, rg)
		if err != nil || !ok {
			return orNotFound(err, errRouteNotFound(rg))
		}
		if rt.SpaceGuid != a.SpaceGuid {
			return errRelation("The app cannot be mapped to this route because the route is not in this space")
		}
		if slices.Contains(a.RouteGuids, rg) {
			return nil
		}
		a.RouteGuids = append(a.RouteGuids, rg)
		return s.saveMapping(tx, a, &eff)
	})
	if err != nil {
		return err
	}
	s.apply(r, g, eff)
	return s.view(func(tx *bolt.Tx) error {
		a, err := s.getAppTx(tx, g)
		if err != nil {
			return err
		}
		writeJSON(w, 201, s.appResource(tx, a, 0))
		return nil
	})
}

func (s *Server) unmapRoute(w http.ResponseWriter, r *http.Request) error {
	g, rg := routes.Param(r, "guid"), routes.Param(r, "route_guid")
	var eff effects
	err := s.update(func(tx *bolt.Tx) error {
		eff = effects{}
		a, err := s.getAppTx(tx, g)
		if err != nil {
			return err
		}
		i := slices.Index(a.RouteGuids, rg)
		if i < 0 {
			return nil
		}
		a.RouteGuids = slices.Delete(a.RouteGuids, i, i+1)
		return s.saveMapping(tx, a, &eff)
	})
	if err != nil {
		return err
	}
	s.apply(r, g, eff)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
