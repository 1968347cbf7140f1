package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/airlift-io/airlift/bench/plan"
	"github.com/airlift-io/airlift/internal/units"
)

// RouteLine is the one line copy --via auto prints about its choice.
func RouteLine(d *plan.Decision) string {
	return fmt.Sprintf("airlift: route %s (--via auto; scanned %d files, %s in %s; link %s from %s): %s",
		d.Chosen, d.Dataset.Files, units.FormatBytes(d.Dataset.Bytes), plan.HumanDuration(d.ScanSeconds),
		rateLabel(d.Link.BytesPerSec*d.Link.Utilization), d.Link.From, d.Reason)
}

// WithRoute adds the route object to a --json document (a copy report,
// a DataSync summary), so that it stays one document.
func WithRoute(v any, d *plan.Decision) any {
	if d == nil {
		return v
	}
	b, err := json.Marshal(v)
	m := map[string]json.RawMessage{}
	if err != nil || json.Unmarshal(b, &m) != nil {
		return v
	}
	r, _ := json.Marshal(d)
	m["route"] = r
	return m
}

// RouteStop is copy's --json document when it chose a route it does not
// run itself: the route, the commands to run, and the refusal.
type RouteStop struct {
	Route    *plan.Decision `json:"route"`
	Next     []string       `json:"next_commands"`
	Error    string         `json:"error"`
	Outcome  string         `json:"outcome"`
	ExitCode int            `json:"exit_code"`
}

// RouteSummary is what copy prints when it stops at a route it does not
// run: the estimate of the chosen route against the network copy, and
// for a physical route the device count, turnaround and the Data Transfer
// Terminal.
func RouteSummary(w io.Writer, d *plan.Decision, cfg *plan.Config, next []string) {
	fmt.Fprintf(w, "Route: %s, for %s in %d files (%s band; link %s from %s)\n", d.Chosen,
		units.FormatBytes(d.Dataset.Bytes), d.Dataset.Files, d.Band, rateLabel(d.Link.BytesPerSec*d.Link.Utilization), d.Link.From)
	fmt.Fprintf(w, "Why: %s\n", d.Reason)
	rows := [][]string{{"  Route", "Time", "Cost (USD)", "Notes"}}
	for _, r := range d.Estimates {
		name := "  " + r.Title
		if r.Name == d.Recommended {
			name += " *"
		}
		rows = append(rows, []string{name, plan.HumanDuration(r.Seconds), fmt.Sprintf("%.2f", r.CostUSD), strings.Join(r.Notes, "; ")})
	}
	textTable(w, rows)
	if d.Chosen == plan.KindPhysical {
		if t, ok := d.Route(plan.RouteTerminal); ok {
			fmt.Fprintf(w, "Data Transfer Terminal: about %s door to door, $%.2f (%s)\n", plan.HumanDuration(t.Seconds), t.CostUSD, strings.Join(t.Notes, "; "))
		}
		fmt.Fprintf(w, "Snowball Edge (existing customers only): %d x 210 TB device(s), about %.0f days turnaround\n",
			cfg.SnowballDevices(d.Dataset.Bytes), cfg.Snowball.TurnaroundDays.Value)
	}
	fmt.Fprintln(w, "Nothing was written. Next:")
	for _, c := range next {
		fmt.Fprintf(w, "  %s\n", c)
	}
	fmt.Fprintln(w, "Or upload over the network anyway: the same copy command with --via network.")
}
