package metron_test

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"diego/metron"
)

// FuzzDecodeEnvelope: any datagram either decodes to an envelope with its
// required fields and the payload of its type, or is refused; never a panic.
// Run: go test -run '^$' -fuzz FuzzDecodeEnvelope -fuzztime 30s ./metron/
func FuzzDecodeEnvelope(f *testing.F) {
	f.Add(handLog("executor", true))
	f.Add(handLog("rep", false))
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := metron.DecodeEnvelope(b)
		if err != nil {
			return
		}
		if env.Origin == nil || env.EventType == nil {
			t.Fatalf("decoded an envelope without origin or eventType: %v", env)
		}
		again, err := proto.Marshal(env)
		if err != nil {
			t.Fatalf("a decoded envelope does not re-encode: %v", err)
		}
		if _, err := metron.DecodeEnvelope(again); err != nil {
			t.Fatalf("a re-encoded envelope does not decode: %v", err)
		}
	})
}

// FuzzVerify: only the exact signature under the right key verifies, and
// what verifies is the datagram after its 32 bytes.
// Run: go test -run '^$' -fuzz FuzzVerify -fuzztime 30s ./metron/
func FuzzVerify(f *testing.F) {
	f.Add([]byte("secret"), []byte("message"), []byte{})
	f.Add([]byte(""), handLog("executor", true), bytes.Repeat([]byte{0}, 32))
	f.Fuzz(func(t *testing.T, secret, msg, datagram []byte) {
		signed := metron.Sign(secret, msg)
		if len(msg) > 0 && len(signed) <= metron.MaxDatagramSize {
			got, err := metron.Verify(secret, signed)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("a datagram signed with the key did not verify: %v", err)
			}
		}
		got, err := metron.Verify(secret, datagram)
		if err == nil {
			if len(datagram) <= metron.SignatureSize || !bytes.Equal(got, datagram[metron.SignatureSize:]) {
				t.Fatalf("verified %d bytes as %d", len(datagram), len(got))
			}
			if !bytes.Equal(metron.Sign(secret, got), datagram) {
				t.Fatalf("a datagram verified without its exact signature")
			}
		}
	})
}
