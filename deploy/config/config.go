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
	"os"
	"reflect"
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
