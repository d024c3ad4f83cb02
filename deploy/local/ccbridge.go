package local

import (
	"path/filepath"
	"time"

	fileserverconfig "diego/ccbridge/fileserver/config"
	"diego/ccbridge/lifecycle/bundle"
	stagerconfig "diego/ccbridge/stager/config"
)

// The staging half of the CC bridge in the local cluster (docs/ccbridge.md):
// the file-server serves the lifecycle bundle and the buildpacks that `make
// build` lays out in <bin dir>/static, and takes the cells' uploads to CC;
// the stager desires staging tasks through the receptor. Both talk to the
// Cloud Controller (its stand-in) on CCPort.
const (
	StagerPort     = 8888
	FileServerPort = 8080
	// CCPort is the Cloud Controller's internal API (spec bridge.md §1.3).
	CCPort = 9022
)

// stagingCCUser and stagingCCPassword are the CC internal API's basic auth
// that the stager sends (cloud-controller.md §1.3: internal_api_user and
// internal_api_password, equal to the stager's cc_basic_auth_*).
const (
	stagingCCUser     = "internal_user"
	stagingCCPassword = "internal_password"
)

// StaticDir is the file-server's static directory: bin/static, which
// `make build` fills (lifecycle bundle and buildpack zips).
func (p *Plan) StaticDir() string { return filepath.Join(p.BinDir, "static") }

// stagingDaemons are the file-server and the stager, started after the
// brain and cells and stopped with the brain.
func (p *Plan) stagingDaemons() []Daemon {
	fs := fileserverconfig.DefaultConfig()
	fs.ListenAddr = hostPort(FileServerPort)
	fs.StaticDirectory = p.StaticDir()
	fs.LogLevel = p.LogLevel

	st := stagerconfig.DefaultConfig()
	st.ListenAddr = hostPort(StagerPort)
	st.StagingTaskCallbackURL = "http://" + hostPort(StagerPort)
	st.ReceptorAddress = p.ReceptorURL
	st.CCBaseURL = "http://" + hostPort(CCPort)
	st.CCBasicAuthUsername, st.CCBasicAuthPassword = stagingCCUser, stagingCCPassword
	st.FileServerURL = "http://" + fs.ListenAddr
	st.CCUploaderURL = st.FileServerURL
	st.Lifecycles = nil
	for _, stack := range p.StackNames() {
		st.Lifecycles = append(st.Lifecycles, "buildpack/"+stack+":"+bundle.LifecyclePath)
	}
	st.DropsondePort = DropsondePort
	st.LogLevel = p.LogLevel

	return []Daemon{
		{Name: "file-server", Binary: "file-server", Kind: KindBrain, ConfigPath: p.configPath("file-server"), Config: fs,
			Endpoint: "http://" + fs.ListenAddr + "/v1/static/", StopTimeout: 10 * time.Second},
		{Name: "stager", Binary: "stager", Kind: KindBrain, ConfigPath: p.configPath("stager"), Config: st,
			Endpoint: "http://" + st.ListenAddr + "/v1/staging/", StopTimeout: 10 * time.Second},
	}
}

// stagingPorts are the ports the file-server and the stager listen on.
func stagingPorts() map[int]string {
	return map[int]string{FileServerPort: "file-server", StagerPort: "stager"}
}
