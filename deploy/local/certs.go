package local

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"diego/test/certauthority"
)

// EnsureCerts keeps the certificates in c.Dir when they are all there and
// verify against its CA for at least another day, and otherwise makes a
// new CA (test/certauthority), a server certificate for the BBS (RSA, for
// 127.0.0.1, ::1 and localhost), one for the embedded etcd when it serves
// TLS, and one client certificate per BBS (or etcd) client.
// It reports whether it made new ones. planCerts names the files as the CA
// writes them: <dir>/<name>.crt and .key.
func EnsureCerts(c Certs) (bool, error) {
	if err := c.verify(); err == nil {
		return false, nil
	}
	ca, err := certauthority.New(c.Dir)
	if err != nil {
		return false, err
	}
	names := []string{"bbs"}
	if c.ETCDServerCert != "" {
		names = append(names, "etcd")
	}
	for name := range c.Clients {
		names = append(names, name)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if name == "bbs" || name == "etcd" {
				_, _, errs[i] = ca.GenerateServer(name, name)
			} else {
				_, _, errs[i] = ca.GenerateClient(name)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return true, err
	}
	// The files the plan points at must be the ones just written.
	return true, c.verify()
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
		return fmt.Errorf("%s holds no CA certificate", c.CAFile)
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
	if c.ETCDServerCert != "" {
		if err := check(c.ETCDServerCert, c.ETCDServerKey, x509.ExtKeyUsageServerAuth); err != nil {
			return err
		}
	}
	for _, files := range c.Clients {
		if err := check(files[0], files[1], x509.ExtKeyUsageClientAuth); err != nil {
			return err
		}
	}
	return nil
}
