// Package handlers serves the receptor's 2015 JSON API (spec core §3.5) by
// translating each route into BBS calls.
package handlers

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	bbsclient "diego/bbs/client"
	"diego/deploy/logging"
	"diego/deploy/routes"
	"diego/models"
	"diego/receptor"
)

// BBS is what the receptor needs of the BBS; *bbsclient.Client satisfies it.
type BBS interface {
	Tasks(ctx context.Context, f bbsclient.TaskFilter) ([]*models.Task, error)
	TaskByGuid(ctx context.Context, taskGuid string) (*models.Task, error)
	DesireTask(ctx context.Context, taskGuid, domain string, def *models.TaskDefinition) error
	CancelTask(ctx context.Context, taskGuid string) error
	ResolvingTask(ctx context.Context, taskGuid string) error
	DeleteTask(ctx context.Context, taskGuid string) error

	DesiredLRPs(ctx context.Context, f bbsclient.DesiredLRPFilter) ([]*models.DesiredLRP, error)
	DesiredLRPByProcessGuid(ctx context.Context, processGuid string) (*models.DesiredLRP, error)
	DesireLRP(ctx context.Context, d *models.DesiredLRP) error
	UpdateDesiredLRP(ctx context.Context, processGuid string, update *models.DesiredLRPUpdate) error
	RemoveDesiredLRP(ctx context.Context, processGuid string) error

	ActualLRPGroups(ctx context.Context, domain, cellID string) ([]*models.ActualLRPGroup, error)
	ActualLRPGroupsByProcessGuid(ctx context.Context, processGuid string) ([]*models.ActualLRPGroup, error)
	ActualLRPGroupByProcessGuidAndIndex(ctx context.Context, processGuid string, index int32) (*models.ActualLRPGroup, error)
	RetireActualLRP(ctx context.Context, key *models.ActualLRPKey) error

	Cells(ctx context.Context) ([]*models.CellPresence, error)
	Domains(ctx context.Context) ([]string, error)
	UpsertDomain(ctx context.Context, domain string, ttl time.Duration) error
}

// EventSource is one BBS event stream (what bbsclient.EventSource does).
type EventSource interface {
	Next() (models.Event, error)
	Close() error
}

// EventSubscriber opens the BBS's LRP event stream (desired and actual LRP
// group events).
type EventSubscriber interface {
	SubscribeToEvents(ctx context.Context) (EventSource, error)
}

// BBSEvents adapts the BBS client to EventSubscriber.
func BBSEvents(c *bbsclient.Client) EventSubscriber { return bbsEvents{c} }

type bbsEvents struct{ c *bbsclient.Client }

func (b bbsEvents) SubscribeToEvents(ctx context.Context) (EventSource, error) {
	return b.c.SubscribeToEvents(ctx)
}

// Deps is what the handlers are built from.
type Deps struct {
	Logger *slog.Logger
	BBS    BBS
	Events EventSubscriber
	// Username turns on basic auth (with Password) for every route.
	Username, Password string
	// CORSEnabled echoes Origin and answers OPTIONS preflights.
	CORSEnabled bool
	// Version is the body of GET /v1/version.
	Version receptor.VersionResponse
}

type server struct {
	Deps
}

// New returns the receptor API with its auth and CORS middleware.
func New(deps Deps) (http.Handler, error) {
	if deps.Logger == nil {
		deps.Logger = logging.Discard()
	}
	s := &server{deps}
	h := map[string]http.HandlerFunc{
		receptor.CreateTaskRoute: s.createTask,
		receptor.TasksRoute:      s.tasks,
		receptor.GetTaskRoute:    s.getTask,
		receptor.DeleteTaskRoute: s.deleteTask,
		receptor.CancelTaskRoute: s.cancelTask,

		receptor.CreateDesiredLRPRoute: s.createDesiredLRP,
		receptor.GetDesiredLRPRoute:    s.getDesiredLRP,
		receptor.UpdateDesiredLRPRoute: s.updateDesiredLRP,
		receptor.DeleteDesiredLRPRoute: s.deleteDesiredLRP,
		receptor.DesiredLRPsRoute:      s.desiredLRPs,

		receptor.ActualLRPsRoute:                         s.actualLRPs,
		receptor.ActualLRPsByProcessGuidRoute:            s.actualLRPsByProcessGuid,
		receptor.ActualLRPByProcessGuidAndIndexRoute:     s.actualLRPByIndex,
		receptor.KillActualLRPByProcessGuidAndIndexRoute: s.killActualLRP,

		receptor.CellsRoute:        s.cells,
		receptor.UpsertDomainRoute: s.upsertDomain,
		receptor.DomainsRoute:      s.domains,

		receptor.EventStreamRoute:      s.events,
		receptor.CreateAuthCookieRoute: s.authCookie,
		receptor.VersionRoute:          s.version,
	}
	handlers := make(map[string]http.Handler, len(h))
	for name, f := range h {
		handlers[name] = f
	}
	router, err := routes.NewRouter(receptor.Routes, handlers)
	if err != nil {
		return nil, err
	}
	var handler http.Handler = router
	if deps.Username != "" {
		handler = BasicAuth(handler, deps.Username, deps.Password)
	}
	if deps.CORSEnabled {
		handler = CORS(handler)
	}
	return logRequests(handler, deps.Logger), nil
}

func logRequests(next http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := logging.Session(logger, "request", "method", r.Method, "request", r.URL.String())
		l.Debug("serving")
		next.ServeHTTP(w, r)
		l.Debug("done")
	})
}

// BasicAuth requires HTTP basic auth with username and password. A
// receptor_authorization cookie is first copied into the Authorization
// header, for clients (EventSource) that cannot set headers.
func BasicAuth(next http.Handler, username, password string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(receptor.AuthorizationCookieName); err == nil && c.Value != "" {
			r.Header.Set("Authorization", c.Value)
		}
		user, pass, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(username)) != 1 ||
			subtle.ConstantTimeCompare([]byte(pass), []byte(password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="API Authentication"`)
			writeError(w, http.StatusUnauthorized, receptor.Unauthorized, http.StatusText(http.StatusUnauthorized))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CORS echoes the request's Origin and allows credentials; an OPTIONS
// preflight is answered here with the requested methods and headers.
func CORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions {
			if m := r.Header.Get("Access-Control-Request-Method"); m != "" {
				w.Header().Set("Access-Control-Allow-Methods", m)
			}
			if h := r.Header.Get("Access-Control-Request-Headers"); h != "" {
				w.Header().Set("Access-Control-Allow-Headers", h)
			}
			w.WriteHeader(http.StatusOK)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, receptor.UnknownError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, status int, name, message string) {
	writeJSON(w, status, receptor.Error{Type: name, Message: message})
}

func writeUnknownError(w http.ResponseWriter, err error) {
	writeError(w, http.StatusInternalServerError, receptor.UnknownError, err.Error())
}

// decode reads a JSON body; a failure is answered 400 InvalidJSON.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, receptor.InvalidJSON, err.Error())
		return false
	}
	return true
}
