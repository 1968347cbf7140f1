package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/airlift-io/airlift/bench"
	"github.com/airlift-io/airlift/bench/plan"
	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/ui"
	"github.com/airlift-io/airlift/internal/units"
	"github.com/airlift-io/airlift/transfer"
	"github.com/airlift-io/airlift/transfer/datasync"
)

// vias are copy's routes; auto decides among the others.
var vias = []string{"auto", plan.KindNetwork, plan.KindDataSync, plan.KindAcceleration, plan.KindPhysical}

// routeFlags are the figures copy --via auto decides on, and the DataSync
// settings it hands a local source over with.
type routeFlags struct {
	bandwidth, deadline, hostRate string
	agents                        int
	dsSource, routesFile          string
}

func (r *routeFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&r.bandwidth, "bandwidth", "", "--via auto: the site's link, e.g. 10Gbps (default: --bench-profile, else the last copy's rate to this endpoint, else a 3-second probe)")
	fl.StringVar(&r.deadline, "deadline", "", "--via auto: time the copy must fit in, e.g. 14d, 36h")
	fl.StringVar(&r.hostRate, "host-throughput", "", "--via auto: what this host reaches copying, e.g. 200MB/s (default: --bench-profile, else the last copy's rate)")
	fl.IntVar(&r.agents, "datasync-agents", 0, "--via auto: DataSync agents that would run in parallel (default 1)")
	fl.StringVar(&r.dsSource, "datasync-source", "", "SRC as a DataSync agent mounts it, e.g. nfs://filer/export/path: lets copy hand a local SRC to DataSync")
	fl.StringVar(&r.routesFile, "routes", "", `JSON file of DataSync settings per local source root: {"routes":[{"root","source","agent_arns","role_arn"}]}`)
}

// rateFlag parses a rate given on the command line; "" is 0.
func rateFlag(name, v string) (float64, error) {
	if v == "" {
		return 0, nil
	}
	r, err := units.ParseRate(v)
	if err != nil || !(r > 0) {
		return 0, outcome.Usagef("--%s: invalid rate %q (want e.g. 1Gbps or 200MB/s)", name, v)
	}
	return r, nil
}

// endpointID names the endpoint in use for the saved rates ("" is AWS).
func (a *app) endpointID() string { return strings.TrimRight(a.conn.endpoint, "/") }

// recordRate keeps what an upload reached, for the next plan and auto.
func (a *app) recordRate(j stateFlags, rep *transfer.Report) {
	if rep == nil || rep.DryRun {
		return
	}
	d := time.Duration(rep.Seconds * float64(time.Second))
	if err := plan.RecordRate(j.stateDir, a.endpointID(), rep.Bytes-rep.BytesResumed, d, time.Now()); err != nil {
		fmt.Fprintf(a.stderr, "warning: %v\n", err)
	}
}

// chooseRoute runs copy's --via for a local SRC: auto scans and decides,
// a forced route is taken as given. It returns the decision (nil when
// none was made) and whether the copy goes on in this run; when it does
// not, the DataSync hand-off or the refusal has happened. A copy that
// packs (pack set) is estimated on its shards' requests, and is never
// handed to DataSync, which copies files one object each and writes no
// index. folder, when set, is the source the copy walks: the scan walks it
// and keeps the walk for the copy.
func (a *app) chooseRoute(cmd *cobra.Command, src, dst string, loc transfer.Location, f copyFlags, pack *transfer.PackOptions, folder *transfer.Folder) (*plan.Decision, bool, error) {
	switch f.via {
	case plan.KindNetwork:
		return nil, true, nil
	case plan.KindAcceleration:
		a.conn.accelerate = true
		return nil, true, nil
	}
	ao, err := a.autoOptions(f)
	if err != nil {
		return nil, false, err
	}
	cfg := ao.Config
	if pack != nil {
		ao.PackShardSize = pack.ShardSize
	}
	ao.Probe = func(ctx context.Context) (float64, error) {
		parts := f.parts(transfer.DefaultUploadParts) // the probe sends as copy will
		t, err := a.connect(ctx, loc, parts)
		if err != nil {
			return 0, err
		}
		return bench.Probe(ctx, t.API, loc, plan.ProbeTime, parts)
	}
	if folder != nil {
		// The scan is the copy's own walk, kept for the copy to replay.
		folder.KeepWalk(transfer.MaxKeptWalk)
		ao.Source = folder
	}
	d, _, err := plan.Decide(cmd.Context(), src, ao)
	if err != nil {
		return nil, false, err
	}
	if f.via == plan.KindPhysical {
		d.Chosen = plan.KindPhysical
	}
	switch d.Chosen {
	case plan.KindAcceleration:
		a.conn.accelerate = true
		fallthrough
	case plan.KindNetwork:
		return d, true, nil
	case plan.KindDataSync:
		if pack != nil {
			err := outcome.Usagef("the datasync route copies files one object each, not into shards with an index as --pack asks: nothing was written (upload packed with --via network, or drop --pack)")
			return d, false, a.refuseRoute(d, cfg, nil, f.jsonOut, err)
		}
		return d, false, a.handOff(cmd.Context(), src, dst, d, cfg, f)
	}
	next := []string{fmt.Sprintf("airlift snowball job-spec --bucket %s --dataset-bytes %d --out snowball-job.json   # existing Snowball customers",
		loc.Bucket, d.Dataset.Bytes), "AWS Data Transfer Terminal: book a slot at https://aws.amazon.com/data-transfer-terminal/"}
	return d, false, a.stopAtRoute(d, cfg, next, f.jsonOut)
}

// autoOptions turns the route flags into what plan.Decide takes.
func (a *app) autoOptions(f copyFlags) (plan.AutoOptions, error) {
	ao := plan.AutoOptions{Config: plan.DefaultConfig(), Options: plan.Options{DataSyncAgents: f.route.agents}}
	var err error
	if ao.Options.Deadline, err = plan.ParseDeadline(f.route.deadline); err != nil {
		return ao, outcome.Usagef("--deadline: %v", err)
	}
	if ao.Figures.Bandwidth, err = rateFlag("bandwidth", f.route.bandwidth); err != nil {
		return ao, err
	}
	if ao.Figures.HostRate, err = rateFlag("host-throughput", f.route.hostRate); err != nil {
		return ao, err
	}
	if f.route.agents < 0 {
		return ao, outcome.Usagef("--datasync-agents must not be negative")
	}
	if f.benchProfile != "" {
		if ao.Figures.Profile, err = plan.LoadProfile(f.benchProfile); err != nil {
			return ao, outcome.As(outcome.Usage, err)
		}
		ao.Figures.ProfileFrom = f.benchProfile
	}
	ao.Figures.Saved, _ = plan.LoadRate(f.state.stateDir, a.endpointID()) // unreadable: not known
	return ao, nil
}

// warnBacklog is sync's look ahead: it keeps uploading over the network,
// but says so before the first pass when that takes longer than
// --deadline.
func (a *app) warnBacklog(cmd *cobra.Command, src string, f copyFlags) error {
	ao, err := a.autoOptions(f)
	if err != nil || ao.Options.Deadline == 0 || transfer.IsS3URL(src) {
		return err
	}
	w, err := plan.BacklogWarning(cmd.Context(), src, ao)
	if w != "" {
		fmt.Fprintf(a.stderr, "warning: %s\n", w)
	}
	return err
}

// handOff gives the copy to DataSync when copy knows how the agent
// reaches SRC, else stops with the command to run.
func (a *app) handOff(ctx context.Context, src, dst string, d *plan.Decision, cfg *plan.Config, f copyFlags) error {
	h, err := datasync.Handoff{Source: f.route.dsSource, AgentArns: f.ds.agentArns, RoleArn: f.ds.roleArn}.Resolve(f.route.routesFile, src)
	if err != nil {
		return outcome.As(outcome.Usage, err)
	}
	if !h.Complete() {
		return a.stopAtRoute(d, cfg, []string{h.Command(dst)}, f.jsonOut)
	}
	if !f.progress.quiet {
		fmt.Fprintln(a.stderr, ui.RouteLine(d))
	}
	run := dataSyncRun{ds: f.ds, include: f.sel.include, exclude: f.sel.exclude, storageClass: f.storageClass,
		dryRun: f.dryRun, jsonOut: f.jsonOut, progress: f.progress, route: d}
	run.ds.agentArns, run.ds.roleArn = h.AgentArns, h.RoleArn
	return a.runDataSync(ctx, h.Source, dst, run)
}

// stopAtRoute prints the plan's summary and the commands to run for a
// route copy does not run itself, and refuses: nothing was written.
func (a *app) stopAtRoute(d *plan.Decision, cfg *plan.Config, next []string, jsonOut bool) error {
	err := outcome.Usagef("the %s route is one copy does not run itself: nothing was written (run the command printed, or upload anyway with --via network)", d.Chosen)
	return a.refuseRoute(d, cfg, next, jsonOut, err)
}

// refuseRoute prints the plan's summary (and the commands to run, if any)
// and returns err.
func (a *app) refuseRoute(d *plan.Decision, cfg *plan.Config, next []string, jsonOut bool, err error) error {
	if jsonOut {
		_ = a.printJSON(ui.RouteStop{Route: d, Next: next, Error: err.Error(), Outcome: outcome.Usage.String(), ExitCode: exitCodes[outcome.Usage]})
	} else {
		ui.RouteSummary(a.stdout, d, cfg, next)
	}
	return err
}
