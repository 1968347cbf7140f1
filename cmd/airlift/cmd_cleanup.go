package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/ui"
	"github.com/airlift-io/airlift/transfer"
)

type cleanupFlags struct {
	olderThan     time.Duration
	dryRun, all   bool
	state         stateFlags
	lifecycleDays int
	jsonOut       bool
}

func newCleanupCmd(a *app) *cobra.Command {
	var f cleanupFlags
	cmd := &cobra.Command{
		Use:   "cleanup s3://bucket[/prefix]",
		Short: "Abort unfinished multipart uploads airlift started and no journal owns",
		Long: `Abort the unfinished multipart uploads under s3://bucket[/prefix] that airlift
started (they are in the ledger of the state store for that destination) and
that no journal record owns any more. Their parts are billed until aborted.
Uploads a journal owns are kept: running the same copy again continues them.
Uploads airlift has no record of are listed and kept unless --all.

Then prints the bucket lifecycle rule that makes S3 itself abort unfinished
uploads after some days, as a backstop for lost state directories.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runCleanup(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.olderThan, "older-than", time.Hour, "only abort uploads started at least this long ago")
	fl.BoolVar(&f.dryRun, "dry-run", false, "list what would be aborted; abort nothing")
	fl.BoolVar(&f.all, "all", false, "also abort uploads airlift has no record of (never those a journal owns)")
	f.state.register(fl, journalHelp, false)
	fl.IntVar(&f.lifecycleDays, "lifecycle-days", 7, "DaysAfterInitiation in the printed lifecycle rule")
	fl.BoolVar(&f.jsonOut, "json", false, "print the result as JSON")
	return cmd
}

func (a *app) runCleanup(cmd *cobra.Command, target string, f cleanupFlags) error {
	loc, err := location("", target)
	if err != nil {
		return err
	}
	if f.olderThan < 0 || f.lifecycleDays < 1 {
		return outcome.Usagef("--older-than must not be negative and --lifecycle-days must be at least 1")
	}
	t, err := a.connect(cmd.Context(), loc, 8)
	if err != nil {
		return err
	}
	store, err := a.openStore(f.state, loc)
	if err != nil {
		return err
	}
	defer store.Close()
	rep, err := transfer.Cleanup(cmd.Context(), t.Client.S3, loc.Bucket, loc.Prefix, store, transfer.CleanupOptions{OlderThan: f.olderThan, DryRun: f.dryRun, All: f.all})
	if err != nil {
		return err
	}
	rule := transfer.LifecycleRule(loc.Prefix, f.lifecycleDays)
	if f.jsonOut {
		_ = a.printJSON(ui.CleanupJSON{Result: rep, LifecycleRule: rule})
	} else {
		ui.PrintCleanup(a.stdout, loc, rep, rule, f.dryRun)
	}
	return rep.Outcome()
}
