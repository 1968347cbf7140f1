package ui

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/airlift-io/airlift/bench/plan"
	"github.com/airlift-io/airlift/internal/units"
)

// PlanJSON is what plan --json prints.
type PlanJSON struct {
	Scan     *plan.Scan     `json:"scan"`
	Estimate *plan.Estimate `json:"estimate"`
}

// NewPlanJSON replaces +Inf (a sync that never catches up) with -1, which
// JSON can carry.
func NewPlanJSON(s *plan.Scan, e *plan.Estimate) PlanJSON {
	if e.Sync != nil && math.IsInf(e.Sync.CatchUpSeconds, 0) {
		c := *e.Sync
		c.CatchUpSeconds = -1
		e.Sync = &c
	}
	return PlanJSON{Scan: s, Estimate: e}
}

// ScanProgress polls the plan's scan counters (shown on a terminal only).
func ScanProgress(c *plan.ScanCounters) func() Snapshot {
	return func() Snapshot {
		return Snapshot{Label: fmt.Sprintf("scanning: %d files, %d dirs; sampled %s", c.Files.Load(), c.Dirs.Load(),
			units.FormatBytes(c.SampledBytes.Load())), Done: c.Bytes.Load(), Total: -1, Bytes: true}
	}
}

func bucketLabel(b plan.Bucket) string {
	if b.Hi == 0 {
		return "0 B"
	}
	return fmt.Sprintf("%s - %s", units.FormatBytes(b.Lo), units.FormatBytes(b.Hi))
}

func pct(v float64) string { return fmt.Sprintf("%.1f%%", v*100) }

func rateLabel(bps float64) string {
	return fmt.Sprintf("%.3g Gbps (%.1f MB/s)", bps*8/1e9, bps/1e6)
}

// renderPlan writes the plan as aligned text or as Markdown tables.
func RenderPlan(w io.Writer, s *plan.Scan, e *plan.Estimate, md bool) {
	fs, bs := s.Share()
	ratio := "not sampled"
	if s.SampledFiles > 0 {
		ratio = fmt.Sprintf("%.2f (zstd shrinks the data by about %.0f%%; sampled %s from %d files)",
			s.Ratio, (1-s.Ratio)*100, units.FormatBytes(s.SampledBytes), s.SampledFiles)
	}
	summary := [][2]string{
		{"Source", s.Root},
		{"Files", fmt.Sprintf("%d in %d directories (%d skipped: links, devices)", s.Files, s.Dirs, s.Skipped)},
		{"Bytes", fmt.Sprintf("%s (%d)", units.FormatBytes(s.Bytes), s.Bytes)},
		{"Under " + units.FormatBytes(s.SmallLimit), fmt.Sprintf("%s of files, %s of bytes (request-bound)", pct(fs), pct(bs))},
		{"Largest file", fmt.Sprintf("%s (%s)", s.Largest, units.FormatBytes(s.LargestSize))},
		{"S3 requests", fmt.Sprintf("%d (%d multipart files at %s parts)", s.Requests, s.MultipartFiles, units.FormatBytes(s.PartSize))},
		{"Compressibility", ratio},
		{"Scan time", plan.HumanDuration(s.Seconds)},
	}
	if s.Selection != nil {
		summary = append(summary[:1], append([][2]string{{"Subset", SelectionLabel(s.Selection)}}, summary[1:]...)...)
	}
	link := fmt.Sprintf("%s at %.0f%% from %s", rateLabel(e.Link.BytesPerSec), e.Link.Utilization*100, e.Link.From)
	if e.Link.PutsPerSec > 0 {
		link += fmt.Sprintf("; %.0f small PUTs/s", e.Link.PutsPerSec)
	} else {
		link += fmt.Sprintf("; %.0f ms per request x %d in flight", e.Link.RequestLatency*1000, e.Link.Concurrency)
	}
	summary = append(summary, [2]string{"Link", link}, [2]string{"Band", e.Band})
	if pk := e.Packing; pk != nil {
		summary = append(summary, [2]string{"Packing", fmt.Sprintf(
			"median file under %s: %d requests ($%.4g) one object per file; %d ($%.4g) packed into %d shard(s) of %s: copy --pack recommended",
			units.FormatBytes(pk.MedianFileBelow), pk.Requests, pk.CostUSD, pk.PackedRequests, pk.PackedCostUSD, pk.Shards, units.FormatBytes(pk.ShardSize))})
	}
	if e.Deadline > 0 {
		summary = append(summary, [2]string{"Deadline", plan.HumanDuration(e.Deadline)})
	}
	if b := e.Storage; b != nil {
		summary = append(summary, [2]string{"Storage bill", fmt.Sprintf("%s USD a month in S3 (us-east-1 prices; per class below)", usd(b.MonthlyUSD))})
	}
	var storage [][]string
	if b := e.Storage; b != nil {
		storage = storageRows(b)
	}

	hist := [][]string{{"Size", "Files", "Bytes"}}
	for _, b := range s.Histogram {
		hist = append(hist, []string{bucketLabel(b), strconv.FormatInt(b.Files, 10), units.FormatBytes(b.Bytes)})
	}
	exts := [][]string{{"Extension", "Files", "Bytes", "zstd ratio"}}
	for i, x := range s.ByExt {
		if i == 15 {
			exts = append(exts, []string{fmt.Sprintf("(%d more in --json)", len(s.ByExt)-15), "", "", ""})
			break
		}
		r := "-"
		if x.SampledFiles > 0 {
			r = fmt.Sprintf("%.2f", x.Ratio)
		}
		exts = append(exts, []string{x.Ext, strconv.FormatInt(x.Files, 10), units.FormatBytes(x.Bytes), r})
	}
	routes := [][]string{{"Route", "Time", "Cost (USD)", "Requests", "Meets deadline", "Notes"}}
	for _, r := range e.Routes {
		meets := "-"
		if r.MeetsDeadline != nil {
			meets = map[bool]string{true: "yes", false: "no"}[*r.MeetsDeadline]
		}
		name := r.Title
		if r.Name == e.Recommended {
			name += " *"
		}
		routes = append(routes, []string{name, plan.HumanDuration(r.Seconds), fmt.Sprintf("%.2f", r.CostUSD),
			strconv.FormatInt(r.Requests, 10), meets, strings.Join(r.Notes, "; ")})
	}

	if md {
		fmt.Fprintf(w, "# Migration plan: %s\n\n", s.Root)
		fmt.Fprintf(w, "**Recommendation:** %s\n\n", e.Reason)
		mdTable(w, append([][]string{{"", ""}}, pairs(summary)...))
		fmt.Fprintf(w, "\n## Routes\n\n")
		mdTable(w, routes)
		fmt.Fprintf(w, "\n\\* recommended\n")
		if e.Sync != nil {
			fmt.Fprintf(w, "\n## Continuous sync\n\n")
			for _, l := range syncLines(e.Sync) {
				fmt.Fprintf(w, "- %s\n", l)
			}
		}
		if len(e.Notes) > 0 {
			fmt.Fprintf(w, "\n## Notes\n\n")
			for _, n := range e.Notes {
				fmt.Fprintf(w, "- %s\n", n)
			}
		}
		if storage != nil {
			fmt.Fprintf(w, "\n## Monthly storage bill\n\n")
			mdTable(w, storage)
			fmt.Fprintln(w)
			for _, n := range e.Storage.Notes {
				fmt.Fprintf(w, "- %s\n", n)
			}
		}
		if s.AtimeWarning != "" {
			fmt.Fprintf(w, "\n**Warning:** %s\n", s.AtimeWarning)
		}
		fmt.Fprintf(w, "\n## File sizes\n\n")
		mdTable(w, hist)
		fmt.Fprintf(w, "\n## By extension\n\n")
		mdTable(w, exts)
		fmt.Fprintf(w, "\nPrices and thresholds: `airlift plan --print-config` (each figure with its source and date).\n")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range summary {
		fmt.Fprintf(tw, "%s:\t%s\n", p[0], p[1])
	}
	tw.Flush()
	fmt.Fprintln(w)
	textTable(w, hist)
	fmt.Fprintln(w)
	textTable(w, exts)
	fmt.Fprintln(w)
	textTable(w, routes)
	if storage != nil {
		fmt.Fprintln(w)
		textTable(w, storage)
	}
	fmt.Fprintf(w, "\nRecommended: %s\n", e.Reason)
	if e.Sync != nil {
		fmt.Fprintln(w, "Continuous sync:")
		for _, l := range syncLines(e.Sync) {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	for _, n := range e.Notes {
		fmt.Fprintf(w, "Note: %s\n", n)
	}
	if e.Storage != nil {
		for _, n := range e.Storage.Notes {
			fmt.Fprintf(w, "Storage: %s\n", n)
		}
	}
	if s.AtimeWarning != "" {
		fmt.Fprintf(w, "Warning: %s\n", s.AtimeWarning)
	}
}

// storageRows is the monthly bill as a table: a row per storage class
// and the total.
func storageRows(b *plan.StorageBill) [][]string {
	rows := [][]string{{"Storage class", "Objects", "Bytes", "Billed as", "USD/month", "Minimum stay"}}
	var objects, bytes int64
	for _, c := range b.Classes {
		billed, cost, stay := units.FormatBytes(c.BillableBytes+c.StandardBytes), usd(c.MonthlyUSD), "-"
		if !c.Priced {
			billed, cost = "-", "no price"
		}
		if c.MinDays > 0 {
			stay = fmt.Sprintf("%.0f days", c.MinDays)
		}
		rows = append(rows, []string{c.Class, strconv.FormatInt(c.Objects, 10), units.FormatBytes(c.Bytes), billed, cost, stay})
		objects += c.Objects
		bytes += c.Bytes
	}
	exact := ""
	if !b.Exact {
		exact = " (about)"
	}
	return append(rows, []string{"total", strconv.FormatInt(objects, 10), units.FormatBytes(bytes), "", usd(b.MonthlyUSD) + exact, ""})
}

// usd words an amount of dollars: cents, or "<0.01" below a cent.
func usd(v float64) string {
	if v > 0 && v < 0.005 {
		return "<0.01"
	}
	return fmt.Sprintf("%.2f", v)
}

func pairs(p [][2]string) [][]string {
	out := make([][]string, len(p))
	for i, x := range p {
		out[i] = []string{x[0], x[1]}
	}
	return out
}

func syncLines(s *plan.Sync) []string {
	lines := []string{
		fmt.Sprintf("change rate %s/day against a link that carries %s/day (%.1f%%)", units.FormatBytes(int64(s.ChangeBytesPerDay)), units.FormatBytes(int64(s.LinkBytesPerDay)), s.LinkShare*100),
		fmt.Sprintf("one day's changes take %s to send", plan.HumanDuration(s.DailySeconds)),
		fmt.Sprintf("backlog after the bulk copy: %s, caught up in %s", units.FormatBytes(int64(s.BacklogBytes)), plan.HumanDuration(s.CatchUpSeconds)),
	}
	if s.Warning != "" {
		lines = append(lines, "WARNING: "+s.Warning)
	}
	return lines
}

func textTable(w io.Writer, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

func mdTable(w io.Writer, rows [][]string) {
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for i, r := range rows {
		cells := make([]string, len(r))
		for j, c := range r {
			cells[j] = esc(c)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		if i == 0 {
			fmt.Fprintf(w, "|%s\n", strings.Repeat(" --- |", len(r)))
		}
	}
}
