package etcddb

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"diego/models"
)

// Record values are a two-byte envelope, [format, version], followed by the
// protobuf bytes (spec core §4.3). Only PROTO version 0 exists.
const (
	envelopeFormatProto byte = 2
	envelopeVersion     byte = 0
	envelopeLen              = 2
)

// encode wraps msg in the envelope.
func encode(msg proto.Message) ([]byte, error) {
	body, err := proto.Marshal(msg)
	if err != nil {
		return nil, models.NewError(models.Error_InvalidRecord, err.Error())
	}
	out := make([]byte, 0, envelopeLen+len(body))
	out = append(out, envelopeFormatProto, envelopeVersion)
	return append(out, body...), nil
}

// decode opens the envelope of the value stored at key into msg. Any other
// envelope is FailedToOpenEnvelope; bad protobuf is Deserialize. Both name
// the key.
func decode(key string, value []byte, msg proto.Message) error {
	if len(value) < envelopeLen || value[0] != envelopeFormatProto || value[1] != envelopeVersion {
		return fmt.Errorf("decoding %s: %w", key, models.ErrFailedToOpenEnvelope)
	}
	if err := proto.Unmarshal(value[envelopeLen:], msg); err != nil {
		return fmt.Errorf("decoding %s: %v: %w", key, err, models.ErrDeserialize)
	}
	return nil
}
