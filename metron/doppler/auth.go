package doppler

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"diego/deploy/clock"
)

// Auth modes (spec cell §7.5 item 3, cloud-controller §10.2).
const (
	AuthNone  = "none"
	AuthToken = "token"
	AuthCC    = "cc"
)

// ccCacheTTL is how long a CC "allowed" answer is reused (at most 10 s).
const ccCacheTTL = 10 * time.Second

// authorizer decides whether a request may read app's logs; it returns 0
// to allow, else the status to refuse with.
type authorizer interface {
	authorize(r *http.Request, app string) int
}

type noAuth struct{}

func (noAuth) authorize(*http.Request, string) int { return 0 }

// tokenAuth compares `Authorization: bearer <token>` (or the cf CLI's
// authorization cookie) with one static token.
type tokenAuth struct{ token string }

func (t tokenAuth) authorize(r *http.Request, _ string) int {
	if !bearerIs(authorization(r), t.token) {
		return http.StatusUnauthorized
	}
	return 0
}

// bearerIs reports whether header is `bearer <token>` (scheme in any case),
// comparing the token in constant time.
func bearerIs(header, token string) bool {
	scheme, tok, ok := strings.Cut(header, " ")
	return ok && token != "" && strings.EqualFold(scheme, "bearer") &&
		subtle.ConstantTimeCompare([]byte(tok), []byte(token)) == 1
}

// operatorAuth admits the operator's static token for every app id, and
// leaves every other request to next: the cf-facing checks stay the CC's,
// while the operator's tools read the logs of log guids that are no CC app
// (tasks and LRPs desired through the receptor).
type operatorAuth struct {
	token string
	next  authorizer
}

func (o operatorAuth) authorize(r *http.Request, app string) int {
	if bearerIs(authorization(r), o.token) {
		return 0
	}
	return o.next.authorize(r, app)
}

// authorization is the Authorization header, or the authorization cookie
// the traffic controller also accepts.
func authorization(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		return h
	}
	if c, err := r.Cookie("authorization"); err == nil {
		return c.Value
	}
	return ""
}

// ccAuth asks the cloud controller's log_access endpoint, passing the
// caller's header verbatim, and caches an allowed answer briefly.
type ccAuth struct {
	url    string
	client *http.Client
	clock  clock.Clock
	logger *slog.Logger
	mu     sync.Mutex
	cache  map[[2]string]time.Time
}

func newCCAuth(url string, clk clock.Clock, logger *slog.Logger) *ccAuth {
	return &ccAuth{url: strings.TrimSuffix(url, "/"), client: &http.Client{Timeout: 5 * time.Second}, clock: clk,
		logger: logger, cache: map[[2]string]time.Time{}}
}

func (c *ccAuth) authorize(r *http.Request, app string) int {
	h := authorization(r)
	if h == "" {
		return http.StatusUnauthorized
	}
	key := [2]string{h, app}
	c.mu.Lock()
	until, ok := c.cache[key]
	if ok && c.clock.Now().Before(until) {
		c.mu.Unlock()
		return 0
	}
	delete(c.cache, key)
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"/"+app, nil)
	if err != nil {
		return http.StatusServiceUnavailable
	}
	req.Header.Set("Authorization", h)
	resp, err := c.client.Do(req)
	if err != nil {
		c.logger.Error("cc-log-access-failed", "error", fmt.Errorf("asking %s: %w", c.url, err))
		return http.StatusServiceUnavailable
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		c.mu.Lock()
		if len(c.cache) > 10000 { // tokens are many; keep the cache small
			c.cache = map[[2]string]time.Time{}
		}
		c.cache[key] = c.clock.Now().Add(ccCacheTTL)
		c.mu.Unlock()
		return 0
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return resp.StatusCode
	}
	c.logger.Error("cc-log-access-unexpected-status", "status", resp.StatusCode)
	return http.StatusServiceUnavailable
}
