package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"diego/deploy/logging"
	"diego/deploy/routes"
	"diego/models"
	"diego/receptor"
)

func (s *server) cells(w http.ResponseWriter, r *http.Request) {
	cells, err := s.BBS.Cells(r.Context())
	if err != nil {
		logging.Session(s.Logger, "cells").Error("failed-to-list-cells", "error", err)
		writeUnknownError(w, err)
		return
	}
	out := make([]receptor.CellResponse, 0, len(cells))
	for _, c := range cells {
		out = append(out, receptor.CellToResponse(c))
	}
	writeJSON(w, http.StatusOK, out)
}

// maxAge reads the domain's TTL from Cache-Control: max-age=<seconds>; no
// header means no expiry.
func maxAge(r *http.Request) (time.Duration, error) {
	values := r.Header.Values("Cache-Control")
	if len(values) == 0 {
		return 0, nil
	}
	for _, v := range values {
		for _, directive := range strings.Split(v, ",") {
			directive = strings.TrimSpace(directive)
			if seconds, ok := strings.CutPrefix(directive, "max-age="); ok {
				n, err := strconv.ParseUint(seconds, 10, 32)
				if err != nil {
					return 0, fmt.Errorf("invalid-max-age-directive: %s", directive)
				}
				return time.Duration(n) * time.Second, nil
			}
		}
	}
	return 0, fmt.Errorf("max-age directive missing from request")
}

func (s *server) upsertDomain(w http.ResponseWriter, r *http.Request) {
	domain := routes.Param(r, "domain")
	ttl, err := maxAge(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, receptor.InvalidRequest, err.Error())
		return
	}
	err = s.BBS.UpsertDomain(r.Context(), domain, ttl)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, models.ErrBadRequest):
		writeError(w, http.StatusBadRequest, receptor.InvalidDomain, err.Error())
	default:
		logging.Session(s.Logger, "upsert-domain").Error("failed-to-upsert-domain", "domain", domain, "error", err)
		writeUnknownError(w, err)
	}
}

func (s *server) domains(w http.ResponseWriter, r *http.Request) {
	domains, err := s.BBS.Domains(r.Context())
	if err != nil {
		logging.Session(s.Logger, "domains").Error("failed-to-list-domains", "error", err)
		writeUnknownError(w, err)
		return
	}
	if domains == nil {
		domains = []string{}
	}
	writeJSON(w, http.StatusOK, domains)
}

// authCookie hands the caller's Authorization header back as the
// receptor_authorization cookie (auth, when on, has already checked it).
func (s *server) authCookie(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "" {
		w.WriteHeader(http.StatusNoContent) // nothing to hand back
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     receptor.AuthorizationCookieName,
		Value:    r.Header.Get("Authorization"),
		HttpOnly: true,
	})
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Version)
}
