// Package launcher is the buildpack lifecycle's launcher (spec bridge.md
// §8.4): it prepares an app instance's environment and hands over to bash,
// which sources the buildpack's .profile.d scripts and runs the start
// command.
package launcher

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Script is what bash runs: $1 is the app directory, the rest the command.
const Script = `cd "$1"
if [ -d .profile.d ]; then
  for env_file in .profile.d/*; do
    [ -f "$env_file" ] && . "$env_file"
  done
fi
shift
exec bash -c "$@"
`

// Bash is the shell the launcher execs (the rootfs provides it, §9.4).
const Bash = "/bin/bash"

// ErrUsage is the launcher's answer to a wrong command line.
var ErrUsage = errors.New("usage: launcher <app directory> <start command> <metadata>")

// Plan is what the launcher execs: the program, its argv and environment.
type Plan struct {
	Path string
	Args []string
	Env  []string
}

// Prepare builds the plan from the launcher's arguments, the environment
// (as os.Environ gives it) and the working directory holding
// staging_info.yml.
func Prepare(args, environ []string, cwd string) (Plan, error) {
	if len(args) < 3 {
		return Plan{}, ErrUsage
	}
	appDir := args[0]
	if !filepath.IsAbs(appDir) {
		appDir = filepath.Join(cwd, appDir)
	}
	env := envMap(environ)
	env.set("HOME", appDir)
	env.set("TMPDIR", filepath.Join(appDir, "..", "tmp"))
	if vcap, ok := env.get("VCAP_APPLICATION"); ok {
		env.set("VCAP_APPLICATION", rewriteVCAPApplication(vcap, env))
	}
	command := args[1]
	if command == "" {
		var err error
		if command, err = stagedStartCommand(filepath.Join(cwd, "staging_info.yml")); err != nil {
			return Plan{}, err
		}
	}
	if command == "" {
		return Plan{}, fmt.Errorf("%w: no start command given and none in staging_info.yml", ErrUsage)
	}
	return Plan{Path: Bash, Args: []string{Bash, "-c", Script, "launcher", appDir, command}, Env: env.list()}, nil
}

// rewriteVCAPApplication sets host, instance_id, port and instance_index in
// a VCAP_APPLICATION that is a JSON object; anything else is left alone.
func rewriteVCAPApplication(value string, env *environment) string {
	var obj map[string]any
	if json.Unmarshal([]byte(value), &obj) != nil || obj == nil {
		return value
	}
	obj["host"] = "0.0.0.0"
	if id, ok := env.get("INSTANCE_GUID"); ok {
		obj["instance_id"] = id
	}
	if p, ok := env.get("PORT"); ok {
		if n, err := strconv.Atoi(p); err == nil {
			obj["port"] = n
		}
	}
	if i, ok := env.get("INSTANCE_INDEX"); ok {
		if n, err := strconv.Atoi(i); err == nil {
			obj["instance_index"] = n
		}
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return value
	}
	return string(out)
}

func stagedStartCommand(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	var info struct {
		StartCommand string `yaml:"start_command"`
	}
	if err := yaml.Unmarshal(data, &info); err != nil {
		return "", fmt.Errorf("parsing %s: %w", path, err)
	}
	return info.StartCommand, nil
}

// environment keeps the order of the variables it was given.
type environment struct {
	keys   []string
	values map[string]string
}

func envMap(environ []string) *environment {
	e := &environment{values: map[string]string{}}
	for _, kv := range environ {
		k, v, _ := cutEnv(kv)
		e.set(k, v)
	}
	return e
}

func cutEnv(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

func (e *environment) get(k string) (string, bool) { v, ok := e.values[k]; return v, ok }

func (e *environment) set(k, v string) {
	if _, ok := e.values[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.values[k] = v
}

func (e *environment) list() []string {
	out := make([]string, 0, len(e.keys))
	for _, k := range e.keys {
		out = append(out, k+"="+e.values[k])
	}
	return out
}
