package doppler

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"diego/deploy/clock"
	"diego/deploy/routes"
	"diego/metron"
)

// writeTimeout bounds one websocket write: a consumer that cannot take a
// message in that time is disconnected.
const writeTimeout = 10 * time.Second

// HandlerConfig configures the traffic-controller routes.
type HandlerConfig struct {
	AuthMode, AuthToken, CCLogAccessURL string
	// OperatorToken, in AuthCC mode, is a bearer token admitted for every
	// app id without asking the CC (the operator's `diego logs`/`diego top`).
	OperatorToken string
	PingInterval  time.Duration
}

// API serves the stream, recentlogs and containermetrics routes.
type API struct {
	http.Handler
	h *handlers
}

// Close ends every open stream with a normal close frame (a hijacked
// websocket outlives the HTTP server's shutdown otherwise).
func (a *API) Close() { a.h.closeOnce.Do(func() { close(a.h.done) }) }

// NewAPI builds the traffic-controller routes over store.
func NewAPI(cfg HandlerConfig, store *Store, clk clock.Clock, logger *slog.Logger) (*API, error) {
	var auth authorizer = noAuth{}
	switch cfg.AuthMode {
	case AuthToken:
		auth = tokenAuth{token: cfg.AuthToken}
	case AuthCC:
		auth = newCCAuth(cfg.CCLogAccessURL, clk, logger)
		if cfg.OperatorToken != "" {
			auth = operatorAuth{token: cfg.OperatorToken, next: auth}
		}
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 30 * time.Second
	}
	h := &handlers{store: store, auth: auth, ping: cfg.PingInterval, logger: logger.With("session", "doppler-api"), done: make(chan struct{}),
		upgrader: websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}}
	router, err := routes.NewRouter(metron.Routes, map[string]http.Handler{
		metron.StreamRoute:           h.guard(h.stream),
		metron.RecentLogsRoute:       h.guard(func(w http.ResponseWriter, r *http.Request, app string) { h.multipart(w, store.RecentLogs(app)) }),
		metron.ContainerMetricsRoute: h.guard(func(w http.ResponseWriter, r *http.Request, app string) { h.multipart(w, store.ContainerMetrics(app)) }),
	})
	if err != nil {
		return nil, err
	}
	return &API{Handler: router, h: h}, nil
}

type handlers struct {
	store     *Store
	auth      authorizer
	ping      time.Duration
	logger    *slog.Logger
	upgrader  websocket.Upgrader
	done      chan struct{}
	closeOnce sync.Once
}

func (h *handlers) guard(next func(http.ResponseWriter, *http.Request, string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		app := routes.Param(r, "app_id")
		if status := h.auth.authorize(r, app); status != 0 {
			http.Error(w, http.StatusText(status), status)
			return
		}
		next(w, r, app)
	})
}

// multipart writes one envelope per part, as the traffic controller does.
func (h *handlers) multipart(w http.ResponseWriter, msgs []message) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	mw := multipart.NewWriter(w)
	if err := mw.SetBoundary(hex.EncodeToString(b[:])); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "multipart/x-protobuf; boundary="+mw.Boundary())
	w.WriteHeader(http.StatusOK)
	for _, m := range msgs {
		part, err := mw.CreatePart(textproto.MIMEHeader{})
		if err != nil {
			return
		}
		if _, err := part.Write(m.raw); err != nil {
			return
		}
	}
	_ = mw.Close()
}

// stream upgrades to a websocket and sends each of the app's envelopes as one
// binary message, with keep-alive pings, until either side closes.
func (h *handlers) stream(w http.ResponseWriter, r *http.Request, app string) {
	// Subscribed before the upgrade answers, so that a consumer misses
	// nothing sent after its handshake.
	sub, cancel := h.store.Subscribe(app)
	defer cancel()
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	defer conn.Close()

	// The reader notices the consumer's close (and answers its pings).
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()
	ticker := time.NewTicker(h.ping)
	defer ticker.Stop()
	for {
		select {
		case m := <-sub.ch:
			_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := conn.WriteMessage(websocket.BinaryMessage, m.raw); err != nil {
				return
			}
		case <-ticker.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
				return
			}
		case <-gone:
			return
		case <-h.done:
			_ = conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			return
		}
	}
}
