package local

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// certValidity is long enough that a kept state directory does not expire
// under a developer; certificates within a day of expiry are remade.
const certValidity = 2 * 365 * 24 * time.Hour

// EnsureCerts keeps the certificates in c.Dir when they are all there and
// verify against its CA, and otherwise makes a new CA, a server
// certificate for the BBS (RSA, for 127.0.0.1 and localhost) and one client
// certificate per BBS client. It reports whether it made new ones.
func EnsureCerts(c Certs) (bool, error) {
	if err := c.verify(); err == nil {
		return false, nil
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return false, fmt.Errorf("creating %s: %w", c.Dir, err)
	}
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return false, err
	}
	caTmpl := certTemplate("diego local CA")
	caTmpl.IsCA = true
	caTmpl.BasicConstraintsValid = true
	caTmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return false, fmt.Errorf("signing the CA: %w", err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	if err := writePair(c.CAFile, filepath.Join(c.Dir, "ca.key"), caDER, caKey); err != nil {
		return false, err
	}

	type job struct {
		name, cert, key string
		server          bool
	}
	jobs := []job{{"bbs", c.BBSServerCert, c.BBSServerKey, true}}
	for name, files := range c.Clients {
		jobs = append(jobs, job{name, files[0], files[1], false})
	}
	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = issue(caCert, caKey, j.name, j.cert, j.key, j.server)
		}()
	}
	wg.Wait()
	return true, errors.Join(errs...)
}

func certTemplate(cn string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"diego local cluster"}},
		NotBefore:    now.Add(-time.Hour), // clock skew
		NotAfter:     now.Add(certValidity),
	}
}

func issue(ca *x509.Certificate, caKey *rsa.PrivateKey, name, certFile, keyFile string, server bool) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	tmpl := certTemplate(name)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
		tmpl.DNSNames = []string{"localhost", name}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("signing %s's certificate: %w", name, err)
	}
	return writePair(certFile, keyFile, der, key)
}

func writePair(certFile, keyFile string, der []byte, key *rsa.PrivateKey) error {
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return os.WriteFile(keyFile, keyPEM, 0o600)
}

// verify checks that every file is there, every pair loads, and every
// certificate chains to the CA for its use for at least another day.
func (c Certs) verify() error {
	pemCA, err := os.ReadFile(c.CAFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCA) {
		return errors.New("no CA certificate")
	}
	check := func(certFile, keyFile string, usage x509.ExtKeyUsage) error {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return err
		}
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			return err
		}
		_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage},
			CurrentTime: time.Now().Add(24 * time.Hour)})
		return err
	}
	if err := check(c.BBSServerCert, c.BBSServerKey, x509.ExtKeyUsageServerAuth); err != nil {
		return err
	}
	for _, files := range c.Clients {
		if err := check(files[0], files[1], x509.ExtKeyUsageClientAuth); err != nil {
			return err
		}
	}
	return nil
}
