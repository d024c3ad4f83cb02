// Package builder is the buildpack lifecycle's builder (spec bridge.md
// §8.1): in the staging container it detects, compiles and releases the app
// with the first matching buildpack, then writes the droplet, the build
// artifacts cache and result.json. A failed step ends in an *ExitError whose
// code the stager maps to CC's error ids (222 detect, 223 compile, 224
// release; 1 for anything else).
package builder

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"diego/ccbridge/lifecycle"
)

// Config is the builder's command line (§8.1).
type Config struct {
	BuildDir                  string
	BuildArtifactsCacheDir    string
	BuildpackOrder            []string
	BuildpacksDir             string
	BuildpacksDownloadDir     string
	OutputBuildArtifactsCache string
	OutputDroplet             string
	OutputMetadata            string
	SkipCertVerify            bool
	SkipDetect                bool
}

// ExitError is a failure and the exit code it ends the builder with.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ErrNoneDetected is detect's failure message (§8.1), the one CC users see
// in their staging log.
var ErrNoneDetected = errors.New("None of the buildpacks detected a compatible application")

// ParseFlags reads the builder's flags; every one has its §8.1 default.
func ParseFlags(args []string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("builder", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Config
	var order string
	fs.StringVar(&c.BuildDir, "buildDir", lifecycle.BuildDir, "directory holding the app bits")
	fs.StringVar(&c.BuildArtifactsCacheDir, "buildArtifactsCacheDir", lifecycle.BuildArtifactsCacheDir, "the buildpacks' cache directory")
	fs.StringVar(&order, "buildpackOrder", "", "comma-separated buildpack keys, in detection order")
	fs.StringVar(&c.BuildpacksDir, "buildpacksDir", lifecycle.BuildpacksDir, "where the buildpacks are unpacked, by key")
	fs.StringVar(&c.BuildpacksDownloadDir, "buildpacksDownloadDir", lifecycle.BuildpacksDownloadDir, "where custom buildpacks (URL keys) are downloaded")
	fs.StringVar(&c.OutputBuildArtifactsCache, "outputBuildArtifactsCache", lifecycle.OutputBuildArtifactsCache, "the build artifacts cache tgz to write")
	fs.StringVar(&c.OutputDroplet, "outputDroplet", lifecycle.OutputDroplet, "the droplet tgz to write")
	fs.StringVar(&c.OutputMetadata, "outputMetadata", lifecycle.OutputMetadata, "the result JSON to write")
	fs.BoolVar(&c.SkipCertVerify, "skipCertVerify", false, "skip TLS verification when downloading custom buildpacks")
	fs.BoolVar(&c.SkipDetect, "skipDetect", false, "use the first buildpack without running detect")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, k := range strings.Split(order, ",") {
		if k = strings.TrimSpace(k); k != "" {
			c.BuildpackOrder = append(c.BuildpackOrder, k)
		}
	}
	if len(c.BuildpackOrder) == 0 {
		return Config{}, errors.New("-buildpackOrder names no buildpack")
	}
	return c, nil
}

// Builder stages one app; its output goes to the task's log.
type Builder struct {
	Config Config
	Stdout io.Writer
	Stderr io.Writer
}

// Run stages the app (§8.1 steps 1–8).
func (b Builder) Run() error {
	c := b.Config
	for _, dir := range []string{filepath.Dir(c.OutputDroplet), filepath.Dir(c.OutputMetadata),
		filepath.Dir(c.OutputBuildArtifactsCache), c.BuildArtifactsCacheDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return &ExitError{Code: 1, Err: fmt.Errorf("creating %s: %w", dir, err)}
		}
	}
	key, dir, detected, err := b.detect()
	if err != nil {
		return err
	}
	if err := b.script(dir, "compile", b.Stdout, c.BuildDir, c.BuildArtifactsCacheDir); err != nil {
		return &ExitError{Code: lifecycle.ExitCompileFailed, Err: fmt.Errorf("Failed to compile droplet: %w", err)}
	}
	processTypes, err := b.release(dir)
	if err != nil {
		return &ExitError{Code: lifecycle.ExitReleaseFailed, Err: fmt.Errorf("Failed to build droplet release: %w", err)}
	}
	if processTypes["web"] == "" {
		fmt.Fprintln(b.Stdout, "No start command detected; command must be provided at runtime")
	}
	info, err := yaml.Marshal(struct {
		DetectedBuildpack string `yaml:"detected_buildpack"`
		StartCommand      string `yaml:"start_command"`
	}{detected, processTypes["web"]})
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	if err := writeDroplet(c.OutputDroplet, c.BuildDir, info); err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("writing the droplet: %w", err)}
	}
	if err := writeTGZ(c.OutputBuildArtifactsCache, c.BuildArtifactsCacheDir); err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("writing the build artifacts cache: %w", err)}
	}
	if processTypes == nil {
		processTypes = map[string]string{}
	}
	result, err := json.Marshal(lifecycle.StagingResult{
		LifecycleMetadata: lifecycle.LifecycleMetadata{BuildpackKey: key, DetectedBuildpack: detected},
		ProcessTypes:      processTypes,
		LifecycleType:     lifecycle.Type,
	})
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	if err := os.WriteFile(c.OutputMetadata, result, 0o644); err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("writing %s: %w", c.OutputMetadata, err)}
	}
	return nil
}

// detect returns the first buildpack whose bin/detect passes (or the first
// one, with SkipDetect) and its trimmed detect output.
func (b Builder) detect() (key, dir, detected string, err error) {
	c := b.Config
	for i, k := range c.BuildpackOrder {
		d, err := b.buildpackDir(k)
		if err != nil {
			return "", "", "", &ExitError{Code: 1, Err: err}
		}
		if c.SkipDetect && i == 0 {
			return k, d, "", nil
		}
		var out bytes.Buffer
		if b.script(d, "detect", &out, c.BuildDir) == nil {
			return k, d, strings.TrimSpace(out.String()), nil
		}
	}
	return "", "", "", &ExitError{Code: lifecycle.ExitDetectFailed, Err: ErrNoneDetected}
}

// buildpackDir is where key's buildpack is: a URL key is downloaded, any
// other is BuildpackPath; a directory with no bin/ but exactly one
// subdirectory that has one means that subdirectory.
func (b Builder) buildpackDir(key string) (string, error) {
	dir := lifecycle.BuildpackPath(b.Config.BuildpacksDir, key)
	if strings.HasPrefix(key, "http://") || strings.HasPrefix(key, "https://") {
		dir = lifecycle.BuildpackPath(b.Config.BuildpacksDownloadDir, key)
		if err := download(key, dir, b.Config.SkipCertVerify); err != nil {
			return "", fmt.Errorf("downloading buildpack %s: %w", key, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bin")); err == nil {
		return dir, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("buildpack %s: %w", key, err)
	}
	var subdirs []string
	for _, e := range entries {
		if e.IsDir() {
			subdirs = append(subdirs, e.Name())
		}
	}
	if len(subdirs) == 1 {
		sub := filepath.Join(dir, subdirs[0])
		if _, err := os.Stat(filepath.Join(sub, "bin")); err == nil {
			return sub, nil
		}
	}
	return "", fmt.Errorf("buildpack %s has no bin directory", key)
}

// script runs <dir>/bin/<name> args with stdout to out and stderr to the
// builder's.
func (b Builder) script(dir, name string, out io.Writer, args ...string) error {
	cmd := exec.Command(filepath.Join(dir, "bin", name), args...)
	cmd.Stdout = out
	cmd.Stderr = b.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// release runs bin/release and returns its default_process_types, replaced
// by a non-empty Procfile.
func (b Builder) release(dir string) (map[string]string, error) {
	var out bytes.Buffer
	if err := b.script(dir, "release", &out, b.Config.BuildDir); err != nil {
		return nil, err
	}
	var rel struct {
		DefaultProcessTypes map[string]string `yaml:"default_process_types"`
	}
	if err := yaml.Unmarshal(out.Bytes(), &rel); err != nil {
		return nil, fmt.Errorf("bin/release printed invalid YAML: %w", err)
	}
	procfile, err := os.ReadFile(filepath.Join(b.Config.BuildDir, "Procfile"))
	if err == nil {
		var procs map[string]string
		if err := yaml.Unmarshal(procfile, &procs); err != nil {
			return nil, fmt.Errorf("invalid Procfile: %w", err)
		}
		if len(procs) > 0 {
			return procs, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading the Procfile: %w", err)
	}
	return rel.DefaultProcessTypes, nil
}
