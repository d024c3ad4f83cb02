// Package stagingcc is a Cloud Controller stand-in for the staging tests
// (spec bridge.md §9.1's blob and internal staging endpoints): it serves
// app bits as a zip, takes droplet uploads (async, with a job to poll) and
// build artifacts caches, and records the staging responses the stager
// posts. Every route needs the basic auth it was made with. SetFallback
// adds the rest of a CC (the app API of ccbridge/standincc) behind the
// same server, so one stand-in serves a whole end-to-end run.
package stagingcc

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// File is one file of an app's bits.
type File struct {
	Body string
	Mode uint32
}

// Upload is a blob CC received.
type Upload struct {
	Body          []byte
	SHA1          string
	Filename      string
	ContentLength int64
	Header        http.Header
}

// Completion is a staging response CC received.
type Completion struct {
	StagingGuid string
	Body        json.RawMessage
	Auth        string
}

// CC is the stand-in; its fields configure it and are safe to set before
// the first request.
type CC struct {
	Server             *httptest.Server
	Username, Password string

	mu              sync.Mutex
	apps            map[string][]byte
	droplets        map[string]Upload
	caches          map[string]Upload
	completions     []Completion
	jobs            map[string][]string
	completedStatus int
	dropletStatus   int
	jobStatuses     []string
	jobCount        int
	uploadAttempts  int
	fallback        http.Handler
}

// New starts the stand-in; it stops when the spec ends (through cleanup).
func New(username, password string) *CC {
	cc := &CC{
		Username: username, Password: password,
		apps: map[string][]byte{}, droplets: map[string]Upload{}, caches: map[string]Upload{},
		jobs: map[string][]string{}, completedStatus: http.StatusOK, jobStatuses: []string{"running", "finished"},
	}
	cc.Server = httptest.NewServer(http.HandlerFunc(cc.serve))
	return cc
}

// Close stops the server.
func (cc *CC) Close() { cc.Server.Close() }

// URL is http://user:pass@host:port, as CC puts it in its staging URIs.
func (cc *CC) URL() string {
	return strings.Replace(cc.Server.URL, "http://", fmt.Sprintf("http://%s:%s@", cc.Username, cc.Password), 1)
}

// SetApp stores an app's bits, served zipped at GET /staging/apps/:guid.
func (cc *CC) SetApp(guid string, files map[string]File) error {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, f := range files {
		hdr := &zip.FileHeader{Name: name, Method: zip.Deflate}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		hdr.SetMode(fsMode(mode))
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(w, f.Body); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.apps[guid] = buf.Bytes()
	return nil
}

// SetCompletedStatus is what POST /internal/staging/:guid/completed answers.
func (cc *CC) SetCompletedStatus(status int) {
	cc.mu.Lock()
	cc.completedStatus = status
	cc.mu.Unlock()
}

// SetDropletStatus makes droplet uploads fail with status (0: accept).
func (cc *CC) SetDropletStatus(status int) { cc.mu.Lock(); cc.dropletStatus = status; cc.mu.Unlock() }

// SetJobStatuses is the sequence a droplet job's polls see; the first is
// in the upload's answer, the last repeats.
func (cc *CC) SetJobStatuses(s ...string) { cc.mu.Lock(); cc.jobStatuses = s; cc.mu.Unlock() }

// SetFallback serves every request this stand-in has no route for with h
// (after the basic auth check), instead of answering 404.
func (cc *CC) SetFallback(h http.Handler) { cc.mu.Lock(); cc.fallback = h; cc.mu.Unlock() }

// Droplet is the droplet uploaded for an app.
func (cc *CC) Droplet(guid string) (Upload, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	u, ok := cc.droplets[guid]
	return u, ok
}

// Cache is the build artifacts cache uploaded for an app.
func (cc *CC) Cache(guid string) (Upload, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	u, ok := cc.caches[guid]
	return u, ok
}

// Completions are the staging responses received, in order.
func (cc *CC) Completions() []Completion {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return append([]Completion(nil), cc.completions...)
}

// UploadAttempts counts droplet and cache upload requests.
func (cc *CC) UploadAttempts() int { cc.mu.Lock(); defer cc.mu.Unlock(); return cc.uploadAttempts }

func (cc *CC) serve(w http.ResponseWriter, r *http.Request) {
	if u, p, ok := r.BasicAuth(); !ok || u != cc.Username || p != cc.Password {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "staging" && parts[1] == "apps":
		cc.mu.Lock()
		bits, ok := cc.apps[parts[2]]
		cc.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(bits)
	case r.Method == http.MethodPost && len(parts) == 4 && parts[0] == "staging" && parts[1] == "droplets" && parts[3] == "upload":
		cc.dropletUpload(w, r, parts[2])
	case r.Method == http.MethodGet && len(parts) == 4 && parts[0] == "staging" && parts[1] == "droplets" && parts[3] == "download":
		if d, ok := cc.Droplet(parts[2]); ok {
			_, _ = w.Write(d.Body)
			return
		}
		http.NotFound(w, r)
	case r.Method == http.MethodPost && len(parts) == 4 && parts[0] == "staging" && parts[1] == "buildpack_cache" && parts[3] == "upload":
		up, err := cc.receive(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		cc.mu.Lock()
		cc.caches[parts[2]] = up
		cc.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodGet && len(parts) == 4 && parts[0] == "staging" && parts[1] == "buildpack_cache" && parts[3] == "download":
		if c, ok := cc.Cache(parts[2]); ok {
			_, _ = w.Write(c.Body)
			return
		}
		http.NotFound(w, r)
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "staging" && parts[1] == "jobs":
		cc.mu.Lock()
		seq, ok := cc.jobs[parts[2]]
		status := ""
		if ok {
			status = seq[0]
			if len(seq) > 1 {
				cc.jobs[parts[2]] = seq[1:]
			}
		}
		cc.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		writeJob(w, http.StatusOK, parts[2], status)
	case r.Method == http.MethodPost && len(parts) == 4 && parts[0] == "internal" && parts[1] == "staging" && parts[3] == "completed":
		body, _ := io.ReadAll(r.Body)
		cc.mu.Lock()
		cc.completions = append(cc.completions, Completion{StagingGuid: parts[2], Body: body, Auth: r.Header.Get("Authorization")})
		status := cc.completedStatus
		cc.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte("{}"))
	default:
		cc.mu.Lock()
		fallback := cc.fallback
		cc.mu.Unlock()
		if fallback != nil {
			fallback.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	}
}

func (cc *CC) dropletUpload(w http.ResponseWriter, r *http.Request, guid string) {
	cc.mu.Lock()
	status := cc.dropletStatus
	cc.mu.Unlock()
	if status != 0 {
		cc.mu.Lock()
		cc.uploadAttempts++
		cc.mu.Unlock()
		http.Error(w, "droplet refused", status)
		return
	}
	up, err := cc.receive(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cc.mu.Lock()
	cc.droplets[guid] = up
	cc.jobCount++
	job := fmt.Sprintf("job-%d", cc.jobCount)
	seq := append([]string(nil), cc.jobStatuses...)
	cc.jobs[job] = seq
	cc.mu.Unlock()
	if r.URL.Query().Get("async") != "true" {
		w.WriteHeader(http.StatusCreated)
		return
	}
	writeJob(w, http.StatusCreated, job, "queued")
}

func writeJob(w http.ResponseWriter, status int, guid, state string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"metadata": map[string]any{"guid": guid, "url": "/staging/jobs/" + guid},
		"entity":   map[string]any{"guid": guid, "status": state},
	})
}

// receive reads a multipart upload's single file part, checking that the
// declared Content-Length is exact (CC's nginx needs it).
func (cc *CC) receive(r *http.Request) (Upload, error) {
	cc.mu.Lock()
	cc.uploadAttempts++
	cc.mu.Unlock()
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return Upload{}, err
	}
	if r.ContentLength != int64(len(raw)) {
		return Upload{}, fmt.Errorf("Content-Length %d, body %d bytes", r.ContentLength, len(raw))
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	if err := r.ParseMultipartForm(64 << 20); err != nil {
		return Upload{}, fmt.Errorf("not multipart: %w", err)
	}
	var files []Upload
	for _, fhs := range r.MultipartForm.File {
		for _, fh := range fhs {
			f, err := fh.Open()
			if err != nil {
				return Upload{}, err
			}
			body, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				return Upload{}, err
			}
			sum := sha1.Sum(body)
			files = append(files, Upload{Body: body, SHA1: hex.EncodeToString(sum[:]), Filename: fh.Filename,
				ContentLength: r.ContentLength, Header: r.Header.Clone()})
		}
	}
	if len(files) != 1 {
		return Upload{}, fmt.Errorf("want one file part, got %d", len(files))
	}
	return files[0], nil
}
