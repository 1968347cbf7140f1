package main

import (
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/ui"
	"github.com/airlift-io/airlift/transfer"
)

type compactFlags struct {
	below, shardSize string
	jsonOut          bool
	progress         progressFlags
}

func newCompactCmd(a *app) *cobra.Command {
	var f compactFlags
	cmd := &cobra.Command{
		Use:   "compact s3://bucket/prefix",
		Short: "Rewrite the shards of a packed dataset whose live share fell below --below (after sync --pack)",
		Long: `Rewrite the shards of a packed dataset (copy --pack) in which superseded and
deleted members (sync --pack) left less than --below of the bytes live. Their
live members are read from the old shards with ranged GETs, checked against the
index's BLAKE3, and packed into new shards; a new index drops the old shards,
which are deleted only once it is written.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runCompact(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.below, "below", "50%", "rewrite shards whose live share is below this")
	fl.StringVar(&f.shardSize, "shard-size", "1GiB", "bytes per new shard (at least 1MiB)")
	fl.BoolVar(&f.jsonOut, "json", false, "print the summary as JSON")
	f.progress.register(fl)
	return cmd
}

func (a *app) runCompact(cmd *cobra.Command, target string, f compactFlags) error {
	loc, err := location("", target)
	if err != nil {
		return err
	}
	below, err := shareFlag("below", f.below)
	if err != nil {
		return err
	}
	size, err := sizeFlag("shard-size", f.shardSize)
	if err != nil {
		return err
	}
	o := transfer.UploadOptions{Pack: &transfer.PackOptions{ShardSize: size}}
	st := &transfer.Stats{}
	if _, err := transfer.NewUploader(nil, loc.Bucket, o, st); err != nil {
		return err
	}
	t, err := a.connect(cmd.Context(), loc, 32)
	if err != nil {
		return err
	}
	st.Retries = t.Client.Retries
	up, err := transfer.NewUploader(t.API, loc.Bucket, o, st)
	if err != nil {
		return err
	}
	p := f.progress.start(a, ui.TransferProgress(st, "compacted"))
	rep, err := up.Compact(cmd.Context(), loc, below)
	p.Stop()
	if rep == nil {
		return err // nothing started: the error says why
	}
	a.printReport(rep, nil, f.jsonOut, f.progress.quiet)
	return rep.Outcome(err)
}

// shareFlag parses a percentage flag in (0, 100%] (such as 50%) as a
// share in (0, 1].
func shareFlag(name, v string) (float64, error) {
	pct, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
	if err != nil || !strings.HasSuffix(v, "%") || !(pct > 0 && pct <= 100) {
		return 0, outcome.Usagef("--%s %q: want a percentage in (0, 100], such as 50%%", name, v)
	}
	return pct / 100, nil
}
