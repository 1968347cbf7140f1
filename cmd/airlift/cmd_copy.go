package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/airlift-io/airlift/bench/plan"
	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/s3client"
	"github.com/airlift-io/airlift/internal/ui"
	"github.com/airlift-io/airlift/internal/units"
	"github.com/airlift-io/airlift/transfer"
	"github.com/airlift-io/airlift/transfer/datasync"
)

type copyFlags struct {
	engineFlags
	sel                      selectFlags
	dryRun, followSymlinks   bool
	allowEmpty, overwrite    bool // downloads
	storageClass, sse, kmsID string
	contentType              string
	manifest, jsonOut        bool
	source                   sourceFlags
	hash                     bool
	benchProfile             string
	progress                 progressFlags
	via                      string
	route                    routeFlags
	ds                       dataSyncFlags
	ax                       autoExtractFlags
	pack                     packFlags
	state                    stateFlags
	tier                     classRuleFlags
}

// packFlags pack a folder into WebDataset tar shards with an index.
type packFlags struct {
	on         bool
	shardSize  string
	shardCount int
	compress   string
}

func (p *packFlags) register(fl *pflag.FlagSet) {
	fl.BoolVar(&p.on, "pack", false, "pack files into WebDataset tar shards PREFIX/shard-NNNNNN.tar with an index (PREFIX/.airlift/index/) and shards.json")
	fl.StringVar(&p.shardSize, "shard-size", "1GiB", "with --pack: bytes per shard, as a tar before --compress (at least 1MiB); larger files go as objects of their own")
	fl.IntVar(&p.shardCount, "shard-count", 0, "with --pack: at most this many files per shard (0: no limit)")
	fl.StringVar(&p.compress, "compress", "off", "with --pack: zstd writes .tar.zst shards (a frame per file, so one file is still one ranged GET); auto when a sample compresses by 10% or more")
}

// options returns the engine's pack options, or nil without --pack;
// --compress auto samples the source as plan does.
func (p packFlags) options(ctx context.Context, fl *pflag.FlagSet, src string, errw io.Writer) (*transfer.PackOptions, error) {
	if !p.on {
		if n := changedFrom(fl, (&packFlags{}).register); n != "" {
			return nil, outcome.Usagef("--%s works only with --pack", n)
		}
		return nil, nil
	}
	size, err := sizeFlag("shard-size", p.shardSize)
	if err != nil {
		return nil, err
	}
	o := &transfer.PackOptions{ShardSize: size, ShardCount: p.shardCount}
	switch p.compress {
	case "off":
	case "zstd":
		o.Compress = true
	case "auto":
		if transfer.IsS3URL(src) {
			return nil, outcome.Usagef("--pack needs a local folder as SRC")
		}
		pays, ratio, err := plan.CompressPays(ctx, src)
		if err != nil {
			return nil, outcome.As(outcome.Usage, err)
		}
		o.Compress = pays
		fmt.Fprintf(errw, "--compress auto: a sample compresses to %.2f of its size with zstd: shards %s\n", ratio, map[bool]string{true: "compressed (.tar.zst)", false: "left uncompressed (.tar)"}[pays])
	default:
		return nil, outcome.Usagef("--compress %q: want zstd, auto or off", p.compress)
	}
	return o, nil
}

func newCopyCmd(a *app) *cobra.Command {
	var f copyFlags
	cmd := &cobra.Command{
		Use:   "copy SRC DST",
		Short: "Copy a local file or directory, or an s3:// prefix, to s3://bucket[/prefix]; or download a prefix: copy s3://bucket/prefix DIR",
		Long: `Copy a local file or directory tree, or the objects under an s3:// prefix, to S3.

Files stream into transfers while the tree is still being walked. Small files
go as one PutObject each, large ones as parallel multipart parts; every byte
is read once, and its BLAKE3 is stored with the object (x-amz-meta-blake3 for
single PUTs, the object tag airlift-blake3 for multipart objects).

An s3:// SRC on another endpoint or with other credentials (--source-*) is
streamed: listing pages feed the copy, objects are read with ranged GETs
pinned to their listed ETag. With the destination's endpoint and credentials
the server copies each object itself (CopyObject), carrying BLAKE3 over where
the source has it; --hash streams them instead, to compute it.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runCopy(cmd, args[0], args[1], f)
		},
	}
	fl := cmd.Flags()
	f.register(fl, uploadFlagHelp{
		include: "copy files matching this glob", exclude: "skip files matching this glob",
		dryRun: "print what would be copied; send nothing", follow: "follow symbolic links (loops and broken links are reported)",
		manifest: "also write a run manifest (zstd JSON lines) under PREFIX/.airlift/manifests/", json: "print the summary as JSON",
	})
	fl.BoolVar(&f.hash, "hash", false, "s3:// SRC on the destination's endpoint: stream the objects to compute their BLAKE3 instead of a server-side copy")
	fl.StringVar(&f.benchProfile, "bench-profile", "", "take --part-size, --part-concurrency and --max-memory from airlift bench --save (flags given win)")
	fl.BoolVar(&f.allowEmpty, "allow-empty", false, "download: succeed when no object matches (otherwise exit 1 and create nothing)")
	fl.BoolVar(&f.overwrite, "overwrite", false, "download: replace local files that differ from their objects (otherwise they are listed and left alone)")
	f.progress.register(fl)
	fl.StringVar(&f.via, "via", "auto", "route for a local SRC: auto (scan, estimate each route, take the plan's choice), network, transfer-acceleration, datasync (implied by nfs://, smb://, hdfs://, objectstorage:// sources) or physical")
	f.route.register(fl)
	f.ds.register(fl)
	f.ax.register(fl)
	f.pack.register(fl)
	f.state.register(fl, journalHelp, true)
	return cmd
}

// uploadFlagHelp words the flags copy and sync share for each.
type uploadFlagHelp struct{ include, exclude, dryRun, follow, manifest, json string }

// register adds the flags copy and sync share.
func (f *copyFlags) register(fl *pflag.FlagSet, h uploadFlagHelp) {
	f.engineFlags.register(fl, uploadHelp)
	f.sel.register(fl, h.include, h.exclude)
	fl.BoolVar(&f.dryRun, "dry-run", false, h.dryRun)
	fl.BoolVar(&f.followSymlinks, "follow-symlinks", false, h.follow)
	f.registerObjectFlags(fl)
	fl.BoolVar(&f.manifest, "manifest", false, h.manifest)
	fl.BoolVar(&f.jsonOut, "json", false, h.json)
	f.source.register(fl)
}

// registerObjectFlags adds the attributes every new object gets.
func (f *copyFlags) registerObjectFlags(fl *pflag.FlagSet) {
	fl.StringVar(&f.storageClass, "storage-class", "", "storage class for new objects, e.g. STANDARD_IA, INTELLIGENT_TIERING")
	f.tier.register(fl)
	fl.StringVar(&f.sse, "sse", "", "server-side encryption: AES256 or aws:kms")
	fl.StringVar(&f.kmsID, "sse-kms-key-id", "", "KMS key for --sse aws:kms")
	fl.StringVar(&f.contentType, "content-type", "", "Content-Type for every object (default: guessed from the extension)")
}

// target parses DST and the upload options, for copy and sync --pack.
func (f *copyFlags) target(a *app, dst string) (transfer.Location, transfer.UploadOptions, error) {
	loc, err := location("DST: ", dst)
	if err != nil {
		return loc, transfer.UploadOptions{}, err
	}
	o, err := f.uploadOptions(a.stderr)
	return loc, o, err
}

// uploadOptions are the engine options copy and sync share.
func (f *copyFlags) uploadOptions(errw io.Writer) (transfer.UploadOptions, error) {
	filter, err := f.sel.filter(errw)
	if err != nil {
		return transfer.UploadOptions{}, err
	}
	sz, err := f.engineFlags.sizing()
	o := transfer.UploadOptions{
		Sizing: sz, StorageClass: f.storageClass, SSE: f.sse, SSEKMSKeyID: f.kmsID, ContentType: f.contentType,
		Walk: transfer.WalkOptions{FollowSymlinks: f.followSymlinks, Filter: filter}, DryRun: f.dryRun, Manifest: f.manifest,
	}
	if err == nil {
		o.ClassRules, err = f.tier.parse()
	}
	return o, err
}

func (a *app) runCopy(cmd *cobra.Command, src, dst string, f copyFlags) error {
	ctx := cmd.Context()
	if err := f.sel.sub.notOnDataSync(f.via == "datasync" || datasync.IsSourceURL(src)); err != nil {
		return err
	}
	switch {
	case !slices.Contains(vias, f.via):
		return outcome.Usagef("unknown --via %q (want %s)", f.via, strings.Join(vias, ", "))
	case f.via == "datasync" || datasync.IsSourceURL(src):
		return a.runDataSync(ctx, cmp.Or(f.route.dsSource, src), dst, dataSyncRun{ds: f.ds, include: f.sel.include, exclude: f.sel.exclude,
			storageClass: f.storageClass, dryRun: f.dryRun, jsonOut: f.jsonOut, progress: f.progress})
	case changedFrom(cmd.Flags(), (&dataSyncFlags{}).register) != "" && (f.via != "auto" || f.route.dsSource+f.route.routesFile == ""):
		return outcome.Usagef("--%s works only with --via datasync (or --via auto with --datasync-source or --routes)", changedFrom(cmd.Flags(), (&dataSyncFlags{}).register))
	case transfer.IsS3URL(src) && !transfer.IsS3URL(dst):
		return a.runDownload(cmd, src, dst, f)
	case f.allowEmpty || f.overwrite:
		return outcome.Usagef("--allow-empty and --overwrite apply to downloads (an s3:// SRC) only")
	}
	loc, o, err := f.target(a, dst)
	if err != nil {
		return err
	}
	if f.benchProfile != "" {
		prof, err := plan.LoadProfile(f.benchProfile)
		if err != nil {
			return outcome.As(outcome.Usage, err)
		}
		r, given := prof.Recommend, cmd.Flags().Changed
		if !given("part-size") {
			o.PartSize = r.PartSize
		}
		if !given("part-concurrency") {
			o.PartConcurrency = r.Concurrency
		}
		if !given("max-memory") {
			o.MaxMemory = r.MaxMemory
		}
		applyMemoryLimit(o.MaxMemory) // again: the profile may have changed it
	}
	if o.Batch, err = f.ax.options(a); err != nil {
		return err
	}
	if o.Pack, err = f.pack.options(ctx, cmd.Flags(), src, a.stderr); err != nil {
		return err
	}
	if o.Pack != nil && transfer.IsS3URL(src) {
		return outcome.Usagef("--pack needs a local folder as SRC")
	}
	st := &transfer.Stats{}
	if _, err := transfer.NewUploader(nil, loc.Bucket, o, st); err != nil {
		return err
	}
	o.Hash = f.hash
	if !transfer.IsS3URL(src) {
		if err := transfer.CheckSource(src); err != nil {
			return err
		}
	}
	var source transfer.Source
	if b, err := a.connectSource(cmd, f.source, src, o.Walk.Filter, f.conns()); err != nil {
		return err
	} else if b != nil {
		source = b
	} else if source, err = transfer.NewFolder(src, o.Walk); err != nil {
		return outcome.As(outcome.Usage, err)
	}
	var route *plan.Decision // printed once the preflight passed: a refusal stays one line
	if !transfer.IsS3URL(src) {
		var goOn bool
		folder, _ := source.(*transfer.Folder)
		if o.Batch != nil { // a batched copy reads the folder its own way
			folder = nil
		}
		if route, goOn, err = a.chooseRoute(cmd, src, dst, loc, f, o.Pack, folder); !goOn || err != nil {
			return err
		}
	}
	var api transfer.S3API
	var requests *s3client.RequestCounts
	if f.dryRun {
		o.OnFile = func(r transfer.FileResult) {
			fmt.Fprintf(a.humanOut(f.jsonOut), "would upload %s -> s3://%s/%s (%s)\n", transfer.DisplayName(r.Path), loc.Bucket, r.Key, units.FormatBytes(r.Size))
		}
	} else {
		t, err := a.connect(ctx, loc, f.conns())
		if err != nil {
			return err
		}
		api, st.Retries, requests = t.API, t.Client.Retries, t.Client.Requests
		closeJournal, err := a.journal(f.state, loc, &o)
		if err != nil {
			return err
		}
		defer closeJournal()
	}
	up, err := transfer.NewUploader(api, loc.Bucket, o, st)
	if err != nil {
		return err
	}
	if route != nil && !f.progress.quiet {
		fmt.Fprintln(a.stderr, ui.RouteLine(route))
	}
	p := f.progress.start(a, ui.TransferProgress(st, "copied"))
	rep, err := up.CopyFrom(ctx, source, loc)
	p.Stop()
	if rep != nil && requests != nil {
		rep.Requests = requests.Snapshot()
	}
	if err == nil && api != nil {
		a.recordRate(f.state, rep)
	}
	a.printReport(rep, route, f.jsonOut, f.progress.quiet)
	return rep.Outcome(err)
}

// printReport prints a copy's or download's summary, with the route copy
// chose in --json.
func (a *app) printReport(rep *transfer.Report, route *plan.Decision, jsonOut, quiet bool) {
	switch {
	case rep == nil:
	case jsonOut:
		_ = a.printJSON(ui.WithRoute(rep, route))
	default:
		ui.PrintCopySummary(a.stdout, a.stderr, rep, quiet)
	}
}

// runDownload is the S3-to-disk direction of copy.
func (a *app) runDownload(cmd *cobra.Command, src, dst string, f copyFlags) error {
	loc, err := location("SRC: ", src)
	if err != nil {
		return err
	}
	if fl := changedFrom(cmd.Flags(), f.registerUploadOnly); fl != "" {
		return outcome.Usagef("--%s applies to uploads only", fl)
	}
	o := transfer.DownloadOptions{DryRun: f.dryRun, AllowEmpty: f.allowEmpty, Overwrite: f.overwrite}
	if o.Filter, err = f.sel.filter(a.stderr); err != nil {
		return err
	}
	if o.Sizing, err = f.engineFlags.sizing(); err != nil {
		return err
	}
	if f.dryRun {
		o.OnFile = func(r transfer.FileResult) {
			fmt.Fprintf(a.humanOut(f.jsonOut), "would download %s -> %s (%s)\n", transfer.DisplayKey(loc, r.Key), transfer.DisplayName(r.Path), units.FormatBytes(r.Size))
		}
	}
	st := &transfer.Stats{}
	if _, err := transfer.NewDownloader(nil, o, st); err != nil {
		return err
	}
	if err := transfer.CheckDownloadDest(dst); err != nil {
		return err
	}
	t, err := a.connect(cmd.Context(), loc, f.conns())
	if err != nil {
		return err
	}
	st.Retries = t.Client.Retries
	dl, err := transfer.NewDownloader(t.API, o, st)
	if err != nil {
		return err
	}
	p := f.progress.start(a, ui.TransferProgress(st, "downloaded"))
	rep, err := dl.Copy(cmd.Context(), loc, dst)
	p.Stop()
	if rep != nil {
		rep.Requests = t.Client.Requests.Snapshot()
	}
	if rep != nil && !f.jsonOut {
		ui.PrintDownloadFailures(a.stderr, loc, rep)
	}
	a.printReport(rep, nil, f.jsonOut, f.progress.quiet)
	return rep.Outcome(err)
}

// registerUploadOnly names the flags a download refuses.
func (f *copyFlags) registerUploadOnly(fl *pflag.FlagSet) {
	f.registerObjectFlags(fl)
	(&sourceFlags{}).register(fl)
	fl.Bool("hash", false, "")
	fl.Bool("manifest", false, "")
	fl.Bool("follow-symlinks", false, "")
	fl.String("bench-profile", "", "")
	(&packFlags{}).register(fl)
}

// changedFrom returns the first flag that register defines and the user
// set on fl, so a command can refuse flags that do not apply instead of
// silently ignoring them.
func changedFrom(fl *pflag.FlagSet, register func(*pflag.FlagSet)) string {
	probe := pflag.NewFlagSet("probe", pflag.ContinueOnError)
	register(probe)
	found := ""
	probe.VisitAll(func(p *pflag.Flag) {
		if found == "" && fl.Changed(p.Name) {
			found = p.Name
		}
	})
	return found
}
