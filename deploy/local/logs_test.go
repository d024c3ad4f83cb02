package local_test

import (
	"bytes"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/local"
)

var _ = Describe("LogFormat", func() {
	const line = `{"time":"2026-01-02T03:04:05.678Z","level":"INFO","msg":"synced","source":"rep","session":"rep.generator.sync","containers":2,"duration":"10ms","error":"no such host","tags":{"a":1}}`
	at := time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC).Local().Format("15:04:05.000")

	It("condenses a JSON line to time, level, message and the other keys in order", func() {
		f := local.LogFormat{Width: 10}
		Expect(f.Format("rep_z1-0", []byte(line+"\n"))).To(Equal(
			"rep_z1-0   | " + at + ` INFO  synced session=rep.generator.sync containers=2 duration=10ms error="no such host" tags={"a":1}`))
	})

	It("keeps the line as it is when asked for raw logs", func() {
		f := local.LogFormat{Width: 4, Raw: true}
		Expect(f.Format("bbs", []byte(line))).To(Equal("bbs  | " + line))
	})

	It("shows lines that are not JSON objects as they are", func() {
		f := local.LogFormat{Width: 3}
		Expect(f.Format("bbs", []byte("panic: oh no\n"))).To(Equal("bbs | panic: oh no"))
		Expect(f.Format("bbs", []byte(`{"broken":`))).To(Equal(`bbs | {"broken":`))
		Expect(f.Format("bbs", []byte(`[1,2]`))).To(Equal(`bbs | [1,2]`))
	})

	It("reads zap's lower-case levels and epoch timestamps (etcd)", func() {
		f := local.LogFormat{Width: 4}
		out := f.Format("etcd", []byte(`{"level":"error","ts":1767323045.678,"msg":"lost leader","caller":"x.go:1"}`))
		Expect(out).To(Equal("etcd | " + time.Unix(1767323045, 678e6).Format("15:04:05.000") + " ERROR lost leader caller=x.go:1"))
	})

	It("quotes empty strings and strings with spaces, quotes or equals signs", func() {
		f := local.LogFormat{Width: 1}
		out := f.Format("x", []byte(`{"msg":"m","a":"","b":"x=y","c":"say \"hi\"","d":null,"e":true}`))
		Expect(out).To(Equal(`x | m a="" b="x=y" c="say \"hi\"" d=null e=true`))
	})

	It("colours names, warnings and errors for terminals", func() {
		f := local.LogFormat{Width: 3, Color: true}
		out := f.Format("bbs", []byte(`{"level":"ERROR","msg":"failed"}`))
		Expect(out).To(ContainSubstring("\x1b[31mERROR\x1b[0m"))
		Expect(out).To(HavePrefix("\x1b["))
		// A cell's daemons share a colour.
		g := f.Format("garden_z1-1", []byte("x"))
		r := f.Format("rep_z1-1", []byte("x"))
		Expect(g[:5]).To(Equal(r[:5]))
	})
})

var _ = Describe("Writer", func() {
	It("sends whole lines to the merged log and the raw log, and sees each line", func() {
		var merged, raw bytes.Buffer
		log := local.NewMergedLog(&merged, local.LogFormat{Width: 3})
		var seen []string
		w := local.NewWriter("bbs", log, &raw, func(l []byte) { seen = append(seen, string(l)) })
		w.Write([]byte(`{"msg":"sta`))
		Expect(merged.String()).To(BeEmpty())
		w.Write([]byte("rting\"}\n{\"msg\":\"ready\"}\npartial"))
		Expect(merged.String()).To(Equal("bbs | starting\nbbs | ready\n"))
		Expect(raw.String()).To(Equal(`{"msg":"starting"}` + "\n" + `{"msg":"ready"}` + "\n"))
		Expect(seen).To(Equal([]string{`{"msg":"starting"}` + "\n", `{"msg":"ready"}` + "\n"}))
		w.Flush()
		Expect(merged.String()).To(HaveSuffix("bbs | partial\n"))
		Expect(raw.String()).To(HaveSuffix("partial\n"))
	})

	It("writes the launcher's own lines under its name", func() {
		var merged bytes.Buffer
		log := local.NewMergedLog(&merged, local.LogFormat{Width: 14})
		log.Printf("two\nlines")
		Expect(strings.Split(merged.String(), "\n")).To(Equal([]string{"diego-local    | two", "diego-local    | lines", ""}))
	})
})
