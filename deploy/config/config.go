// Package config loads the JSON configuration file that every daemon takes
// with -config, so that all daemons share one strict format: snake_case keys,
// durations as strings, unknown keys rejected, every problem reported at once.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"diego/deploy/logging"
)

// Duration is a time.Duration written in JSON as a Go duration string such
// as "5s" or "1m30s". Bare numbers are rejected: nanoseconds in a config
// file are a mistake waiting to happen.
type Duration time.Duration

// Duration converts d for use with package time.
func (d Duration) Duration() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

var durationType = reflect.TypeFor[Duration]()

// UnmarshalJSON reads a duration string; null leaves d unchanged.
//
// Its error is a *json.UnmarshalTypeError because encoding/json adds the
// field name only to that type, which Load then puts in its message.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: durationType}
	}
	parsed, err := time.ParseDuration(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: durationType}
	}
	*d = Duration(parsed)
	return nil
}

// Load decodes the JSON file at path into cfg, which the caller has already
// filled with defaults so that absent keys keep them. Unknown keys are an
// error. If cfg has a Validate() error method, Load calls it afterwards.
func Load(path string, cfg any) error {
	if err := load(path, cfg); err != nil {
		return fmt.Errorf("loading config %s: %w", path, err)
	}
	return nil
}

func load(path string, cfg any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := refuseRenamed(data); err != nil {
		return err
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Type == durationType {
			msg := fmt.Sprintf("invalid duration %s: use a string like \"5s\"", typeErr.Value)
			if typeErr.Field != "" {
				msg = typeErr.Field + ": " + msg
			}
			return errors.New(msg)
		}
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON object")
	}

	if v, ok := cfg.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}

// refuseRenamed names the new key of every renamed key the file still uses.
// A file that is not a JSON object is left to the decoder to refuse.
func refuseRenamed(data []byte) error {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return nil
	}
	var problems []string
	for old, replacement := range renamedKeys {
		if _, ok := top[old]; ok {
			problems = append(problems, fmt.Sprintf("%s is no longer a key: use %s", old, replacement))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return errors.New(strings.Join(problems, "; "))
}

// Validator accumulates configuration problems so that Validate can report
// every bad key at once rather than one per restart. The zero value is ready
// to use.
type Validator struct {
	problems []string
}

// Require records the formatted problem unless ok holds.
func (v *Validator) Require(ok bool, format string, args ...any) {
	if !ok {
		v.problems = append(v.problems, fmt.Sprintf(format, args...))
	}
}

// Err returns nil if no problems were recorded, otherwise one error listing
// them all, separated by "; ".
func (v *Validator) Err() error {
	if len(v.problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(v.problems, "; "))
}

// HostPort requires value to be host:port; an empty value is allowed when
// optional (a listener that is off).
func (v *Validator) HostPort(key, value string, optional bool) {
	if optional && value == "" {
		return
	}
	_, _, err := net.SplitHostPort(value)
	v.Require(err == nil, "%s %q is not host:port", key, value)
}

// Positive requires every named duration to be above zero.
func (v *Validator) Positive(durations map[string]Duration) {
	keys := make([]string, 0, len(durations))
	for k := range durations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v.Require(durations[k] > 0, "%s must be positive", k)
	}
}

// BBSClient checks the BBS-client block: an http or https address, and for
// https a CA and a client certificate and key.
func (v *Validator) BBSClient(c BBSClient) {
	v.HTTPURL("bbs_address", c.BBSAddress)
	if strings.HasPrefix(c.BBSAddress, "https://") {
		v.Require(c.BBSCACertFile != "" && c.BBSClientCertFile != "" && c.BBSClientKeyFile != "",
			"an https bbs_address needs bbs_ca_cert_file, bbs_client_cert_file and bbs_client_key_file")
	}
	v.Require((c.BBSClientCertFile == "") == (c.BBSClientKeyFile == ""), "bbs_client_cert_file and bbs_client_key_file go together")
}

// ETCD checks the etcd block and the key prefix (root) of a daemon that
// reaches etcd.
func (v *Validator) ETCD(e ETCD, root string) {
	v.Require(len(e.Endpoints) > 0, "etcd.endpoints must list at least one URL")
	for _, ep := range e.Endpoints {
		v.Require(strings.HasPrefix(ep, "http://") || strings.HasPrefix(ep, "https://"),
			"etcd.endpoints entry %q must be a URL such as https://10.0.0.5:2379", ep)
		v.Require(!e.TLS() || strings.HasPrefix(ep, "https://"),
			"etcd.endpoints entry %q must be https:// when the etcd block has TLS files", ep)
	}
	v.Require((e.CertFile == "") == (e.KeyFile == ""), "etcd.cert_file and etcd.key_file go together")
	v.Require(root != "" && root[0] == '/', "root %q must start with /", root)
}

// Lock checks the lock block: the etcd block and root, and a positive TTL
// and retry interval.
func (v *Validator) Lock(l Lock) {
	v.ETCD(l.ETCD, l.Root)
	v.Positive(map[string]Duration{"lock_ttl": l.LockTTL, "lock_retry_interval": l.LockRetryInterval})
}

// HTTPURL requires value to be an http:// or https:// URL.
func (v *Validator) HTTPURL(key, value string) {
	v.Require(strings.HasPrefix(value, "http://") || strings.HasPrefix(value, "https://"),
		"%s %q must start with http:// or https://", key, value)
}

// ReceptorClient checks the receptor-client block's URL.
func (v *Validator) ReceptorClient(c ReceptorClient) { v.HTTPURL("receptor_url", c.ReceptorURL) }

// CCClient checks the CC-client block's URL.
func (v *Validator) CCClient(c CCClient) { v.HTTPURL("cc_base_url", c.CCBaseURL) }

// Common checks the keys every daemon has.
func (v *Validator) Common(c Common) {
	v.HostPort("debug_address", c.DebugAddress, true)
	_, err := logging.ParseLevel(c.LogLevel)
	v.Require(err == nil, "log_level: %v", err)
}

// TLSServer checks a server TLS block: all three files or none.
func (v *Validator) TLSServer(s TLSServer) {
	v.Require(!s.TLS() || (s.CACertFile != "" && s.ServerCertFile != "" && s.ServerKeyFile != ""),
		"ca_cert_file, server_cert_file and server_key_file go together")
}

// ClientTLS checks a client TLS block whose keys start with prefix (rep_,
// auctioneer_): the three files together, and require_tls only with them.
func (v *Validator) ClientTLS(prefix string, c ClientTLS) {
	some := c.CACert != "" || c.ClientCert != "" || c.ClientKey != ""
	v.Require(!some || c.Creds(), "%[1]sca_cert, %[1]sclient_cert and %[1]sclient_key go together", prefix)
	v.Require(!c.RequireTLS || c.Creds(), "%[1]srequire_tls needs %[1]sca_cert, %[1]sclient_cert and %[1]sclient_key", prefix)
}
