package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/airlift-io/airlift/bench/plan"
	"github.com/airlift-io/airlift/internal/units"
)

func init() { commands = append(commands, newPlanCmd) }

type planFlags struct {
	bandwidth, deadline, changeRate, dsThroughput string
	sample, partSize, configFile, benchProfile    string
	utilization, speedup, snowTurnaround          float64
	latency                                       time.Duration
	concurrency, workers                          int
	existingSnowball, printConfig                 bool
	jsonOut, markdown, quiet                      bool
	snow                                          planSnowballFlags
}

func newPlanCmd(a *app) *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan SRC",
		Short: "Scan a dataset and estimate time and cost of each route to S3",
		Long: `Scan SRC in parallel (sizes, request count, compressibility from a bounded,
deterministic zstd sample) and estimate, for the network, S3 Transfer
Acceleration, AWS DataSync and physical routes, how long moving it takes and
what it costs; recommend one. Link figures come from --bandwidth and
--utilization, or from a bench profile (airlift bench --save). Every price and
threshold comes from an embedded config (--print-config) that --config
overrides.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.printConfig {
				_, err := a.stdout.Write(plan.DefaultJSON())
				return err
			}
			if len(args) != 1 {
				return usageErr("plan needs SRC (or --print-config)")
			}
			return a.runPlan(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.bandwidth, "bandwidth", "1Gbps", "link bandwidth, e.g. 1Gbps, 100Mbps, 500MiB/s")
	fl.Float64Var(&f.utilization, "utilization", 0.8, "share of the bandwidth a transfer gets, (0,1]")
	fl.DurationVar(&f.latency, "latency", 0, "per-request latency for small files (default from the config)")
	fl.IntVar(&f.concurrency, "concurrency", 0, "requests in flight for small files (default from the config)")
	fl.StringVar(&f.benchProfile, "bench-profile", "", "use throughput and request rate measured by airlift bench --save")
	fl.StringVar(&f.deadline, "deadline", "", "time the migration must fit in, e.g. 14d, 36h")
	fl.StringVar(&f.changeRate, "change-rate", "", "how fast the source changes, e.g. 50GiB/day: sizes the continuous sync")
	fl.Float64Var(&f.speedup, "acceleration-speedup", 0, "speed-up S3 Transfer Acceleration gives you (default: none claimed)")
	fl.StringVar(&f.dsThroughput, "datasync-throughput", "", "throughput one DataSync task reaches, e.g. 5Gbps (default from the config)")
	fl.BoolVar(&f.existingSnowball, "existing-snowball-customer", false, "also consider Snowball Edge (closed to new customers)")
	fl.Float64Var(&f.snowTurnaround, "snowball-turnaround", 0, "Snowball Edge turnaround in days (default from the config)")
	fl.StringVar(&f.sample, "sample", "256MiB", "bytes of file content to read for the compressibility sample (0 for none)")
	fl.StringVar(&f.partSize, "part-size", "", "multipart part size the request count assumes (default: profile, else config)")
	fl.IntVar(&f.workers, "workers", 0, "directories read in parallel (default 4 x CPUs)")
	fl.StringVar(&f.configFile, "config", "", "JSON file overriding figures of the embedded config")
	fl.BoolVar(&f.printConfig, "print-config", false, "print the embedded config (figures with source and date) and exit")
	fl.BoolVar(&f.jsonOut, "json", false, "print the plan as JSON")
	fl.BoolVar(&f.markdown, "markdown", false, "print the plan as a Markdown report")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress while scanning")
	f.snow.register(fl)
	return cmd
}

// planOutput is what --json prints.
type planOutput struct {
	Scan     *plan.Scan     `json:"scan"`
	Estimate *plan.Estimate `json:"estimate"`
}

func (a *app) runPlan(cmd *cobra.Command, src string, f planFlags) error {
	if f.jsonOut && f.markdown {
		return usageErr("--json and --markdown cannot be used together")
	}
	cfg, err := plan.LoadConfig(f.configFile)
	if err != nil {
		return usageErr("%v", err)
	}
	bw, err := units.ParseRate(f.bandwidth)
	if err != nil || bw <= 0 {
		return usageErr("--bandwidth: invalid rate %q (want e.g. 1Gbps or 100MiB/s)", f.bandwidth)
	}
	if !(f.utilization > 0 && f.utilization <= 1) {
		return usageErr("--utilization must be in (0, 1], not %v", f.utilization)
	}
	if f.speedup < 0 || f.snowTurnaround < 0 || f.latency < 0 || f.concurrency < 0 || f.workers < 0 {
		return usageErr("--acceleration-speedup, --snowball-turnaround, --latency, --concurrency and --workers must not be negative")
	}
	if f.speedup > 0 && f.speedup < 1 {
		return usageErr("--acceleration-speedup is a factor of at least 1, not %v", f.speedup)
	}
	var o plan.Options
	o.AccelerationSpeedup = f.speedup
	o.ExistingSnowballCustomer = f.existingSnowball || f.snow.job != ""
	if err := f.snow.check(); err != nil {
		return err
	}
	o.SnowballTurnaroundDays = f.snowTurnaround
	if o.Deadline, err = parseDeadline(f.deadline); err != nil {
		return usageErr("--deadline: %v", err)
	}
	if o.ChangeBytesPerDay, err = parseChangeRate(f.changeRate); err != nil {
		return usageErr("--change-rate: %v", err)
	}
	if f.dsThroughput != "" {
		if o.DataSyncThroughput, err = units.ParseRate(f.dsThroughput); err != nil || o.DataSyncThroughput <= 0 {
			return usageErr("--datasync-throughput: invalid rate %q", f.dsThroughput)
		}
	}
	sample, err := sizeFlag("sample", f.sample)
	if err != nil {
		return err
	}
	if sample == 0 {
		sample = -1
	}
	ps, err := sizeFlag("part-size", f.partSize)
	if err != nil {
		return err
	}

	link := plan.Link{
		BytesPerSec: bw, Utilization: f.utilization,
		RequestLatency: cfg.S3.RequestLatencySeconds.Value, Concurrency: int(cfg.S3.Concurrency.Value), From: "flags",
	}
	if f.benchProfile != "" {
		for _, fl := range []string{"bandwidth", "utilization", "latency", "concurrency"} {
			if cmd.Flags().Changed(fl) {
				return usageErr("--%s and --bench-profile cannot be used together: the profile measured it", fl)
			}
		}
		prof, err := plan.LoadProfile(f.benchProfile)
		if err != nil {
			return usageErr("%v", err)
		}
		link = prof.Link("bench profile " + f.benchProfile)
		if ps == 0 {
			ps = prof.Recommend.PartSize
		}
	}
	if f.latency > 0 {
		link.RequestLatency = f.latency.Seconds()
	}
	if f.concurrency > 0 {
		link.Concurrency = f.concurrency
	}
	if ps == 0 {
		ps = int64(cfg.S3.PartSizeBytes.Value)
	}
	if _, err := statSource(src); err != nil {
		return usageErr("%v", err)
	}

	counters := &plan.ScanCounters{}
	stop := scanProgress(a.stderr, counters, f.quiet)
	scan, err := plan.ScanTree(cmd.Context(), src, plan.ScanOptions{
		Workers: f.workers, PartSize: ps, SmallFile: int64(cfg.S3.SmallFileBytes.Value), SampleBytes: sample, Counters: counters,
	})
	stop()
	if err != nil {
		if ctxInterrupted(err) {
			return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted")}
		}
		return err
	}
	est, err := plan.EstimateRoutes(cfg, scan.Dataset(), link, o)
	if err != nil {
		return usageErr("%v", err)
	}
	usable := map[string]int64{"V3_5S": int64(cfg.Snowball.Device210Bytes.Value),
		"EDGE_S": int64(cfg.Snowball.Device80Bytes.Value), "EDGE": int64(cfg.Snowball.Device80Bytes.Value)}
	if err := a.writePlanSnowballJob(f.snow, scan.Bytes, usable); err != nil {
		return err
	}
	switch {
	case f.jsonOut:
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(planOutput{Scan: scan, Estimate: jsonSafeEstimate(est)})
	case f.markdown:
		renderPlan(a.stdout, scan, est, true)
	default:
		renderPlan(a.stdout, scan, est, false)
	}
	for _, e := range scan.Errors {
		fmt.Fprintf(a.stderr, "warning: %s\n", e)
	}
	return nil
}

// jsonSafeEstimate replaces +Inf (a sync that never catches up) with -1,
// which JSON can carry.
func jsonSafeEstimate(e *plan.Estimate) *plan.Estimate {
	if e.Sync != nil && math.IsInf(e.Sync.CatchUpSeconds, 0) {
		c := *e.Sync
		c.CatchUpSeconds = -1
		e.Sync = &c
	}
	return e
}

// parseDeadline accepts Go durations and whole or fractional days ("14d").
func parseDeadline(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	t := strings.TrimSpace(strings.ToLower(s))
	if d, ok := strings.CutSuffix(t, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("invalid %q (want e.g. 14d or 36h)", s)
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("invalid %q (want e.g. 14d or 36h)", s)
	}
	return d, nil
}

// parseChangeRate parses "50GiB/day", "2GB/h", "300GiB/week" into bytes
// per day.
func parseChangeRate(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	size, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, fmt.Errorf("invalid %q (want e.g. 50GiB/day)", s)
	}
	n, err := units.ParseBytes(size)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid %q (want e.g. 50GiB/day)", s)
	}
	switch strings.ToLower(strings.TrimSpace(per)) {
	case "d", "day":
		return float64(n), nil
	case "h", "hour":
		return float64(n) * 24, nil
	case "w", "week":
		return float64(n) / 7, nil
	}
	return 0, fmt.Errorf("invalid period in %q (want /day, /hour or /week)", s)
}

func scanProgress(w io.Writer, c *plan.ScanCounters, quiet bool) func() {
	if quiet || !isTerminal(w) {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprintf(w, "\r\033[K")
				return
			case <-t.C:
				fmt.Fprintf(w, "\r\033[Kscanning: %d files, %d dirs, %s; sampled %s",
					c.Files.Load(), c.Dirs.Load(), units.FormatBytes(c.Bytes.Load()), units.FormatBytes(c.SampledBytes.Load()))
			}
		}
	}()
	return func() { close(done); <-finished }
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
func renderPlan(w io.Writer, s *plan.Scan, e *plan.Estimate, md bool) {
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
	link := fmt.Sprintf("%s at %.0f%% from %s", rateLabel(e.Link.BytesPerSec), e.Link.Utilization*100, e.Link.From)
	if e.Link.PutsPerSec > 0 {
		link += fmt.Sprintf("; %.0f small PUTs/s", e.Link.PutsPerSec)
	} else {
		link += fmt.Sprintf("; %.0f ms per request x %d in flight", e.Link.RequestLatency*1000, e.Link.Concurrency)
	}
	summary = append(summary, [2]string{"Link", link}, [2]string{"Band", e.Band})
	if e.Deadline > 0 {
		summary = append(summary, [2]string{"Deadline", plan.HumanDuration(e.Deadline)})
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
