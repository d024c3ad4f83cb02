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

// BBSClient checks the bbs_* keys every BBS client daemon shares: an http
// or https address, and for https a CA and a client certificate and key.
func (v *Validator) BBSClient(address, caFile, certFile, keyFile string) {
	v.Require(strings.HasPrefix(address, "http://") || strings.HasPrefix(address, "https://"),
		"bbs_address %q must start with http:// or https://", address)
	if strings.HasPrefix(address, "https://") {
		v.Require(caFile != "" && certFile != "" && keyFile != "",
			"an https bbs_address needs bbs_ca_cert_file, bbs_client_cert_file and bbs_client_key_file")
	}
	v.Require((certFile == "") == (keyFile == ""), "bbs_client_cert_file and bbs_client_key_file go together")
}

// ETCDClient checks the etcd_* keys and root of the daemons that hold a
// lock or a presence in etcd.
func (v *Validator) ETCDClient(endpoints []string, certFile, keyFile, root string) {
	v.Require(len(endpoints) > 0, "etcd_endpoints must list at least one URL")
	v.Require((certFile == "") == (keyFile == ""), "etcd_cert_file and etcd_key_file go together")
	v.Require(root != "" && root[0] == '/', "root %q must start with /", root)
}
