// Package handlers is the BBS API server: one handler per route of bbs.Routes,
// each following one recipe: parse (which validates) → call the storage and
// side effects → answer HTTP 200 with a protobuf response whose field 1
// carries any domain error (spec core §3.1).
package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"diego/auctioneer"
	"diego/bbs"
	"diego/bbs/db"
	"diego/bbs/events"
	"diego/deploy/clock"
	"diego/deploy/logging"
	"diego/deploy/routes"
	"diego/models"
)

// DefaultMaxRequestBytes bounds a request body when Deps.MaxRequestBytes is 0.
const DefaultMaxRequestBytes = 1 << 20

// Auctioneer places work (peers.Auctioneer).
type Auctioneer interface {
	RequestLRPAuctions(ctx context.Context, reqs []*auctioneer.LRPStartRequest) error
	RequestTaskAuctions(ctx context.Context, reqs []*auctioneer.TaskStartRequest) error
}

// RepClient is what the BBS asks of a rep.
type RepClient interface {
	StopLRPInstance(ctx context.Context, processGuid, instanceGuid string) error
	CancelTask(ctx context.Context, taskGuid string) error
}

// Reps finds the client for a cell from its presence's rep_address and
// rep_url (peers.Reps); it fails when the TLS settings allow neither.
type Reps interface {
	Rep(address, url string) (RepClient, error)
}

// Callbacks takes completed tasks that have a callback URL (taskcallback.Pool).
type Callbacks interface {
	Submit(task *models.Task)
}

// Metrics sends the BBS's metrics to metron (metron/emitter.Emitter).
type Metrics interface {
	SendValue(name string, value float64, unit string)
	SendDuration(name string, d time.Duration)
	IncrementCounter(name string)
	AddToCounter(name string, delta uint64)
}

type noMetrics struct{}

func (noMetrics) SendValue(string, float64, string)  {}
func (noMetrics) SendDuration(string, time.Duration) {}
func (noMetrics) IncrementCounter(string)            {}
func (noMetrics) AddToCounter(string, uint64)        {}

// Deps is everything the handlers use.
type Deps struct {
	Logger          *slog.Logger
	Clock           clock.Clock
	Tasks           db.TaskDB
	DesiredLRPs     db.DesiredLRPDB
	ActualLRPs      db.ActualLRPDB
	Domains         db.DomainDB
	Cells           db.CellDB
	Auctioneer      Auctioneer
	Reps            Reps
	Callbacks       Callbacks
	Metrics         Metrics // nil: none
	Hub             *events.Hub
	MaxTaskRetries  int32
	MaxRequestBytes int64
	// ConvergenceWorkers bounds the parallel writes of a convergence pass
	// (0: converge.DefaultConvergenceWorkers, the spec's 20).
	ConvergenceWorkers int
}

// Server serves the BBS API. Until MarkReady it answers 503 everywhere, as
// the BBS must while it starts (spec core §3.1).
type Server struct {
	deps    Deps
	logger  *slog.Logger
	ready   atomic.Bool
	router  http.Handler
	latency latencyMax
}

// New builds the server for every route that has a handler here.
func New(deps Deps) (*Server, error) {
	if deps.MaxRequestBytes == 0 {
		deps.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if deps.Metrics == nil {
		deps.Metrics = noMetrics{}
	}
	s := &Server{deps: deps, logger: logging.Session(deps.Logger, "api")}
	handlers := s.eventHandlers()
	for _, group := range []map[string]http.Handler{
		s.taskHandlers(), s.desiredLRPHandlers(), s.actualLRPHandlers(), s.miscHandlers(), s.convergeHandlers(),
	} {
		for name, h := range group {
			handlers[name] = s.timed(h)
		}
	}
	var table routes.Table
	for _, r := range bbs.Routes {
		if _, ok := handlers[r.Name]; ok {
			table = append(table, r)
		}
	}
	router, err := routes.NewRouter(table, handlers)
	if err != nil {
		return nil, fmt.Errorf("building the BBS router: %w", err)
	}
	s.router = router
	return s, nil
}

// MarkReady opens the API once the BBS has started.
func (s *Server) MarkReady() { s.ready.Store(true) }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "the BBS is starting", http.StatusServiceUnavailable)
		return
	}
	if id := r.Header.Get("X-Vcap-Request-Id"); id != "" {
		w.Header().Set("X-Vcap-Request-Id", id)
	}
	s.router.ServeHTTP(w, r)
	s.deps.Metrics.IncrementCounter("RequestCount")
}

// timed feeds RequestLatency. Only request/response routes are timed: an
// event stream's "latency" is its subscriber's lifetime.
func (s *Server) timed(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.deps.Clock.Now()
		h.ServeHTTP(w, r)
		if max, ok := s.latency.observe(s.deps.Clock.Since(start), start); ok {
			s.deps.Metrics.SendDuration("RequestLatency", max)
		}
	})
}

// latencyMax keeps the largest request latency of each second, so the
// RequestLatency metric costs one envelope a second rather than one per
// request (as modern Diego's max-latency metric does).
type latencyMax struct {
	mu     sync.Mutex
	max    time.Duration
	window time.Time
}

// observe records d at now; once a second it returns the largest latency
// seen since the last report.
func (l *latencyMax) observe(d time.Duration, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.max = max(l.max, d)
	if now.Sub(l.window) < time.Second {
		return 0, false
	}
	out := l.max
	l.max, l.window = 0, now
	return out, true
}

// response is every BBS response: field 1 is the error.
type response interface {
	proto.Message
	GetError() *models.Error
}

// unary builds the handler of one RPC: Req is parsed from the body and
// validated, then fn fills resp or returns an error that goes into
// resp.Error.
func unary[Req any, PReq interface {
	*Req
	proto.Message
}, Resp any, PResp interface {
	*Resp
	response
}](s *Server, name string, fn func(ctx context.Context, logger *slog.Logger, req PReq, resp PResp) error) http.Handler {
	// The route's session is built once; a request adds only its id.
	session := logging.Session(s.logger, name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger := session.With("request_id", r.Header.Get("X-Vcap-Request-Id"))
		var req PReq = new(Req)
		var resp PResp = new(Resp)
		err := s.parse(r, req)
		if err == nil {
			if v, ok := any(req).(models.Validator); ok {
				err = v.Validate()
			}
		}
		if err == nil {
			err = fn(r.Context(), logger, req, resp)
		}
		if err != nil {
			setError(resp, models.ConvertError(err))
			logger.Info("failed", "error", err)
		}
		writeProto(w, logger, resp)
	})
}

// maxPresize bounds the buffer a request's declared length presizes to what
// the pool keeps afterwards; a larger body grows it as it arrives.
const maxPresize = 64<<10 - 1

// parse reads a protobuf request body within the size limit. A wrong
// content type, an oversize body or bytes that do not parse are all
// InvalidRequest (spec core §3.1).
func (s *Server) parse(r *http.Request, req proto.Message) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != protobufContentType {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != protobufContentType {
			return models.NewError(models.Error_InvalidRequest, fmt.Sprintf("unsupported content type %q: send application/x-protobuf", ct))
		}
	}
	buf := routes.GetBuffer()
	defer routes.PutBuffer(buf)
	body, err := routes.ReadBody(*buf, http.MaxBytesReader(nil, r.Body, s.deps.MaxRequestBytes), r.ContentLength, maxPresize)
	*buf = body
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return models.NewError(models.Error_InvalidRequest, fmt.Sprintf("request body larger than %d bytes", tooBig.Limit))
		}
		return models.ErrBadRequest
	}
	if err := proto.Unmarshal(body, req); err != nil {
		return models.ErrBadRequest
	}
	return nil
}

// setError puts err in field 1 of a response.
func setError(resp response, err *models.Error) {
	m := resp.ProtoReflect()
	m.Set(m.Descriptor().Fields().ByNumber(1), protoreflect.ValueOfMessage(err.ProtoReflect()))
}

const protobufContentType = "application/x-protobuf"

// protobufContentTypeHeader is the Content-Type value every protobuf answer
// carries, shared so setting it allocates nothing (net/http only reads it).
var protobufContentTypeHeader = []string{protobufContentType}

func writeProto(w http.ResponseWriter, logger *slog.Logger, msg proto.Message) {
	buf := routes.GetBuffer()
	defer routes.PutBuffer(buf)
	body, err := proto.MarshalOptions{}.MarshalAppend(*buf, msg)
	if err != nil {
		logger.Error("encoding-response", "error", err)
		http.Error(w, "encoding the response failed", http.StatusInternalServerError)
		return
	}
	*buf = body
	// The whole body is at hand: say its length, so that a large answer (a
	// cell's LRPs) goes out in one piece rather than chunked.
	h := w.Header()
	h["Content-Type"] = protobufContentTypeHeader
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// now is the handlers' time in Unix nanoseconds.
func (s *Server) now() int64 { return s.deps.Clock.Now().UnixNano() }
