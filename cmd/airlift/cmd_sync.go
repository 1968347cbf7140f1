package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/state"
	"github.com/airlift-io/airlift/internal/ui"
	"github.com/airlift-io/airlift/sync/syncer"
	"github.com/airlift-io/airlift/sync/watch"
	"github.com/airlift-io/airlift/transfer"
)

type syncFlags struct {
	copyFlags
	checksum, reconcile, delete  bool
	adopt, maxDelete             string
	force, failIfLocked, verbose bool
	status                       bool
	watch                        bool
	interval, debounce, grace    time.Duration
	metricsAddr                  string
	compactBelow                 string
}

func newSyncCmd(a *app) *cobra.Command {
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "sync SRC s3://bucket[/prefix]",
		Short: "Upload what changed in a local folder since the last sync (cron-safe; --watch to keep following it)",
		Long: `Bring s3://bucket/prefix up to date with the folder SRC.

What changed is judged from local state alone (size, mtime, inode, ctime,
recorded per key in the state store of this destination), so a run where
nothing changed makes no request per object. --checksum re-hashes files
with BLAKE3 to catch same-size edits whose mtime was put back; --reconcile
also lists the bucket and repairs objects changed or deleted behind
airlift's back. The first sync into a prefix that already holds the data
adopts objects whose size and stored BLAKE3 match instead of uploading
them again (--adopt=deep reads them back when no BLAKE3 is stored).

SRC may be an s3:// prefix (see the --source-* flags): changes are then
judged from its listing (size, LastModified, ETag) against the state store.
Objects are deleted only with --delete, and never when any part of the run
failed. Runs never overlap: a second one exits 0 saying which process is
running (or 1 with --fail-if-locked). Nothing is printed on stdout unless
something changed or failed.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.status {
				return a.runStatus(cmd, args[1], args[0], f.state, f.jsonOut)
			}
			return a.runSync(cmd, args[0], args[1], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.route.deadline, "deadline", "", "warn before the first pass when sending SRC over the network takes longer than this, e.g. 14d")
	fl.StringVar(&f.route.bandwidth, "bandwidth", "", "with --deadline: the site's link, e.g. 1Gbps (default: the last copy's rate to this endpoint)")
	f.pack.register(fl)
	f.register(fl, uploadFlagHelp{
		include:  "sync files matching this glob (keys not selected are left alone)",
		exclude:  "skip files matching this glob (their keys are left alone)",
		dryRun:   "print what would be uploaded, adopted and deleted; change nothing",
		follow:   "follow symbolic links",
		manifest: "write a manifest of each run's uploads under PREFIX/.airlift/manifests/",
		json:     "print the run report as JSON (always, even when nothing changed)",
	})
	f.state.register(fl, storeHelp, false)
	fl.BoolVar(&f.checksum, "checksum", false, "re-hash files whose size and times are unchanged (BLAKE3) and upload those that differ")
	fl.BoolVar(&f.reconcile, "reconcile", false, "also list the bucket prefix and repair objects deleted or changed behind airlift's back")
	fl.StringVar(&f.adopt, "adopt", "meta", "first sync into a filled prefix: meta (match size and stored BLAKE3), deep (also read objects back to hash them), off")
	fl.BoolVar(&f.delete, "delete", false, "delete objects whose source file was deleted (never when anything in the run failed)")
	fl.StringVar(&f.maxDelete, "max-delete", "", "refuse to delete more than N objects, or N% of the tracked ones")
	fl.BoolVar(&f.force, "force", false, "allow deleting more than half of the tracked objects")
	fl.StringVar(&f.compactBelow, "compact-below", "", "with --pack: after the pass, rewrite shards whose live share fell below this, e.g. 50% (as airlift compact)")
	fl.BoolVar(&f.failIfLocked, "fail-if-locked", false, "exit 1 (not 0) when another sync of this destination is running")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print every upload, adoption and deletion")
	fl.BoolVarP(&f.progress.quiet, "quiet", "q", false, "print nothing but failures and warnings (stderr), even when something changed")
	fl.BoolVar(&f.status, "status", false, "print how far the bucket is behind SRC (as 'airlift status') and exit")
	fl.BoolVar(&f.watch, "watch", false, "keep running: sync on file events (after --debounce) and every --interval")
	fl.DurationVar(&f.interval, "interval", time.Minute, "with --watch: full rescan at least this often")
	fl.DurationVar(&f.debounce, "debounce", 2*time.Second, "with --watch: quiet time after events, and how long a file must be unchanged before it is uploaded")
	fl.DurationVar(&f.grace, "stop-grace", 30*time.Second, "on SIGTERM/SIGINT: how long uploads in flight may take to finish")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "", "with --watch: serve Prometheus metrics on this address, e.g. 127.0.0.1:9464")
	return cmd
}

// options checks the flags and returns a pass's options.
func (f *syncFlags) options(errw io.Writer, src string, loc transfer.Location) (syncer.Options, error) {
	var o syncer.Options
	uo, err := f.uploadOptions(errw)
	if err != nil {
		return o, err
	}
	uo.DryRun = false // the pass decides what a dry run sends
	adopt, err := syncer.ParseAdopt(f.adopt)
	if err != nil {
		return o, outcome.As(outcome.Usage, err)
	}
	maxN, maxPct, err := syncer.ParseMaxDelete(f.maxDelete)
	switch {
	case err != nil:
		return o, err
	case f.watch && f.dryRun:
		return o, outcome.Usagef("--watch and --dry-run cannot be combined")
	case !f.watch && f.metricsAddr != "":
		return o, outcome.Usagef("--metrics-addr needs --watch")
	case f.watch && (f.interval <= 0 || f.debounce <= 0):
		return o, outcome.Usagef("--interval and --debounce must be positive")
	}
	if _, err := transfer.NewUploader(nil, loc.Bucket, uo, nil); err != nil {
		return o, err
	}
	return syncer.Options{
		Source: src, Dest: loc, Upload: uo, Checksum: f.checksum, Reconcile: f.reconcile, Adopt: adopt,
		Delete: f.delete, MaxDelete: maxN, MaxDeletePercent: maxPct, Force: f.force, DryRun: f.dryRun,
	}, nil
}

func (a *app) runSync(cmd *cobra.Command, src, dst string, f syncFlags) error {
	if f.pack.on {
		return a.runPackSync(cmd, src, dst, f)
	}
	if cmd.Flags().Changed("compact-below") {
		return outcome.Usagef("--compact-below works only with --pack")
	}
	if transfer.IsS3URL(src) && f.watch {
		return outcome.Usagef("--watch follows a local folder: an s3:// SRC is synced one run at a time")
	}
	loc, err := location("DST: ", dst)
	if err != nil {
		return err
	}
	o, err := f.options(a.stderr, src, loc)
	if err != nil {
		return err
	}
	if b, err := a.connectSource(cmd, f.source, src, o.Upload.Walk.Filter, f.conns()); err != nil {
		return err
	} else if b != nil {
		o.From = b
	}
	if err := a.warnBacklog(cmd, src, f.copyFlags); err != nil {
		return err
	}
	// The store's lock is the run lock: one sync (or copy) per
	// destination at a time.
	store, err := a.openStore(f.state, loc)
	if le := (*state.LockedError)(nil); errors.As(err, &le) {
		msg := "another sync is running"
		if le.PID > 0 {
			msg += fmt.Sprintf(", pid %d", le.PID)
		}
		if f.failIfLocked {
			return outcome.Failedf("%s", msg)
		}
		fmt.Fprintf(a.stderr, "airlift: %s; nothing done\n", msg)
		if f.jsonOut {
			return a.printJSON(ui.SkippedJSON{Skipped: true, Reason: msg, Destination: loc.String()})
		}
		return nil
	} else if err != nil {
		return err
	}
	defer store.Close()

	// SIGINT/SIGTERM stop new work at once; uploads in flight get
	// --stop-grace to finish before their requests are cancelled.
	sig := cmd.Context()
	ctx, cancel := syncer.GraceContext(sig, f.grace)
	defer cancel()
	o.Stop = sig.Done()
	s := &syncer.Session{Store: store, Options: o, Watching: f.watch}
	if !f.dryRun || f.reconcile || o.Adopt != syncer.AdoptOff {
		t, err := a.connect(ctx, loc, f.conns())
		if err != nil {
			return err
		}
		s.API, s.Retries = t.API, t.Client.Retries
	}
	var outMu sync.Mutex
	if (f.verbose || f.dryRun) && !f.jsonOut {
		s.Options.OnEvent = func(e syncer.Event) {
			outMu.Lock()
			defer outMu.Unlock()
			ui.PrintSyncEvent(a.stdout, loc, e)
		}
	}
	ro := ui.SyncReportOptions{JSON: f.jsonOut, Quiet: f.progress.quiet, Compact: f.watch, Delete: f.delete}
	if !f.watch {
		st := &transfer.Stats{}
		p := ui.StartProgress(a.stderr, ui.ProgressOptions{Quiet: f.jsonOut || f.progress.quiet, TerminalOnly: true},
			ui.TransferProgress(st, "synced"))
		rep, err := s.Pass(ctx, st, 0)
		p.Stop()
		ui.PrintSyncReport(a.stdout, a.stderr, rep, err, ro)
		return rep.Outcome(err, f.delete)
	}
	return watch.Follow(ctx, watch.FollowOptions{
		Session: s, Interval: f.interval, Debounce: f.debounce, Stop: sig.Done(), MetricsAddr: f.metricsAddr,
		Warn: func(msg string) {
			outMu.Lock()
			defer outMu.Unlock()
			fmt.Fprintf(a.stderr, "warning: %s\n", ui.OneLine(msg))
		},
		OnPass: func(rep *syncer.Report, err error) {
			outMu.Lock()
			defer outMu.Unlock()
			ui.PrintSyncReport(a.stdout, a.stderr, rep, err, ro)
			if err != nil && !errors.Is(err, context.Canceled) {
				fmt.Fprintf(a.stderr, "airlift: sync pass failed: %s\n", ui.OneLine(err.Error()))
			}
		},
	})
}

func newStatusCmd(a *app) *cobra.Command {
	var source string
	var sf stateFlags
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "status s3://bucket[/prefix] --source DIR",
		Short: "How far the bucket is behind the source folder: pending files and bytes, oldest unsynced change, last successful sync",
		Long: `Report how far a synced prefix is behind its source, from local state
alone (no request to S3): files and bytes not yet uploaded, objects whose
source was deleted, the age of the oldest unsynced change, and the last
successful sync. While a sync holds the destination (a --watch running),
the figures are those of its last pass.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runStatus(cmd, args[0], source, sf, jsonOut)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&source, "source", "", "the source folder (default: the one the last sync used)")
	sf.register(fl, storeHelp, false)
	fl.BoolVar(&jsonOut, "json", false, "print the status as JSON")
	return cmd
}

func (a *app) runStatus(cmd *cobra.Command, dst, source string, sf stateFlags, jsonOut bool) error {
	loc, err := location("DST: ", dst)
	if err != nil {
		return err
	}
	o := syncer.StatusOptions{Dest: loc, Source: source, Now: time.Now()}
	store, err := a.openStore(sf, loc)
	if le := (*state.LockedError)(nil); errors.As(err, &le) {
		o.HistoryPath, o.RunningPID = syncer.HistoryPath(le.Path), le.PID // a sync holds the store: its last pass
	} else if err != nil {
		return err
	} else {
		defer store.Close()
		o.Store, o.HistoryPath = store, syncer.HistoryPath(store.Path())
	}
	st, err := syncer.ComputeStatus(cmd.Context(), o)
	switch {
	case errors.Is(err, syncer.ErrNoSource):
		return outcome.Usagef("no sync of %s is recorded: give --source DIR", loc)
	case err != nil:
		return err
	case jsonOut:
		return a.printJSON(st)
	}
	ui.PrintStatus(a.stdout, st, o.Now)
	return nil
}

// runPackSync is sync --pack: the packed dataset's newest index is what
// the folder is compared with; new and changed files go into new shards
// through the copy engine, and the new index marks the members they
// replace (and, with --delete, those whose file is gone).
func (a *app) runPackSync(cmd *cobra.Command, src, dst string, f syncFlags) error {
	for _, n := range []string{"watch", "reconcile", "checksum", "adopt", "max-delete", "force", "status", "fail-if-locked"} {
		if cmd.Flags().Changed(n) {
			return outcome.Usagef("--%s does not apply to sync --pack (the pack index is its state)", n)
		}
	}
	if transfer.IsS3URL(src) {
		return outcome.Usagef("--pack needs a local folder as SRC")
	}
	ctx := cmd.Context()
	loc, o, err := f.target(a, dst)
	if err != nil {
		return err
	}
	if o.Pack, err = f.pack.options(ctx, cmd.Flags(), src, a.stderr); err != nil {
		return err
	}
	if cmd.Flags().Changed("compact-below") {
		if o.Pack.CompactBelow, err = shareFlag("compact-below", f.compactBelow); err != nil {
			return err
		}
	}
	st := &transfer.Stats{}
	if _, err := transfer.NewUploader(nil, loc.Bucket, o, st); err != nil {
		return err
	}
	source, err := transfer.NewFolder(src, o.Walk)
	if err != nil {
		return outcome.As(outcome.Usage, err)
	}
	t, err := a.connect(ctx, loc, f.conns())
	if err != nil {
		return err
	}
	st.Retries = t.Client.Retries
	if o.Pack.Previous, err = transfer.LoadPackIndex(ctx, t.API, loc); err != nil {
		return err
	}
	o.Pack.Delete = f.delete
	closeJournal, err := a.journal(f.state, loc, &o)
	if err != nil {
		return err
	}
	defer closeJournal()
	up, err := transfer.NewUploader(t.API, loc.Bucket, o, st)
	if err != nil {
		return err
	}
	p := f.progress.start(a, ui.TransferProgress(st, "synced"))
	rep, err := up.CopyFrom(ctx, source, loc)
	p.Stop()
	a.printReport(rep, nil, f.jsonOut, f.progress.quiet)
	return rep.Outcome(err)
}
