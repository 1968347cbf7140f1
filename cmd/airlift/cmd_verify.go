package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/airlift-io/airlift/internal/units"
	"github.com/airlift-io/airlift/transfer"
)

func init() { commands = append(commands, newVerifyCmd) }

type verifyFlags struct {
	deep bool
	engineFlags
	jsonOut          bool
	followSymlinks   bool
	include, exclude []string
	filters          []transfer.Rule // --include and --exclude in order
	progress         progressOpts
}

func newVerifyCmd(a *app) *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify SRC DST",
		Short: "Prove that a local tree and an s3:// prefix hold the same files (either order)",
		Long: `Compare a local folder with the objects under s3://bucket/prefix, file by file:
missing on either side, size differs, BLAKE3 differs, BLAKE3 unknown.

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
		parts:       "ranged GETs in flight with --deep",
	})
	fl.BoolVar(&f.jsonOut, "json", false, "print the report as JSON")
	fl.BoolVar(&f.followSymlinks, "follow-symlinks", false, "follow symbolic links in the local tree (as copy --follow-symlinks)")
	registerFilters(fl, &f.filters, &f.include, &f.exclude, "compare files and objects matching this glob", "leave out files and objects matching this glob")
	f.progress.register(fl)
	return cmd
}

func (a *app) runVerify(cmd *cobra.Command, src, dst string, f verifyFlags) error {
	ctx := cmd.Context()
	local, remote := src, dst
	if transfer.IsS3URL(src) {
		local, remote = dst, src
	}
	if transfer.IsS3URL(local) || !transfer.IsS3URL(remote) {
		return usageErr("verify compares a local folder with an s3:// prefix: one of SRC and DST must be s3://, the other local")
	}
	loc, err := transfer.ParseLocation(remote)
	if err != nil {
		return usageErr("%v", err)
	}
	fi, err := statSource(local)
	if err != nil {
		return usageErr("%v", err)
	}
	if !fi.IsDir() {
		return usageErr("%s is not a folder", local)
	}
	filter, err := newFilter(a.stderr, f.filters)
	if err != nil {
		return usageErr("%v", err)
	}
	ps, mem, err := f.engineFlags.parse()
	if err != nil {
		return err
	}
	cli, err := a.regionFor(ctx, f.concurrency+f.partConc, loc.Bucket)
	if err != nil {
		return err
	}
	if err := transfer.CheckBucket(ctx, cli.S3, loc.Bucket); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	st := &transfer.Stats{Retries: cli.Retries}
	stop := startProgress(a.stderr, st, f.progress, "verified")
	rep, err := transfer.Verify(ctx, s3api(cli), local, loc, transfer.VerifyOptions{
		Deep: f.deep, PartSize: ps, MaxMemory: mem, Concurrency: f.concurrency, PartConcurrency: f.partConc,
		Walk: transfer.WalkOptions{FollowSymlinks: f.followSymlinks, Filter: filter},
	}, st)
	stop()
	if rep == nil {
		switch {
		case err != nil && ctxInterrupted(err):
			return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted")}
		case err != nil && transfer.IsFatal(err):
			return &exitError{code: exitFailed, err: err}
		case err != nil:
			return usageErr("%v", err)
		}
	}
	if f.jsonOut {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printVerify(a.stdout, a.stderr, rep, f.progress.quiet)
	}
	switch {
	case err != nil && ctxInterrupted(err):
		return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted; the comparison is incomplete")}
	case err != nil:
		return &exitError{code: exitFailed, err: err}
	case rep.Differ() > 0:
		return &exitError{code: exitFailed, err: fmt.Errorf("%d file(s) differ or could not be shown equal", rep.Differ())}
	}
	return nil
}

var diffWords = map[string]string{
	transfer.MissingRemote: "missing in S3",
	transfer.MissingLocal:  "missing locally",
	transfer.SizeDiffers:   "size differs",
	transfer.HashDiffers:   "BLAKE3 differs",
	transfer.HashUnknown:   "BLAKE3 unknown",
	transfer.CompareFailed: "error",
}

func printVerify(out, errw io.Writer, r *transfer.VerifyReport, quiet bool) {
	for _, d := range r.Differences {
		line := fmt.Sprintf("%s: %s", diffWords[d.Kind], d.Rel)
		switch d.Kind {
		case transfer.SizeDiffers:
			line += fmt.Sprintf(" (local %s bytes, S3 %s bytes)", d.Local, d.Remote)
		case transfer.HashDiffers:
			line += fmt.Sprintf(" (local %s, S3 %s)", d.Local, d.Remote)
		case transfer.HashUnknown, transfer.CompareFailed:
			line += ": " + oneLine(d.Detail)
		}
		fmt.Fprintln(out, line)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(errw, "warning: %s\n", oneLine(w))
	}
	if quiet {
		return
	}
	mode := "fast (BLAKE3 recorded at upload)"
	if r.Deep {
		mode = fmt.Sprintf("deep (read back %s)", units.FormatBytes(r.ReadBytes))
	}
	verdict := "EQUAL"
	if r.Differ() > 0 {
		verdict = "DIFFERENT"
	}
	fmt.Fprintf(out, "%s: %d local files, %d objects; %d equal (%s); %d differ; %s in %s\n",
		verdict, r.LocalFiles, r.Objects, r.Equal, units.FormatBytes(r.EqualBytes), r.Differ(), mode,
		(time.Duration(r.Seconds * float64(time.Second))).Round(time.Millisecond))
	if r.Differ() > 0 {
		kinds := make([]string, 0, len(r.Counts))
		for k := range r.Counts {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			fmt.Fprintf(out, "  %s: %d\n", diffWords[k], r.Counts[k])
		}
	}
	if len(r.HashSources) > 0 {
		fmt.Fprintf(out, "BLAKE3 from: manifest %d, metadata %d, tag %d (%d manifests read)\n",
			r.HashSources["manifest"], r.HashSources["metadata"], r.HashSources["tag"], r.Manifests)
	}
}
