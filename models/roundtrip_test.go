package models_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// fill sets every field of m (recursing to depth) to a non-zero value, so a
// round trip exercises every field of every model.
func fill(m protoreflect.Message, r *rand.Rand, depth int) {
	if m.Descriptor().FullName() == "models.ProtoRoutes" {
		fd := m.Descriptor().Fields().ByNumber(1)
		m.Mutable(fd).Map().Set(protoreflect.ValueOfString("cf-router").MapKey(),
			protoreflect.ValueOfBytes([]byte(fmt.Sprintf(`[{"hostnames":["h%d"],"port":%d}]`, r.IntN(100), r.IntN(65535)))))
		return
	}
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() && m.WhichOneof(o) != nil {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for j := 0; j < 2; j++ {
				if fd.Message() != nil {
					if depth == 0 {
						break
					}
					e := l.NewElement()
					fill(e.Message(), r, depth-1)
					l.Append(e)
				} else {
					l.Append(scalar(fd, r))
				}
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			k := protoreflect.ValueOfString(fmt.Sprintf("k%d", r.IntN(1000))).MapKey()
			if fd.MapValue().Message() != nil {
				v := mp.NewValue()
				fill(v.Message(), r, depth-1)
				mp.Set(k, v)
			} else {
				mp.Set(k, scalar(fd.MapValue(), r))
			}
		case fd.Message() != nil:
			if depth > 0 {
				fill(m.Mutable(fd).Message(), r, depth-1)
			}
		default:
			m.Set(fd, scalar(fd, r))
		}
	}
}

func scalar(fd protoreflect.FieldDescriptor, r *rand.Rand) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(r.IntN(1<<30) + 1))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(r.Int64N(1<<62) + 1)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(r.Uint32N(1<<31) + 1)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(r.Uint64N(1<<63) + 1)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(1.5)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(2.25)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(fmt.Sprintf("s<%d>&\"é", r.IntN(1000)))
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte{0, 1, 2, byte(r.IntN(256))})
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		return protoreflect.ValueOfEnum(vals.Get(vals.Len() - 1).Number())
	}
	panic("unexpected kind " + fd.Kind().String())
}

// allModels lists every message type of the models package.
func allModels() []protoreflect.MessageType {
	var types []protoreflect.MessageType
	protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
		if mt.Descriptor().ParentFile().Package() == "models" && !mt.Descriptor().IsMapEntry() {
			types = append(types, mt)
		}
		return true
	})
	return types
}

var _ = Describe("Round trips", func() {
	It("covers every message of the BBS models", func() {
		Expect(len(allModels())).To(BeNumerically(">", 90))
	})

	It("round-trips every model through protobuf and JSON", func() {
		r := rand.New(rand.NewPCG(1, 2))
		for _, mt := range allModels() {
			name := mt.Descriptor().FullName()
			m := mt.New()
			fill(m, r, 3)
			original := m.Interface()

			wire, err := proto.Marshal(original)
			Expect(err).NotTo(HaveOccurred(), string(name))
			fromWire := mt.New().Interface()
			Expect(proto.Unmarshal(wire, fromWire)).To(Succeed(), string(name))
			Expect(proto.Equal(original, fromWire)).To(BeTrue(), "protobuf round trip of %s", name)

			js, err := json.Marshal(original)
			Expect(err).NotTo(HaveOccurred(), string(name))
			Expect(json.Valid(js)).To(BeTrue())
			fromJSON := mt.New().Interface()
			Expect(json.Unmarshal(js, fromJSON)).To(Succeed(), "%s: %s", name, js)
			Expect(proto.Equal(original, fromJSON)).To(BeTrue(), "JSON round trip of %s:\n%s", name, js)
		}
	})

	It("round-trips empty models through JSON to the same JSON", func() {
		for _, mt := range allModels() {
			js, err := json.Marshal(mt.New().Interface())
			Expect(err).NotTo(HaveOccurred())
			again := mt.New().Interface()
			Expect(json.Unmarshal(js, again)).To(Succeed())
			js2, err := json.Marshal(again)
			Expect(err).NotTo(HaveOccurred())
			Expect(js2).To(MatchJSON(js), string(mt.Descriptor().FullName()))
		}
	})

	It("accepts both packed and unpacked ports", func() {
		// DesiredLRP.ports (14) as one packed run: tag 14, wire type 2.
		packed := []byte{14<<3 | 2, 2, 0x90, 0x3f}                   // [8080]
		unpacked := []byte{14 << 3, 0x90, 0x3f, 14 << 3, 0x91, 0x3f} // 8080, 8081
		for _, b := range [][]byte{packed, unpacked} {
			d := &models.DesiredLRP{}
			Expect(proto.Unmarshal(b, d)).To(Succeed())
			Expect(d.Ports[0]).To(Equal(uint32(8080)))
		}
		out, err := proto.Marshal(&models.DesiredLRP{Ports: []uint32{8080, 8081}})
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal(unpacked), "ports are emitted unpacked")
	})
})
