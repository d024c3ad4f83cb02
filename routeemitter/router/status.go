package router

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
)

// StatusHandler serves /health and /healthz (no auth, as gorouter's
// status port does; 503 until health is ready, so a load balancer sends
// nothing during the start delay) and /routes, the table as JSON, behind
// basic auth.
func StatusHandler(registry *Registry, health *Health, username, password string) http.Handler {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if !health.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("starting\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}
	mux.HandleFunc("GET /health", ok)
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /routes", func(w http.ResponseWriter, r *http.Request) {
		user, pass, found := r.BasicAuth()
		if !found || subtle.ConstantTimeCompare([]byte(user), []byte(username)) != 1 ||
			subtle.ConstantTimeCompare([]byte(pass), []byte(password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="router"`)
			http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(registry.Routes())
	})
	return mux
}
