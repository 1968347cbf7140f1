package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/airlift-io/airlift/bench/plan"
	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/ui"
	"github.com/airlift-io/airlift/internal/units"
	"github.com/airlift-io/airlift/transfer"
)

type planFlags struct {
	bandwidth, deadline, changeRate, dsThroughput string
	hostRate                                      string
	dsAgents                                      int
	sample, partSize, configFile, benchProfile    string
	storageClass                                  string
	tier                                          classRuleFlags
	utilization, speedup, snowTurnaround          float64
	latency                                       time.Duration
	concurrency, workers                          int
	existingSnowball, printConfig                 bool
	jsonOut, markdown, quiet                      bool
	snow                                          planSnowballFlags
	source                                        sourceFlags
	sub                                           planSubsetFlags
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
overrides. SRC may be an s3:// prefix (see the --source-* flags): its listing
is scanned, and the sample read with ranged GETs.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.printConfig {
				_, err := a.stdout.Write(plan.DefaultJSON())
				return err
			}
			if len(args) != 1 {
				return outcome.Usagef("plan needs SRC (or --print-config)")
			}
			return a.runPlan(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	f.registerLink(fl)
	fl.StringVar(&f.benchProfile, "bench-profile", "", "use throughput and request rate measured by airlift bench --save")
	fl.StringVar(&f.deadline, "deadline", "", "time the migration must fit in, e.g. 14d, 36h")
	fl.StringVar(&f.changeRate, "change-rate", "", "how fast the source changes, e.g. 50GiB/day: sizes the continuous sync")
	fl.Float64Var(&f.speedup, "acceleration-speedup", 0, "speed-up S3 Transfer Acceleration gives you (default: none claimed)")
	fl.StringVar(&f.dsThroughput, "datasync-throughput", "", "throughput one DataSync task reaches, e.g. 5Gbps (default from the config)")
	fl.IntVar(&f.dsAgents, "datasync-agents", 0, "DataSync agents running in parallel, each up to --datasync-throughput (default 1)")
	fl.StringVar(&f.hostRate, "host-throughput", "", "what this host reaches copying, e.g. 200MB/s (default: --bench-profile, else the last copy's rate to this endpoint)")
	fl.BoolVar(&f.existingSnowball, "existing-snowball-customer", false, "also consider Snowball Edge (closed to new customers)")
	fl.Float64Var(&f.snowTurnaround, "snowball-turnaround", 0, "Snowball Edge turnaround in days (default from the config)")
	fl.StringVar(&f.sample, "sample", "256MiB", "bytes of file content to read for the compressibility sample (0 for none)")
	fl.StringVar(&f.partSize, "part-size", "", "multipart part size the request count assumes (default: profile, else config)")
	fl.IntVar(&f.workers, "workers", 0, "directories read in parallel (default 4 x CPUs)")
	fl.StringVar(&f.storageClass, "storage-class", "", "storage class the monthly bill assumes for the objects, e.g. STANDARD_IA (default STANDARD)")
	f.tier.register(fl)
	fl.StringVar(&f.configFile, "config", "", "JSON file overriding figures of the embedded config")
	fl.BoolVar(&f.printConfig, "print-config", false, "print the embedded config (figures with source and date) and exit")
	fl.BoolVar(&f.jsonOut, "json", false, "print the plan as JSON")
	fl.BoolVar(&f.markdown, "markdown", false, "print the plan as a Markdown report")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress while scanning")
	f.snow.register(fl)
	f.source.register(fl)
	f.sub.register(fl)
	return cmd
}

// registerLink adds the link figures a bench profile replaces.
func (f *planFlags) registerLink(fl *pflag.FlagSet) {
	fl.StringVar(&f.bandwidth, "bandwidth", "1Gbps", "link bandwidth, e.g. 1Gbps, 100Mbps, 500MiB/s")
	fl.Float64Var(&f.utilization, "utilization", 0.8, "share of the bandwidth a transfer gets, (0,1]")
	fl.DurationVar(&f.latency, "latency", 0, "per-request latency for small files (default from the config)")
	fl.IntVar(&f.concurrency, "concurrency", 0, "requests in flight for small files (default from the config)")
}

func (a *app) runPlan(cmd *cobra.Command, src string, f planFlags) error {
	if f.jsonOut && f.markdown {
		return outcome.Usagef("--json and --markdown cannot be used together")
	}
	cfg, err := plan.LoadConfig(f.configFile)
	if err != nil {
		return outcome.As(outcome.Usage, err)
	}
	bw, err := units.ParseRate(f.bandwidth)
	switch {
	case err != nil || bw <= 0:
		return outcome.Usagef("--bandwidth: invalid rate %q (want e.g. 1Gbps or 100MiB/s)", f.bandwidth)
	case !(f.utilization > 0 && f.utilization <= 1):
		return outcome.Usagef("--utilization must be in (0, 1], not %v", f.utilization)
	case f.snowTurnaround < 0 || f.latency < 0 || f.concurrency < 0 || f.workers < 0:
		return outcome.Usagef("--snowball-turnaround, --latency, --concurrency and --workers must not be negative")
	}
	o := plan.Options{AccelerationSpeedup: f.speedup, ExistingSnowballCustomer: f.existingSnowball || f.snow.job != "",
		SnowballTurnaroundDays: f.snowTurnaround, DataSyncAgents: f.dsAgents}
	if err := o.Validate(); err != nil {
		return err
	}
	fig := plan.Figures{Bandwidth: bw, Utilization: f.utilization}
	fig.Saved, _ = plan.LoadRate("", a.endpointID()) // unreadable: not known
	if fig.HostRate, err = rateFlag("host-throughput", f.hostRate); err != nil {
		return err
	}
	if err := f.snow.check(); err != nil {
		return err
	}
	if o.Deadline, err = plan.ParseDeadline(f.deadline); err != nil {
		return outcome.Usagef("--deadline: %v", err)
	}
	if o.ChangeBytesPerDay, err = plan.ParseChangeRate(f.changeRate); err != nil {
		return outcome.Usagef("--change-rate: %v", err)
	}
	if f.dsThroughput != "" {
		if o.DataSyncThroughput, err = units.ParseRate(f.dsThroughput); err != nil || o.DataSyncThroughput <= 0 {
			return outcome.Usagef("--datasync-throughput: invalid rate %q", f.dsThroughput)
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
	if f.benchProfile != "" {
		if fl := changedFrom(cmd.Flags(), f.registerLink); fl != "" && (fl != "bandwidth" || f.sub.hosts < 2) {
			return outcome.Usagef("--%s and --bench-profile cannot be used together: the profile measured it", fl)
		}
		prof, err := plan.LoadProfile(f.benchProfile)
		if err != nil {
			return outcome.As(outcome.Usage, err)
		}
		fig.Bandwidth, fig.Profile, fig.ProfileFrom = 0, prof, f.benchProfile
		if ps == 0 {
			ps = prof.Recommend.PartSize
		}
	}
	link, _ := fig.Resolve(cfg, &o) // as copy --via auto resolves them
	if f.latency > 0 {
		link.RequestLatency = f.latency.Seconds()
	}
	if f.concurrency > 0 {
		link.Concurrency = f.concurrency
	}
	if ps == 0 {
		ps = int64(cfg.S3.PartSizeBytes.Value)
	}

	filter, err := f.sub.options(&o, bw*f.utilization, cmd.Flags().Changed("bandwidth"))
	if err != nil {
		return err
	}
	rules, err := f.tier.parse()
	if err != nil {
		return err
	}
	counters := &plan.ScanCounters{}
	p := ui.StartProgress(a.stderr, ui.ProgressOptions{Quiet: f.quiet, TerminalOnly: true}, ui.ScanProgress(counters))
	so := plan.ScanOptions{Workers: f.workers, PartSize: ps, SmallFile: int64(cfg.S3.SmallFileBytes.Value), SampleBytes: sample, Counters: counters, Filter: filter,
		ClassRules: rules, Class: f.storageClass}
	var scan *plan.Scan
	if b, cerr := a.connectSource(cmd, f.source, src, filter, 16); cerr != nil {
		err = cerr
	} else if b != nil {
		scan, err = plan.ScanSource(cmd.Context(), b, so)
	} else {
		scan, err = plan.ScanTree(cmd.Context(), src, so)
	}
	p.Stop()
	if err != nil {
		return err
	}
	est, err := plan.EstimateRoutes(cfg, scan.Dataset(), link, o)
	if err != nil {
		return outcome.As(outcome.Usage, err)
	}
	est.Packing = plan.AdvisePack(cfg, scan, transfer.DefaultShardSize)
	est.Storage = plan.Bill(cfg, scan)
	if err := a.writePlanSnowballJob(f.snow, scan.Bytes, cfg.SnowballUsable()); err != nil {
		return err
	}
	switch {
	case f.jsonOut:
		return a.printJSON(ui.NewPlanJSON(scan, est))
	default:
		ui.RenderPlan(a.stdout, scan, est, f.markdown)
	}
	for _, e := range scan.Errors {
		fmt.Fprintf(a.stderr, "warning: %s\n", e)
	}
	return nil
}
