package local

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// EnvFile is the shell file, in the state directory, that sets the diego
// CLI's and BBS clients' variables for this cluster.
func (p *Plan) EnvFile() string { return filepath.Join(p.StateDir, "env.sh") }

// Env is the content of EnvFile.
func (p *Plan) Env() string {
	cli := p.Certs.Clients["cli"]
	return strings.Join([]string{
		"# The local diego cluster's settings: `source " + p.EnvFile() + "`.",
		"# The diego CLI (bin/diego) reads DIEGO_RECEPTOR.",
		"export DIEGO_RECEPTOR=" + p.ReceptorURL,
		"# For BBS clients: the BBS requires a client certificate signed by this CA.",
		"export BBS_URL=" + p.BBSURL,
		"export BBS_CA_CERT_FILE=" + p.Certs.CAFile,
		"export BBS_CLIENT_CERT_FILE=" + cli[0],
		"export BBS_CLIENT_KEY_FILE=" + cli[1],
		strings.Join(p.routingEnv(), "\n"),
		strings.Join(p.ccEnv(), "\n"), // cloudcontroller.go
		"",
	}, "\n")
}

// Summary is what the launcher prints once the cluster is healthy: every
// endpoint, the CLI settings and where the files are.
func (p *Plan) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\ndiego local cluster: %d cell(s), state in %s\n\n", len(p.Cells), p.StateDir)
	tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  receptor\t%s\tthe public API; the diego CLI's default\n", p.ReceptorURL)
	for _, d := range p.Daemons {
		if d.Kind == KindBrain && d.Name != "receptor" {
			endpoint := d.Endpoint
			if endpoint == "" {
				endpoint = "-"
			}
			note := ""
			if d.Name == "converger" {
				note = "no listener: it holds a lock and converges on a timer"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", d.Name, endpoint, note)
		}
	}
	etcd := strings.Join(p.ETCDEndpoints, ",")
	if p.EmbeddedETCD {
		etcd += "\tembedded, data in " + p.ETCDDataDir
		if p.ETCDTLS {
			etcd += "; mutual TLS (client certificates from " + p.Certs.CAFile + ")"
		}
	} else {
		etcd += "\texternal"
	}
	p.routingSummary(tw)
	fmt.Fprintf(tw, "  etcd\t%s\n", etcd)
	fmt.Fprintf(tw, "  nats\t%s\tembedded (for the route-emitter)\n", p.NATSURL)
	for _, c := range p.Cells {
		fmt.Fprintf(tw, "  %s\tgarden http://%s  executor http://%s  rep http://%s\tzone %s, tag %s, containers %s, host ports %d-%d\n",
			c.ID, c.GardenAddr, c.ExecutorAddr, c.RepAddr, c.Zone, c.Tag, c.NetworkPool,
			c.PortPoolStart, c.PortPoolStart+c.PortPoolSize-1)
	}
	byDir := map[string][]string{}
	var dirs []string
	for _, name := range p.StackNames() {
		dir := p.StackMap[name]
		if byDir[dir] == nil {
			dirs = append(dirs, dir)
		}
		byDir[dir] = append(byDir[dir], name)
	}
	for _, dir := range dirs {
		fmt.Fprintf(tw, "  stacks\t%s\ton %s (preloaded:<stack>)\n", strings.Join(byDir[dir], ", "), dir)
	}
	fmt.Fprintf(tw, "  busybox\t%s\tthe default rootfs and %s\n", p.RootFS, DockerImage)
	fmt.Fprintf(tw, "  egress\tclosed\tgardens deny %s and host access: containers reach what their egress_rules allow\n",
		strings.Join(DenyNetworks, ","))
	tw.Flush()
	fmt.Fprintf(&b, "\nIn another terminal (the CLI's settings are in %s):\n\n", p.EnvFile())
	fmt.Fprintf(&b, "  export DIEGO_RECEPTOR=%s\n", p.ReceptorURL)
	fmt.Fprintf(&b, "  . %s    # also the doppler token of diego logs/top and the CC password of diego push\n", p.EnvFile())
	b.WriteString("  bin/diego cells\n")
	b.WriteString("  bin/diego create-task deploy/examples/task.json && bin/diego task hello-task\n")
	b.WriteString("  bin/diego create-task deploy/examples/stack-task.json && bin/diego task stack-task\n")
	b.WriteString("  bin/diego create-lrp deploy/examples/lrp.json && bin/diego --json actual-lrps hello-lrp\n")
	b.WriteString(p.routingQuickStart())
	b.WriteString("  bin/diego events\n")
	p.cloudControllerSummary(&b) // cloudcontroller.go
	fmt.Fprintf(&b, "\nBBS clients: %s with the CA %s and the client certificate %s\n",
		p.BBSURL, p.Certs.CAFile, p.Certs.Clients["cli"][0])
	fmt.Fprintf(&b, "Configs: %s/*.json   full logs: %s/<daemon>.log\n", p.ConfigDir, p.LogDir)
	b.WriteString("Ctrl-C stops the cluster and destroys its containers.\n")
	return b.String()
}

// writeEnv writes EnvFile before the cluster says it is healthy, so a
// script that waits for that line can source it at once.
func (c *Cluster) writeEnv() {
	// 0600: it holds the CC password and the doppler's operator token.
	if err := os.WriteFile(c.Plan.EnvFile(), []byte(c.Plan.Env()), 0o600); err != nil {
		c.Log.Printf("writing %s: %v", c.Plan.EnvFile(), err)
	} else if err := os.Chmod(c.Plan.EnvFile(), 0o600); err != nil { // an older file was 0644
		c.Log.Printf("writing %s: %v", c.Plan.EnvFile(), err)
	}
}

func (c *Cluster) printSummary() {
	c.Log.Block(c.Out, c.Plan.Summary())
}
