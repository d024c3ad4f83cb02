package metron

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"diego/metron/events"
)

// MaxDatagramSize is the largest UDP payload over IPv4; an envelope (plus,
// on the doppler hop, its signature) never exceeds it.
const MaxDatagramSize = 65507

// SignatureSize is the HMAC-SHA256 prefix of a datagram to the doppler
// (spec cell §5.3, §7.5).
const SignatureSize = sha256.Size

// Errors a datagram is dropped for; each is counted under its own name.
var (
	ErrOversized    = errors.New("datagram too large")
	ErrEmpty        = errors.New("empty datagram")
	ErrNoPayload    = errors.New("envelope has no payload for its event type")
	ErrUnsigned     = errors.New("datagram shorter than its signature")
	ErrBadSignature = errors.New("signature does not verify")
)

// DecodeEnvelope unmarshals one envelope with proto2's required-field
// checks, and refuses an envelope whose event type's payload is missing (a
// LogMessage envelope without a logMessage says nothing anyone can use).
func DecodeEnvelope(b []byte) (*events.Envelope, error) {
	if len(b) == 0 {
		return nil, ErrEmpty
	}
	if len(b) > MaxDatagramSize {
		return nil, ErrOversized
	}
	env := &events.Envelope{}
	if err := proto.Unmarshal(b, env); err != nil {
		return nil, fmt.Errorf("decoding envelope: %w", err)
	}
	if !hasPayload(env) {
		return nil, fmt.Errorf("%w (%s)", ErrNoPayload, env.GetEventType())
	}
	return env, nil
}

func hasPayload(env *events.Envelope) bool {
	switch env.GetEventType() {
	case events.Envelope_HttpStart:
		return env.HttpStart != nil
	case events.Envelope_HttpStop:
		return env.HttpStop != nil
	case events.Envelope_HttpStartStop:
		return env.HttpStartStop != nil
	case events.Envelope_LogMessage:
		return env.LogMessage != nil
	case events.Envelope_ValueMetric:
		return env.ValueMetric != nil
	case events.Envelope_CounterEvent:
		return env.CounterEvent != nil
	case events.Envelope_Error:
		return env.Error != nil
	case events.Envelope_ContainerMetric:
		return env.ContainerMetric != nil
	}
	return false
}

// Sign prefixes msg with its 32-byte HMAC-SHA256 keyed by secret.
func Sign(secret, msg []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write(msg)
	return append(mac.Sum(make([]byte, 0, SignatureSize+len(msg))), msg...)
}

// Verify checks a signed datagram and returns the message after the
// signature, comparing in constant time.
func Verify(secret, datagram []byte) ([]byte, error) {
	if len(datagram) > MaxDatagramSize {
		return nil, ErrOversized
	}
	if len(datagram) <= SignatureSize {
		return nil, ErrUnsigned
	}
	sig, msg := datagram[:SignatureSize], datagram[SignatureSize:]
	mac := hmac.New(sha256.New, secret)
	mac.Write(msg)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, ErrBadSignature
	}
	return msg, nil
}
