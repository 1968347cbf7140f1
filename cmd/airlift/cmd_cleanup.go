package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/airlift-io/airlift/transfer"
)

func init() { commands = append(commands, newCleanupCmd) }

type cleanupFlags struct {
	olderThan     time.Duration
	dryRun, all   bool
	stateDir      string
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
	fl.StringVar(&f.stateDir, "state-dir", "", "directory of the transfer journal (default $XDG_STATE_HOME/airlift or ~/.local/state/airlift)")
	fl.IntVar(&f.lifecycleDays, "lifecycle-days", 7, "DaysAfterInitiation in the printed lifecycle rule")
	fl.BoolVar(&f.jsonOut, "json", false, "print the result as JSON")
	return cmd
}

func (a *app) runCleanup(cmd *cobra.Command, target string, f cleanupFlags) error {
	ctx := cmd.Context()
	loc, err := transfer.ParseLocation(target)
	if err != nil {
		return usageErr("%v", err)
	}
	if f.olderThan < 0 || f.lifecycleDays < 1 {
		return usageErr("--older-than must not be negative and --lifecycle-days must be at least 1")
	}
	cli, err := a.regionFor(ctx, 8, loc.Bucket)
	if err != nil {
		return err
	}
	if err := transfer.CheckBucket(ctx, cli.S3, loc.Bucket); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	store, err := a.openStore(f.stateDir, loc)
	if err != nil {
		return err
	}
	defer store.Close()
	rep, err := transfer.Cleanup(ctx, cli.S3, loc.Bucket, loc.Prefix, store, transfer.CleanupOptions{OlderThan: f.olderThan, DryRun: f.dryRun, All: f.all})
	if err != nil {
		if ctxInterrupted(err) {
			return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted")}
		}
		return &exitError{code: exitFailed, err: err}
	}
	rule := transfer.LifecycleRule(loc.Prefix, f.lifecycleDays)
	if f.jsonOut {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"result": rep, "lifecycle_rule": rule})
	} else {
		for _, it := range rep.Items {
			fmt.Fprintf(a.stdout, "%-11s s3://%s/%s upload %s started %s: %s\n", it.Action, loc.Bucket, it.Key, it.UploadID,
				it.Initiated.UTC().Format(time.RFC3339), it.Reason)
		}
		verb := "aborted"
		if f.dryRun {
			verb = "would abort"
		}
		fmt.Fprintf(a.stdout, "%s %d, kept %d, failed %d\n", verb, rep.Aborted, rep.Kept, rep.Failed)
		b, _ := json.MarshalIndent(rule, "", "  ")
		fmt.Fprintf(a.stdout, "\nSo that S3 aborts unfinished uploads under this prefix on its own, set this lifecycle rule\n"+
			"(it replaces the bucket's lifecycle configuration: merge it with any rules already there):\n"+
			"  aws s3api put-bucket-lifecycle-configuration --bucket %s --lifecycle-configuration file://rule.json\n%s\n", loc.Bucket, b)
	}
	if rep.Failed > 0 {
		return &exitError{code: exitFailed, err: fmt.Errorf("%d upload(s) could not be aborted", rep.Failed)}
	}
	return nil
}
