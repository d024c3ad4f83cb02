package main_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"google.golang.org/protobuf/proto"

	"diego/metron/events"
)

// fakeCC answers diego push's calls as the Cloud Controller and the doppler
// would, recording them in order, and checks their bodies.
type fakeCC struct {
	mu        sync.Mutex
	calls     []string
	matchBody []map[string]any
	resources []map[string]any
	zipped    map[string]os.FileMode
	streamHdr http.Header
	stream    chan *websocket.Conn
	polls     int
}

func (f *fakeCC) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeCC) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func logEnvelope(msg, source string) []byte {
	b, err := proto.Marshal(&events.Envelope{Origin: proto.String("stager"), EventType: events.Envelope_LogMessage.Enum(),
		LogMessage: &events.LogMessage{Message: []byte(msg), MessageType: events.LogMessage_OUT.Enum(), Timestamp: proto.Int64(1),
			AppId: proto.String("app-guid"), SourceType: proto.String(source), SourceInstance: proto.String("0")}})
	Expect(err).NotTo(HaveOccurred())
	return b
}

const indexHTML = "hello from diego push\n"

func (f *fakeCC) handler(server *string) http.Handler {
	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer GinkgoRecover()
		path := r.URL.Path
		if r.URL.RawQuery != "" {
			path += "?" + r.URL.RawQuery
		}
		f.record(r.Method + " " + path)
		if r.URL.Path != "/v2/info" && !strings.HasPrefix(r.URL.Path, "/uaa/") && r.Header.Get("Authorization") != "bearer the-token" {
			w.WriteHeader(401)
			return
		}
		write := func(status int, body string) {
			w.Header().Set("Content-Type", "application/json;charset=utf-8")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		}
		list := func(guids ...string) string {
			var rs []string
			for _, g := range guids {
				rs = append(rs, `{"metadata":{"guid":"`+g+`"},"entity":{"name":"x"}}`)
			}
			return `{"resources":[` + strings.Join(rs, ",") + `]}`
		}
		switch {
		case r.URL.Path == "/v2/info":
			write(200, `{"doppler_logging_endpoint":"ws://`+strings.TrimPrefix(*server, "http://")+`"}`)
		case r.URL.Path == "/uaa/oauth/token":
			write(200, `{"access_token":"the-token","token_type":"bearer","refresh_token":"r"}`)
		case r.URL.Path == "/v2/organizations":
			write(200, list("org-guid"))
		case r.URL.Path == "/v2/organizations/org-guid/spaces":
			write(200, list("space-guid"))
		case r.URL.Path == "/v2/spaces/space-guid/apps":
			write(200, list())
		case r.Method == "POST" && r.URL.Path == "/v2/apps":
			write(201, `{"metadata":{"guid":"app-guid"},"entity":{"name":"hello","state":"STOPPED"}}`)
		case r.URL.Path == "/v2/shared_domains":
			write(200, list("domain-guid"))
		case r.Method == "GET" && r.URL.Path == "/v2/routes":
			write(200, list())
		case r.Method == "POST" && r.URL.Path == "/v2/routes":
			write(201, `{"metadata":{"guid":"route-guid"},"entity":{"host":"hello"}}`)
		case r.URL.Path == "/v2/apps/app-guid/routes/route-guid":
			write(201, `{"metadata":{"guid":"app-guid"},"entity":{}}`)
		case r.URL.Path == "/v2/resource_match":
			Expect(json.NewDecoder(r.Body).Decode(&f.matchBody)).To(Succeed())
			write(200, `[{"sha1":"`+sha1Hex(indexHTML)+`","size":`+itoa(len(indexHTML))+`}]`)
		case r.URL.Path == "/v2/apps/app-guid/bits":
			mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			Expect(err).NotTo(HaveOccurred())
			Expect(mediaType).To(Equal("multipart/form-data"))
			mr := multipart.NewReader(r.Body, params["boundary"])
			for {
				part, err := mr.NextPart()
				if err == io.EOF {
					break
				}
				Expect(err).NotTo(HaveOccurred())
				body, _ := io.ReadAll(part)
				switch part.FormName() {
				case "resources":
					Expect(json.Unmarshal(body, &f.resources)).To(Succeed())
				case "application":
					Expect(part.FileName()).To(Equal("application.zip"))
					zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
					Expect(err).NotTo(HaveOccurred())
					f.zipped = map[string]os.FileMode{}
					for _, zf := range zr.File {
						f.zipped[zf.Name] = zf.Mode().Perm()
					}
				}
			}
			write(201, `{"metadata":{"guid":"job-guid","url":"/v2/jobs/job-guid"},"entity":{"guid":"job-guid","status":"queued"}}`)
		case r.URL.Path == "/v2/jobs/job-guid":
			write(200, `{"metadata":{"guid":"job-guid","url":"/v2/jobs/job-guid"},"entity":{"guid":"job-guid","status":"finished"}}`)
		case r.URL.Path == "/apps/app-guid/stream":
			f.mu.Lock()
			f.streamHdr = r.Header.Clone()
			f.mu.Unlock()
			conn, err := upgrader.Upgrade(w, r, nil)
			Expect(err).NotTo(HaveOccurred())
			f.stream <- conn
		case r.Method == "PUT" && r.URL.Path == "/v2/apps/app-guid":
			var body map[string]any
			Expect(json.NewDecoder(r.Body).Decode(&body)).To(Succeed())
			if conn := <-f.stream; body["state"] == "STARTED" && conn != nil {
				Expect(conn.WriteMessage(websocket.BinaryMessage, logEnvelope("-----> Shell buildpack: run.sh is executable", "STG"))).To(Succeed())
				Expect(conn.WriteMessage(websocket.BinaryMessage, logEnvelope("not a staging line", "APP"))).To(Succeed())
				Expect(conn.WriteMessage(websocket.BinaryMessage, logEnvelope("Uploading droplet", "STG"))).To(Succeed())
				f.stream <- conn
			}
			write(201, `{"metadata":{"guid":"app-guid"},"entity":{"name":"hello","state":"STARTED"}}`)
		case r.Method == "GET" && r.URL.Path == "/v2/apps/app-guid":
			f.mu.Lock()
			f.polls++
			staged := f.polls > 2
			f.mu.Unlock()
			state := "PENDING"
			if staged {
				state = "STAGED"
			}
			write(200, `{"metadata":{"guid":"app-guid"},"entity":{"name":"hello","state":"STARTED","package_state":"`+state+`"}}`)
		case r.URL.Path == "/v2/apps/app-guid/instances":
			write(200, `{"0":{"state":"RUNNING","since":1.0,"uptime":1}}`)
		default:
			write(404, `{"code":10000,"description":"Unknown request","error_code":"CF-NotFound"}`)
		}
	})
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

var _ = Describe("diego push", func() {
	It("resource-matches, uploads only the unmatched files, tails the staging logs and waits for a running instance, as cf push does", func() {
		dir := GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/bash\nexec busybox httpd -f -p $PORT\n"), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, "index.html"), []byte(indexHTML), 0o644)).To(Succeed())

		fake := &fakeCC{stream: make(chan *websocket.Conn, 1)}
		var url string
		server := httptest.NewServer(fake.handler(&url))
		DeferCleanup(server.Close)
		url = server.URL

		s := diego([]string{"DIEGO_CC=" + url, "DIEGO_CC_PASSWORD=pw"}, "", "push", dir, "--name", "hello", "--buildpack", "shell_buildpack")
		Eventually(s, 20*time.Second).Should(gexec.Exit(0))
		out := string(s.Out.Contents())
		Expect(out).To(ContainSubstring("Uploading " + dir + ": 2 file(s), 1 already on the Cloud Controller, 1 zipped"))
		Expect(out).To(ContainSubstring("-----> Shell buildpack: run.sh is executable\nUploading droplet\n"), "the STG lines, in order")
		Expect(out).NotTo(ContainSubstring("not a staging line"), "only STG lines while staging")
		Expect(out).To(ContainSubstring("hello is running"))

		calls := fake.Calls()
		Expect(calls).To(Equal([]string{
			"GET /v2/info",
			"POST /uaa/oauth/token",
			"GET /v2/organizations?order-by=name",
			"GET /v2/organizations/org-guid/spaces?order-by=name",
			"GET /v2/spaces/space-guid/apps?q=name%3Ahello&inline-relations-depth=1",
			"POST /v2/apps?async=true",
			"GET /v2/shared_domains",
			"GET /v2/routes?inline-relations-depth=1&q=host%3Ahello%3Bdomain_guid%3Adomain-guid",
			"POST /v2/routes?async=true&inline-relations-depth=1",
			"PUT /v2/apps/app-guid/routes/route-guid",
			"PUT /v2/resource_match",
			"PUT /v2/apps/app-guid/bits?async=true",
			"GET /v2/jobs/job-guid",
			"GET /apps/app-guid/stream",
			"PUT /v2/apps/app-guid?async=true&inline-relations-depth=1",
			"GET /v2/apps/app-guid",
			"GET /v2/apps/app-guid",
			"GET /v2/apps/app-guid",
			"GET /v2/apps/app-guid/instances",
		}))
		Expect(fake.streamHdr.Get("Authorization")).To(Equal("bearer the-token"))
		Expect(fake.streamHdr.Get("Origin")).To(Equal("http://localhost"))

		runSh := "#!/bin/bash\nexec busybox httpd -f -p $PORT\n"
		Expect(fake.matchBody).To(ConsistOf(
			map[string]any{"sha1": sha1Hex(indexHTML), "size": float64(len(indexHTML))},
			map[string]any{"sha1": sha1Hex(runSh), "size": float64(len(runSh))},
		))
		Expect(fake.resources).To(Equal([]map[string]any{
			{"fn": "index.html", "sha1": sha1Hex(indexHTML), "size": float64(len(indexHTML)), "mode": "0644"},
		}), "the matched file is listed, not uploaded")
		Expect(fake.zipped).To(Equal(map[string]os.FileMode{"run.sh": 0o755}), "only the unmatched file, executable")
	})

	It("warns and goes on when the staging log tail is refused", func() {
		dir := GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(dir, "index.html"), []byte(indexHTML), 0o644)).To(Succeed())
		fake := &fakeCC{stream: make(chan *websocket.Conn, 1)}
		var url string
		inner := fake.handler(&url)
		server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/stream") {
				fake.record("GET " + r.URL.Path)
				w.WriteHeader(401)
				return
			}
			if r.Method == "PUT" && r.URL.Path == "/v2/apps/app-guid" {
				fake.stream <- nil // no tail to write to
			}
			inner.ServeHTTP(w, r)
		}))
		DeferCleanup(server.Close)
		url = server.URL
		s := diego([]string{"DIEGO_CC=" + url, "DIEGO_CC_PASSWORD=pw"}, "", "push", dir, "--name", "hello")
		Eventually(s, 20*time.Second).Should(gexec.Exit(0))
		Expect(string(s.Err.Contents())).To(ContainSubstring("Warning: error tailing the staging logs: doppler answered 401"))
		Expect(string(s.Out.Contents())).To(ContainSubstring("1 file(s), 1 already on the Cloud Controller, 0 zipped (0 bytes)"))
		Expect(fake.zipped).To(BeNil(), "no application part when every file matched")
		Expect(fake.resources).To(HaveLen(1))
	})

	It("says which variable holds the password when the login is refused", func() {
		dir := GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(dir, "index.html"), []byte(indexHTML), 0o644)).To(Succeed())
		var url string
		server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/uaa/oauth/token" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(401)
				_, _ = w.Write([]byte(`{"error":"unauthorized","error_description":"Bad credentials"}`))
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"authorization_endpoint":"` + url + `/uaa","token_endpoint":"` + url + `/uaa"}`))
		}))
		DeferCleanup(server.Close)
		url = server.URL
		s := diego([]string{"DIEGO_CC=" + url, "DIEGO_CC_PASSWORD=wrong"}, "", "push", dir, "--name", "hello")
		Eventually(s, 20*time.Second).Should(gexec.Exit(1))
		Expect(string(s.Err.Contents())).To(ContainSubstring("status 401; set DIEGO_CC_PASSWORD to the password the local cluster printed"))
	})
})
