// Package tlsconfig builds the tls.Configs for the BBS's mutual TLS and its
// clients from PEM files, in one place so every daemon gets the same
// minimum version and fails at startup, naming the file, when one is bad.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
)

// ServerConfig is for a server that requires every client to present a
// certificate signed by the CA in caFile.
func ServerConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	if caFile == "" {
		return nil, errors.New("mutual TLS needs a CA file to verify clients against")
	}
	cfg, err := ServerConfigNoClientAuth(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	pool, err := loadCAPool(caFile)
	if err != nil {
		return nil, err
	}
	cfg.ClientCAs = pool
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	return cfg, nil
}

// ServerConfigNoClientAuth is for a server that does not check clients.
func ServerConfigNoClientAuth(certFile, keyFile string) (*tls.Config, error) {
	cert, err := loadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}, nil
}

// ClientConfig is for a client. The client certificate is optional (both
// files empty); without caFile the server is verified against the system
// roots.
func ClientConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}

	switch {
	case certFile == "" && keyFile == "":
	case certFile == "" || keyFile == "":
		return nil, errors.New("client certificate and key files must be given together")
	default:
		cert, err := loadKeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}

	if caFile != "" {
		pool, err := loadCAPool(caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// SetClientTransport gives hc's transport (an *http.Transport, or a clone
// of http.DefaultTransport when nil) the ClientConfig of the files, for a
// client shared by many peers (the BBS's auctioneer and rep clients).
func SetClientTransport(hc *http.Client, certFile, keyFile, caFile string) error {
	cfg, err := ClientConfig(certFile, keyFile, caFile)
	if err != nil {
		return err
	}
	if hc.Transport == nil {
		hc.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	transport, ok := hc.Transport.(*http.Transport)
	if !ok {
		return errors.New("the HTTP client's transport is not an *http.Transport")
	}
	transport.TLSClientConfig = cfg
	return nil
}

func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("loading certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return cert, nil
}

func loadCAPool(caFile string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificates", caFile)
	}
	return pool, nil
}
