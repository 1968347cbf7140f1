package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/airlift-io/airlift/internal/state"
	"github.com/airlift-io/airlift/internal/units"
	"github.com/airlift-io/airlift/sync/syncer"
	"github.com/airlift-io/airlift/sync/watch"
	"github.com/airlift-io/airlift/transfer"
)

func init() { commands = append(commands, newSyncCmd) }

type syncFlags struct {
	copyFlags
	stateDir                     string
	checksum, reconcile, delete  bool
	adopt, maxDelete             string
	force, failIfLocked, verbose bool
	status                       bool
	watch                        bool
	interval, debounce, grace    time.Duration
	metricsAddr                  string
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

Objects are deleted only with --delete, and never when any part of the run
failed. Runs never overlap: a second one exits 0 saying which process is
running (or 1 with --fail-if-locked). Nothing is printed on stdout unless
something changed or failed.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.status {
				return a.runStatus(cmd.Context(), args[1], args[0], f.stateDir, f.jsonOut)
			}
			return a.runSync(cmd, args[0], args[1], f)
		},
	}
	fl := cmd.Flags()
	f.engineFlags.register(fl, uploadHelp)
	registerFilters(fl, &f.filters, &f.include, &f.exclude, "sync files matching this glob (keys not selected are left alone)", "skip files matching this glob (their keys are left alone)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print what would be uploaded, adopted and deleted; change nothing")
	fl.BoolVar(&f.followSymlinks, "follow-symlinks", false, "follow symbolic links")
	f.registerObjectFlags(fl)
	fl.BoolVar(&f.manifest, "manifest", false, "write a manifest of each run's uploads under PREFIX/.airlift/manifests/")
	fl.BoolVar(&f.jsonOut, "json", false, "print the run report as JSON (always, even when nothing changed)")
	fl.StringVar(&f.stateDir, "state-dir", "", "directory of the state store (default $XDG_STATE_HOME/airlift or ~/.local/state/airlift)")
	fl.BoolVar(&f.checksum, "checksum", false, "re-hash files whose size and times are unchanged (BLAKE3) and upload those that differ")
	fl.BoolVar(&f.reconcile, "reconcile", false, "also list the bucket prefix and repair objects deleted or changed behind airlift's back")
	fl.StringVar(&f.adopt, "adopt", "meta", "first sync into a filled prefix: meta (match size and stored BLAKE3), deep (also read objects back to hash them), off")
	fl.BoolVar(&f.delete, "delete", false, "delete objects whose source file was deleted (never when anything in the run failed)")
	fl.StringVar(&f.maxDelete, "max-delete", "", "refuse to delete more than N objects, or N% of the tracked ones")
	fl.BoolVar(&f.force, "force", false, "allow deleting more than half of the tracked objects")
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

// parseMaxDelete reads --max-delete: "" (unset), "N" or "N%".
func parseMaxDelete(s string) (n int64, pct float64, err error) {
	if s == "" {
		return -1, 0, nil
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v <= 0 || v > 100 {
			return 0, 0, usageErr("--max-delete %q: want a count or a percentage in (0, 100]", s)
		}
		return -1, v, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, 0, usageErr("--max-delete %q: want a count or a percentage such as 10%%", s)
	}
	return v, 0, nil
}

// openSyncStore opens the destination's state store (the copy journal).
// A lock held by another process comes back as a *state.LockedError
// (wrapped) for the caller to judge; anything else stops the command.
func (a *app) openSyncStore(dir string, loc transfer.Location) (*state.Store, error) {
	return a.openStore(dir, loc)
}

func (a *app) runSync(cmd *cobra.Command, src, dst string, f syncFlags) error {
	if transfer.IsS3URL(src) {
		return usageErr("sync uploads a local folder: SRC must not be an s3:// URL")
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
	adopt, err := syncer.ParseAdopt(f.adopt)
	if err != nil {
		return usageErr("%v", err)
	}
	maxN, maxPct, err := parseMaxDelete(f.maxDelete)
	if err != nil {
		return err
	}
	if f.watch && f.dryRun {
		return usageErr("--watch and --dry-run cannot be combined")
	}
	if !f.watch && f.metricsAddr != "" {
		return usageErr("--metrics-addr needs --watch")
	}
	if f.watch && (f.interval <= 0 || f.debounce <= 0) {
		return usageErr("--interval and --debounce must be positive")
	}
	uo := transfer.UploadOptions{
		PartSize: ps, MaxMemory: mem, Concurrency: f.concurrency, PartConcurrency: f.partConc,
		StorageClass: f.storageClass, SSE: f.sse, SSEKMSKeyID: f.kmsID, ContentType: f.contentType,
		Walk: transfer.WalkOptions{FollowSymlinks: f.followSymlinks, Filter: filter}, Manifest: f.manifest,
	}
	if _, err := transfer.NewUploader(nil, loc.Bucket, uo, nil); err != nil {
		return usageErr("%v", err)
	}

	// The store's lock is the run lock: one sync (or copy) per
	// destination at a time.
	store, err := a.openSyncStore(f.stateDir, loc)
	if err != nil {
		var le *state.LockedError
		if errors.As(err, &le) {
			msg := "another sync is running"
			if le.PID > 0 {
				msg += fmt.Sprintf(", pid %d", le.PID)
			}
			if f.failIfLocked {
				return &exitError{code: exitFailed, err: errors.New(msg)}
			}
			fmt.Fprintf(a.stderr, "airlift: %s; nothing done\n", msg)
			return nil
		}
		return err
	}
	defer store.Close()
	histPath := syncer.HistoryPath(store.Path())

	// SIGINT/SIGTERM stop new work at once; uploads in flight get
	// --stop-grace to finish before their requests are cancelled.
	sig := cmd.Context()
	ctx, cancel := context.WithCancel(context.WithoutCancel(sig))
	defer cancel()
	go func() {
		select {
		case <-sig.Done():
			t := time.NewTimer(f.grace)
			defer t.Stop()
			select {
			case <-t.C:
				cancel()
			case <-ctx.Done():
			}
		case <-ctx.Done():
		}
	}()

	var api transfer.S3API
	var retries func() int64
	needClient := !f.dryRun || f.reconcile || adopt != syncer.AdoptOff
	if needClient {
		cli, err := a.regionFor(ctx, f.concurrency+f.partConc, loc.Bucket)
		if err != nil {
			return err
		}
		if err := transfer.CheckBucket(ctx, cli.S3, loc.Bucket); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		api = s3api(cli)
		retries = cli.Retries.Load
	}

	var outMu sync.Mutex
	pass := func(ctx context.Context, st *transfer.Stats, settle time.Duration) (*syncer.Report, error) {
		// The store is also the engine's journal: a large file cut off
		// mid-way resumes on the next pass. Records older than this pass
		// do not make the engine skip a file: sync sends a file because
		// its content may differ from what the record describes.
		puo := uo
		puo.Journal = store
		puo.TrustDoneSince = time.Now().UnixNano()
		o := syncer.Options{
			Source: src, Dest: loc, Upload: puo,
			Checksum: f.checksum, Reconcile: f.reconcile, Adopt: adopt,
			Delete: f.delete, MaxDelete: maxN, MaxDeletePercent: maxPct, Force: f.force, DryRun: f.dryRun,
			Settle: settle, Stop: sig.Done(), Stats: st,
		}
		if (f.verbose || f.dryRun) && !f.jsonOut {
			o.OnEvent = func(e syncer.Event) {
				outMu.Lock()
				defer outMu.Unlock()
				printEvent(a.stdout, loc, e)
			}
		}
		rep, err := syncer.New(api, store, o).Run(ctx)
		if rep != nil && retries != nil {
			rep.Retries = retries()
		}
		if rep != nil && !f.dryRun {
			h, herr := syncer.LoadHistory(histPath)
			if herr != nil {
				h = syncer.History{}
			}
			h.Watching = f.watch
			h.Record(rep, time.Now())
			if lag, ok := h.Lag(time.Now()); ok {
				rep.LagSeconds = lag.Seconds()
			}
			if serr := h.Save(histPath); serr != nil {
				rep.Warnings = append(rep.Warnings, serr.Error())
			}
		}
		return rep, err
	}

	if !f.watch {
		st := &transfer.Stats{}
		stop := func() {}
		if isTerminal(a.stderr) && !f.jsonOut && !f.progress.quiet {
			stop = startProgress(a.stderr, st, progressOpts{}, "synced")
		}
		rep, err := pass(ctx, st, 0)
		stop()
		return a.syncOutcome(rep, err, f)
	}

	// --watch
	metrics := watch.NewMetrics(nil)
	if f.metricsAddr != "" {
		ln, err := net.Listen("tcp", f.metricsAddr)
		if err != nil {
			return usageErr("--metrics-addr: %v", err)
		}
		srv := &http.Server{Handler: metrics.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
	}
	werr := watch.Run(ctx, watch.Options{
		Root: src, Interval: f.interval, Debounce: f.debounce, Stop: sig.Done(),
		Warn: func(msg string) {
			outMu.Lock()
			defer outMu.Unlock()
			fmt.Fprintf(a.stderr, "warning: %s\n", oneLine(msg))
		},
		Pass: func(ctx context.Context) bool {
			st := &transfer.Stats{}
			metrics.Start(st)
			rep, err := pass(ctx, st, f.debounce)
			h, _ := syncer.LoadHistory(histPath)
			metrics.Finish(rep, h)
			outMu.Lock()
			a.printSyncReport(rep, err, f)
			if err != nil && !errors.Is(err, context.Canceled) {
				fmt.Fprintf(a.stderr, "airlift: sync pass failed: %s\n", oneLine(err.Error()))
			}
			outMu.Unlock()
			if errors.Is(err, syncer.ErrSourceMissing) {
				return false // the rescan tries again
			}
			return rep != nil && rep.Pending > 0
		},
	})
	if werr != nil && !errors.Is(werr, context.Canceled) {
		return werr
	}
	return nil // stopped by a signal, after finishing what was in flight
}

func printEvent(w io.Writer, loc transfer.Location, e syncer.Event) {
	verb := e.Kind
	if e.DryRun {
		verb = "would " + e.Kind
	}
	fmt.Fprintf(w, "%s %s (%s)\n", verb, transfer.DisplayKey(loc, e.Key), units.FormatBytes(e.Size))
}

// printSyncReport prints a pass: failures and refusals on stderr, a
// summary on stdout only when something changed (or with --json).
func (a *app) printSyncReport(rep *syncer.Report, err error, f syncFlags) {
	if rep == nil {
		return
	}
	for _, p := range rep.Failures {
		where := p.Path
		if p.Key != "" {
			if where != "" {
				where += " -> "
			}
			where += p.Key
		}
		fmt.Fprintf(a.stderr, "failed: %s: %s\n", where, oneLine(p.Err))
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(a.stderr, "warning: %s\n", oneLine(w))
	}
	if rep.DeleteRefused != "" && f.delete {
		fmt.Fprintf(a.stderr, "deleted nothing (%d pending): %s\n", rep.DeletePending, rep.DeleteRefused)
	}
	if f.jsonOut {
		enc := json.NewEncoder(a.stdout)
		if !f.watch {
			enc.SetIndent("", "  ")
		}
		_ = enc.Encode(rep)
		return
	}
	if f.progress.quiet {
		return
	}
	if !rep.Notable() || err != nil && rep.Uploaded == 0 && rep.Deleted == 0 && rep.Adopted == 0 {
		return
	}
	verb := "synced"
	if rep.DryRun {
		verb = "would sync"
	}
	fmt.Fprintf(a.stdout, "%s %s: %d uploaded (%s), %d adopted, %d deleted, %d unchanged, %d failed, %d pending in %s\n",
		verb, rep.Dest, rep.Uploaded, units.FormatBytes(rep.Bytes), rep.Adopted, rep.Deleted, rep.Skipped, rep.Failed,
		rep.Pending, time.Duration(rep.Seconds*float64(time.Second)).Round(time.Millisecond))
}

// syncOutcome prints a one-shot run and turns it into an exit code, as
// copy does: 1 when anything failed or a deletion was refused, 130 when
// interrupted.
func (a *app) syncOutcome(rep *syncer.Report, err error, f syncFlags) error {
	a.printSyncReport(rep, err, f)
	switch {
	case errors.Is(err, syncer.ErrSourceMissing):
		return &exitError{code: exitFailed, err: fmt.Errorf("%v; nothing uploaded or deleted", err)}
	case err != nil && (ctxInterrupted(err) || rep != nil && rep.Interrupted):
		return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted; run the same command again to continue")}
	case err != nil && transfer.IsFatal(err):
		return &exitError{code: exitFailed, err: err}
	case err != nil:
		return err
	case rep.Interrupted:
		return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted; run the same command again to continue")}
	case rep.Failed > 0:
		return &exitError{code: exitFailed, err: fmt.Errorf("%d file(s) failed", rep.Failed)}
	case rep.DeleteRefused != "" && f.delete:
		return &exitError{code: exitFailed, err: errors.New("deleted nothing: " + rep.DeleteRefused)}
	}
	return nil
}
