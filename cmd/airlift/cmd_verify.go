package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/ui"
	"github.com/airlift-io/airlift/transfer"
)

type verifyFlags struct {
	deep bool
	engineFlags
	jsonOut        bool
	followSymlinks bool
	sel            selectFlags
	progress       progressFlags
	source         sourceFlags
}

func newVerifyCmd(a *app) *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify SRC DST",
		Short: "Prove that a local tree (or an s3:// SRC) and an s3:// prefix hold the same files",
		Long: `Compare a local folder with the objects under s3://bucket/prefix, file by file:
missing on either side, size differs, BLAKE3 differs, BLAKE3 unknown. SRC may
be an s3:// prefix too (reached with the --source-* flags): fast mode then
compares the BLAKE3 stored on both sides, else equal ETags (same part layout).

By default the BLAKE3 recorded at upload is used (run manifests under
PREFIX/.airlift/manifests/ where they vouch for an object's current ETag, else
x-amz-meta-blake3 or the airlift-blake3 tag), so no object is read. --deep reads
every object back and hashes its bytes, trusting nothing stored with it.

Exit status: 0 equal, 1 any difference (or an unknown BLAKE3), 2 usage or
configuration error.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runVerify(cmd, args[0], args[1], f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.deep, "deep", false, "read every object back and hash it (parallel ranged GETs for large objects)")
	f.engineFlags.register(fl, engineHelp{
		concurrency: 16,
		partSize:    "ranged-GET size for --deep (default 8MiB)",
		conc:        "files compared at once",
		parts:       "ranged GETs in flight with --deep (default 16)",
	})
	fl.BoolVar(&f.jsonOut, "json", false, "print the report as JSON")
	fl.BoolVar(&f.followSymlinks, "follow-symlinks", false, "follow symbolic links in the local tree (as copy --follow-symlinks)")
	f.sel.register(fl, "compare files and objects matching this glob", "leave out files and objects matching this glob")
	f.progress.register(fl)
	f.source.register(fl)
	return cmd
}

func (a *app) runVerify(cmd *cobra.Command, src, dst string, f verifyFlags) error {
	local, remote := src, dst
	if transfer.IsS3URL(src) && !transfer.IsS3URL(dst) {
		local, remote = dst, src
	}
	if !transfer.IsS3URL(remote) {
		return outcome.Usagef("verify compares a local folder or an s3:// prefix with an s3:// prefix: DST (or SRC) must be s3://")
	}
	loc, err := location("", remote)
	if err != nil {
		return err
	}
	if !transfer.IsS3URL(local) {
		if err := transfer.CheckSource(local); err != nil {
			return err
		}
		if fi, _ := os.Stat(local); !fi.IsDir() {
			return outcome.Usagef("%s is not a folder", local)
		}
	}
	o := transfer.VerifyOptions{Deep: f.deep, Walk: transfer.WalkOptions{FollowSymlinks: f.followSymlinks}}
	if o.Walk.Filter, err = f.sel.filter(a.stderr); err != nil {
		return err
	}
	if o.Sizing, err = f.engineFlags.sizing(); err != nil {
		return err
	}
	if o.Source, err = a.connectSource(cmd, f.source, local, o.Walk.Filter, f.conns()); err != nil {
		return err
	}
	t, err := a.connect(cmd.Context(), loc, f.conns())
	if err != nil {
		return err
	}
	st := &transfer.Stats{Retries: t.Client.Retries}
	p := f.progress.start(a, ui.TransferProgress(st, "verified"))
	rep, err := transfer.Verify(cmd.Context(), t.API, local, loc, o, st)
	p.Stop()
	switch {
	case rep == nil:
	case f.jsonOut:
		_ = a.printJSON(rep)
	default:
		ui.PrintVerify(a.stdout, a.stderr, rep, f.progress.quiet)
	}
	return rep.Outcome(err)
}
