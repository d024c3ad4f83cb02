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
	dopplerconfig "diego/metron/doppler/config"
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
	// DopplerOperatorToken opens the doppler's logs of every log guid to
	// the operator's `diego logs` and `diego top` (docs/decisions.md 103).
	DopplerOperatorToken string `json:"doppler_operator_token"`
}

// credentials are those of CCCredentialsFile, or new ones that the first
// start writes there; a file from before the doppler's operator token
// keeps its password and secret and gains a token.
func (p *Plan) credentials() ccCredentials {
	if p.ccCreds == nil {
		creds, err := p.readCCCredentials()
		if err != nil {
			creds = ccCredentials{AdminPassword: randomHex(8), TokenSigningSecret: randomHex(32)}
		}
		if creds.DopplerOperatorToken == "" {
			creds.DopplerOperatorToken = randomHex(32)
		}
		p.ccCreds = &creds
	}
	return *p.ccCreds
}

// DopplerOperatorToken is the bearer token of the operator's log reads
// (env.sh's DIEGO_DOPPLER_TOKEN).
func (p *Plan) DopplerOperatorToken() string { return p.credentials().DopplerOperatorToken }

// ccDopplerAuth puts the doppler in auth mode cc (cloud-controller.md
// §10.2): the cf CLI's reads are the CC's to allow, and the operator's
// token reads every log guid, CC app or not.
func (p *Plan) ccDopplerAuth(d *dopplerconfig.Config) {
	d.AuthMode = "cc"
	d.CCLogAccessURL = p.CCURL() + "/internal/log_access"
	d.OperatorToken = p.DopplerOperatorToken()
}

// ccEnv is env.sh's lines for `diego push`, `diego logs` and `diego top`.
func (p *Plan) ccEnv() []string {
	return []string{
		"# diego push logs in to the Cloud Controller; diego logs and diego top read the doppler with the operator's token.",
		"export DIEGO_CC=" + p.CCURL(),
		"export DIEGO_CC_PASSWORD=" + p.credentials().AdminPassword,
		"export DIEGO_DOPPLER_TOKEN=" + p.DopplerOperatorToken(),
	}
}

// cloudController is the Cloud Controller's daemon, with the plan's
// credentials.
func (p *Plan) cloudController() []Daemon {
	creds := p.credentials()
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
// the file holds them already, so that the next start keeps the password,
// every token it signed and the doppler's operator token.
func (c *Cluster) prepareCloudController() error {
	if _, ok := c.Plan.ccConfig(); !ok {
		return nil
	}
	if held, err := c.Plan.readCCCredentials(); err == nil && held.DopplerOperatorToken != "" {
		return nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	data, _ := json.Marshal(c.Plan.credentials())
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
		fmt.Fprintf(w, "  (. %s && bin/diego push deploy/examples/app --name hello)   # the same without the cf CLI\n", p.EnvFile())
	}
}
