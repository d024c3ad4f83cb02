package events

import (
	"encoding/base64"
	"fmt"
	"net/http"

	"google.golang.org/protobuf/proto"

	"diego/deploy/sse"
	"diego/models"
)

// Convert lets a stream rewrite an event before it is sent, e.g. to the V0
// form of a desired LRP for `.r0` subscribers; nil sends events unchanged.
type Convert func(models.Event) models.Event

// ServeSSE writes sub's events to w as the spec's SSE (core §3.4) until the
// client goes away or the subscription ends. It closes sub.
func ServeSSE(w http.ResponseWriter, r *http.Request, sub *Subscription, convert Convert) error {
	defer sub.Close()
	stream, err := sse.NewWriter(w)
	if err != nil {
		return err
	}
	for {
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
		if err := stream.Send(e.EventType(), []byte(base64.StdEncoding.EncodeToString(payload))); err != nil {
			return nil // client gone
		}
	}
}
