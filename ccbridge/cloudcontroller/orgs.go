package cloudcontroller

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"diego/deploy/routes"
)

// Version is reported by /v2/info and /uaa/login.
var Version = "dev"

func (s *Server) info(w http.ResponseWriter, r *http.Request) error {
	auth := s.cfg.ExternalURL + "/uaa"
	writeJSON(w, 200, map[string]any{
		"name": "diego", "build": Version, "support": "", "version": 0, "description": "diego local Cloud Controller",
		"authorization_endpoint": auth, "token_endpoint": auth, "api_version": "2.54.0",
		"doppler_logging_endpoint": s.cfg.DopplerLoggingEndpoint, "logging_endpoint": s.cfg.DopplerLoggingEndpoint,
		"min_cli_version": nil, "min_recommended_cli_version": nil, "app_ssh_oauth_client": "ssh-proxy",
	})
	return nil
}

func (s *Server) uaaLogin(w http.ResponseWriter, r *http.Request) {
	u := s.cfg.ExternalURL + "/uaa"
	writeJSON(w, 200, map[string]any{"app": map[string]any{"version": Version}, "links": map[string]any{"uaa": u, "login": u},
		"prompts": map[string]any{"username": []string{"text", "Username"}, "password": []string{"password", "Password"}}})
}

func uaaErr(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// uaaToken is the password and refresh grants (spec §3.3).
func (s *Server) uaaToken(w http.ResponseWriter, r *http.Request) {
	client, secret, ok := r.BasicAuth()
	if !ok || client != "cf" || secret != "" {
		uaaErr(w, 401, "invalid_client", "Bad client credentials")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxJSONBodyBytes)
	if err := r.ParseForm(); err != nil {
		uaaErr(w, 400, "invalid_request", "the body must be a form")
		return
	}
	grant := r.PostForm.Get("grant_type")
	switch grant {
	case "password":
		user, pass := r.PostForm.Get("username"), r.PostForm.Get("password")
		if user == "" || pass == "" {
			uaaErr(w, 400, "invalid_request", "username and password are required")
			return
		}
		if subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.AdminUser)) != 1 ||
			subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.AdminPassword)) != 1 {
			uaaErr(w, 401, "unauthorized", "Bad credentials")
			return
		}
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		if rt == "" {
			uaaErr(w, 400, "invalid_request", "refresh_token is required")
			return
		}
		c, err := s.tokens.Verify(rt, "refresh", s.clock.Now())
		if err != nil || c.UserID != s.user.Guid {
			uaaErr(w, 401, "invalid_grant", "Refresh token expired or invalid; log in again")
			return
		}
	default:
		uaaErr(w, 400, "unsupported_grant_type", "grant_type must be password or refresh_token")
		return
	}
	now := s.clock.Now().Unix()
	base := Claims{Jti: randomHex(16), Sub: s.user.Guid, UserID: s.user.Guid, UserName: s.user.Name, Email: s.user.Name,
		ClientID: "cf", Cid: "cf", Azp: "cf", GrantType: grant, Scope: Scopes, Iss: s.tokens.issuer, Iat: now,
		Origin: "uaa", Zid: "uaa"}
	access := base
	access.Aud = []string{"cloud_controller", "doppler", "openid", "cf"}
	access.Exp = now + int64(s.cfg.AccessTokenTTL.Duration().Seconds())
	access.TokenUse = "access"
	refresh := base
	refresh.Jti = base.Jti + "-r"
	refresh.Aud = []string{"cf"}
	refresh.Exp = now + int64(s.cfg.RefreshTokenTTL.Duration().Seconds())
	refresh.TokenUse = "refresh"
	at, err1 := s.tokens.Sign(access)
	rt, err2 := s.tokens.Sign(refresh)
	if err1 != nil || err2 != nil {
		uaaErr(w, 500, "server_error", "signing failed")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, 200, map[string]any{"access_token": at, "token_type": "bearer", "refresh_token": rt,
		"expires_in": int(s.cfg.AccessTokenTTL.Duration().Seconds()), "jti": access.Jti, "scope": strings.Join(Scopes, " ")})
}

// ---- seeds (spec §1.4)

func (s *Server) newMeta(tx *bolt.Tx, bucket []byte) Meta {
	seq, _ := tx.Bucket(bucket).NextSequence()
	return Meta{Guid: uuid.NewString(), CreatedAt: s.now(), Seq: seq}
}

func (s *Server) seed() error {
	return s.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		user, found, err := get[User](tx, bMeta, "user")
		if err != nil {
			return err
		}
		if !found {
			user = User{Guid: uuid.NewString()}
		}
		user.Name = s.cfg.AdminUser
		if err := put(tx, bMeta, "user", user); err != nil {
			return err
		}
		s.user = user
		if meta.Get([]byte("seeded")) == nil {
			q := Quota{Meta: s.newMeta(tx, bQuotas), Name: "default", MemoryLimit: s.cfg.OrgMemoryLimitMB}
			o := Org{Meta: s.newMeta(tx, bOrgs), Name: s.cfg.DefaultOrg, QuotaGuid: q.Guid}
			sp := Space{Meta: s.newMeta(tx, bSpaces), Name: s.cfg.DefaultSpace, OrgGuid: o.Guid}
			d := Domain{Meta: s.newMeta(tx, bDomains), Name: s.cfg.SharedDomain}
			for _, e := range []error{put(tx, bQuotas, q.Guid, q), put(tx, bOrgs, o.Guid, o), put(tx, bSpaces, sp.Guid, sp),
				put(tx, bDomains, d.Guid, d),
				tx.Bucket(bOrgNames).Put([]byte(strings.ToLower(o.Name)), []byte(o.Guid)),
				tx.Bucket(bSpaceNames).Put([]byte(o.Guid+"/"+strings.ToLower(sp.Name)), []byte(sp.Guid)),
				meta.Put([]byte("schema_version"), []byte("1")), meta.Put([]byte("seeded"), []byte("true"))} {
				if e != nil {
					return e
				}
			}
		}
		stacks, err := all[Stack](tx, bStacks)
		if err != nil {
			return err
		}
		for _, want := range s.cfg.Stacks {
			st := Stack{Meta: s.newMeta(tx, bStacks)}
			for _, have := range stacks {
				if have.Name == want.Name {
					st = have
				}
			}
			st.Name, st.Description = want.Name, want.Description
			if err := put(tx, bStacks, st.Guid, st); err != nil {
				return err
			}
		}
		bps, err := all[Buildpack](tx, bBuildpacks)
		if err != nil {
			return err
		}
		for i, name := range builtinNames {
			bp := Buildpack{Meta: s.newMeta(tx, bBuildpacks)}
			for _, have := range bps {
				if have.Name == name {
					bp = have
				}
			}
			bp.Name, bp.Position, bp.Filename = name, i+1, name+".zip"
			if err := put(tx, bBuildpacks, bp.Guid, bp); err != nil {
				return err
			}
		}
		return nil
	})
}

// ---- orgs and spaces (spec §4)

func (s *Server) quotaEntity(q Quota) map[string]any {
	return envelope(q.Meta, "/v2/quota_definitions/"+q.Guid, map[string]any{"name": q.Name, "non_basic_services_allowed": false,
		"total_services": 0, "total_routes": -1, "memory_limit": q.MemoryLimit, "instance_memory_limit": -1,
		"app_instance_limit": -1, "total_reserved_route_ports": 0})
}

func (s *Server) orgResource(tx *bolt.Tx, o Org, depth int) map[string]any {
	e := map[string]any{"name": o.Name, "billing_enabled": false, "quota_definition_guid": o.QuotaGuid, "status": "active",
		"spaces_url": "/v2/organizations/" + o.Guid + "/spaces", "private_domains_url": "/v2/organizations/" + o.Guid + "/private_domains",
		"quota_definition_url": "/v2/quota_definitions/" + o.QuotaGuid}
	if depth >= 1 {
		spaces := []map[string]any{}
		list, _ := all[Space](tx, bSpaces)
		for _, sp := range list {
			if sp.OrgGuid == o.Guid {
				spaces = append(spaces, s.spaceResource(tx, sp, 0))
			}
		}
		e["spaces"] = spaces
		if q, ok, _ := get[Quota](tx, bQuotas, o.QuotaGuid); ok {
			e["quota_definition"] = s.quotaEntity(q)
		}
	}
	return envelope(o.Meta, "/v2/organizations/"+o.Guid, e)
}

func (s *Server) spaceResource(tx *bolt.Tx, sp Space, depth int) map[string]any {
	e := map[string]any{"name": sp.Name, "organization_guid": sp.OrgGuid, "allow_ssh": false, "space_quota_definition_guid": nil,
		"organization_url": "/v2/organizations/" + sp.OrgGuid, "apps_url": "/v2/spaces/" + sp.Guid + "/apps",
		"routes_url": "/v2/spaces/" + sp.Guid + "/routes"}
	if depth >= 1 {
		if o, ok, _ := get[Org](tx, bOrgs, sp.OrgGuid); ok {
			e["organization"] = s.orgResource(tx, o, 0)
		}
	}
	return envelope(sp.Meta, "/v2/spaces/"+sp.Guid, e)
}

func (s *Server) listOrgs(w http.ResponseWriter, r *http.Request) error {
	return s.list(w, r, []string{"name"}, true, func(tx *bolt.Tx, lq listQuery) ([]item, error) {
		orgs, err := all[Org](tx, bOrgs)
		var out []item
		for _, o := range orgs {
			out = append(out, item{seq: o.Seq, name: o.Name, attrs: map[string]string{"name": o.Name},
				render: func(d int) map[string]any { return s.orgResource(tx, o, d) }})
		}
		return out, err
	})
}

func (s *Server) getOrg(w http.ResponseWriter, r *http.Request) error {
	g := routes.Param(r, "guid")
	return s.view(func(tx *bolt.Tx) error {
		o, ok, err := get[Org](tx, bOrgs, g)
		if err != nil {
			return err
		}
		if !ok {
			return cfErr(404, 30003, "OrganizationNotFound", "The organization could not be found: %s", g)
		}
		writeJSON(w, 200, s.orgResource(tx, o, depthOf(r)))
		return nil
	})
}

func validName(n string) bool { return strings.TrimSpace(n) != "" && len(n) <= 255 }

func (s *Server) createOrg(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name string `json:"name"`
	}
	if _, err := s.decode(r, &body); err != nil {
		return err
	}
	if !validName(body.Name) {
		return cfErr(400, 30001, "OrganizationInvalid", "The organization info is invalid: name must be 1 to 255 characters")
	}
	var out map[string]any
	err := s.update(func(tx *bolt.Tx) error {
		key := []byte(strings.ToLower(body.Name))
		if tx.Bucket(bOrgNames).Get(key) != nil {
			return cfErr(400, 30002, "OrganizationNameTaken", "The organization name is taken: %s", body.Name)
		}
		quotas, err := all[Quota](tx, bQuotas)
		if err != nil || len(quotas) == 0 {
			return err
		}
		o := Org{Meta: s.newMeta(tx, bOrgs), Name: body.Name, QuotaGuid: quotas[0].Guid}
		if err := put(tx, bOrgs, o.Guid, o); err != nil {
			return err
		}
		out = s.orgResource(tx, o, 0)
		return tx.Bucket(bOrgNames).Put(key, []byte(o.Guid))
	})
	if err != nil {
		return err
	}
	writeJSON(w, 201, out)
	return nil
}

func (s *Server) orgSpaces(w http.ResponseWriter, r *http.Request) error {
	og := routes.Param(r, "guid")
	return s.list(w, r, []string{"name"}, true, func(tx *bolt.Tx, lq listQuery) ([]item, error) {
		if _, ok, _ := get[Org](tx, bOrgs, og); !ok {
			return nil, cfErr(404, 30003, "OrganizationNotFound", "The organization could not be found: %s", og)
		}
		spaces, err := all[Space](tx, bSpaces)
		var out []item
		for _, sp := range spaces {
			if sp.OrgGuid == og {
				out = append(out, item{seq: sp.Seq, name: sp.Name, attrs: map[string]string{"name": sp.Name},
					render: func(d int) map[string]any { return s.spaceResource(tx, sp, d) }})
			}
		}
		return out, err
	})
}

// roleNoop accepts role assignment for the admin user only (spec §4).
func (s *Server) roleNoop(w http.ResponseWriter, r *http.Request) error {
	if ug := routes.Param(r, "user_guid"); ug != s.user.Guid {
		return cfErr(404, 20003, "UserNotFound", "The user could not be found: %s", ug)
	}
	g := routes.Param(r, "guid")
	return s.view(func(tx *bolt.Tx) error {
		if strings.HasPrefix(r.URL.Path, "/v2/organizations/") {
			o, ok, err := get[Org](tx, bOrgs, g)
			if err != nil || !ok {
				return orNotFound(err, cfErr(404, 30003, "OrganizationNotFound", "The organization could not be found: %s", g))
			}
			writeJSON(w, 201, s.orgResource(tx, o, 0))
			return nil
		}
		sp, ok, err := get[Space](tx, bSpaces, g)
		if err != nil || !ok {
			return orNotFound(err, cfErr(404, 40004, "SpaceNotFound", "The app space could not be found: %s", g))
		}
		writeJSON(w, 201, s.spaceResource(tx, sp, 0))
		return nil
	})
}

func orNotFound(err error, nf *apiError) error {
	if err != nil {
		return err
	}
	return nf
}

func (s *Server) getSpace(w http.ResponseWriter, r *http.Request) error {
	g := routes.Param(r, "guid")
	return s.view(func(tx *bolt.Tx) error {
		sp, ok, err := get[Space](tx, bSpaces, g)
		if err != nil || !ok {
			return orNotFound(err, cfErr(404, 40004, "SpaceNotFound", "The app space could not be found: %s", g))
		}
		writeJSON(w, 200, s.spaceResource(tx, sp, depthOf(r)))
		return nil
	})
}

func (s *Server) createSpace(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name    string `json:"name"`
		OrgGuid string `json:"organization_guid"`
	}
	if _, err := s.decode(r, &body); err != nil {
		return err
	}
	var out map[string]any
	err := s.update(func(tx *bolt.Tx) error {
		if _, ok, err := get[Org](tx, bOrgs, body.OrgGuid); err != nil || !ok {
			return orNotFound(err, errRelation("organization "+body.OrgGuid+" does not exist"))
		}
		if !validName(body.Name) {
			return cfErr(400, 40001, "SpaceInvalid", "The app space info is invalid: name must be 1 to 255 characters")
		}
		key := []byte(body.OrgGuid + "/" + strings.ToLower(body.Name))
		if tx.Bucket(bSpaceNames).Get(key) != nil {
			return cfErr(400, 40002, "SpaceNameTaken", "The app space name is taken: %s", body.Name)
		}
		sp := Space{Meta: s.newMeta(tx, bSpaces), Name: body.Name, OrgGuid: body.OrgGuid}
		if err := put(tx, bSpaces, sp.Guid, sp); err != nil {
			return err
		}
		out = s.spaceResource(tx, sp, depthOf(r))
		return tx.Bucket(bSpaceNames).Put(key, []byte(sp.Guid))
	})
	if err != nil {
		return err
	}
	writeJSON(w, 201, out)
	return nil
}

// ---- domains, stacks, buildpacks, feature flags

func domainResource(d Domain) map[string]any {
	return envelope(d.Meta, "/v2/shared_domains/"+d.Guid, map[string]any{"name": d.Name, "router_group_guid": nil, "router_group_type": nil})
}

func (s *Server) listDomains(w http.ResponseWriter, r *http.Request) error {
	return s.list(w, r, []string{"name"}, true, func(tx *bolt.Tx, lq listQuery) ([]item, error) {
		ds, err := all[Domain](tx, bDomains)
		var out []item
		for _, d := range ds {
			out = append(out, item{seq: d.Seq, name: d.Name, attrs: map[string]string{"name": d.Name},
				render: func(int) map[string]any { return domainResource(d) }})
		}
		return out, err
	})
}

func (s *Server) getDomain(w http.ResponseWriter, r *http.Request) error {
	g := routes.Param(r, "guid")
	return s.view(func(tx *bolt.Tx) error {
		d, ok, err := get[Domain](tx, bDomains, g)
		if err != nil || !ok {
			return orNotFound(err, cfErr(404, 130002, "DomainNotFound", "The domain could not be found: %s", g))
		}
		writeJSON(w, 200, domainResource(d))
		return nil
	})
}

func stackResource(st Stack) map[string]any {
	return envelope(st.Meta, "/v2/stacks/"+st.Guid, map[string]any{"name": st.Name, "description": st.Description})
}

func (s *Server) listStacks(w http.ResponseWriter, r *http.Request) error {
	return s.list(w, r, []string{"name"}, true, func(tx *bolt.Tx, lq listQuery) ([]item, error) {
		sts, err := all[Stack](tx, bStacks)
		var out []item
		for _, st := range sts {
			out = append(out, item{seq: st.Seq, name: st.Name, attrs: map[string]string{"name": st.Name},
				render: func(int) map[string]any { return stackResource(st) }})
		}
		return out, err
	})
}

func (s *Server) getStack(w http.ResponseWriter, r *http.Request) error {
	g := routes.Param(r, "guid")
	return s.view(func(tx *bolt.Tx) error {
		st, ok, err := get[Stack](tx, bStacks, g)
		if err != nil || !ok {
			return orNotFound(err, cfErr(404, 250003, "StackNotFound", "The stack could not be found: %s", g))
		}
		writeJSON(w, 200, stackResource(st))
		return nil
	})
}

func (s *Server) listBuildpacks(w http.ResponseWriter, r *http.Request) error {
	return s.list(w, r, []string{"name"}, false, func(tx *bolt.Tx, lq listQuery) ([]item, error) {
		bps, err := all[Buildpack](tx, bBuildpacks)
		var out []item
		for _, bp := range bps {
			out = append(out, item{seq: uint64(bp.Position), name: bp.Name, attrs: map[string]string{"name": bp.Name},
				render: func(int) map[string]any {
					return envelope(bp.Meta, "/v2/buildpacks/"+bp.Guid, map[string]any{"name": bp.Name, "position": bp.Position,
						"enabled": true, "locked": false, "filename": bp.Filename, "key": bp.Name})
				}})
		}
		return out, err
	})
}

var featureFlags = map[string]bool{"set_roles_by_username": false, "app_bits_upload": true, "diego_docker": false}

func (s *Server) featureFlag(w http.ResponseWriter, r *http.Request) error {
	name := routes.Param(r, "name")
	enabled, ok := featureFlags[name]
	if !ok {
		return cfErr(404, 330000, "FeatureFlagNotFound", "The feature flag could not be found: %s", name)
	}
	writeJSON(w, 200, map[string]any{"name": name, "enabled": enabled, "error_message": nil, "url": "/v2/config/feature_flags/" + name})
	return nil
}

var _ = context.Background
