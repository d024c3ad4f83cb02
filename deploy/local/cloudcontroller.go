package local

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	ccconfig "diego/ccbridge/cloudcontroller/config"
)

// The local cluster's Cloud Controller (cloud-controller.md): the cf CLI's
// API on CCPort, which the stager, nsync and TPS call back on the same port.
const (
	CloudControllerName = "cloud-controller"
	// CCAdminUser is the one user `cf login` knows.
	CCAdminUser = "admin"
)

// CCURL is the cf CLI's API endpoint.
func (p *Plan) CCURL() string { return "http://" + hostPort(CCPort) }

// CCStateDir holds the Cloud Controller's bbolt file and blobs; it survives
// restarts (only the embedded etcd is emptied without --keep-data).
func (p *Plan) CCStateDir() string { return filepath.Join(p.StateDir, CloudControllerName) }

// CCCredentialsFile holds the generated admin password and signing secret.
func (p *Plan) CCCredentialsFile() string { return filepath.Join(p.StateDir, "cc-credentials.json") }

type ccCredentials struct {
	AdminPassword      string `json:"admin_password"`
	TokenSigningSecret string `json:"token_signing_secret"`
}

// cloudController is the Cloud Controller's daemon, with the credentials
// of CCCredentialsFile, or new ones that the first start writes there.
func (p *Plan) cloudController() []Daemon {
	creds, err := p.readCCCredentials()
	if err != nil {
		creds = ccCredentials{AdminPassword: randomHex(8), TokenSigningSecret: randomHex(32)}
	}
	cc := ccconfig.DefaultConfig()
	cc.ListenAddr = hostPort(CCPort)
	cc.ExternalURL, cc.InternalURL = p.CCURL(), p.CCURL()
	cc.InternalAPIUser, cc.InternalAPIPassword = stagingCCUser, stagingCCPassword
	cc.StateDir = p.CCStateDir()
	cc.AdminUser, cc.AdminPassword, cc.TokenSigningSecret = CCAdminUser, creds.AdminPassword, creds.TokenSigningSecret
	cc.StagerURL = "http://" + hostPort(StagerPort)
	cc.NsyncURL = "http://" + hostPort(NsyncPort)
	cc.TPSURL = "http://" + hostPort(TPSPort)
	cc.FileServerURL = "http://" + hostPort(FileServerPort)
	cc.FileServerStaticDir = p.StaticDir()
	cc.DopplerLoggingEndpoint = "ws://" + hostPort(DopplerPort)
	cc.SharedDomain = AppsDomain
	cc.Stacks = nil
	for _, name := range p.StackNames() {
		cc.Stacks = append(cc.Stacks, ccconfig.Stack{Name: name, Description: "diego rootfs " + p.StackMap[name]})
	}
	// cflinuxfs3 first when present: it is the default stack of cf push.
	for i, s := range cc.Stacks {
		if s.Name == "cflinuxfs3" {
			cc.Stacks[0], cc.Stacks[i] = cc.Stacks[i], cc.Stacks[0]
		}
	}
	cc.DropsondePort = DropsondePort
	cc.LogLevel = p.LogLevel
	return []Daemon{{Name: CloudControllerName, Binary: CloudControllerName, Kind: KindBrain,
		ConfigPath: p.configPath(CloudControllerName), Config: cc, Endpoint: p.CCURL() + " (cf api)", StopTimeout: 10 * time.Second}}
}

// readCCCredentials reads the credentials file.
func (p *Plan) readCCCredentials() (ccCredentials, error) {
	var creds ccCredentials
	data, err := os.ReadFile(p.CCCredentialsFile())
	if err != nil {
		return creds, err
	}
	if err := json.Unmarshal(data, &creds); err != nil || creds.AdminPassword == "" || len(creds.TokenSigningSecret) < 32 {
		return creds, fmt.Errorf("%s is damaged: delete it to generate new credentials", p.CCCredentialsFile())
	}
	return creds, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ccConfig is the plan's Cloud Controller config.
func (p *Plan) ccConfig() (ccconfig.Config, bool) {
	for _, d := range p.Daemons {
		if cfg, ok := d.Config.(ccconfig.Config); ok {
			return cfg, true
		}
	}
	return ccconfig.Config{}, false
}

// prepareCloudController writes the plan's credentials (mode 0600) unless
// the file holds them already, so that the next start keeps the password
// and every token it signed.
func (c *Cluster) prepareCloudController() error {
	cfg, ok := c.Plan.ccConfig()
	if !ok {
		return nil
	}
	if _, err := c.Plan.readCCCredentials(); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	data, _ := json.Marshal(ccCredentials{AdminPassword: cfg.AdminPassword, TokenSigningSecret: cfg.TokenSigningSecret})
	tmp := c.Plan.CCCredentialsFile() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing the cloud controller's credentials: %w", err)
	}
	return os.Rename(tmp, c.Plan.CCCredentialsFile())
}

// cloudControllerSummary is the cf CLI's login line.
func (p *Plan) cloudControllerSummary(w io.Writer) {
	if cfg, ok := p.ccConfig(); ok {
		fmt.Fprintf(w, "\n  cf api %s && cf login -u %s -p %s    # then: cf push APP -p DIR -b shell_buildpack\n",
			p.CCURL(), cfg.AdminUser, cfg.AdminPassword)
	}
}
