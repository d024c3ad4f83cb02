// Package logging builds the JSON slog loggers every daemon writes, with a
// "source" attribute naming the component and a dotted "session" attribute
// naming the operation in progress, so one request can be followed through
// nested operations by filtering on a session prefix.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// New returns a logger writing one JSON object per line to w, at level and
// above, with attribute source=component and times in UTC RFC3339Nano.
// Its own records have no session; sessions started from it are named
// "component.operation".
func New(w io.Writer, level slog.Level, component string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			// UTC so that logs from different hosts sort and compare directly.
			if len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
				return slog.Time(slog.TimeKey, a.Value.Time().UTC())
			}
			return a
		},
	})
	root := h.WithAttrs([]slog.Attr{slog.String("source", component)})
	return slog.New(&sessionHandler{root: root, session: component, unnamed: true})
}

// ParseLevel reads a log_level config value: debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("invalid log level %q: use debug, info, warn or error", s)
}

// Discard returns a logger that writes nothing, for tests.
func Discard() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

// Session returns a child of l for one operation. Its records carry
// session=<parent session>.<operation> (just operation if l has none) and
// the given attrs, such as guids.
func Session(l *slog.Logger, operation string, attrs ...any) *slog.Logger {
	parent, ok := l.Handler().(*sessionHandler)
	if !ok {
		parent = &sessionHandler{root: l.Handler(), unnamed: true}
	}

	name := operation
	if parent.session != "" {
		name = parent.session + "." + operation
	}

	child := &sessionHandler{root: parent.root, session: name}
	child.ops = append(child.ops, parent.ops...)
	if len(attrs) > 0 {
		child.ops = append(child.ops, withOp{attrs: argsToAttrs(attrs)})
	}
	return slog.New(child)
}

// sessionHandler keeps the session name out of the wrapped handler until it
// is final. A handler's attrs cannot be removed, so writing the session into
// it with WithAttrs would give a nested session two "session" keys. Instead
// it keeps the handler from before any session (root) and every
// WithAttrs/WithGroup made since (ops), and a child session replays them
// onto root after its own, longer, session attribute. That keeps "session"
// unique and at the top level even inside groups, and needs no parsing of
// output.
//
// The handler that writes is built only when a record is first written: a
// session per request is cheap when nothing is logged (the common case at
// info level on a busy server), because the JSON handler pre-formats
// attributes in WithAttrs.
type sessionHandler struct {
	root    slog.Handler
	session string
	unnamed bool // the component's own logger: no session attribute
	ops     []withOp

	once  sync.Once
	built slog.Handler // root + session attr + ops
}

// handler builds the writing handler on first use.
func (h *sessionHandler) handler() slog.Handler {
	h.once.Do(func() {
		b := h.root
		if !h.unnamed {
			b = b.WithAttrs([]slog.Attr{slog.String("session", h.session)})
		}
		for _, op := range h.ops {
			b = op.apply(b)
		}
		h.built = b
	})
	return h.built
}

// withOp is one WithGroup (group set) or WithAttrs call.
type withOp struct {
	group string
	attrs []slog.Attr
}

func (op withOp) apply(h slog.Handler) slog.Handler {
	if op.group != "" {
		return h.WithGroup(op.group)
	}
	return h.WithAttrs(op.attrs)
}

// Enabled asks the root: attributes and groups do not change the level.
func (h *sessionHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.root.Enabled(ctx, level)
}

func (h *sessionHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.handler().Handle(ctx, r)
}

func (h *sessionHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.with(withOp{attrs: attrs})
}

func (h *sessionHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(withOp{group: name})
}

func (h *sessionHandler) with(op withOp) *sessionHandler {
	ops := make([]withOp, len(h.ops), len(h.ops)+1)
	copy(ops, h.ops)
	return &sessionHandler{root: h.root, session: h.session, unnamed: h.unnamed, ops: append(ops, op)}
}

// argsToAttrs pairs up key-value arguments the way slog.Logger.With does,
// by letting a Record do it.
func argsToAttrs(args []any) []slog.Attr {
	var attrs []slog.Attr
	r := slog.NewRecord(time.Time{}, 0, "", 0)
	r.Add(args...)
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a)
		return true
	})
	return attrs
}
