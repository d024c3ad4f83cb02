// Package certauthority makes a throwaway CA and the certificates signed by
// it, so tests and the local cluster can run the BBS's mutual TLS without
// any real PKI. Keys are RSA 2048 (the BBS serves RSA only) in PKCS#1 PEM,
// which tls.LoadX509KeyPair reads.
package certauthority

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

const (
	keyBits = 2048
	// validity is generous so a long-lived local cluster does not expire;
	// backdate absorbs clock skew between the writer and the verifier.
	validity = 365 * 24 * time.Hour
	backdate = time.Hour
)

// CA signs certificates and writes everything it makes into one directory.
// It is safe for concurrent use.
type CA struct {
	dir  string
	cert *x509.Certificate
	key  *rsa.PrivateKey
}

// New creates a self-signed CA and writes it to dir/ca.crt and dir/ca.key,
// creating dir if needed.
func New(dir string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating CA directory: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, fmt.Errorf("generating CA key: %w", err)
	}
	tmpl, err := template("diego test CA")
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature

	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("signing CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing CA certificate: %w", err)
	}
	ca := &CA{dir: dir, cert: cert, key: key}
	if _, _, err := ca.write("ca", der, key); err != nil {
		return nil, err
	}
	return ca, nil
}

// CAFile is the PEM file that clients and servers trust.
func (ca *CA) CAFile() string {
	return filepath.Join(ca.dir, "ca.crt")
}

// GenerateServer writes dir/<name>.crt and dir/<name>.key for a server.
// Hosts that parse as IPs become IP SANs, the rest DNS SANs; 127.0.0.1, ::1
// and localhost are always included so any local listener verifies.
func (ca *CA) GenerateServer(name string, hosts ...string) (certFile, keyFile string, err error) {
	tmpl, err := template(name)
	if err != nil {
		return "", "", err
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	for _, h := range append([]string{"127.0.0.1", "::1", "localhost"}, hosts...) {
		addSAN(tmpl, h)
	}
	return ca.issue(name, tmpl)
}

// GenerateClient writes dir/<name>.crt and dir/<name>.key for a client of a
// server that requires client certificates.
func (ca *CA) GenerateClient(name string) (certFile, keyFile string, err error) {
	tmpl, err := template(name)
	if err != nil {
		return "", "", err
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	return ca.issue(name, tmpl)
}

func (ca *CA) issue(name string, tmpl *x509.Certificate) (string, string, error) {
	// The name becomes a file name next to the CA's own files.
	if name == "" || name == "ca" || name != filepath.Base(name) {
		return "", "", fmt.Errorf("invalid certificate name %q", name)
	}
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return "", "", fmt.Errorf("generating key for %s: %w", name, err)
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return "", "", fmt.Errorf("signing certificate for %s: %w", name, err)
	}
	return ca.write(name, der, key)
}

func template(commonName string) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generating serial number: %w", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName, Organization: []string{"diego"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(validity),
	}, nil
}

func addSAN(tmpl *x509.Certificate, host string) {
	if ip := net.ParseIP(host); ip != nil {
		for _, have := range tmpl.IPAddresses {
			if have.Equal(ip) {
				return
			}
		}
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		return
	}
	for _, have := range tmpl.DNSNames {
		if have == host {
			return
		}
	}
	tmpl.DNSNames = append(tmpl.DNSNames, host)
}

func (ca *CA) write(name string, der []byte, key *rsa.PrivateKey) (certFile, keyFile string, err error) {
	certFile = filepath.Join(ca.dir, name+".crt")
	keyFile = filepath.Join(ca.dir, name+".key")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return "", "", fmt.Errorf("writing %s: %w", certFile, err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return "", "", fmt.Errorf("writing %s: %w", keyFile, err)
	}
	return certFile, keyFile, nil
}
