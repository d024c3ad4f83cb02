package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"diego/metron/client"
	"diego/metron/events"
)

// Where the doppler is, and the Authorization header to send it.
const (
	EnvDoppler      = "DIEGO_DOPPLER"
	EnvDopplerToken = "DIEGO_DOPPLER_TOKEN"
	DefaultDoppler  = "http://127.0.0.1:8084"
)

// timeFormat is the readable line's timestamp, in UTC (cf logs' shape).
const timeFormat = "2006-01-02T15:04:05.00Z07:00"

// dopplerFlags adds the flags every log and metric command shares.
func (a *app) dopplerFlags(fs *flag.FlagSet) func() (*client.Client, error) {
	url := fs.String("doppler", orDefault(a.io.Getenv(EnvDoppler), DefaultDoppler), "doppler URL (or $"+EnvDoppler+")")
	token := fs.String("token", a.io.Getenv(EnvDopplerToken), "bearer token for the doppler (or $"+EnvDopplerToken+")")
	return func() (*client.Client, error) {
		auth := ""
		if *token != "" {
			auth = "bearer " + strings.TrimPrefix(strings.TrimPrefix(*token, "bearer "), "Bearer ")
		}
		return client.New(client.Config{URL: *url, Authorization: auth})
	}
}

// logsCmd prints an app's recent logs, then (without --recent) tails the
// live stream until interrupted.
func logsCmd(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	recent := fs.Bool("recent", false, "print the recent logs and exit")
	dial := a.dopplerFlags(fs)
	rest, err := parse(fs, args, 1, 1, "a log guid")
	if err != nil {
		return err
	}
	c, err := dial()
	if err != nil {
		return usageError{err.Error()}
	}
	guid := rest[0]
	var live <-chan *events.Envelope
	var errs <-chan error
	if !*recent { // subscribe first, so nothing falls between the two reads
		live, errs, err = c.Stream(ctx, guid)
		if err != nil {
			return err
		}
	}
	logs, err := c.RecentLogs(ctx, guid)
	if err != nil {
		return err
	}
	p := a.logPrinter()
	seen := map[string]bool{}
	for _, env := range logs {
		seen[logKey(env)] = true
		p.print(env)
	}
	if *recent {
		return nil
	}
	fmt.Fprintf(a.io.Stderr, "tailing logs of %s (Ctrl-C to stop)\n", guid)
	for env := range live {
		if env.GetEventType() != events.Envelope_LogMessage || seen[logKey(env)] {
			continue
		}
		p.print(env)
	}
	return <-errs
}

func logKey(env *events.Envelope) string {
	m := env.GetLogMessage()
	return fmt.Sprintf("%d/%s/%s/%s", m.GetTimestamp(), m.GetSourceType(), m.GetSourceInstance(), m.GetMessage())
}

type logPrinter struct {
	w     io.Writer
	json  bool
	color bool
}

func (a *app) logPrinter() logPrinter {
	return logPrinter{w: a.io.Stdout, json: a.json, color: isTerminal(a.io.Stdout)}
}

// logLine is a log message in --json output, one object per line.
type logLine struct {
	Timestamp      string `json:"timestamp"`
	AppID          string `json:"app_id"`
	SourceType     string `json:"source_type"`
	SourceInstance string `json:"source_instance"`
	MessageType    string `json:"message_type"`
	Message        string `json:"message"`
	Origin         string `json:"origin,omitempty"`
}

// print writes `2026-12-07T10:00:00.00Z [APP/0] OUT hello` (cf logs' line).
func (p logPrinter) print(env *events.Envelope) {
	m := env.GetLogMessage()
	if m == nil {
		return
	}
	ts := time.Unix(0, m.GetTimestamp()).UTC().Format(timeFormat)
	msg := strings.TrimRight(string(m.GetMessage()), "\r\n")
	if p.json {
		b, _ := json.Marshal(logLine{ts, m.GetAppId(), m.GetSourceType(), m.GetSourceInstance(), m.GetMessageType().String(), msg, env.GetOrigin()})
		fmt.Fprintf(p.w, "%s\n", b)
		return
	}
	source := fmt.Sprintf("[%s/%s]", m.GetSourceType(), m.GetSourceInstance())
	kind := m.GetMessageType().String()
	if p.color {
		source = "\033[36m" + source + "\033[0m"
		if m.GetMessageType() == events.LogMessage_ERR {
			kind, msg = "\033[31m"+kind, msg+"\033[0m"
		}
	}
	fmt.Fprintf(p.w, "%s %s %s %s\n", ts, source, kind, msg)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// topCmd shows each instance's CPU, memory and disk from the container
// metrics, refreshed every --interval (or once with --once).
func topCmd(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("top", flag.ContinueOnError)
	once := fs.Bool("once", false, "print the table once and exit")
	interval := fs.Duration("interval", 2*time.Second, "refresh interval")
	dial := a.dopplerFlags(fs)
	guids, err := parse(fs, args, 0, 1<<20, "metrics guids")
	if err != nil {
		return err
	}
	if *interval <= 0 {
		return usageError{"--interval must be positive"}
	}
	c, err := dial()
	if err != nil {
		return usageError{err.Error()}
	}
	terminal := isTerminal(a.io.Stdout)
	for {
		if err := a.topOnce(ctx, c, guids, terminal && !*once); err != nil {
			return err
		}
		if *once {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

// instanceMetric is one row of top (and its --json form).
type instanceMetric struct {
	MetricsGuid      string  `json:"metrics_guid"`
	Index            int32   `json:"index"`
	CPUPercentage    float64 `json:"cpu_percentage"`
	MemoryBytes      uint64  `json:"memory_bytes"`
	MemoryBytesQuota uint64  `json:"memory_bytes_quota"`
	DiskBytes        uint64  `json:"disk_bytes"`
	DiskBytesQuota   uint64  `json:"disk_bytes_quota"`
	Age              string  `json:"age"`
}

func (a *app) topOnce(ctx context.Context, c *client.Client, guids []string, clear bool) error {
	if len(guids) == 0 { // every desired LRP that names a metrics guid
		lrps, err := a.client.DesiredLRPs(ctx)
		if err != nil {
			return err
		}
		for _, l := range lrps {
			if l.MetricsGuid != "" {
				guids = append(guids, l.MetricsGuid)
			}
		}
		sort.Strings(guids)
	}
	rows := []instanceMetric{}
	for _, guid := range guids {
		envs, err := c.ContainerMetrics(ctx, guid)
		if err != nil {
			return err
		}
		for _, env := range envs {
			m := env.GetContainerMetric()
			rows = append(rows, instanceMetric{
				MetricsGuid: m.GetApplicationId(), Index: m.GetInstanceIndex(), CPUPercentage: m.GetCpuPercentage(),
				MemoryBytes: m.GetMemoryBytes(), MemoryBytesQuota: m.GetMemoryBytesQuota(),
				DiskBytes: m.GetDiskBytes(), DiskBytesQuota: m.GetDiskBytesQuota(),
				Age: time.Since(time.Unix(0, env.GetTimestamp())).Round(time.Second).String(),
			})
		}
	}
	if a.json {
		b, err := json.Marshal(rows)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.io.Stdout, "%s\n", b)
		return nil
	}
	if clear {
		fmt.Fprint(a.io.Stdout, "\033[H\033[2J")
	}
	table := make([][]string, 0, len(rows))
	for _, r := range rows {
		table = append(table, []string{r.MetricsGuid, strconv.Itoa(int(r.Index)), fmt.Sprintf("%.1f%%", r.CPUPercentage),
			quotaString(r.MemoryBytes, r.MemoryBytesQuota), quotaString(r.DiskBytes, r.DiskBytesQuota), r.Age})
	}
	return a.table(nil, "METRICS GUID\tINDEX\tCPU\tMEMORY\tDISK\tAGE", table)
}

func quotaString(used, quota uint64) string {
	if quota == 0 {
		return bytesString(used)
	}
	return bytesString(used) + " of " + bytesString(quota)
}

func bytesString(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
