package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/airlift-io/airlift/internal/units"
	"github.com/airlift-io/airlift/transfer"
)

// The S3-to-disk direction of copy: `airlift copy s3://bucket/prefix DIR`.
func init() { download = runDownload }

func runDownload(a *app, cmd *cobra.Command, src, dst string, f copyFlags) error {
	ctx := cmd.Context()
	loc, err := transfer.ParseLocation(src)
	if err != nil {
		return usageErr("SRC: %v", err)
	}
	if transfer.IsS3URL(dst) {
		return usageErr("copying from S3 to S3 is not supported; DST must be a local folder")
	}
	for name, set := range map[string]bool{
		"storage-class": f.storageClass != "", "sse": f.sse != "", "sse-kms-key-id": f.kmsID != "",
		"content-type": f.contentType != "", "manifest": f.manifest, "follow-symlinks": f.followSymlinks,
		"bench-profile": f.benchProfile != "",
	} {
		if set {
			return usageErr("--%s applies to uploads only", name)
		}
	}
	if fi, err := os.Stat(dst); err == nil && !fi.IsDir() {
		return usageErr("DST %s exists and is not a folder", dst)
	}
	filter, err := newFilter(a.stderr, f.filters)
	if err != nil {
		return usageErr("%v", err)
	}
	ps, mem, err := f.engineFlags.parse()
	if err != nil {
		return err
	}
	st := &transfer.Stats{}
	dl, err := transfer.NewDownloader(nil, transfer.DownloadOptions{
		PartSize: ps, MaxMemory: mem, Concurrency: f.concurrency, PartConcurrency: f.partConc,
		Filter: filter, DryRun: f.dryRun, AllowEmpty: f.allowEmpty, Overwrite: f.overwrite,
	}, st)
	if err != nil {
		return usageErr("%v", err)
	}
	cli, err := a.regionFor(ctx, f.concurrency+f.partConc, loc.Bucket)
	if err != nil {
		return err
	}
	st.Retries = cli.Retries
	dl.SetAPI(s3api(cli))
	if err := transfer.CheckBucket(ctx, cli.S3, loc.Bucket); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if f.dryRun {
		out := a.stdout
		dl.SetOnFile(func(r transfer.FileResult) {
			fmt.Fprintf(out, "would download %s -> %s (%s)\n", transfer.DisplayKey(loc, r.Key), r.Path, units.FormatBytes(r.Size))
		})
	}
	stop := startProgress(a.stderr, st, f.progress, "downloaded")
	rep, err := dl.Copy(ctx, loc, dst)
	stop()
	if rep == nil && err != nil && !transfer.IsFatal(err) && !ctxInterrupted(err) {
		return usageErr("%v", err)
	}
	if rep != nil && !f.jsonOut {
		// Failures read in the direction of the copy: key, then file.
		for _, p := range rep.Failures {
			where := transfer.DisplayKey(loc, p.Key)
			if p.Path != "" {
				where += " -> " + transfer.DisplayName(p.Path)
			}
			fmt.Fprintf(a.stderr, "failed: %s: %s\n", where, oneLine(p.Err))
		}
		rep.Failures = nil
	}
	return a.finish(rep, err, f.jsonOut, f.progress.quiet)
}
