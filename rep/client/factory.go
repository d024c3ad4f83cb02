package client

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"diego/deploy/tlsconfig"
)

// TLS is how a rep's clients (the auctioneer, the BBS) reach cells: the PEM
// files of a client certificate and of the CA that signed the reps' server
// certificates, and whether a cell offering only plain HTTP is refused
// (diego-release's rep_ca_cert, rep_client_cert, rep_client_key,
// rep_require_tls).
type TLS struct {
	CAFile, CertFile, KeyFile string
	Require                   bool
}

func (t TLS) creds() bool { return t.CAFile != "" && t.CertFile != "" && t.KeyFile != "" }

// Factory builds the client of each cell from its presence's two
// addresses, over one shared HTTP client.
type Factory struct {
	http *http.Client
	tls  TLS
}

// NewFactory shares httpClient among the cells' clients; with a client
// certificate, it sets the TLS configuration of httpClient's transport (a
// *http.Transport, or nil for a clone of http.DefaultTransport).
func NewFactory(httpClient *http.Client, t TLS) (*Factory, error) {
	if t.creds() {
		if err := tlsconfig.SetClientTransport(httpClient, t.CertFile, t.KeyFile, t.CAFile); err != nil {
			return nil, fmt.Errorf("rep client TLS: %w", err)
		}
	} else if t.Require || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" {
		return nil, errors.New("rep client TLS: set all of rep_ca_cert, rep_client_cert and rep_client_key (or none, without rep_require_tls)")
	}
	return &Factory{http: httpClient, tls: t}, nil
}

// Client returns the client of the cell whose presence holds address (its
// rep_address) and repURL (its rep_url).
func (f *Factory) Client(address, repURL string) (*Client, error) {
	target, err := f.tls.Pick(address, repURL)
	if err != nil {
		return nil, err
	}
	return New(f.http, target), nil
}

// Pick chooses which of a presence's addresses to call, as Diego's rep
// client does: rep_url when it is set (an https rep_url only with a client
// certificate), else rep_address; with Require, only an https rep_url.
func (t TLS) Pick(address, repURL string) (string, error) {
	secure := false
	if repURL != "" {
		u, err := url.Parse(repURL)
		if err != nil {
			return "", fmt.Errorf("cell rep_url %q: %w", repURL, err)
		}
		secure = u.Scheme == "https"
	}
	switch {
	case t.Require && !secure:
		return "", fmt.Errorf("TLS to reps is required but the cell offers no https rep_url (rep_address %q, rep_url %q): give that rep require_tls and its certificates, or unset rep_require_tls", address, repURL)
	case secure && !t.creds():
		return "", fmt.Errorf("the cell's rep_url %q is https but no rep client certificate is configured: set rep_ca_cert, rep_client_cert and rep_client_key", repURL)
	case repURL != "":
		return repURL, nil
	case address == "":
		return "", errors.New("the cell's presence has neither rep_address nor rep_url")
	}
	return address, nil
}
