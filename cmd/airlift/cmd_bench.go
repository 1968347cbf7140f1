package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/airlift-io/airlift/bench"
	"github.com/airlift-io/airlift/bench/plan"
	"github.com/airlift-io/airlift/internal/units"
	"github.com/airlift-io/airlift/transfer"
)

func init() { commands = append(commands, newBenchCmd) }

type benchFlags struct {
	concurrency                  []int
	partSizes                    []string
	cellTime, cpuTime, smallTime time.Duration
	sourceTime                   time.Duration
	cellBytes, sourceBytes       string
	smallConcurrency             int
	source, chart, save          string
	seed                         int64
	jsonOut                      bool
	progress                     progressOpts
}

func newBenchCmd(a *app) *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench s3://bucket/prefix",
		Short: "Measure hashing, source reads, upload throughput and request latency to a target",
		Long: `Measure what limits a transfer to the target: BLAKE3 and zstd speed on this
machine, the read speed of --source, upload throughput over a grid of
concurrency x part size (seeded random data generated in memory), and the rate
and latency of small PUTs and HEADs. Each measurement is bounded in time and
bytes. Everything is written under PREFIX/.airlift-bench/RUN-ID/ and removed
before airlift exits, also on Ctrl-C. --save writes a profile that plan and
copy take with --bench-profile.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runBench(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.IntSliceVar(&f.concurrency, "concurrency", []int{1, 4, 16, 64}, "grid: parts in flight")
	fl.StringSliceVar(&f.partSizes, "part-sizes", []string{"8MiB", "16MiB", "64MiB"}, "grid: part sizes")
	fl.DurationVar(&f.cellTime, "cell-time", 3*time.Second, "time limit per grid cell")
	fl.StringVar(&f.cellBytes, "cell-bytes", "1GiB", "data limit per grid cell")
	fl.DurationVar(&f.cpuTime, "cpu-time", time.Second, "time per CPU measurement (BLAKE3, zstd)")
	fl.IntVar(&f.smallConcurrency, "small-concurrency", 64, "16 KiB PUTs and HEADs in flight")
	fl.DurationVar(&f.smallTime, "small-time", 3*time.Second, "time for the PUT phase and for the HEAD phase")
	fl.StringVar(&f.source, "source", "", "also measure how fast this directory reads (a sample)")
	fl.StringVar(&f.sourceBytes, "source-bytes", "256MiB", "data limit for the --source sample")
	fl.DurationVar(&f.sourceTime, "source-time", 3*time.Second, "time limit for the --source sample")
	fl.Int64Var(&f.seed, "seed", 1, "seed for the generated data")
	fl.BoolVar(&f.jsonOut, "json", false, "print the results as JSON")
	fl.StringVar(&f.chart, "chart", "", "write an SVG chart of throughput vs concurrency to this file")
	fl.StringVar(&f.save, "save", "", "write a profile for plan and copy (--bench-profile) to this file")
	f.progress.register(fl)
	return cmd
}

func (a *app) runBench(cmd *cobra.Command, target string, f benchFlags) error {
	ctx := cmd.Context()
	loc, err := transfer.ParseLocation(target)
	if err != nil {
		return usageErr("%v", err)
	}
	o := bench.Options{
		Target: loc, Concurrency: f.concurrency, CellTime: f.cellTime, CPUTime: f.cpuTime,
		SmallConcurrency: f.smallConcurrency, SmallTime: f.smallTime,
		Source: f.source, SourceTime: f.sourceTime, Seed: f.seed,
	}
	for _, s := range f.partSizes {
		n, err := units.ParseBytes(s)
		if err != nil {
			return usageErr("--part-sizes: %v", err)
		}
		o.PartSizes = append(o.PartSizes, n)
	}
	if o.CellBytes, err = sizeFlag("cell-bytes", f.cellBytes); err != nil {
		return err
	}
	if o.SourceBytes, err = sizeFlag("source-bytes", f.sourceBytes); err != nil {
		return err
	}
	if f.cellTime <= 0 || f.cpuTime <= 0 || f.smallTime <= 0 || f.sourceTime <= 0 || f.smallConcurrency < 1 {
		return usageErr("time limits and --small-concurrency must be positive")
	}
	// Check the grid before contacting anything.
	for _, c := range o.Concurrency {
		if c < 1 || c > 1024 {
			return usageErr("--concurrency %d: want 1 to 1024", c)
		}
	}
	for _, p := range o.PartSizes {
		if p < transfer.MinPartSize || p > 1<<30 {
			return usageErr("--part-sizes %s: want 5 MiB to 1 GiB", units.FormatBytes(p))
		}
	}
	if f.source != "" {
		if fi, err := statSource(f.source); err != nil {
			return usageErr("--source: %v", err)
		} else if !fi.IsDir() {
			return usageErr("--source %s is not a directory", f.source)
		}
	}
	maxConc := f.smallConcurrency
	for _, c := range o.Concurrency {
		maxConc = max(maxConc, c)
	}
	cli, err := a.regionFor(ctx, maxConc, loc.Bucket)
	if err != nil {
		return err
	}
	if err := transfer.CheckBucket(ctx, cli.S3, loc.Bucket); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	stop := benchProgress(a.stderr, f.progress, &o)
	res, err := bench.Run(ctx, s3api(cli), o)
	stop()
	if res != nil && err == nil {
		if f.chart != "" {
			if cerr := writeChart(f.chart, res); cerr != nil {
				return cerr
			}
		}
		if f.save != "" {
			if serr := plan.SaveProfile(f.save, res.Profile(a.conn.endpoint)); serr != nil {
				return serr
			}
		}
		if f.jsonOut {
			enc := json.NewEncoder(a.stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(res)
		} else {
			renderBench(a.stdout, res, f)
		}
	}
	switch {
	case err != nil && ctxInterrupted(err):
		msg := "interrupted"
		if res != nil {
			msg = fmt.Sprintf("interrupted; removed %d objects and %d multipart uploads under s3://%s/%s", res.Cleanup.Objects, res.Cleanup.Uploads, loc.Bucket, res.Prefix)
		}
		return &exitError{code: exitInterrupted, err: fmt.Errorf("%s", msg)}
	case err != nil:
		return &exitError{code: exitFailed, err: err}
	}
	return nil
}

func writeChart(path string, r *bench.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--chart: %w", err)
	}
	if err := bench.WriteSVG(f, r); err != nil {
		f.Close()
		return fmt.Errorf("--chart: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--chart: %w", err)
	}
	return nil
}

// benchProgress shows each step as it starts: a bar on a terminal, a log
// line otherwise, nothing when quiet.
func benchProgress(w io.Writer, po progressOpts, o *bench.Options) func() {
	if po.quiet {
		return func() {}
	}
	if isTerminal(w) {
		var bar *progressbar.ProgressBar
		o.Progress = func(s bench.Step) {
			if bar == nil {
				bar = progressbar.NewOptions(s.Total, progressbar.OptionSetWriter(w), progressbar.OptionShowCount(),
					progressbar.OptionSetWidth(30), progressbar.OptionClearOnFinish())
			}
			bar.Describe(s.Name)
			_ = bar.Set(s.Done)
		}
		return func() {
			if bar != nil {
				_ = bar.Finish()
			}
		}
	}
	o.Progress = func(s bench.Step) {
		if s.Done < s.Total {
			fmt.Fprintf(w, "%s bench [%d/%d] %s\n", time.Now().UTC().Format(time.RFC3339), s.Done+1, s.Total, s.Name)
		}
	}
	return func() {}
}

func mbps(b float64) string { return fmt.Sprintf("%.1f MB/s", b/1e6) }

func ms(s float64) string { return fmt.Sprintf("%.1f ms", s*1000) }

func renderBench(w io.Writer, r *bench.Result, f benchFlags) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Target:\t%s (run %s, %d CPUs)\n", r.Target, r.RunID, r.NumCPU)
	fmt.Fprintf(tw, "BLAKE3:\t%s per core\n", mbps(r.Blake3.BytesPerSec))
	fmt.Fprintf(tw, "zstd:\t%s per core (text-like data)\n", mbps(r.Zstd.BytesPerSec))
	if r.Source != nil {
		fmt.Fprintf(tw, "Source read:\t%s (%s from %d files; cached data reads faster)\n", mbps(r.Source.BytesPerSec), units.FormatBytes(r.Source.Bytes), r.Source.Files)
	}
	s := r.Small
	fmt.Fprintf(tw, "%d KiB PUTs:\t%.0f/s at %d in flight (%d PUTs, %d errors)\n", s.Size>>10, s.PutsPerSec, s.Concurrency, s.Puts, s.Errors)
	fmt.Fprintf(tw, "PUT latency:\tp50 %s  p95 %s  p99 %s\n", ms(s.Put.P50), ms(s.Put.P95), ms(s.Put.P99))
	fmt.Fprintf(tw, "HEAD latency:\tp50 %s  p95 %s  p99 %s\n", ms(s.Head.P50), ms(s.Head.P95), ms(s.Head.P99))
	tw.Flush()
	fmt.Fprintln(w)
	rows := [][]string{{"Concurrency", "Part size", "Throughput", "Parts", "Errors"}}
	for _, c := range r.Grid {
		rows = append(rows, []string{strconv.Itoa(c.Concurrency), units.FormatBytes(c.PartSize), mbps(c.BytesPerSec), strconv.FormatInt(c.Parts, 10), strconv.FormatInt(c.Errors, 10)})
	}
	textTable(w, rows)
	rc := r.Recommend
	fmt.Fprintf(w, "\nRecommended: --part-concurrency %d --part-size %s --max-memory %s (%s: %s)\n",
		rc.Concurrency, flagBytes(rc.PartSize), flagBytes(rc.MaxMemory), mbps(rc.BytesPerSec), rc.Reason)
	fmt.Fprintf(w, "Cleaned up: %d objects, %d multipart uploads under %s\n", r.Cleanup.Objects, r.Cleanup.Uploads, r.Prefix)
	if f.chart != "" {
		fmt.Fprintf(w, "Chart: %s\n", f.chart)
	}
	if f.save != "" {
		fmt.Fprintf(w, "Profile: %s (airlift plan/copy --bench-profile %s)\n", f.save, f.save)
	}
}

// flagBytes writes a size the way a flag takes it ("8MiB"), so the
// recommendation can be pasted.
func flagBytes(n int64) string {
	switch {
	case n > 0 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n > 0 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return strconv.FormatInt(n, 10)
}
