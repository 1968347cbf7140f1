package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/airlift-io/airlift/bench"
	"github.com/airlift-io/airlift/bench/plan"
	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/ui"
	"github.com/airlift-io/airlift/internal/units"
)

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
	progress                     progressFlags
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
	loc, err := location("", target)
	if err != nil {
		return err
	}
	o := bench.Options{
		Target: loc, Concurrency: f.concurrency, CellTime: f.cellTime, CPUTime: f.cpuTime,
		SmallConcurrency: f.smallConcurrency, SmallTime: f.smallTime,
		Source: f.source, SourceTime: f.sourceTime, Seed: f.seed,
	}
	for _, s := range f.partSizes {
		n, err := units.ParseBytes(s)
		if err != nil {
			return outcome.Usagef("--part-sizes: %v", err)
		}
		o.PartSizes = append(o.PartSizes, n)
	}
	if o.CellBytes, err = sizeFlag("cell-bytes", f.cellBytes); err != nil {
		return err
	}
	if o.SourceBytes, err = sizeFlag("source-bytes", f.sourceBytes); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	t, err := a.connect(cmd.Context(), loc, o.MaxInFlight())
	if err != nil {
		return err
	}
	p := f.progress.start(a, nil)
	o.Progress = ui.BenchProgress(p)
	res, err := bench.Run(cmd.Context(), t.API, o)
	p.Stop()
	if err != nil {
		return res.Outcome(err)
	}
	if f.chart != "" {
		if err := bench.WriteSVGFile(f.chart, res); err != nil {
			return fmt.Errorf("--chart: %w", err)
		}
	}
	if f.save != "" {
		if err := plan.SaveProfile(f.save, res.Profile(a.conn.endpoint)); err != nil {
			return err
		}
	}
	if f.jsonOut {
		return a.printJSON(res)
	}
	ui.RenderBench(a.stdout, res, ui.BenchFiles{Chart: f.chart, Profile: f.save})
	return nil
}
