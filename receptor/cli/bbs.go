package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	bbsclient "diego/bbs/client"
	"diego/models"
)

// The BBS client settings, as the local cluster's env.sh exports them. The
// receptor speaks the 2015 API, which has no field for what modern Diego
// added to a desired LRP (check_definition, sidecars, image layers…);
// desire-lrp reaches the BBS directly for those.
const (
	EnvBBSURL        = "BBS_URL"
	EnvBBSCACert     = "BBS_CA_CERT_FILE"
	EnvBBSClientCert = "BBS_CLIENT_CERT_FILE"
	EnvBBSClientKey  = "BBS_CLIENT_KEY_FILE"
)

// desireLRPCmd desires a modern DesiredLRP (the BBS's JSON form) through
// the BBS API.
func desireLRPCmd(ctx context.Context, a *app, args []string) error {
	rest, err := parse(flag.NewFlagSet("desire-lrp", flag.ContinueOnError), args, 1, 1, "a definition file, or - for stdin")
	if err != nil {
		return err
	}
	raw, err := a.readAll(rest[0])
	if err != nil {
		return err
	}
	var d models.DesiredLRP
	if err := d.UnmarshalJSON(raw); err != nil {
		return fmt.Errorf("the definition in %s is not valid: %w", rest[0], err)
	}
	url := a.io.Getenv(EnvBBSURL)
	if url == "" {
		return fmt.Errorf("desire-lrp talks to the BBS: set $%s (and $%s, $%s, $%s for mutual TLS); the local cluster's env.sh sets them all",
			EnvBBSURL, EnvBBSCACert, EnvBBSClientCert, EnvBBSClientKey)
	}
	c, err := bbsclient.New(bbsclient.Config{URL: url, CAFile: a.io.Getenv(EnvBBSCACert),
		CertFile: a.io.Getenv(EnvBBSClientCert), KeyFile: a.io.Getenv(EnvBBSClientKey)})
	if err != nil {
		return fmt.Errorf("connecting to the BBS at %s: %w", url, err)
	}
	if err := c.DesireLRP(ctx, &d); err != nil {
		return fmt.Errorf("desiring %s through the BBS at %s: %w", d.GetProcessGuid(), url, err)
	}
	fmt.Fprintf(a.io.Stdout, "desired LRP %s through the BBS\n", d.GetProcessGuid())
	return nil
}

// readAll reads a definition file, or stdin for "-".
func (a *app) readAll(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(a.io.Stdin)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return b, nil
}
