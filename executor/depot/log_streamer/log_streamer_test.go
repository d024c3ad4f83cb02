package log_streamer_test

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/executor/depot/log_streamer"
)

type message struct {
	AppID, Message, SourceType, SourceInstance string
	Err                                        bool
}

type recordingEmitter struct {
	mu       sync.Mutex
	messages []message
}

func (r *recordingEmitter) SendAppLog(appID, msg, sourceType, sourceInstance string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.messages = append(r.messages, message{appID, msg, sourceType, sourceInstance, false})
}

func (r *recordingEmitter) SendAppErrorLog(appID, msg, sourceType, sourceInstance string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.messages = append(r.messages, message{appID, msg, sourceType, sourceInstance, true})
}

func (r *recordingEmitter) Messages() []message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]message(nil), r.messages...)
}

func (r *recordingEmitter) Texts() []string {
	var out []string
	for _, m := range r.Messages() {
		out = append(out, m.Message)
	}
	return out
}

var _ = Describe("LogStreamer", func() {
	var (
		emitter  *recordingEmitter
		streamer log_streamer.LogStreamer
	)

	BeforeEach(func() {
		emitter = &recordingEmitter{}
		streamer = log_streamer.New("log-guid", "APP", 3, emitter)
	})

	It("sends each stdout line as an OUT message with the app id, source and index", func() {
		fmt.Fprint(streamer.Stdout(), "hello\nworld\n")
		Expect(emitter.Messages()).To(Equal([]message{
			{"log-guid", "hello", "APP", "3", false},
			{"log-guid", "world", "APP", "3", false},
		}))
	})

	It("sends stderr lines as ERR messages", func() {
		fmt.Fprint(streamer.Stderr(), "oops\n")
		Expect(emitter.Messages()).To(Equal([]message{{"log-guid", "oops", "APP", "3", true}}))
	})

	It("splits at \\r as well as \\n and drops empty lines", func() {
		fmt.Fprint(streamer.Stdout(), "a\r\nb\rc\n\n\r\nd\n")
		Expect(emitter.Texts()).To(Equal([]string{"a", "b", "c", "d"}))
	})

	It("keeps a partial line until its newline", func() {
		fmt.Fprint(streamer.Stdout(), "par")
		fmt.Fprint(streamer.Stdout(), "tial")
		Expect(emitter.Messages()).To(BeEmpty())
		fmt.Fprint(streamer.Stdout(), " line\nnext")
		Expect(emitter.Texts()).To(Equal([]string{"partial line"}))
	})

	It("sends a partial line on Flush, once", func() {
		fmt.Fprint(streamer.Stdout(), "out")
		fmt.Fprint(streamer.Stderr(), "err")
		streamer.Flush()
		streamer.Flush()
		Expect(emitter.Messages()).To(ConsistOf(
			message{"log-guid", "out", "APP", "3", false},
			message{"log-guid", "err", "APP", "3", true},
		))
	})

	It("cuts a line longer than MaxMessageSize into chunks", func() {
		line := strings.Repeat("x", 2*log_streamer.MaxMessageSize+10)
		fmt.Fprint(streamer.Stdout(), line+"\n")
		texts := emitter.Texts()
		Expect(texts).To(HaveLen(3))
		Expect(texts[0]).To(HaveLen(log_streamer.MaxMessageSize))
		Expect(texts[1]).To(HaveLen(log_streamer.MaxMessageSize))
		Expect(texts[2]).To(HaveLen(10))
		Expect(strings.Join(texts, "")).To(Equal(line))
	})

	It("cuts chunks at rune boundaries", func() {
		// One ASCII byte shifts every 3-byte rune across the 61440 boundary.
		line := "a" + strings.Repeat("€", log_streamer.MaxMessageSize/3+5)
		fmt.Fprint(streamer.Stdout(), line)
		streamer.Flush()
		texts := emitter.Texts()
		Expect(len(texts)).To(BeNumerically(">", 1))
		for _, t := range texts {
			Expect(utf8.ValidString(t)).To(BeTrue())
			Expect(len(t)).To(BeNumerically("<=", log_streamer.MaxMessageSize))
		}
		Expect(texts[0]).To(HaveLen(log_streamer.MaxMessageSize - 2))
		Expect(strings.Join(texts, "")).To(Equal(line))
	})

	It("sends a long partial line's full chunks before its end arrives", func() {
		fmt.Fprint(streamer.Stdout(), strings.Repeat("y", log_streamer.MaxMessageSize+1))
		Expect(emitter.Texts()).To(HaveLen(1))
		streamer.Flush()
		Expect(emitter.Texts()).To(HaveLen(2))
		Expect(emitter.Texts()[1]).To(Equal("y"))
	})

	Describe("source types", func() {
		It("defaults to LOG when the container has no source name", func() {
			s := log_streamer.New("guid", "", 0, emitter)
			Expect(s.SourceName()).To(Equal("LOG"))
			fmt.Fprint(s.Stdout(), "x\n")
			Expect(emitter.Messages()[0].SourceType).To(Equal("LOG"))
			Expect(emitter.Messages()[0].SourceInstance).To(Equal("0"))
		})

		It("uses the action's source with WithSource, and keeps the current one for an empty source", func() {
			health := streamer.WithSource("HEALTH")
			Expect(health.SourceName()).To(Equal("HEALTH"))
			Expect(health.WithSource("").SourceName()).To(Equal("HEALTH"))
			fmt.Fprint(health.Stderr(), "bad\n")
			Expect(emitter.Messages()).To(Equal([]message{{"log-guid", "bad", "HEALTH", "3", true}}))
		})

		It("gives WithSource streamers their own line buffers", func() {
			other := streamer.WithSource("")
			fmt.Fprint(streamer.Stdout(), "one ")
			fmt.Fprint(other.Stdout(), "two\n")
			Expect(emitter.Texts()).To(Equal([]string{"two"}))
			fmt.Fprint(streamer.Stdout(), "three\n")
			Expect(emitter.Texts()).To(Equal([]string{"two", "one three"}))
		})
	})

	Describe("lifecycle lines", func() {
		It("sends Log and LogError at once, without disturbing a buffered partial line", func() {
			fmt.Fprint(streamer.Stdout(), "partial")
			streamer.Log("Cell cell-1 creating container for instance guid")
			streamer.LogError("Cell cell-1 failed to create container for instance guid: boom")
			Expect(emitter.Messages()).To(Equal([]message{
				{"log-guid", "Cell cell-1 creating container for instance guid", "APP", "3", false},
				{"log-guid", "Cell cell-1 failed to create container for instance guid: boom", "APP", "3", true},
			}))
			streamer.Flush()
			Expect(emitter.Texts()).To(HaveLen(3))
		})
	})

	It("is safe for concurrent writers", func() {
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < 100; j++ {
					fmt.Fprint(streamer.Stdout(), "line\n")
				}
			}()
		}
		wg.Wait()
		Expect(emitter.Messages()).To(HaveLen(800))
	})

	Context("with an empty log guid", func() {
		It("sends nothing at all", func() {
			s := log_streamer.New("", "APP", 0, emitter)
			fmt.Fprint(s.Stdout(), "hello\n")
			fmt.Fprint(s.WithSource("X").Stderr(), "hello\n")
			s.Log("lifecycle")
			s.Flush()
			Expect(emitter.Messages()).To(BeEmpty())
		})
	})

	Describe("the no-op streamer", func() {
		It("accepts and drops everything", func() {
			s := log_streamer.NewNoop()
			n, err := s.Stdout().Write([]byte("abc\n"))
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(Equal(4))
			s.Stderr().Write([]byte("x"))
			s.Flush()
			s.LogError("x")
			Expect(s.WithSource("HEALTH")).NotTo(BeNil())
		})
	})
})
