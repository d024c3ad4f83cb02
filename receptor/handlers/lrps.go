package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	bbsclient "diego/bbs/client"
	"diego/deploy/logging"
	"diego/deploy/routes"
	"diego/models"
	"diego/receptor"
)

func (s *server) createDesiredLRP(w http.ResponseWriter, r *http.Request) {
	var req receptor.DesiredLRPCreateRequest
	if !decode(w, r, &req) {
		return
	}
	desired := receptor.DesiredLRPFromRequest(req)
	if err := desired.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, receptor.InvalidLRP, err.Error())
		return
	}
	err := s.BBS.DesireLRP(r.Context(), desired)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusCreated)
	case errors.Is(err, models.ErrResourceExists):
		writeError(w, http.StatusConflict, receptor.DesiredLRPAlreadyExists,
			fmt.Sprintf("Desired LRP with guid '%s' already exists", req.ProcessGuid))
	case errors.Is(err, models.ErrBadRequest):
		writeError(w, http.StatusBadRequest, receptor.InvalidLRP, err.Error())
	default:
		logging.Session(s.Logger, "create-desired-lrp").Error("failed-to-desire-lrp", "process_guid", req.ProcessGuid, "error", err)
		writeUnknownError(w, err)
	}
}

func desiredLRPNotFound(w http.ResponseWriter, guid string) {
	writeError(w, http.StatusNotFound, receptor.DesiredLRPNotFound, fmt.Sprintf("Desired LRP with guid '%s' not found", guid))
}

func (s *server) getDesiredLRP(w http.ResponseWriter, r *http.Request) {
	guid := routes.Param(r, "process_guid")
	d, err := s.BBS.DesiredLRPByProcessGuid(r.Context(), guid)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, receptor.DesiredLRPToResponse(d))
	case errors.Is(err, models.ErrResourceNotFound):
		desiredLRPNotFound(w, guid)
	default:
		logging.Session(s.Logger, "get-desired-lrp").Error("failed-to-get-desired-lrp", "process_guid", guid, "error", err)
		writeUnknownError(w, err)
	}
}

func (s *server) updateDesiredLRP(w http.ResponseWriter, r *http.Request) {
	guid := routes.Param(r, "process_guid")
	var req receptor.DesiredLRPUpdateRequest
	if !decode(w, r, &req) {
		return
	}
	update := receptor.DesiredLRPUpdateFromRequest(req)
	if err := update.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, receptor.InvalidLRP, err.Error())
		return
	}
	err := s.BBS.UpdateDesiredLRP(r.Context(), guid, update)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, models.ErrResourceNotFound):
		desiredLRPNotFound(w, guid)
	case errors.Is(err, models.ErrResourceConflict):
		writeError(w, http.StatusInternalServerError, receptor.ResourceConflict,
			fmt.Sprintf("Desired LRP with guid '%s' failed to update", guid))
	case errors.Is(err, models.ErrBadRequest):
		writeError(w, http.StatusBadRequest, receptor.InvalidLRP, err.Error())
	default:
		logging.Session(s.Logger, "update-desired-lrp").Error("failed-to-update-desired-lrp", "process_guid", guid, "error", err)
		writeUnknownError(w, err)
	}
}

func (s *server) deleteDesiredLRP(w http.ResponseWriter, r *http.Request) {
	guid := routes.Param(r, "process_guid")
	err := s.BBS.RemoveDesiredLRP(r.Context(), guid)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, models.ErrResourceNotFound):
		desiredLRPNotFound(w, guid)
	default:
		logging.Session(s.Logger, "delete-desired-lrp").Error("failed-to-remove-desired-lrp", "process_guid", guid, "error", err)
		writeUnknownError(w, err)
	}
}

func (s *server) desiredLRPs(w http.ResponseWriter, r *http.Request) {
	lrps, err := s.BBS.DesiredLRPs(r.Context(), bbsclient.DesiredLRPFilter{Domain: r.URL.Query().Get("domain")})
	if err != nil {
		logging.Session(s.Logger, "desired-lrps").Error("failed-to-list-desired-lrps", "error", err)
		writeUnknownError(w, err)
		return
	}
	out := make([]receptor.DesiredLRPResponse, 0, len(lrps))
	for _, d := range lrps {
		out = append(out, receptor.DesiredLRPToResponse(d))
	}
	writeJSON(w, http.StatusOK, out)
}

func resolveGroups(groups []*models.ActualLRPGroup) []receptor.ActualLRPResponse {
	out := make([]receptor.ActualLRPResponse, 0, len(groups))
	for _, g := range groups {
		if resp, ok := receptor.ActualLRPGroupToResponse(g); ok {
			out = append(out, resp)
		}
	}
	return out
}

func (s *server) actualLRPs(w http.ResponseWriter, r *http.Request) {
	groups, err := s.BBS.ActualLRPGroups(r.Context(), r.URL.Query().Get("domain"), "")
	if err != nil {
		logging.Session(s.Logger, "actual-lrps").Error("failed-to-list-actual-lrps", "error", err)
		writeUnknownError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resolveGroups(groups))
}

func (s *server) actualLRPsByProcessGuid(w http.ResponseWriter, r *http.Request) {
	guid := routes.Param(r, "process_guid")
	groups, err := s.BBS.ActualLRPGroupsByProcessGuid(r.Context(), guid)
	if err != nil && !errors.Is(err, models.ErrResourceNotFound) {
		logging.Session(s.Logger, "actual-lrps-by-process-guid").Error("failed-to-list-actual-lrps", "process_guid", guid, "error", err)
		writeUnknownError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resolveGroups(groups))
}

// index reads the :index param; a non-number is 400 InvalidRequest.
func index(w http.ResponseWriter, r *http.Request) (int32, bool) {
	i, err := strconv.ParseInt(routes.Param(r, "index"), 10, 32)
	if err != nil {
		writeError(w, http.StatusBadRequest, receptor.InvalidRequest, "index not a number")
		return 0, false
	}
	return int32(i), true
}

func (s *server) actualLRPByIndex(w http.ResponseWriter, r *http.Request) {
	guid := routes.Param(r, "process_guid")
	i, ok := index(w, r)
	if !ok {
		return
	}
	g, err := s.BBS.ActualLRPGroupByProcessGuidAndIndex(r.Context(), guid, i)
	if err != nil && !errors.Is(err, models.ErrResourceNotFound) {
		logging.Session(s.Logger, "actual-lrp-by-index").Error("failed-to-get-actual-lrp", "process_guid", guid, "index", i, "error", err)
		writeUnknownError(w, err)
		return
	}
	resp, found := receptor.ActualLRPGroupToResponse(g)
	if err != nil || !found {
		// Diego's receptor answered a missing index with a JSON null.
		writeJSON(w, http.StatusNotFound, nil)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// killActualLRP retires one index; the convergence restarts it.
func (s *server) killActualLRP(w http.ResponseWriter, r *http.Request) {
	guid := routes.Param(r, "process_guid")
	i, ok := index(w, r)
	if !ok {
		return
	}
	logger := logging.Session(s.Logger, "kill-actual-lrp", "process_guid", guid, "index", i)
	notFound := func() {
		writeError(w, http.StatusNotFound, receptor.ActualLRPIndexNotFound,
			fmt.Sprintf("process-guid '%s' does not exist or has no instance at index %d", guid, i))
	}
	g, err := s.BBS.ActualLRPGroupByProcessGuidAndIndex(r.Context(), guid, i)
	if err != nil && !errors.Is(err, models.ErrResourceNotFound) {
		logger.Error("failed-to-get-actual-lrp", "error", err)
		writeUnknownError(w, err)
		return
	}
	lrp, _ := models.ResolveActualLRPGroup(g)
	if err != nil || lrp == nil {
		notFound()
		return
	}
	err = s.BBS.RetireActualLRP(r.Context(), lrp.GetActualLrpKey())
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, models.ErrResourceNotFound):
		notFound()
	default:
		logger.Error("failed-to-retire-actual-lrp", "error", err)
		writeUnknownError(w, err)
	}
}
