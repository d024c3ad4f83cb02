package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"diego/receptor"
	"diego/receptor/client"
)

func tasksCmd(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("tasks", flag.ContinueOnError)
	domain := fs.String("domain", "", "only this domain")
	if _, err := parse(fs, args, 0, 0, "no arguments"); err != nil {
		return err
	}
	var tasks []receptor.TaskResponse
	var err error
	if *domain != "" {
		tasks, err = a.client.TasksByDomain(ctx, *domain)
	} else {
		tasks, err = a.client.Tasks(ctx)
	}
	if err != nil {
		return err
	}
	var rows [][]string
	for _, t := range tasks {
		failed := ""
		if t.Failed {
			failed = t.FailureReason
		}
		rows = append(rows, []string{t.TaskGuid, t.Domain, t.State, orDefault(t.CellID, "-"), since(t.CreatedAt), failed})
	}
	return a.table(tasks, "TASK GUID\tDOMAIN\tSTATE\tCELL\tAGE\tFAILURE", rows)
}

func taskCmd(ctx context.Context, a *app, args []string) error {
	rest, err := parse(flag.NewFlagSet("task", flag.ContinueOnError), args, 1, 1, "a task guid")
	if err != nil {
		return err
	}
	t, err := a.client.GetTask(ctx, rest[0])
	if err != nil {
		return err
	}
	return a.show(t)
}

func createTaskCmd(ctx context.Context, a *app, args []string) error {
	rest, err := parse(flag.NewFlagSet("create-task", flag.ContinueOnError), args, 1, 1, "a definition file, or - for stdin")
	if err != nil {
		return err
	}
	var req receptor.TaskCreateRequest
	if err := a.readDefinition(rest[0], &req); err != nil {
		return err
	}
	if err := a.client.CreateTask(ctx, req); err != nil {
		return err
	}
	fmt.Fprintf(a.io.Stdout, "created task %s\n", req.TaskGuid)
	return nil
}

func deleteTaskCmd(ctx context.Context, a *app, args []string) error {
	rest, err := parse(flag.NewFlagSet("delete-task", flag.ContinueOnError), args, 1, 1, "a task guid")
	if err != nil {
		return err
	}
	if err := a.client.DeleteTask(ctx, rest[0]); err != nil {
		return err
	}
	fmt.Fprintf(a.io.Stdout, "deleted task %s\n", rest[0])
	return nil
}

func cancelTaskCmd(ctx context.Context, a *app, args []string) error {
	rest, err := parse(flag.NewFlagSet("cancel-task", flag.ContinueOnError), args, 1, 1, "a task guid")
	if err != nil {
		return err
	}
	if err := a.client.CancelTask(ctx, rest[0]); err != nil {
		return err
	}
	fmt.Fprintf(a.io.Stdout, "cancelled task %s\n", rest[0])
	return nil
}

func desiredLRPsCmd(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("desired-lrps", flag.ContinueOnError)
	domain := fs.String("domain", "", "only this domain")
	if _, err := parse(fs, args, 0, 0, "no arguments"); err != nil {
		return err
	}
	var lrps []receptor.DesiredLRPResponse
	var err error
	if *domain != "" {
		lrps, err = a.client.DesiredLRPsByDomain(ctx, *domain)
	} else {
		lrps, err = a.client.DesiredLRPs(ctx)
	}
	if err != nil {
		return err
	}
	var rows [][]string
	for _, d := range lrps {
		rows = append(rows, []string{d.ProcessGuid, d.Domain, strconv.Itoa(int(d.Instances)), itoa(int64(d.MemoryMB)), d.RootFS})
	}
	return a.table(lrps, "PROCESS GUID\tDOMAIN\tINSTANCES\tMEMORY MB\tROOTFS", rows)
}

func desiredLRPCmd(ctx context.Context, a *app, args []string) error {
	rest, err := parse(flag.NewFlagSet("desired-lrp", flag.ContinueOnError), args, 1, 1, "a process guid")
	if err != nil {
		return err
	}
	d, err := a.client.GetDesiredLRP(ctx, rest[0])
	if err != nil {
		return err
	}
	return a.show(d)
}

func createLRPCmd(ctx context.Context, a *app, args []string) error {
	rest, err := parse(flag.NewFlagSet("create-lrp", flag.ContinueOnError), args, 1, 1, "a definition file, or - for stdin")
	if err != nil {
		return err
	}
	var req receptor.DesiredLRPCreateRequest
	if err := a.readDefinition(rest[0], &req); err != nil {
		return err
	}
	if err := a.client.CreateDesiredLRP(ctx, req); err != nil {
		return err
	}
	fmt.Fprintf(a.io.Stdout, "created desired LRP %s\n", req.ProcessGuid)
	return nil
}

func updateLRPCmd(ctx context.Context, a *app, args []string) error {
	rest, err := parse(flag.NewFlagSet("update-lrp", flag.ContinueOnError), args, 2, 2, "a process guid and an update file, or - for stdin")
	if err != nil {
		return err
	}
	var req receptor.DesiredLRPUpdateRequest
	if err := a.readDefinition(rest[1], &req); err != nil {
		return err
	}
	if err := a.client.UpdateDesiredLRP(ctx, rest[0], req); err != nil {
		return err
	}
	fmt.Fprintf(a.io.Stdout, "updated desired LRP %s\n", rest[0])
	return nil
}

func scaleCmd(ctx context.Context, a *app, args []string) error {
	rest, err := parse(flag.NewFlagSet("scale", flag.ContinueOnError), args, 2, 2, "a process guid and an instance count")
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(rest[1], 10, 32)
	if err != nil || n < 0 {
		return usageError{fmt.Sprintf("instances must be a whole number ≥ 0, not %q", rest[1])}
	}
	instances := int32(n)
	if err := a.client.UpdateDesiredLRP(ctx, rest[0], receptor.DesiredLRPUpdateRequest{Instances: &instances}); err != nil {
		return err
	}
	fmt.Fprintf(a.io.Stdout, "scaled %s to %d instances\n", rest[0], n)
	return nil
}

func deleteLRPCmd(ctx context.Context, a *app, args []string) error {
	rest, err := parse(flag.NewFlagSet("delete-lrp", flag.ContinueOnError), args, 1, 1, "a process guid")
	if err != nil {
		return err
	}
	if err := a.client.DeleteDesiredLRP(ctx, rest[0]); err != nil {
		return err
	}
	fmt.Fprintf(a.io.Stdout, "deleted desired LRP %s\n", rest[0])
	return nil
}

func actualLRPsCmd(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("actual-lrps", flag.ContinueOnError)
	domain := fs.String("domain", "", "only this domain")
	rest, err := parse(fs, args, 0, 1, "at most a process guid")
	if err != nil {
		return err
	}
	var lrps []receptor.ActualLRPResponse
	switch {
	case len(rest) == 1:
		lrps, err = a.client.ActualLRPsByProcessGuid(ctx, rest[0])
	case *domain != "":
		lrps, err = a.client.ActualLRPsByDomain(ctx, *domain)
	default:
		lrps, err = a.client.ActualLRPs(ctx)
	}
	if err != nil {
		return err
	}
	var rows [][]string
	for _, l := range lrps {
		state := l.State
		if l.Evacuating {
			state += " (evacuating)"
		}
		rows = append(rows, []string{l.ProcessGuid, itoa(int64(l.Index)), state, orDefault(l.CellID, "-"),
			orDefault(l.Address, "-"), portList(l.Ports), itoa(int64(l.CrashCount)), since(l.Since)})
	}
	return a.table(lrps, "PROCESS GUID\tINDEX\tSTATE\tCELL\tADDRESS\tPORTS (HOST:CONTAINER)\tCRASHES\tSINCE", rows)
}

// portList shows an instance's mapped ports as host:container, so a user
// can curl it without --json.
func portList(ports []receptor.PortMapping) string {
	var out []string
	for _, p := range ports {
		if p.HostPort != 0 {
			out = append(out, fmt.Sprintf("%d:%d", p.HostPort, p.ContainerPort))
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ",")
}

func cellsCmd(ctx context.Context, a *app, args []string) error {
	if _, err := parse(flag.NewFlagSet("cells", flag.ContinueOnError), args, 0, 0, "no arguments"); err != nil {
		return err
	}
	cells, err := a.client.Cells(ctx)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, c := range cells {
		rows = append(rows, []string{c.CellID, c.Zone, itoa(int64(c.Capacity.MemoryMB)), itoa(int64(c.Capacity.DiskMB)), itoa(int64(c.Capacity.Containers))})
	}
	return a.table(cells, "CELL\tZONE\tMEMORY MB\tDISK MB\tCONTAINERS", rows)
}

func domainsCmd(ctx context.Context, a *app, args []string) error {
	if _, err := parse(flag.NewFlagSet("domains", flag.ContinueOnError), args, 0, 0, "no arguments"); err != nil {
		return err
	}
	domains, err := a.client.Domains(ctx)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, d := range domains {
		rows = append(rows, []string{d})
	}
	return a.table(domains, "DOMAIN", rows)
}

func setDomainCmd(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("set-domain", flag.ContinueOnError)
	ttl := fs.Duration("ttl", 0, "freshness, e.g. 2m (0: forever)")
	rest, err := parse(fs, args, 1, 1, "a domain")
	if err != nil {
		return err
	}
	if err := a.client.UpsertDomain(ctx, rest[0], *ttl); err != nil {
		return err
	}
	if *ttl == 0 {
		fmt.Fprintf(a.io.Stdout, "domain %s is fresh\n", rest[0])
	} else {
		fmt.Fprintf(a.io.Stdout, "domain %s is fresh for %s\n", rest[0], *ttl)
	}
	return nil
}

func eventsCmd(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	count := fs.Int("count", 0, "stop after this many events (0: never)")
	if _, err := parse(fs, args, 0, 0, "no arguments"); err != nil {
		return err
	}
	source, err := a.client.SubscribeToEvents(ctx)
	if err != nil {
		return err
	}
	defer source.Close()
	fmt.Fprintf(a.io.Stderr, "streaming events from %s (Ctrl-C to stop)\n", a.url)
	go func() {
		<-ctx.Done()
		source.Close()
	}()
	for n := 0; *count == 0 || n < *count; n++ {
		e, err := source.Next()
		if err != nil {
			if ctx.Err() != nil || err == client.ErrSourceClosed {
				return nil
			}
			return err
		}
		if a.json {
			if err := a.show(map[string]any{"type": e.EventType(), "event": e}); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(a.io.Stdout, "%s  %-22s %s\n", time.Now().Format("15:04:05"), e.EventType(), describe(e))
	}
	return nil
}

// describe is an event's one-line summary: an actual LRP by process guid,
// index and state (its instance guid is empty until it is claimed).
func describe(e receptor.Event) string {
	actual := func(l receptor.ActualLRPResponse) string {
		return fmt.Sprintf("%s/%d %s", l.ProcessGuid, l.Index, l.State)
	}
	switch e := e.(type) {
	case *receptor.ActualLRPCreatedEvent:
		return actual(e.ActualLRPResponse)
	case *receptor.ActualLRPChangedEvent:
		return fmt.Sprintf("%s/%d %s -> %s", e.After.ProcessGuid, e.After.Index, e.Before.State, e.After.State)
	case *receptor.ActualLRPRemovedEvent:
		return actual(e.ActualLRPResponse)
	}
	return e.Key()
}
