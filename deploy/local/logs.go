package local

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LogFormat says how the merged log shows a daemon's JSON lines.
type LogFormat struct {
	// Width pads the daemon names so the bars line up.
	Width int
	// Raw keeps each JSON line as it is; otherwise it is condensed to
	// time, level, message and key=value pairs.
	Raw bool
	// Color adds ANSI colours (names, warnings, errors): for terminals.
	Color bool
}

// The keys every line has, shown in the condensed form's fixed columns or
// not at all (source is the daemon, which the prefix names).
var fixedKeys = map[string]bool{"time": true, "ts": true, "level": true, "msg": true, "source": true}

// Format renders one line of daemon name's output for the merged log,
// without a trailing newline: "bbs        | 12:04:05.123 INFO  ready".
func (f LogFormat) Format(name string, line []byte) string {
	line = bytes.TrimRight(line, "\r\n")
	prefix := fmt.Sprintf("%-*s |", f.Width, name)
	if f.Color {
		prefix = colorFor(name) + prefix + reset
	}
	if f.Raw {
		return prefix + " " + string(line)
	}
	fields, ok := parseObject(line)
	if !ok {
		return prefix + " " + string(line)
	}
	var b strings.Builder
	b.WriteString(prefix)
	if t := fieldTime(fields); !t.IsZero() {
		b.WriteString(" " + t.Local().Format("15:04:05.000"))
	}
	level := strings.ToUpper(fieldString(fields, "level"))
	if level != "" {
		lv := fmt.Sprintf("%-5s", level)
		if f.Color {
			switch level {
			case "WARN", "WARNING":
				lv = yellow + lv + reset
			case "ERROR", "FATAL", "PANIC", "DPANIC":
				lv = red + lv + reset
			}
		}
		b.WriteString(" " + lv)
	}
	if msg := fieldString(fields, "msg"); msg != "" {
		b.WriteString(" " + msg)
	}
	for _, kv := range fields {
		if fixedKeys[kv.key] {
			continue
		}
		b.WriteString(" " + kv.key + "=" + formatValue(kv.value))
	}
	return b.String()
}

type field struct {
	key   string
	value json.RawMessage
}

// parseObject reads a one-line JSON object keeping its keys in order.
func parseObject(line []byte) ([]field, bool) {
	trimmed := bytes.TrimSpace(line)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var fields []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, ok := tok.(string)
		if !ok {
			return nil, false
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, false
		}
		fields = append(fields, field{key, raw})
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, false
	}
	return fields, true
}

func fieldString(fields []field, key string) string {
	for _, f := range fields {
		if f.key == key {
			var s string
			if json.Unmarshal(f.value, &s) == nil {
				return s
			}
			return string(f.value)
		}
	}
	return ""
}

// fieldTime reads slog's RFC 3339 "time" or zap's "ts" (RFC 3339 or epoch
// seconds).
func fieldTime(fields []field) time.Time {
	for _, f := range fields {
		if f.key != "time" && f.key != "ts" {
			continue
		}
		var s string
		if json.Unmarshal(f.value, &s) == nil {
			t, _ := time.Parse(time.RFC3339Nano, s)
			return t
		}
		var secs float64
		if json.Unmarshal(f.value, &secs) == nil {
			whole, frac := math.Modf(secs)
			return time.Unix(int64(whole), int64(math.Round(frac*1e6))*1e3)
		}
	}
	return time.Time{}
}

// formatValue shows a string bare unless it needs quotes, and anything
// else as its compact JSON.
func formatValue(v json.RawMessage) string {
	var s string
	if string(v) != "null" && json.Unmarshal(v, &s) == nil {
		if s == "" || strings.ContainsAny(s, " \t\n\"=") {
			return strconv.Quote(s)
		}
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, v) == nil {
		return b.String()
	}
	return string(v)
}

const (
	reset  = "\x1b[0m"
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
)

var palette = []string{"\x1b[32m", "\x1b[34m", "\x1b[35m", "\x1b[36m", "\x1b[92m", "\x1b[94m", "\x1b[95m", "\x1b[96m"}

// colorFor gives each daemon a stable colour; a cell's daemons share one.
func colorFor(name string) string {
	key := name
	if i := strings.LastIndexByte(name, '-'); i >= 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			key = name[i+1:]
		}
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return palette[h.Sum32()%uint32(len(palette))]
}

// MergedLog writes formatted lines from many daemons to one writer, a
// whole line at a time.
type MergedLog struct {
	mu     sync.Mutex
	w      io.Writer
	format LogFormat
}

// NewMergedLog writes to w in format.
func NewMergedLog(w io.Writer, format LogFormat) *MergedLog {
	return &MergedLog{w: w, format: format}
}

// Line writes one line of name's output.
func (m *MergedLog) Line(name string, line []byte) {
	s := m.format.Format(name, line)
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(m.w, s)
}

// Printf writes one of the launcher's own lines, under its name.
func (m *MergedLog) Printf(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prefix := fmt.Sprintf("%-*s |", m.format.Width, LauncherName)
	if m.format.Color {
		prefix = "\x1b[1m" + prefix + reset
	}
	for _, line := range strings.Split(strings.TrimRight(fmt.Sprintf(format, args...), "\n"), "\n") {
		fmt.Fprintln(m.w, prefix+" "+line)
	}
}

// Writer is an io.Writer that sends each complete line to the merged log
// under name, and each line as written to raw (a log file; may be nil).
type Writer struct {
	name string
	log  *MergedLog
	raw  io.Writer
	// onLine sees each line first (readiness); may be nil.
	onLine func([]byte)

	mu  sync.Mutex
	buf []byte
}

// NewWriter returns the writer of daemon name's output.
func NewWriter(name string, log *MergedLog, raw io.Writer, onLine func([]byte)) *Writer {
	return &Writer{name: name, log: log, raw: raw, onLine: onLine}
}

func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(w.buf[:i+1])
		w.buf = w.buf[i+1:]
	}
	// A line this long without a newline is shown in pieces rather than
	// held without bound.
	if len(w.buf) > 1<<20 {
		w.emit(w.buf)
		w.buf = nil
	}
	return len(p), nil
}

// Flush shows what is left of a last line without a newline.
func (w *Writer) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(append(w.buf, '\n'))
		w.buf = nil
	}
}

func (w *Writer) emit(line []byte) {
	if w.raw != nil {
		_, _ = w.raw.Write(line)
	}
	if w.onLine != nil {
		w.onLine(line)
	}
	w.log.Line(w.name, line)
}

// LauncherName prefixes the launcher's own lines.
const LauncherName = "diego-local"

// Block writes text to w as it is, between whole lines of the merged log.
func (m *MergedLog) Block(w io.Writer, text string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprint(w, text)
}
