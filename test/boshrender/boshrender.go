// Package boshrender renders the BOSH release in deploy/bosh without a BOSH
// director: render.rb (Ruby's ERB, from Debian's ruby) evaluates each job's
// templates with BOSH's p, if_p, spec.* and link helpers, for every
// instance of a manifest, after ops and ((variables)) as the director
// applies them. Variables are generated here as the director's config
// server would: certificates signed by their CA, passwords.
//
// The renderer tests (deploy/bosh's spec) and the multi-VM launcher both
// use it, so the cluster in namespaces runs the configs a real deployment
// would get.
package boshrender

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

//go:embed render.rb
var script []byte

// Job is one job of one instance, rendered.
type Job struct {
	InstanceGroup string `json:"instance_group"`
	Index         int    `json:"index"`
	Job           string `json:"job"`
	Address       string `json:"address"`
	// Files maps a path under /var/vcap/jobs/<job>/ (config/bbs.json, ...)
	// to its content; "monit" is the rendered monit file.
	Files map[string]string `json:"files"`
}

// Op is a go-patch operation (replace or remove) applied to the manifest
// before rendering.
type Op struct {
	Type  string `json:"type"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// Variable is an entry of the manifest's variables section.
type Variable struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Options struct {
		IsCA             bool     `json:"is_ca"`
		CA               string   `json:"ca"`
		CommonName       string   `json:"common_name"`
		AlternativeNames []string `json:"alternative_names"`
		ExtKeyUsage      []string `json:"extended_key_usage"`
	} `json:"options"`
}

// Release is deploy/bosh's structure as render.rb reads it.
type Release struct {
	Jobs map[string]struct {
		Spec      map[string]any    `json:"spec"`
		Templates map[string]string `json:"templates"`
		Monit     *string           `json:"monit"`
	} `json:"jobs"`
	Packages map[string]struct {
		Spec      map[string]any `json:"spec"`
		Packaging bool           `json:"packaging"`
	} `json:"packages"`
	Final map[string]any `json:"final"`
	Blobs map[string]any `json:"blobs"`
}

// ruby runs render.rb with args and decodes its JSON output into out.
func ruby(out any, args ...string) error {
	if _, err := exec.LookPath("ruby"); err != nil {
		return errors.New("rendering BOSH templates needs ruby (apt-get install ruby; `make deps` installs it)")
	}
	f, err := os.CreateTemp("", "render-*.rb")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(script); err != nil {
		f.Close()
		return err
	}
	f.Close()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("ruby", append([]string{f.Name()}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("render.rb %v: %w: %s", args, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return json.Unmarshal(stdout.Bytes(), out)
}

// ReadRelease reads the release directory's jobs and packages.
func ReadRelease(dir string) (Release, error) {
	var r Release
	return r, ruby(&r, "--release", dir)
}

// Variables lists the manifest's variables section.
func Variables(manifest string) ([]Variable, error) {
	var vs []Variable
	return vs, ruby(&vs, "--variables", manifest)
}

// Render renders every job of every instance of manifest from the release
// in releaseDir, after ops, with vars as the ((variables)).
func Render(releaseDir, manifest string, vars map[string]any, ops []Op) ([]Job, error) {
	dir, err := os.MkdirTemp("", "boshrender-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	args := []string{releaseDir, manifest}
	write := func(flag string, v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, flag[2:]+".json")
		args = append(args, flag, path)
		return os.WriteFile(path, data, 0o600)
	}
	if err := write("--vars", vars); err != nil {
		return nil, err
	}
	if len(ops) > 0 {
		if err := write("--ops", ops); err != nil {
			return nil, err
		}
	}
	var jobs []Job
	return jobs, ruby(&jobs, args...)
}

// Generate makes a value for every variable as BOSH's config server would:
// a certificate is {ca, certificate, private_key} (RSA, signed by its
// options.ca, or self-signed with is_ca), a password a random string.
// Variables are generated in order, so a CA comes before what it signs.
func Generate(vars []Variable) (map[string]any, error) {
	return GenerateMissing(vars, nil)
}

// GenerateMissing keeps the values in have and generates the variables it
// lacks, as Generate would, a certificate signed by a CA from have when its
// ca is one: a manifest that gains variables keeps the certificates its
// running instances already hold.
func GenerateMissing(vars []Variable, have map[string]any) (map[string]any, error) {
	out := map[string]any{}
	type issuer struct {
		cert *x509.Certificate
		key  *rsa.PrivateKey
		pem  string
	}
	cas := map[string]issuer{}
	for _, v := range vars {
		if value, ok := have[v.Name]; ok {
			out[v.Name] = value
			if v.Type == "certificate" && v.Options.IsCA {
				cert, key, certPEM, err := parseCA(value)
				if err != nil {
					return nil, fmt.Errorf("variable %s: %w", v.Name, err)
				}
				cas[v.Name] = issuer{cert: cert, key: key, pem: certPEM}
			}
			continue
		}
		switch v.Type {
		case "password":
			b := make([]byte, 16)
			if _, err := rand.Read(b); err != nil {
				return nil, err
			}
			out[v.Name] = hex.EncodeToString(b)
		case "certificate":
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				return nil, err
			}
			serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
			if err != nil {
				return nil, err
			}
			tmpl := &x509.Certificate{
				SerialNumber: serial,
				Subject:      pkix.Name{CommonName: v.Options.CommonName, Organization: []string{"diego"}},
				NotBefore:    time.Now().Add(-time.Hour),
				NotAfter:     time.Now().Add(365 * 24 * time.Hour),
				KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			}
			for _, name := range v.Options.AlternativeNames {
				if ip := net.ParseIP(name); ip != nil {
					tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
				} else {
					tmpl.DNSNames = append(tmpl.DNSNames, name)
				}
			}
			for _, u := range v.Options.ExtKeyUsage {
				switch u {
				case "server_auth":
					tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
				case "client_auth":
					tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
				default:
					return nil, fmt.Errorf("variable %s: extended_key_usage %q is not supported", v.Name, u)
				}
			}
			parent, signer, caPEM := tmpl, key, ""
			if v.Options.IsCA {
				tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
				tmpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
			} else {
				ca, ok := cas[v.Options.CA]
				if !ok {
					return nil, fmt.Errorf("variable %s: its ca %q is not a CA defined before it", v.Name, v.Options.CA)
				}
				parent, signer, caPEM = ca.cert, ca.key, ca.pem
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
			if err != nil {
				return nil, fmt.Errorf("variable %s: %w", v.Name, err)
			}
			certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
			keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
			if v.Options.IsCA {
				caPEM = certPEM
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					return nil, err
				}
				cas[v.Name] = issuer{cert: cert, key: key, pem: certPEM}
			}
			out[v.Name] = map[string]any{"ca": caPEM, "certificate": certPEM, "private_key": keyPEM}
		default:
			return nil, fmt.Errorf("variable %s: type %q is not supported", v.Name, v.Type)
		}
	}
	return out, nil
}

// parseCA reads a stored CA variable's certificate and RSA key.
func parseCA(value any) (*x509.Certificate, *rsa.PrivateKey, string, error) {
	m, ok := value.(map[string]any)
	if !ok {
		return nil, nil, "", errors.New("a stored CA is not {certificate, private_key}")
	}
	certPEM, _ := m["certificate"].(string)
	keyPEM, _ := m["private_key"].(string)
	certBlock, _ := pem.Decode([]byte(certPEM))
	keyBlock, _ := pem.Decode([]byte(keyPEM))
	if certBlock == nil || keyBlock == nil {
		return nil, nil, "", errors.New("a stored CA's certificate or private_key is not PEM")
	}
	cert, err := x509.ParseCertificate(certBlock.Bytes)
	if err != nil {
		return nil, nil, "", err
	}
	key, err := x509.ParsePKCS1PrivateKey(keyBlock.Bytes)
	if err != nil {
		return nil, nil, "", err
	}
	return cert, key, certPEM, nil
}
