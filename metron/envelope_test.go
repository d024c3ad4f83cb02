package metron_test

import (
	"bytes"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"diego/metron"
	"diego/metron/events"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// handLog builds a LogMessage envelope byte by byte with the field numbers
// of spec cell §5.1, so that the decoder is checked against the spec rather
// than against the generated code.
func handLog(origin string, withType bool) []byte {
	var lm []byte
	lm = protowire.AppendTag(lm, 1, protowire.BytesType)
	lm = protowire.AppendBytes(lm, []byte("hello"))
	lm = protowire.AppendTag(lm, 2, protowire.VarintType)
	lm = protowire.AppendVarint(lm, 2) // ERR
	lm = protowire.AppendTag(lm, 3, protowire.VarintType)
	lm = protowire.AppendVarint(lm, 1234)
	lm = protowire.AppendTag(lm, 4, protowire.BytesType)
	lm = protowire.AppendString(lm, "app-guid")
	lm = protowire.AppendTag(lm, 5, protowire.BytesType)
	lm = protowire.AppendString(lm, "APP/PROC/WEB")
	lm = protowire.AppendTag(lm, 6, protowire.BytesType)
	lm = protowire.AppendString(lm, "3")

	var env []byte
	env = protowire.AppendTag(env, 1, protowire.BytesType)
	env = protowire.AppendString(env, origin)
	if withType {
		env = protowire.AppendTag(env, 2, protowire.VarintType)
		env = protowire.AppendVarint(env, 5) // LogMessage
	}
	env = protowire.AppendTag(env, 6, protowire.VarintType)
	env = protowire.AppendVarint(env, 99)
	env = protowire.AppendTag(env, 13, protowire.BytesType)
	env = protowire.AppendString(env, "cf")
	env = protowire.AppendTag(env, 8, protowire.BytesType)
	env = protowire.AppendBytes(env, lm)
	return env
}

var _ = Describe("DecodeEnvelope", func() {
	It("decodes the spec's field numbers", func() {
		env, err := metron.DecodeEnvelope(handLog("executor", true))
		Expect(err).NotTo(HaveOccurred())
		Expect(env.GetOrigin()).To(Equal("executor"))
		Expect(env.GetEventType()).To(Equal(events.Envelope_LogMessage))
		Expect(env.GetTimestamp()).To(BeEquivalentTo(99))
		Expect(env.GetDeployment()).To(Equal("cf"))
		lm := env.GetLogMessage()
		Expect(string(lm.GetMessage())).To(Equal("hello"))
		Expect(lm.GetMessageType()).To(Equal(events.LogMessage_ERR))
		Expect(lm.GetTimestamp()).To(BeEquivalentTo(1234))
		Expect(lm.GetAppId()).To(Equal("app-guid"))
		Expect(lm.GetSourceType()).To(Equal("APP/PROC/WEB"))
		Expect(lm.GetSourceInstance()).To(Equal("3"))
	})

	It("refuses an envelope without its required eventType", func() {
		_, err := metron.DecodeEnvelope(handLog("executor", false))
		Expect(err).To(MatchError(ContainSubstring("required")))
	})

	It("refuses an envelope whose payload does not match its type", func() {
		b, err := proto.Marshal(&events.Envelope{Origin: proto.String("rep"), EventType: events.Envelope_ValueMetric.Enum()})
		Expect(err).NotTo(HaveOccurred())
		_, err = metron.DecodeEnvelope(b)
		Expect(err).To(MatchError(metron.ErrNoPayload))
	})

	It("refuses empty, truncated and oversized datagrams", func() {
		_, err := metron.DecodeEnvelope(nil)
		Expect(err).To(MatchError(metron.ErrEmpty))
		full := handLog("executor", true)
		for cut := 1; cut < len(full); cut++ {
			_, err := metron.DecodeEnvelope(full[:cut])
			Expect(err).To(HaveOccurred(), "cut at %d", cut)
		}
		_, err = metron.DecodeEnvelope(make([]byte, metron.MaxDatagramSize+1))
		Expect(err).To(MatchError(metron.ErrOversized))
	})
})

var _ = Describe("Sign and Verify", func() {
	secret := []byte("s3cret")
	msg := []byte("an envelope")

	It("prefixes the 32-byte HMAC-SHA256 and verifies it", func() {
		signed := metron.Sign(secret, msg)
		Expect(signed).To(HaveLen(32 + len(msg)))
		Expect(signed[32:]).To(Equal(msg))
		got, err := metron.Verify(secret, signed)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal(msg))
	})

	It("refuses another key, a flipped bit and an unsigned datagram", func() {
		_, err := metron.Verify([]byte("other"), metron.Sign(secret, msg))
		Expect(err).To(MatchError(metron.ErrBadSignature))
		signed := metron.Sign(secret, msg)
		signed[len(signed)-1] ^= 1
		_, err = metron.Verify(secret, signed)
		Expect(err).To(MatchError(metron.ErrBadSignature))
		_, err = metron.Verify(secret, bytes.Repeat([]byte{1}, 32))
		Expect(err).To(MatchError(metron.ErrUnsigned))
		_, err = metron.Verify(secret, handLog("executor", true)[:10])
		Expect(err).To(MatchError(metron.ErrUnsigned))
	})
})
