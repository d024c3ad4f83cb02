package events

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"

	"google.golang.org/protobuf/proto"

	"diego/models"
)

// Convert lets a stream rewrite an event before it is sent, e.g. to the V0
// form of a desired LRP for `.r0` subscribers; nil sends events unchanged.
type Convert func(models.Event) models.Event

// ServeSSE writes sub's events to w as the spec's SSE (core §3.4) until the
// client goes away or the subscription ends. It closes sub.
func ServeSSE(w http.ResponseWriter, r *http.Request, sub *Subscription, convert Convert) error {
	defer sub.Close()
	flusher, ok := w.(http.Flusher)
	if !ok {
		return fmt.Errorf("streaming events: the response writer cannot flush")
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()

	out := bufio.NewWriter(w)
	for id := 0; ; id++ {
		e, err := sub.Next(r.Context())
		if err != nil {
			return nil // client gone, hub closed, or dropped as slow: the stream simply ends
		}
		if convert != nil {
			e = convert(e)
		}
		payload, err := proto.Marshal(e)
		if err != nil {
			return fmt.Errorf("encoding %s event: %w", e.EventType(), err)
		}
		out.WriteString("id: " + strconv.Itoa(id) + "\n")
		out.WriteString("event: " + e.EventType() + "\n")
		out.WriteString("data: " + base64.StdEncoding.EncodeToString(payload) + "\n\n")
		if err := out.Flush(); err != nil {
			return nil
		}
		flusher.Flush()
	}
}
