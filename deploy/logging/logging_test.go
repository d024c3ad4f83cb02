package logging_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/logging"
)

// lines decodes each JSON line written so far.
func lines(buf *bytes.Buffer) []map[string]any {
	var out []map[string]any
	s := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	for s.Scan() {
		var m map[string]any
		ExpectWithOffset(1, json.Unmarshal(s.Bytes(), &m)).To(Succeed(), s.Text())
		out = append(out, m)
	}
	return out
}

var _ = Describe("New", func() {
	var buf *bytes.Buffer

	BeforeEach(func() {
		buf = &bytes.Buffer{}
	})

	It("writes JSON lines with the component as source and an RFC3339Nano UTC time", func() {
		logger := logging.New(buf, slog.LevelInfo, "bbs")
		logger.Info("started", "listen_addr", "127.0.0.1:8889")

		ls := lines(buf)
		Expect(ls).To(HaveLen(1))
		Expect(ls[0]).To(HaveKeyWithValue("msg", "started"))
		Expect(ls[0]).To(HaveKeyWithValue("level", "INFO"))
		Expect(ls[0]).To(HaveKeyWithValue("source", "bbs"))
		Expect(ls[0]).To(HaveKeyWithValue("listen_addr", "127.0.0.1:8889"))
		Expect(ls[0]).NotTo(HaveKey("session"))

		ts, ok := ls[0]["time"].(string)
		Expect(ok).To(BeTrue())
		t, err := time.Parse(time.RFC3339Nano, ts)
		Expect(err).NotTo(HaveOccurred())
		Expect(t.Location()).To(Equal(time.UTC))
		Expect(t).To(BeTemporally("~", time.Now(), time.Minute))
	})

	It("drops records below the level", func() {
		logger := logging.New(buf, slog.LevelWarn, "bbs")
		logger.Info("hidden")
		logger.Warn("shown")

		ls := lines(buf)
		Expect(ls).To(HaveLen(1))
		Expect(ls[0]).To(HaveKeyWithValue("msg", "shown"))
	})
})

var _ = Describe("ParseLevel", func() {
	DescribeTable("accepts the log_level values",
		func(s string, want slog.Level) {
			Expect(logging.ParseLevel(s)).To(Equal(want))
		},
		Entry("debug", "debug", slog.LevelDebug),
		Entry("info", "info", slog.LevelInfo),
		Entry("warn", "warn", slog.LevelWarn),
		Entry("error", "error", slog.LevelError),
		Entry("upper case", "INFO", slog.LevelInfo),
	)

	It("rejects anything else, saying what is allowed", func() {
		_, err := logging.ParseLevel("fatal")
		Expect(err).To(MatchError(`invalid log level "fatal": use debug, info, warn or error`))
	})
})

var _ = Describe("Session", func() {
	var (
		buf    *bytes.Buffer
		logger *slog.Logger
	)

	BeforeEach(func() {
		buf = &bytes.Buffer{}
		logger = logging.New(buf, slog.LevelDebug, "bbs")
	})

	It("names the session component.operation and carries its attrs", func() {
		session := logging.Session(logger, "desire-task", "task_guid", "t-1")
		session.Info("starting")

		ls := lines(buf)
		Expect(ls[0]).To(HaveKeyWithValue("session", "bbs.desire-task"))
		Expect(ls[0]).To(HaveKeyWithValue("task_guid", "t-1"))
		Expect(ls[0]).To(HaveKeyWithValue("source", "bbs"))
	})

	It("nests sessions as a dotted path, with exactly one session key", func() {
		parent := logging.Session(logger, "desire-task", "task_guid", "t-1")
		child := logging.Session(parent, "auction", "cell_id", "cell-z1")
		child.Info("placed")

		out := buf.String()
		Expect(bytes.Count([]byte(out), []byte(`"session"`))).To(Equal(1))

		ls := lines(buf)
		Expect(ls[0]).To(HaveKeyWithValue("session", "bbs.desire-task.auction"))
		Expect(ls[0]).To(HaveKeyWithValue("task_guid", "t-1"))
		Expect(ls[0]).To(HaveKeyWithValue("cell_id", "cell-z1"))
	})

	It("leaves the parent's session unchanged", func() {
		parent := logging.Session(logger, "desire-task")
		logging.Session(parent, "auction")
		parent.Info("done")

		Expect(lines(buf)[0]).To(HaveKeyWithValue("session", "bbs.desire-task"))
	})

	It("keeps attrs added with With on the parent", func() {
		parent := logging.Session(logger, "converge").With("domain", "cf-apps")
		logging.Session(parent, "lrps").Info("converging")

		ls := lines(buf)
		Expect(ls[0]).To(HaveKeyWithValue("session", "bbs.converge.lrps"))
		Expect(ls[0]).To(HaveKeyWithValue("domain", "cf-apps"))
	})

	It("keeps the session at the top level when the parent has a group open", func() {
		parent := logging.Session(logger, "sync").WithGroup("cell")
		logging.Session(parent, "fetch").Info("fetched", "id", "cell-1")

		ls := lines(buf)
		Expect(ls[0]).To(HaveKeyWithValue("session", "bbs.sync.fetch"))
		Expect(ls[0]).To(HaveKeyWithValue("cell", HaveKeyWithValue("id", "cell-1")))
	})

	It("works on a logger not made by New", func() {
		plain := slog.New(slog.NewJSONHandler(buf, nil))
		logging.Session(plain, "op").Info("hi")

		Expect(lines(buf)[0]).To(HaveKeyWithValue("session", "op"))
	})
})

var _ = Describe("Discard", func() {
	It("logs nothing and supports sessions", func() {
		logger := logging.Discard()
		Expect(logger.Enabled(context.Background(), slog.LevelError)).To(BeFalse())
		logging.Session(logger, "op", "k", "v").Error("ignored")
	})
})
