// Command summary reads the benchmarks' JSON lines on stdin and prints one
// table (name, value, anchor, ratio, target, pass); it exits 1 when any
// line failed, errored or missed its target, so that `make bench` runs every
// benchmark and fails only at the end.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
)

type line struct {
	Bench       string   `json:"bench"`
	Value       *float64 `json:"value"`
	Unit        string   `json:"unit"`
	Anchor      string   `json:"anchor"`
	AnchorValue float64  `json:"anchor_value"`
	Ratio       float64  `json:"ratio"`
	Target      float64  `json:"target"`
	Pass        bool     `json:"pass"`
	Error       string   `json:"error"`
	Skipped     string   `json:"skipped"`
}

func main() {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "\nNAME\tVALUE\tANCHOR\tRATIO\tTARGET\tPASS")
	failed := false
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		var l line
		if err := json.Unmarshal(in.Bytes(), &l); err != nil {
			fmt.Fprintf(w, "?\t%s\t\t\t\tFAIL\n", err)
			failed = true
			continue
		}
		switch {
		case l.Skipped != "":
			fmt.Fprintf(w, "%s\tskipped: %s\t\t\t\t-\n", l.Bench, l.Skipped)
		case l.Error != "" || l.Value == nil:
			fmt.Fprintf(w, "%s\terror: %s\t\t\t\tFAIL\n", l.Bench, l.Error)
			failed = true
		default:
			pass := "pass"
			if !l.Pass {
				pass, failed = "FAIL", true
			}
			fmt.Fprintf(w, "%s\t%.4g %s\t%s %.4g\t%.3g\t%.3g\t%s\n", l.Bench, *l.Value, l.Unit, l.Anchor, l.AnchorValue, l.Ratio, l.Target, pass)
		}
	}
	_ = w.Flush()
	if failed {
		os.Exit(1)
	}
}
