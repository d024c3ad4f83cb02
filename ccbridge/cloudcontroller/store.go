package cloudcontroller

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket names (spec §1.2).
var (
	bMeta       = []byte("meta")
	bOrgs       = []byte("orgs")
	bSpaces     = []byte("spaces")
	bApps       = []byte("apps")
	bRoutes     = []byte("routes")
	bDomains    = []byte("domains")
	bStacks     = []byte("stacks")
	bBuildpacks = []byte("buildpacks")
	bQuotas     = []byte("quotas")
	bJobs       = []byte("jobs")
	bOrgNames   = []byte("org_names")
	bSpaceNames = []byte("space_names")
	bAppNames   = []byte("app_names")
	bRouteKeys  = []byte("route_keys")
	bAppsByID   = []byte("apps_by_id")
	bEvents     = []byte("events")
	bEventActee = []byte("event_actee")
	bResources  = []byte("resources")
)

var allBuckets = [][]byte{bMeta, bOrgs, bSpaces, bApps, bRoutes, bDomains, bStacks, bBuildpacks, bQuotas, bJobs,
	bOrgNames, bSpaceNames, bAppNames, bRouteKeys, bAppsByID, bEvents, bEventActee, bResources}

// Meta is a record's envelope metadata.
type Meta struct {
	Guid      string     `json:"guid"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt *time.Time `json:"updated_at"`
	Seq       uint64     `json:"seq"` // creation order within its bucket
}

// Org is an organization record.
type Org struct {
	Meta
	Name      string `json:"name"`
	QuotaGuid string `json:"quota_guid"`
}

// Quota is the org quota record.
type Quota struct {
	Meta
	Name        string `json:"name"`
	MemoryLimit int    `json:"memory_limit"`
}

// Space is a space record.
type Space struct {
	Meta
	Name    string `json:"name"`
	OrgGuid string `json:"organization_guid"`
}

// Domain is a shared domain record.
type Domain struct {
	Meta
	Name string `json:"name"`
}

// Stack is a stack record.
type Stack struct {
	Meta
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Buildpack is a built-in buildpack record.
type Buildpack struct {
	Meta
	Name     string `json:"name"`
	Position int    `json:"position"`
	Filename string `json:"filename"`
}

// Route is a route record.
type Route struct {
	Meta
	Host       string `json:"host"`
	DomainGuid string `json:"domain_guid"`
	SpaceGuid  string `json:"space_guid"`
}

// Job is a finished bits-upload job.
type Job struct {
	Meta
	Status string `json:"status"`
}

// App is an app record (spec §8.1).
type App struct {
	Meta
	Name                     string         `json:"name"`
	SpaceGuid                string         `json:"space_guid"`
	StackGuid                string         `json:"stack_guid"`
	State                    string         `json:"state"`
	Instances                int            `json:"instances"`
	Memory                   int            `json:"memory"`
	DiskQuota                int            `json:"disk_quota"`
	Command                  string         `json:"command"`
	Buildpack                string         `json:"buildpack"`
	EnvironmentJSON          map[string]any `json:"environment_json"`
	HealthCheckType          string         `json:"health_check_type"`
	HealthCheckTimeout       int            `json:"health_check_timeout"`
	PackageState             string         `json:"package_state"`
	PackageHash              string         `json:"package_hash"`
	PackageUpdatedAt         *time.Time     `json:"package_updated_at"`
	Version                  string         `json:"version"`
	ProcessGuid              string         `json:"process_guid"`
	StagingTaskID            string         `json:"staging_task_id"`
	StagingStartedAt         *time.Time     `json:"staging_started_at"`
	DropletHash              string         `json:"droplet_hash"`
	DetectedBuildpack        string         `json:"detected_buildpack"`
	DetectedStartCommand     string         `json:"detected_start_command"`
	ExecutionMetadata        string         `json:"execution_metadata"`
	PendingDropletTaskID     string         `json:"pending_droplet_task_id"`
	StagingFailedReason      string         `json:"staging_failed_reason"`
	StagingFailedDescription string         `json:"staging_failed_description"`
	ID                       uint64         `json:"id"`
	ETag                     string         `json:"etag"`
	RouteGuids               []string       `json:"route_guids"`
}

// Event is an audit or crash event (spec §11).
type Event struct {
	Meta
	Type      string         `json:"type"`
	Actor     string         `json:"actor"`
	ActorType string         `json:"actor_type"`
	ActorName string         `json:"actor_name"`
	Actee     string         `json:"actee"`
	ActeeType string         `json:"actee_type"`
	ActeeName string         `json:"actee_name"`
	Timestamp time.Time      `json:"timestamp"`
	Metadata  map[string]any `json:"metadata"`
	SpaceGuid string         `json:"space_guid"`
	OrgGuid   string         `json:"organization_guid"`
}

// User is the one admin user.
type User struct {
	Guid string `json:"guid"`
	Name string `json:"name"`
}

// Store is the bbolt file plus the blob directories under state_dir.
type Store struct {
	db  *bolt.DB
	dir string
}

// errInUse is the start-up failure when another process holds the file.
var errInUse = errors.New("in use")

// OpenStore opens <dir>/cc.db with a 1 s lock timeout and makes the buckets.
func OpenStore(dir string) (*Store, error) {
	for _, d := range []string{"tmp", "packages", "droplets", "buildpack_cache", "resources"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("making state directory: %w", err)
		}
	}
	db, err := bolt.Open(filepath.Join(dir, "cc.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("state directory %s is in use", dir)
		}
		return nil, fmt.Errorf("opening %s: %w", filepath.Join(dir, "cc.db"), err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("making buckets: %w", err)
	}
	return &Store{db: db, dir: dir}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func get[T any](tx *bolt.Tx, bucket []byte, key string) (T, bool, error) {
	var v T
	raw := tx.Bucket(bucket).Get([]byte(key))
	if raw == nil {
		return v, false, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, false, fmt.Errorf("decoding %s/%s: %w", bucket, key, err)
	}
	return v, true, nil
}

func put(tx *bolt.Tx, bucket []byte, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put([]byte(key), raw)
}

func all[T any](tx *bolt.Tx, bucket []byte) ([]T, error) {
	var out []T
	err := tx.Bucket(bucket).ForEach(func(k, raw []byte) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("decoding %s/%s: %w", bucket, k, err)
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

func seqKey(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

// blob paths (spec §1.2).
func (s *Store) packagePath(app string) string { return filepath.Join(s.dir, "packages", app+".zip") }
func (s *Store) dropletDir(app string) string  { return filepath.Join(s.dir, "droplets", app) }
func (s *Store) dropletPath(app, sha string) string {
	return filepath.Join(s.dropletDir(app), sha+".tgz")
}
func (s *Store) pendingPath(app string) string {
	return filepath.Join(s.dropletDir(app), "pending.tgz")
}
func (s *Store) cachePath(app string) string {
	return filepath.Join(s.dir, "buildpack_cache", app+".tgz")
}
func (s *Store) resourcePath(sha string) string {
	return filepath.Join(s.dir, "resources", sha[:2], sha)
}

// TempFile makes a file in tmp/ for a blob being written.
func (s *Store) TempFile() (*os.File, error) {
	return os.CreateTemp(filepath.Join(s.dir, "tmp"), "blob-*")
}

// Place fsyncs the temp file f, renames it to dst and fsyncs dst's
// directory, so that a crash leaves either the old or the new blob.
func (s *Store) Place(f *os.File, dst string) error {
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dst))
}

// WriteBlob writes r to dst atomically and returns the byte count.
func (s *Store) WriteBlob(dst string, r io.Reader) (int64, error) {
	f, err := s.TempFile()
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if err == nil {
		err = s.Place(f, dst)
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
	return n, err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Sweep empties tmp/ and deletes blobs no record references (spec §1.2).
func (s *Store) Sweep() error {
	_ = os.RemoveAll(filepath.Join(s.dir, "tmp"))
	if err := os.MkdirAll(filepath.Join(s.dir, "tmp"), 0o700); err != nil {
		return err
	}
	apps := map[string]App{}
	resources := map[string]bool{}
	err := s.db.View(func(tx *bolt.Tx) error {
		list, err := all[App](tx, bApps)
		for _, a := range list {
			apps[a.Guid] = a
		}
		_ = tx.Bucket(bResources).ForEach(func(k, _ []byte) error { resources[string(k)] = true; return nil })
		return err
	})
	if err != nil {
		return err
	}
	removeUnless := func(pattern string, keep func(path string) bool) {
		matches, _ := filepath.Glob(filepath.Join(s.dir, pattern))
		for _, m := range matches {
			if !keep(m) {
				_ = os.RemoveAll(m)
			}
		}
	}
	removeUnless("packages/*", func(p string) bool {
		a, ok := apps[strings.TrimSuffix(filepath.Base(p), ".zip")]
		return ok && a.PackageHash != ""
	})
	removeUnless("buildpack_cache/*", func(p string) bool { _, ok := apps[strings.TrimSuffix(filepath.Base(p), ".tgz")]; return ok })
	removeUnless("droplets/*", func(p string) bool { _, ok := apps[filepath.Base(p)]; return ok })
	removeUnless("droplets/*/*", func(p string) bool {
		a := apps[filepath.Base(filepath.Dir(p))]
		name := filepath.Base(p)
		return (name == "pending.tgz" && a.PendingDropletTaskID != "") || (a.DropletHash != "" && name == a.DropletHash+".tgz")
	})
	removeUnless("resources/*/*", func(p string) bool { return resources[filepath.Base(p)] })
	return nil
}
