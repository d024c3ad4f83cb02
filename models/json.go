package models

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Diego's models were gogoproto structs marshalled by encoding/json, and its
// CLI and HTTP APIs read and write that JSON. The codec below reproduces it
// from the options in options.proto: a field's JSON key and omitempty come
// from (jsontag) (default: the proto name with omitempty), (embed) flattens a
// message's keys into its parent, and (nonnull) writes an unset message as
// the empty message. Everything else follows encoding/json: nil lists, maps
// and messages are null, map keys are sorted, strings are HTML-escaped, and
// keys match case-insensitively when no exact match exists. Enums are written
// as their names, and ProtoRoutes values are raw JSON.

// jsonField is one JSON key of a message, possibly reached through embedded
// (flattened) message fields.
type jsonField struct {
	name      string
	omitEmpty bool
	nonNull   bool
	fd        protoreflect.FieldDescriptor
	via       []embedStep // embedded fields leading to fd, outermost first
}

// embedStep is one embedded message field on the way to a JSON key. A
// nullable one that is unset hides all of its keys, as a nil embedded
// pointer does in encoding/json.
type embedStep struct {
	fd       protoreflect.FieldDescriptor
	nullable bool
}

var jsonPlans sync.Map // protoreflect.FullName → []jsonField

const routesMessage protoreflect.FullName = "models.ProtoRoutes"

func planFor(md protoreflect.MessageDescriptor) []jsonField {
	if p, ok := jsonPlans.Load(md.FullName()); ok {
		return p.([]jsonField)
	}
	plan := buildPlan(md, nil)
	// encoding/json: of several fields with one key, the shallowest wins.
	seen := map[string]int{}
	var out []jsonField
	for _, f := range plan {
		if i, ok := seen[f.name]; ok {
			if len(f.via) < len(out[i].via) {
				out[i] = f
			}
			continue
		}
		seen[f.name] = len(out)
		out = append(out, f)
	}
	jsonPlans.Store(md.FullName(), out)
	return out
}

func buildPlan(md protoreflect.MessageDescriptor, via []embedStep) []jsonField {
	var plan []jsonField
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		opts := fd.Options()
		if opts != nil && fd.Message() != nil && proto.GetExtension(opts, E_Embed).(bool) {
			step := embedStep{fd: fd, nullable: !proto.GetExtension(opts, E_Nonnull).(bool)}
			plan = append(plan, buildPlan(fd.Message(), append(slices.Clone(via), step))...)
			continue
		}
		f := jsonField{name: string(fd.Name()), omitEmpty: true, fd: fd, via: via}
		if opts != nil {
			if tag := proto.GetExtension(opts, E_Jsontag).(string); tag != "" {
				name, rest, _ := strings.Cut(tag, ",")
				f.name, f.omitEmpty = name, rest == "omitempty"
			}
			f.nonNull = proto.GetExtension(opts, E_Nonnull).(bool)
		}
		plan = append(plan, f)
	}
	return plan
}

// marshalJSON writes m in Diego's JSON shape.
func marshalJSON(m proto.Message) ([]byte, error) {
	var buf bytes.Buffer
	if err := writeMessage(&buf, m.ProtoReflect()); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeMessage(buf *bytes.Buffer, m protoreflect.Message) error {
	if m.Descriptor().FullName() == routesMessage {
		return writeRoutes(buf, m)
	}
	buf.WriteByte('{')
	first := true
	for _, f := range planFor(m.Descriptor()) {
		owner, hidden := m, false
		for _, e := range f.via {
			hidden = hidden || (e.nullable && !owner.Has(e.fd))
			owner = owner.Get(e.fd).Message()
		}
		if hidden {
			continue
		}
		empty := isEmpty(owner, f.fd)
		if empty && (f.omitEmpty || isRealOneof(f.fd)) {
			continue
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		writeString(buf, f.name)
		buf.WriteByte(':')
		switch {
		case f.fd.IsList():
			if empty {
				buf.WriteString("null")
				continue
			}
			if err := writeList(buf, f.fd, owner.Get(f.fd).List()); err != nil {
				return err
			}
		case f.fd.IsMap():
			if empty {
				buf.WriteString("null")
				continue
			}
			if err := writeMap(buf, f.fd, owner.Get(f.fd).Map()); err != nil {
				return err
			}
		case f.fd.Message() != nil && empty && !f.nonNull, f.fd.HasPresence() && empty && f.fd.Message() == nil:
			// A nil pointer: an unset message, or an unset optional scalar.
			buf.WriteString("null")
		default:
			if err := writeValue(buf, f.fd, owner.Get(f.fd)); err != nil {
				return err
			}
		}
	}
	buf.WriteByte('}')
	return nil
}

// isEmpty is encoding/json's notion of empty for omitempty: zero scalars,
// empty lists and maps, unset messages, and routes with no entries.
func isEmpty(m protoreflect.Message, fd protoreflect.FieldDescriptor) bool {
	if !m.Has(fd) {
		return true
	}
	if fd.Message() != nil && fd.Message().FullName() == routesMessage && !fd.IsList() && !fd.IsMap() {
		return m.Get(fd).Message().Get(fd.Message().Fields().ByNumber(1)).Map().Len() == 0
	}
	return false
}

func isRealOneof(fd protoreflect.FieldDescriptor) bool {
	o := fd.ContainingOneof()
	return o != nil && !o.IsSynthetic()
}

func writeList(buf *bytes.Buffer, fd protoreflect.FieldDescriptor, l protoreflect.List) error {
	buf.WriteByte('[')
	for i := 0; i < l.Len(); i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := writeValue(buf, fd, l.Get(i)); err != nil {
			return err
		}
	}
	buf.WriteByte(']')
	return nil
}

func writeMap(buf *bytes.Buffer, fd protoreflect.FieldDescriptor, mp protoreflect.Map) error {
	keys := make([]string, 0, mp.Len())
	values := make(map[string]protoreflect.Value, mp.Len())
	mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		keys = append(keys, k.String())
		values[k.String()] = v
		return true
	})
	slices.Sort(keys)
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeString(buf, k)
		buf.WriteByte(':')
		if err := writeValue(buf, fd.MapValue(), values[k]); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

func writeRoutes(buf *bytes.Buffer, m protoreflect.Message) error {
	mp := m.Get(m.Descriptor().Fields().ByNumber(1)).Map()
	keys := make([]string, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k.String())
		return true
	})
	slices.Sort(keys)
	buf.WriteByte('{')
	for i, k := range keys {
		raw := mp.Get(protoreflect.ValueOfString(k).MapKey()).Bytes()
		if i > 0 {
			buf.WriteByte(',')
		}
		writeString(buf, k)
		buf.WriteByte(':')
		if len(raw) == 0 {
			buf.WriteString("null")
			continue
		}
		if !json.Valid(raw) {
			return fmt.Errorf("route %q is not valid JSON", k)
		}
		if err := json.Compact(buf, raw); err != nil {
			return fmt.Errorf("route %q: %w", k, err)
		}
	}
	buf.WriteByte('}')
	return nil
}

func writeValue(buf *bytes.Buffer, fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		buf.WriteString(strconv.FormatBool(v.Bool()))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		buf.WriteString(strconv.FormatInt(v.Int(), 10))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		buf.WriteString(strconv.FormatUint(v.Uint(), 10))
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		b, err := json.Marshal(v.Float())
		if err != nil {
			return err
		}
		buf.Write(b)
	case protoreflect.StringKind:
		writeString(buf, v.String())
	case protoreflect.BytesKind:
		buf.WriteByte('"')
		buf.WriteString(base64.StdEncoding.EncodeToString(v.Bytes()))
		buf.WriteByte('"')
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			writeString(buf, string(ev.Name()))
		} else {
			buf.WriteString(strconv.FormatInt(int64(v.Enum()), 10))
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return writeMessage(buf, v.Message())
	default:
		return fmt.Errorf("field %s: unsupported kind %s", fd.FullName(), fd.Kind())
	}
	return nil
}

func writeString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	buf.Write(b)
}

// unmarshalJSON reads Diego's JSON shape into m, replacing its contents.
func unmarshalJSON(data []byte, m proto.Message) error {
	proto.Reset(m)
	return readMessage(data, m.ProtoReflect())
}

func readMessage(data []byte, m protoreflect.Message) error {
	md := m.Descriptor()
	if isNull(data) {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return fmt.Errorf("%s: %w", md.Name(), err)
	}
	if md.FullName() == routesMessage {
		mp := m.Mutable(md.Fields().ByNumber(1)).Map()
		for k, raw := range obj {
			mp.Set(protoreflect.ValueOfString(k).MapKey(), protoreflect.ValueOfBytes(bytes.TrimSpace(raw)))
		}
		return nil
	}
	for _, f := range planFor(md) {
		raw, ok := lookupKey(obj, f.name)
		if !ok || isNull(raw) {
			continue
		}
		owner := m
		for _, e := range f.via {
			owner = owner.Mutable(e.fd).Message()
		}
		if err := readField(raw, owner, f.fd); err != nil {
			return fmt.Errorf("%s.%s: %w", md.Name(), f.name, err)
		}
	}
	return nil
}

// lookupKey finds a key as encoding/json does: exact first, then ignoring case.
func lookupKey(obj map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	if raw, ok := obj[name]; ok {
		return raw, true
	}
	for k, raw := range obj {
		if strings.EqualFold(k, name) {
			return raw, true
		}
	}
	return nil, false
}

func readField(raw json.RawMessage, m protoreflect.Message, fd protoreflect.FieldDescriptor) error {
	switch {
	case fd.IsList():
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return err
		}
		l := m.Mutable(fd).List()
		for _, item := range items {
			if fd.Message() != nil {
				e := l.NewElement()
				if err := readMessage(item, e.Message()); err != nil {
					return err
				}
				l.Append(e)
				continue
			}
			v, err := readScalar(item, fd)
			if err != nil {
				return err
			}
			l.Append(v)
		}
	case fd.IsMap():
		var items map[string]json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return err
		}
		mp := m.Mutable(fd).Map()
		vd := fd.MapValue()
		for k, item := range items {
			key, err := readMapKey(k, fd.MapKey())
			if err != nil {
				return err
			}
			if vd.Message() != nil {
				v := mp.NewValue()
				if err := readMessage(item, v.Message()); err != nil {
					return err
				}
				mp.Set(key, v)
				continue
			}
			v, err := readScalar(item, vd)
			if err != nil {
				return err
			}
			mp.Set(key, v)
		}
	case fd.Message() != nil:
		return readMessage(raw, m.Mutable(fd).Message())
	default:
		v, err := readScalar(raw, fd)
		if err != nil {
			return err
		}
		m.Set(fd, v)
	}
	return nil
}

func readMapKey(k string, fd protoreflect.FieldDescriptor) (protoreflect.MapKey, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(k).MapKey(), nil
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(k)
		return protoreflect.ValueOfBool(b).MapKey(), err
	}
	v, err := readScalar(json.RawMessage(k), fd)
	return v.MapKey(), err
}

func readScalar(raw json.RawMessage, fd protoreflect.FieldDescriptor) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		var b bool
		err := json.Unmarshal(raw, &b)
		return protoreflect.ValueOfBool(b), err
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := parseInt(raw, 32)
		return protoreflect.ValueOfInt32(int32(n)), err
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := parseInt(raw, 64)
		return protoreflect.ValueOfInt64(n), err
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := parseUint(raw, 32)
		return protoreflect.ValueOfUint32(uint32(n)), err
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := parseUint(raw, 64)
		return protoreflect.ValueOfUint64(n), err
	case protoreflect.FloatKind:
		var f float32
		err := json.Unmarshal(raw, &f)
		return protoreflect.ValueOfFloat32(f), err
	case protoreflect.DoubleKind:
		var f float64
		err := json.Unmarshal(raw, &f)
		return protoreflect.ValueOfFloat64(f), err
	case protoreflect.StringKind:
		var s string
		err := json.Unmarshal(raw, &s)
		return protoreflect.ValueOfString(s), err
	case protoreflect.BytesKind:
		var b []byte
		err := json.Unmarshal(raw, &b)
		return protoreflect.ValueOfBytes(b), err
	case protoreflect.EnumKind:
		n, err := parseEnum(raw, fd.Enum())
		return protoreflect.ValueOfEnum(n), err
	}
	return protoreflect.Value{}, fmt.Errorf("unsupported kind %s", fd.Kind())
}

func parseInt(raw json.RawMessage, bits int) (int64, error) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil || !isJSONNumber(raw) {
		return 0, fmt.Errorf("expected an integer, got %s", raw)
	}
	return strconv.ParseInt(n.String(), 10, bits)
}

func parseUint(raw json.RawMessage, bits int) (uint64, error) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil || !isJSONNumber(raw) {
		return 0, fmt.Errorf("expected a non-negative integer, got %s", raw)
	}
	return strconv.ParseUint(n.String(), 10, bits)
}

// isJSONNumber rejects quoted numbers, which json.Number would accept.
func isJSONNumber(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] != '"'
}

// parseEnum accepts an enum's name or, for leniency, its number.
func parseEnum(raw json.RawMessage, ed protoreflect.EnumDescriptor) (protoreflect.EnumNumber, error) {
	var name string
	if err := json.Unmarshal(raw, &name); err == nil {
		if ev := ed.Values().ByName(protoreflect.Name(name)); ev != nil {
			return ev.Number(), nil
		}
		return 0, fmt.Errorf("unknown %s value %q", ed.Name(), name)
	}
	n, err := parseInt(raw, 32)
	if err != nil {
		return 0, fmt.Errorf("expected a %s name, got %s", ed.Name(), raw)
	}
	return protoreflect.EnumNumber(n), nil
}

func isNull(raw []byte) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// enumMarshalJSON writes an enum as its name, as Diego's models do.
func enumMarshalJSON(e protoreflect.Enum) ([]byte, error) {
	if ev := e.Descriptor().Values().ByNumber(e.Number()); ev != nil {
		return json.Marshal(string(ev.Name()))
	}
	return []byte(strconv.FormatInt(int64(e.Number()), 10)), nil
}

// enumUnmarshalJSON reads an enum's name or number.
func enumUnmarshalJSON(data []byte, ed protoreflect.EnumDescriptor) (protoreflect.EnumNumber, error) {
	return parseEnum(data, ed)
}
