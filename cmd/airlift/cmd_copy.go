package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/airlift-io/airlift/bench/plan"
	"github.com/airlift-io/airlift/internal/state"
	"github.com/airlift-io/airlift/internal/units"
	"github.com/airlift-io/airlift/transfer"
	"github.com/airlift-io/airlift/transfer/datasync"
)

func init() { commands = append(commands, newCopyCmd) }

type copyFlags struct {
	engineFlags
	include, exclude         []string
	filters                  []transfer.Rule // --include and --exclude in order
	dryRun, followSymlinks   bool
	allowEmpty, overwrite    bool // downloads
	storageClass, sse, kmsID string
	contentType              string
	manifest, jsonOut        bool
	benchProfile             string
	progress                 progressOpts
	via                      string
	ds                       dataSyncFlags
	ax                       autoExtractFlags
	journal                  journalFlags
}

func newCopyCmd(a *app) *cobra.Command {
	var f copyFlags
	cmd := &cobra.Command{
		Use:   "copy SRC DST",
		Short: "Copy a local file or directory to s3://bucket[/prefix], or download one: copy s3://bucket/prefix DIR",
		Long: `Copy a local file or directory tree to S3.

Files stream into transfers while the tree is still being walked. Small files
go as one PutObject each, large ones as parallel multipart parts; every byte
is read once, and its BLAKE3 is stored with the object (x-amz-meta-blake3 for
single PUTs, the object tag airlift-blake3 for multipart objects).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runCopy(cmd, args[0], args[1], f)
		},
	}
	fl := cmd.Flags()
	f.engineFlags.register(fl, uploadHelp)
	registerFilters(fl, &f.filters, &f.include, &f.exclude, "copy files matching this glob", "skip files matching this glob")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print what would be copied; send nothing")
	fl.BoolVar(&f.allowEmpty, "allow-empty", false, "download: succeed when no object matches (otherwise exit 1 and create nothing)")
	fl.BoolVar(&f.overwrite, "overwrite", false, "download: replace local files that differ from their objects (otherwise they are listed and left alone)")
	fl.BoolVar(&f.followSymlinks, "follow-symlinks", false, "follow symbolic links (loops and broken links are reported)")
	f.registerObjectFlags(fl)
	fl.BoolVar(&f.manifest, "manifest", false, "also write a run manifest (zstd JSON lines) under PREFIX/.airlift/manifests/")
	fl.BoolVar(&f.jsonOut, "json", false, "print the summary as JSON")
	fl.StringVar(&f.benchProfile, "bench-profile", "", "take --part-size, --part-concurrency and --max-memory from airlift bench --save (flags given win)")
	f.progress.register(fl)
	fl.StringVar(&f.via, "via", "", "route: datasync hands the copy to AWS DataSync (implied by nfs://, smb://, hdfs://, objectstorage:// sources)")
	f.ds.register(fl)
	f.ax.register(fl)
	f.journal.register(fl)
	return cmd
}

func (a *app) runCopy(cmd *cobra.Command, src, dst string, f copyFlags) error {
	ctx := cmd.Context()
	switch {
	case f.via != "" && f.via != "datasync":
		return usageErr("unknown --via %q (want datasync)", f.via)
	case f.via == "datasync" || datasync.IsSourceURL(src):
		return a.runDataSync(ctx, src, dst, dataSyncRun{ds: f.ds, include: f.include, exclude: f.exclude,
			storageClass: f.storageClass, dryRun: f.dryRun, jsonOut: f.jsonOut, progress: f.progress})
	case dataSyncOnly(cmd.Flags()) != "":
		return usageErr("--%s works only with --via datasync", dataSyncOnly(cmd.Flags()))
	}
	if transfer.IsS3URL(src) {
		if download != nil {
			return download(a, cmd, src, dst, f)
		}
		return usageErr("downloading (s3:// source) is not supported yet")
	}
	loc, err := transfer.ParseLocation(dst)
	if err != nil {
		return usageErr("DST: %v", err)
	}
	filter, err := newFilter(a.stderr, f.filters)
	if err != nil {
		return usageErr("%v", err)
	}
	ps, mem, err := f.engineFlags.parse()
	if err != nil {
		return err
	}
	if f.benchProfile != "" {
		prof, err := plan.LoadProfile(f.benchProfile)
		if err != nil {
			return usageErr("%v", err)
		}
		if !cmd.Flags().Changed("part-size") {
			ps = prof.Recommend.PartSize
		}
		if !cmd.Flags().Changed("part-concurrency") {
			f.partConc = prof.Recommend.Concurrency
		}
		if !cmd.Flags().Changed("max-memory") {
			mem = prof.Recommend.MaxMemory
		}
	}
	applyMemoryLimit(mem) // again: the profile may have changed it
	if f.partConc < 1 {
		return usageErr("--part-concurrency must be at least 1")
	}
	batch, err := f.ax.options(a)
	if err != nil {
		return err
	}
	st := &transfer.Stats{}
	up, err := transfer.NewUploader(nil, loc.Bucket, transfer.UploadOptions{
		PartSize: ps, MaxMemory: mem, Concurrency: f.concurrency, PartConcurrency: f.partConc,
		StorageClass: f.storageClass, SSE: f.sse, SSEKMSKeyID: f.kmsID, ContentType: f.contentType,
		Walk: transfer.WalkOptions{FollowSymlinks: f.followSymlinks, Filter: filter}, DryRun: f.dryRun,
		Manifest: f.manifest, Batch: batch,
	}, st)
	if err != nil {
		return usageErr("%v", err)
	}
	if _, err := statSource(src); err != nil {
		return usageErr("%v", err)
	}
	var store *state.Store
	if f.dryRun {
		out := a.stdout
		up.SetOnFile(func(r transfer.FileResult) {
			fmt.Fprintf(out, "would upload %s -> s3://%s/%s (%s)\n", r.Path, loc.Bucket, r.Key, units.FormatBytes(r.Size))
		})
	} else {
		cli, err := a.regionFor(ctx, f.concurrency+f.partConc, loc.Bucket)
		if err != nil {
			return err
		}
		st.Retries = cli.Retries
		up.SetAPI(s3api(cli))
		if err := transfer.CheckBucket(ctx, cli.S3, loc.Bucket); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		store, err = a.openJournal(f.journal, loc)
		if err != nil {
			return err
		}
		if store != nil {
			defer store.Close()
			since, err := openCopyRun(store, src)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			up.SetJournal(store, since)
		}
	}
	stop := startProgress(a.stderr, st, f.progress, "copied")
	rep, err := up.Copy(ctx, src, loc)
	stop()
	if store != nil && err == nil && rep != nil && rep.Failed == 0 {
		// Finished: the next copy of this source starts afresh.
		if cerr := store.SetMeta(copyRunKey(src), ""); cerr != nil {
			rep.Warn("closing the run in the journal: " + cerr.Error())
		}
	}
	return a.finish(rep, err, f.jsonOut, f.progress.quiet)
}

// copyRunKey names the open-run marker of a copy of src.
func copyRunKey(src string) string {
	if abs, err := filepath.Abs(src); err == nil {
		src = abs
	}
	return "copy-run:" + src
}

// openCopyRun returns the start of the copy run of src that this command
// continues: the unfinished run's, or now for a new run. Journal records
// older than it never make a file skip.
func openCopyRun(store *state.Store, src string) (int64, error) {
	v, err := store.Meta(copyRunKey(src))
	if err != nil {
		return 0, err
	}
	if since, perr := strconv.ParseInt(v, 10, 64); perr == nil && v != "" {
		return since, nil
	}
	since := time.Now().UnixNano()
	return since, store.SetMeta(copyRunKey(src), strconv.FormatInt(since, 10))
}

// finish prints the summary and turns the outcome into an exit code.
func (a *app) finish(rep *transfer.Report, err error, jsonOut, quiet bool) error {
	if rep != nil {
		if jsonOut {
			enc := json.NewEncoder(a.stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(rep)
		} else {
			printSummary(a.stdout, a.stderr, rep, quiet)
		}
	}
	switch {
	case err != nil && ctxInterrupted(err):
		return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted; run the same command again to continue")}
	case err != nil && transfer.IsFatal(err):
		return &exitError{code: exitFailed, err: err}
	case err != nil:
		return err
	case rep != nil && rep.Failed > 0:
		return &exitError{code: exitFailed, err: fmt.Errorf("%d file(s) failed", rep.Failed)}
	}
	return nil
}

func printSummary(out, errw io.Writer, r *transfer.Report, quiet bool) {
	for _, p := range r.Failures {
		where := transfer.DisplayName(p.Path)
		if p.Key != "" {
			where += " -> " + p.Key
		}
		fmt.Fprintf(errw, "failed: %s: %s\n", where, oneLine(p.Err))
	}
	if !quiet {
		for _, p := range r.Skipped {
			fmt.Fprintf(errw, "skipped: %s: %s\n", transfer.DisplayName(p.Path), oneLine(p.Err))
		}
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(errw, "warning: %s\n", oneLine(w))
	}
	if quiet {
		return
	}
	verb := "copied"
	if r.DryRun {
		verb = "would copy"
	}
	fmt.Fprintf(out, "%s %d files, %s in %s (%.1f MB/s); %d skipped, %d failed, %d retries\n",
		verb, r.Files, units.FormatBytes(r.Bytes), (time.Duration(r.Seconds * float64(time.Second))).Round(time.Millisecond),
		r.MBps, r.FilesSkipped, r.Failed, r.Retries)
	if r.BytesResumed > 0 {
		fmt.Fprintf(out, "resumed: %s of unfinished uploads were already on the server and not sent again\n", units.FormatBytes(r.BytesResumed))
	}
	if r.Manifest != "" {
		fmt.Fprintf(out, "manifest: %s\n", r.Manifest)
	}
}
