// Package cli is the diego command-line tool: tasks, LRPs, cells, domains
// and events, for people, over the receptor's JSON API (receptor/client).
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	dopplerclient "diego/metron/client"
	"diego/receptor"
	"diego/receptor/client"
)

// Environment variables that stand in for the global flags.
const (
	EnvReceptor = "DIEGO_RECEPTOR"
	EnvUsername = "DIEGO_USERNAME"
	EnvPassword = "DIEGO_PASSWORD"
)

// DefaultReceptor is the receptor's default address.
const DefaultReceptor = "http://127.0.0.1:8887"

// IO is what a run reads and writes, and the environment it sees.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

type command struct {
	usage string
	help  string
	run   func(ctx context.Context, a *app, args []string) error
}

var commands = map[string]command{
	"tasks":        {"tasks [--domain D]", "list tasks", tasksCmd},
	"task":         {"task GUID", "show a task", taskCmd},
	"create-task":  {"create-task FILE|-", "create a task from a TaskCreateRequest JSON file (- for stdin)", createTaskCmd},
	"delete-task":  {"delete-task GUID", "resolve and delete a completed task", deleteTaskCmd},
	"cancel-task":  {"cancel-task GUID", "cancel a pending or running task", cancelTaskCmd},
	"desired-lrps": {"desired-lrps [--domain D]", "list desired LRPs", desiredLRPsCmd},
	"desired-lrp":  {"desired-lrp GUID", "show a desired LRP", desiredLRPCmd},
	"create-lrp":   {"create-lrp FILE|-", "create a desired LRP from a DesiredLRPCreateRequest JSON file", createLRPCmd},
	"update-lrp":   {"update-lrp GUID FILE|-", "update a desired LRP from a DesiredLRPUpdateRequest JSON file", updateLRPCmd},
	"scale":        {"scale GUID INSTANCES", "change a desired LRP's instance count", scaleCmd},
	"delete-lrp":   {"delete-lrp GUID", "delete a desired LRP and stop its instances", deleteLRPCmd},
	"actual-lrps":  {"actual-lrps [GUID] [--domain D]", "list actual LRPs, all or of one process guid", actualLRPsCmd},
	"cells":        {"cells", "list cells", cellsCmd},
	"domains":      {"domains", "list fresh domains", domainsCmd},
	"set-domain":   {"set-domain DOMAIN [--ttl 2m]", "mark a domain fresh (without --ttl: forever)", setDomainCmd},
	"events":       {"events [--count N]", "stream LRP events until interrupted (or N events)", eventsCmd},
	"logs":         {"logs LOG_GUID [--recent]", "print an app's recent logs, then tail them (--doppler URL, --token T)", logsCmd},
	"top":          {"top [METRICS_GUID...] [--once]", "a live table of each instance's CPU, memory and disk (--interval 2s)", topCmd},
	"routes":       {"routes [--router URL]", "list the router's routing table (its status port's /routes)", routesCmd},
	"push":         {"push DIR --name APP [--buildpack B]", "push an app to the Cloud Controller as cf push does ($DIEGO_CC, $DIEGO_CC_PASSWORD)", pushCmd},
	"desire-lrp":   {"desire-lrp FILE|-", "desire an LRP from a modern DesiredLRP JSON file through the BBS ($BBS_URL; for check_definition, sidecars…)", desireLRPCmd},
}

// app is one run's settings.
type app struct {
	io     IO
	client *client.Client
	json   bool
	url    string
}

// Run runs the command line args (without the program name) and returns the
// process's exit status.
func Run(ctx context.Context, args []string, io IO) int {
	global := flag.NewFlagSet("diego", flag.ContinueOnError)
	global.SetOutput(io.Stderr)
	url := global.String("receptor", orDefault(io.Getenv(EnvReceptor), DefaultReceptor), "receptor URL (or $"+EnvReceptor+")")
	user := global.String("username", io.Getenv(EnvUsername), "basic auth username (or $"+EnvUsername+")")
	pass := global.String("password", io.Getenv(EnvPassword), "basic auth password (or $"+EnvPassword+")")
	asJSON := global.Bool("json", false, "print JSON instead of tables")
	global.Usage = func() { usage(io.Stderr, global) }
	if err := global.Parse(args); err != nil {
		return 2
	}
	rest := global.Args()
	if len(rest) == 0 || (rest[0] == "help" && len(rest) == 1) {
		usage(io.Stdout, global)
		return 0
	}
	name := rest[0]
	if name == "help" {
		name = rest[1]
	}
	if _, ok := commands[name]; !ok && !builtin[name] {
		fmt.Fprintf(io.Stderr, "diego: unknown command %q; run `diego help` for the list\n", name)
		return 2
	}
	c, err := client.New(client.Config{URL: *url, Username: *user, Password: *pass})
	if err != nil {
		fmt.Fprintf(io.Stderr, "diego: %v\n", err)
		return 2
	}
	a := &app{io: io, client: c, json: *asJSON, url: *url}
	root := newRoot(ctx, a)
	root.SetArgs(rest)
	if err := root.Execute(); err != nil {
		var usageErr usageError
		var cmdErr commandError
		switch {
		case errors.As(err, &cmdErr) && errors.As(err, &usageErr):
			fmt.Fprintf(io.Stderr, "diego: %v\nusage: diego %s\n", usageErr, cmdErr.usage)
			return 2
		case errors.As(err, &cmdErr):
			fmt.Fprintf(io.Stderr, "diego: %s\n", explain(cmdErr.err, *url))
			return 1
		default: // cobra's own (completion's arguments)
			fmt.Fprintf(io.Stderr, "diego: %v\n", err)
			return 2
		}
	}
	return 0
}

// builtin are the commands cobra adds: shell completion.
var builtin = map[string]bool{"completion": true, cobra.ShellCompRequestCmd: true, cobra.ShellCompNoDescRequestCmd: true}

// commandError carries a table command's error and usage out of cobra.
type commandError struct {
	usage string
	err   error
}

func (e commandError) Error() string { return e.err.Error() }
func (e commandError) Unwrap() error { return e.err }

// newRoot puts every command of the table under one cobra root. Each
// command keeps its own flag parsing (parse: flags before or after
// arguments), so cobra only dispatches, answers --help per command, and
// writes the bash and zsh completion scripts.
func newRoot(ctx context.Context, a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "diego",
		Short:         "tasks, LRPs, cells and domains over the receptor API",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(a.io.Stdout)
	root.SetErr(a.io.Stderr)
	root.CompletionOptions.DisableDefaultCmd = false
	root.SetHelpCommand(&cobra.Command{Hidden: true, Use: "help COMMAND", RunE: func(_ *cobra.Command, args []string) error {
		sub, _, err := root.Find(args)
		if err != nil {
			return err
		}
		return sub.Help()
	}})
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		cmd := commands[name]
		root.AddCommand(&cobra.Command{
			Use:                cmd.usage,
			Short:              cmd.help,
			DisableFlagParsing: true,
			ValidArgsFunction:  cobra.FixedCompletions(nil, cobra.ShellCompDirectiveDefault),
			RunE: func(c *cobra.Command, args []string) error {
				if wantsHelp(args) {
					return c.Help()
				}
				args = a.globalFlagsAfter(args)
				if err := cmd.run(ctx, a, args); err != nil {
					return commandError{usage: cmd.usage, err: err}
				}
				return nil
			},
		})
	}
	return root
}

// wantsHelp reports a -h or --help among a command's arguments.
func wantsHelp(args []string) bool {
	for _, arg := range args {
		if arg == "--" {
			return false
		}
		if arg == "-h" || arg == "--help" || arg == "-help" {
			return true
		}
	}
	return false
}

// globalFlagsAfter takes --json from anywhere after the command name (it
// was accepted only before it), so `diego logs GUID --json` reads naturally.
func (a *app) globalFlagsAfter(args []string) []string {
	out := args[:0:0]
	for i, arg := range args {
		if arg == "--" {
			return append(out, args[i:]...)
		}
		if arg == "--json" || arg == "-json" {
			a.json = true
			continue
		}
		out = append(out, arg)
	}
	return out
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usage(w io.Writer, global *flag.FlagSet) {
	fmt.Fprintln(w, "diego: tasks, LRPs, cells and domains over the receptor API")
	fmt.Fprintln(w, "\nusage: diego [--receptor URL] [--username U --password P] [--json] COMMAND [ARGS]")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\ncommands:")
	for _, name := range names {
		fmt.Fprintf(tw, "  %s\t%s\n", commands[name].usage, commands[name].help)
	}
	fmt.Fprintf(tw, "  %s\t%s\n", "completion bash|zsh", "print a shell completion script")
	tw.Flush()
	fmt.Fprintln(w, "\n`diego help COMMAND` or `diego COMMAND --help` shows one command's help.")
	fmt.Fprintln(w, "\nglobal flags:")
	global.SetOutput(w)
	global.PrintDefaults()
}

// explain turns an error into a message that says what to do.
func explain(err error, url string) string {
	var rerr *receptor.Error
	if errors.As(err, &rerr) {
		if rerr.Type == receptor.Unauthorized {
			return fmt.Sprintf("%s: %s (set --username/--password or $%s/$%s)", rerr.Type, rerr.Message, EnvUsername, EnvPassword)
		}
		return fmt.Sprintf("%s: %s", rerr.Type, rerr.Message)
	}
	var derr *dopplerclient.Error
	if errors.As(err, &derr) && derr.StatusCode == http.StatusUnauthorized {
		return fmt.Sprintf("%v (set --token or $%s; the local cluster's env.sh exports the doppler's operator token)", err, EnvDopplerToken)
	}
	if errors.As(err, &derr) && derr.StatusCode == http.StatusNotFound {
		return fmt.Sprintf("%v (the Cloud Controller knows no such app; other log guids need the doppler's operator token)", err)
	}
	if strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "no such host") {
		return fmt.Sprintf("cannot reach the receptor at %s: %v (set --receptor or $%s)", url, err, EnvReceptor)
	}
	return err.Error()
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// parse parses a command's own flags, which may come before or after its
// positional arguments (`set-domain demo --ttl 1m`), and checks their count.
func parse(fs *flag.FlagSet, args []string, min, max int, what string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		rest, args = append(rest, args[0]), args[1:]
	}
	if len(rest) < min || len(rest) > max {
		return nil, usageError{"expected " + what}
	}
	return rest, nil
}

// readDefinition decodes a JSON file (or stdin for "-") into v.
func (a *app) readDefinition(path string, v any) error {
	var r io.Reader = a.io.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		defer f.Close()
		r = f
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("the definition in %s is not valid: %w", path, err)
	}
	return nil
}

// show prints v as indented JSON.
func (a *app) show(v any) error {
	enc := json.NewEncoder(a.io.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table prints rows under a header, or v as JSON with --json.
func (a *app) table(v any, header string, rows [][]string) error {
	if a.json {
		return a.show(v)
	}
	tw := tabwriter.NewWriter(a.io.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func since(ns int64) string {
	if ns == 0 {
		return "-"
	}
	return time.Since(time.Unix(0, ns)).Round(time.Second).String()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
