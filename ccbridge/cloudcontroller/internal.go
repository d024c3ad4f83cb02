package cloudcontroller

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"diego/ccbridge/ccclient"
	"diego/ccbridge/stager"
	"diego/deploy/routes"
)

func (s *Server) removeAppBlobs(g string) {
	_ = os.Remove(s.store.packagePath(g))
	_ = os.RemoveAll(s.store.dropletDir(g))
	_ = os.Remove(s.store.cachePath(g))
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	return s.job(w, r, "/v2/jobs/")
}
func (s *Server) stagingJob(w http.ResponseWriter, r *http.Request) error {
	return s.job(w, r, "/staging/jobs/")
}

func (s *Server) job(w http.ResponseWriter, r *http.Request, prefix string) error {
	g := routes.Param(r, "guid")
	return s.view(func(tx *bolt.Tx) error {
		j, ok, err := get[Job](tx, bJobs, g)
		if err != nil || !ok {
			return orNotFound(err, cfErr(404, 10010, "ResourceNotFound", "Job %s not found", g))
		}
		writeJSON(w, 200, jobResource(j, prefix))
		return nil
	})
}

func (s *Server) logAccess(w http.ResponseWriter, r *http.Request) error {
	return s.view(func(tx *bolt.Tx) error {
		if _, err := s.getAppTx(tx, routes.Param(r, "guid")); err != nil {
			return err
		}
		writeJSON(w, 200, map[string]any{})
		return nil
	})
}

func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, p, etag, ctype string, nf *apiError) error {
	f, err := os.Open(p)
	if err != nil {
		return nf
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if etag != "" {
		w.Header().Set("ETag", `"`+etag+`"`)
	}
	w.Header().Set("Content-Type", ctype)
	http.ServeContent(w, r, "", st.ModTime(), f)
	return nil
}

func (s *Server) stagingAppBits(w http.ResponseWriter, r *http.Request) error {
	g := routes.Param(r, "guid")
	var a App
	if err := s.view(func(tx *bolt.Tx) (err error) { a, err = s.getAppTx(tx, g); return }); err != nil {
		return err
	}
	nf := cfErr(404, 150002, "AppPackageNotFound", "The app package could not be found: %s", g)
	if a.PackageHash == "" {
		return nf
	}
	return s.serveBlob(w, r, s.store.packagePath(g), a.PackageHash, "application/zip", nf)
}

func (s *Server) dropletDownload(w http.ResponseWriter, r *http.Request) error {
	g := routes.Param(r, "guid")
	var a App
	if err := s.view(func(tx *bolt.Tx) (err error) { a, err = s.getAppTx(tx, g); return }); err != nil {
		return err
	}
	nf := cfErr(404, 10010, "ResourceNotFound", "Droplet not found for app %s", g)
	if a.DropletHash == "" {
		return nf
	}
	return s.serveBlob(w, r, s.store.dropletPath(g, a.DropletHash), a.DropletHash, "application/octet-stream", nf)
}

func (s *Server) cacheDownload(w http.ResponseWriter, r *http.Request) error {
	g := routes.Param(r, "guid")
	return s.serveBlob(w, r, s.store.cachePath(g), "", "application/octet-stream",
		cfErr(404, 10010, "ResourceNotFound", "Build artifacts cache not found for app %s", g))
}

// receiveFile streams the one file part of a multipart upload to tmp/,
// bounded by max_droplet_bytes, checking a Content-MD5.
func (s *Server) receiveFile(r *http.Request) (*os.File, error) {
	tooBig := cfErr(413, 380002, "DropletUploadInvalid", "The droplet upload is invalid: exceeds %d bytes", s.cfg.MaxDropletBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, cfErr(400, 380002, "DropletUploadInvalid", "The droplet upload is invalid: not multipart")
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, cfErr(400, 380002, "DropletUploadInvalid", "The droplet upload is invalid: no file part")
		}
		if err != nil {
			return nil, cfErr(400, 380002, "DropletUploadInvalid", "The droplet upload is invalid: unreadable body")
		}
		if part.FileName() == "" {
			continue
		}
		f, err := s.store.TempFile()
		if err != nil {
			return nil, err
		}
		h := md5.New()
		n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(part, s.cfg.MaxDropletBytes+1))
		bad := func(e error) (*os.File, error) { f.Close(); os.Remove(f.Name()); return nil, e }
		if err != nil {
			return bad(cfErr(400, 380002, "DropletUploadInvalid", "The droplet upload is invalid: unreadable part"))
		}
		if n > s.cfg.MaxDropletBytes {
			return bad(tooBig)
		}
		if want := r.Header.Get("Content-MD5"); want != "" && want != base64.StdEncoding.EncodeToString(h.Sum(nil)) {
			return bad(cfErr(400, 380002, "DropletUploadInvalid", "The droplet upload is invalid: Content-MD5 mismatch"))
		}
		return f, nil
	}
}

func (s *Server) dropletUpload(w http.ResponseWriter, r *http.Request) error {
	g := routes.Param(r, "guid")
	if err := s.view(func(tx *bolt.Tx) error { _, err := s.getAppTx(tx, g); return err }); err != nil {
		return err
	}
	f, err := s.receiveFile(r)
	if err != nil {
		return err
	}
	defer func() { f.Close(); os.Remove(f.Name()) }()
	task := r.URL.Query().Get("staging_task_id")
	var job Job
	err = s.update(func(tx *bolt.Tx) error {
		a, err := s.getAppTx(tx, g)
		if err != nil {
			return err
		}
		if task == "" {
			task = a.StagingTaskID
		}
		if task == "" || task != a.StagingTaskID {
			return cfErr(400, 380002, "DropletUploadInvalid", "The droplet upload is invalid: no staging in progress")
		}
		if err := s.store.Place(f, s.store.pendingPath(g)); err != nil {
			return err
		}
		a.PendingDropletTaskID = task
		if err := put(tx, bApps, g, a); err != nil {
			return err
		}
		if r.URL.Query().Get("async") == "true" {
			job = Job{Meta: Meta{Guid: uuid.NewString(), CreatedAt: s.now()}, Status: "finished"}
			return put(tx, bJobs, job.Guid, job)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if job.Guid != "" {
		writeJSON(w, 201, map[string]any{"metadata": map[string]any{"guid": job.Guid, "url": "/staging/jobs/" + job.Guid},
			"entity": map[string]any{"guid": job.Guid, "status": "finished"}})
		return nil
	}
	writeJSON(w, 201, map[string]any{})
	return nil
}

func (s *Server) cacheUpload(w http.ResponseWriter, r *http.Request) error {
	g := routes.Param(r, "guid")
	if err := s.view(func(tx *bolt.Tx) error { _, err := s.getAppTx(tx, g); return err }); err != nil {
		return err
	}
	f, err := s.receiveFile(r)
	if err != nil {
		return err
	}
	if err := s.store.Place(f, s.store.cachePath(g)); err != nil {
		os.Remove(f.Name())
		return err
	}
	writeJSON(w, 200, map[string]any{})
	return nil
}

// stagingCompleted handles the stager's final response (spec §8.4).
func (s *Server) stagingCompleted(w http.ResponseWriter, r *http.Request) error {
	sg := routes.Param(r, "staging_guid")
	if len(sg) < 38 {
		return errAppNotFound(sg)
	}
	g, task := sg[:36], sg[37:]
	var resp stager.StagingResponseForCC
	if err := readJSON(r, s.cfg.MaxJSONBodyBytes, &resp, "the body must be a staging response"); err != nil {
		return err
	}
	var result struct {
		LifecycleMetadata struct {
			DetectedBuildpack string `json:"detected_buildpack"`
			BuildpackKey      string `json:"buildpack_key"`
		} `json:"lifecycle_metadata"`
		ProcessTypes      map[string]string `json:"process_types"`
		ExecutionMetadata string            `json:"execution_metadata"`
	}
	malformed := resp.Error == nil && (resp.Result == nil || json.Unmarshal(*resp.Result, &result) != nil)
	var eff effects
	var reply error
	err := s.update(func(tx *bolt.Tx) error {
		eff, reply = effects{}, nil
		a, err := s.getAppTx(tx, g)
		if err != nil {
			return err
		}
		if a.StagingTaskID == "" || a.StagingTaskID != task {
			return nil
		}
		fail := func(reason, desc string) {
			a.PackageState, a.StagingFailedReason, a.StagingFailedDescription = Failed, reason, desc
		}
		switch {
		case resp.Error != nil:
			reason := resp.Error.Id
			if _, ok := reasonCodes[reason]; !ok {
				reason = "StagingError"
			}
			fail(reason, resp.Error.Message)
		case malformed:
			fail("StagingError", "malformed staging result")
			reply = errParse("malformed staging result")
		case a.PendingDropletTaskID != task || !fileExists(s.store.pendingPath(g)):
			fail("StagingError", "droplet was not uploaded")
		case a.Command == "" && result.ProcessTypes["web"] == "":
			fail("StagingError", "no start command: use -c or a Procfile")
		default:
			sum, err := fileSHA1(s.store.pendingPath(g))
			if err != nil {
				return err
			}
			if err := os.Rename(s.store.pendingPath(g), s.store.dropletPath(g, sum)); err != nil {
				return err
			}
			if err := syncDir(s.store.dropletDir(g)); err != nil {
				return err
			}
			old := a.DropletHash
			a.DropletHash, a.PendingDropletTaskID = sum, ""
			a.DetectedBuildpack = result.LifecycleMetadata.DetectedBuildpack
			if a.DetectedBuildpack == "" {
				a.DetectedBuildpack = result.LifecycleMetadata.BuildpackKey
			}
			a.DetectedStartCommand = result.ProcessTypes["web"]
			a.ExecutionMetadata = result.ExecutionMetadata
			a.PackageState = Staged
			a.StagingFailedReason, a.StagingFailedDescription = "", ""
			if old != "" && old != sum {
				defer os.Remove(s.store.dropletPath(g, old))
			}
			if a.State == Started {
				pg := a.Guid + "-" + a.Version
				if a.ProcessGuid != "" && a.ProcessGuid != pg {
					eff.stopApps = append(eff.stopApps, a.ProcessGuid)
				}
				a.ProcessGuid = pg
			}
		}
		a.StagingTaskID, a.StagingStartedAt = "", nil
		s.touch(&a)
		if a.ProcessGuid != "" && a.PackageState == Staged {
			if err := s.desire(tx, a, &eff); err != nil {
				return err
			}
		}
		return put(tx, bApps, g, a)
	})
	if err != nil {
		return err
	}
	if reply != nil {
		return reply
	}
	writeJSON(w, 200, map[string]any{})
	go s.apply(r.WithContext(context.WithoutCancel(r.Context())), g, eff)
	return nil
}

func fileSHA1(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha1.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ---- bulk (spec §8.6)

func (s *Server) bulkApps(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	batch, err := strconv.Atoi(q.Get("batch_size"))
	if err != nil || batch < 1 {
		return errParse("batch_size must be a positive integer")
	}
	var token struct {
		ID *uint64 `json:"id"`
	}
	if t := q.Get("token"); t != "" {
		if json.Unmarshal([]byte(t), &token) != nil {
			return errParse(`token must be {"id":<int>}`)
		}
	}
	after := uint64(0)
	if token.ID != nil {
		after = *token.ID
	}
	var apps []ccclient.DesireAppRequestFromCC
	last := after
	err = s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bAppsByID).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(apps) < batch; k, v = c.Next() {
			a, ok, err := get[App](tx, bApps, string(v))
			if err != nil {
				return err
			}
			if !ok || a.ProcessGuid == "" {
				continue
			}
			d, err := s.desireRequest(tx, a)
			if err != nil {
				return err
			}
			apps = append(apps, d)
			last = a.ID
		}
		return nil
	})
	if err != nil {
		return err
	}
	next := ccclient.CCBulkToken{Id: last}
	if q.Get("format") == "fingerprint" {
		fps := []ccclient.CCDesiredAppFingerprint{}
		for _, a := range apps {
			fps = append(fps, ccclient.CCDesiredAppFingerprint{ProcessGuid: a.ProcessGuid, ETag: a.ETag})
		}
		writeJSON(w, 200, map[string]any{"fingerprints": fps, "token": next})
		return nil
	}
	if apps == nil {
		apps = []ccclient.DesireAppRequestFromCC{}
	}
	writeJSON(w, 200, map[string]any{"apps": apps, "token": next})
	return nil
}

func (s *Server) bulkAppsByGuids(w http.ResponseWriter, r *http.Request) error {
	var guids []string
	if err := readJSON(r, s.cfg.MaxResourceMatchBytes, &guids, "the body must be a JSON array of process guids"); err != nil {
		return err
	}
	out := []ccclient.DesireAppRequestFromCC{}
	err := s.view(func(tx *bolt.Tx) error {
		for _, pg := range guids {
			if len(pg) < 36 {
				continue
			}
			a, ok, err := get[App](tx, bApps, pg[:36])
			if err != nil {
				return err
			}
			if ok && a.ProcessGuid == pg {
				d, err := s.desireRequest(tx, a)
				if err != nil {
					return err
				}
				out = append(out, d)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, 200, out)
	return nil
}

// appCrashed records an app.crash event (spec §9, §11).
func (s *Server) appCrashed(w http.ResponseWriter, r *http.Request) error {
	pg := routes.Param(r, "process_guid")
	var crash map[string]any
	if err := readJSON(r, s.cfg.MaxJSONBodyBytes, &crash, "the body must be a crash report object"); err != nil {
		return err
	}
	if crash == nil {
		return errParse("the body must be a crash report object")
	}
	if len(pg) < 36 {
		return errAppNotFound(pg)
	}
	err := s.update(func(tx *bolt.Tx) error {
		a, err := s.getAppTx(tx, pg[:36])
		if err != nil {
			return err
		}
		meta := map[string]any{}
		for _, k := range []string{"instance", "index", "reason", "exit_description", "exit_status", "crash_count", "crash_timestamp", "cell_id"} {
			if v, ok := crash[k]; ok {
				meta[k] = v
			}
		}
		meta["version"] = strings.TrimPrefix(pg, pg[:36]+"-")
		return s.recordAs(tx, a, "app.crash", meta, a.Guid, "app", a.Name)
	})
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{})
	return nil
}

func (s *Server) appNoted(w http.ResponseWriter, r *http.Request) error {
	pg := routes.Param(r, "process_guid")
	var obj map[string]any
	if err := readJSON(r, s.cfg.MaxJSONBodyBytes, &obj, "the body must be a JSON object"); err != nil {
		return err
	}
	if obj == nil {
		return errParse("the body must be a JSON object")
	}
	if len(pg) < 36 {
		return errAppNotFound(pg)
	}
	if err := s.view(func(tx *bolt.Tx) error { _, err := s.getAppTx(tx, pg[:36]); return err }); err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{})
	return nil
}
