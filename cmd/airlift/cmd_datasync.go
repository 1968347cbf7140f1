package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/airlift-io/airlift/internal/bwlimit"
	"github.com/airlift-io/airlift/internal/units"
	"github.com/airlift-io/airlift/transfer/datasync"
)

func init() { commands = append(commands, newDataSyncCmd) }

// dataSyncFlags are the flags only a DataSync run takes; copy registers
// them too so that `copy --via datasync` works.
type dataSyncFlags struct {
	agentArns                 []string
	roleArn, taskMode         string
	verifyMode, overwriteMode string
	delete                    bool
	reportTo, reportLevel     string
	nfsVersion, smbDomain     string
	objectProtocol            string
	poll                      time.Duration
	endpoint                  string
}

func (d *dataSyncFlags) register(fl *pflag.FlagSet) {
	fl.StringArrayVar(&d.agentArns, "agent-arn", nil, "DataSync agent that reaches the source (repeatable)")
	fl.StringVar(&d.roleArn, "role-arn", "", "IAM role DataSync assumes to write the bucket (and the task report)")
	fl.StringVar(&d.taskMode, "task-mode", "BASIC", "DataSync task mode: BASIC or ENHANCED")
	fl.StringVar(&d.verifyMode, "verify-mode", "", "POINT_IN_TIME_CONSISTENT (Basic default), ONLY_FILES_TRANSFERRED (Enhanced default) or NONE")
	fl.StringVar(&d.overwriteMode, "overwrite-mode", "ALWAYS", "ALWAYS or NEVER overwrite objects that differ")
	fl.BoolVar(&d.delete, "delete", false, "remove from S3 what is gone from the source (DataSync PreserveDeletedFiles=REMOVE)")
	fl.StringVar(&d.reportTo, "report-to", "", "write a DataSync task report under s3://bucket/prefix")
	fl.StringVar(&d.reportLevel, "report-level", "ERRORS_ONLY", "task report level: ERRORS_ONLY or SUCCESSES_AND_ERRORS")
	fl.StringVar(&d.nfsVersion, "nfs-version", "AUTOMATIC", "NFS version the agent mounts: AUTOMATIC, NFS3, NFS4_0, NFS4_1")
	fl.StringVar(&d.smbDomain, "smb-domain", "", "Windows domain of the SMB user (password from AIRLIFT_SMB_PASSWORD)")
	fl.StringVar(&d.objectProtocol, "object-protocol", "HTTPS", "protocol of an objectstorage:// source: HTTPS or HTTP")
	fl.DurationVar(&d.poll, "poll-interval", 5*time.Second, "how often to ask DataSync for the execution's state")
	fl.StringVar(&d.endpoint, "datasync-endpoint-url", "", "DataSync endpoint (default: the region's; --endpoint-url is for S3 only)")
}

// dataSyncRun is everything a DataSync run needs from the command line.
type dataSyncRun struct {
	ds               dataSyncFlags
	include, exclude []string
	storageClass     string
	dryRun, jsonOut  bool
	progress         progressOpts
}

func newDataSyncCmd(a *app) *cobra.Command {
	var f dataSyncRun
	cmd := &cobra.Command{
		Use:   "datasync SRC s3://bucket[/prefix]",
		Short: "Copy nfs://, smb://, hdfs:// or objectstorage:// storage to S3 with AWS DataSync",
		Long: `Copy a dataset that one host cannot move fast enough with AWS DataSync.

SRC is nfs://server/export/path, smb://user@server/share/path (password in
AIRLIFT_SMB_PASSWORD), hdfs://namenode[:8020]/path or
objectstorage://host[:port]/bucket[/prefix] (keys in AIRLIFT_OBJECT_ACCESS_KEY
and AIRLIFT_OBJECT_SECRET_KEY). The source location, the S3 location and the
task are created once and found again by their airlift:id tag on later runs;
each run starts one task execution and follows it to SUCCESS or ERROR.
Ctrl-C cancels the execution. 'airlift copy SRC DST --via datasync' is the
same command.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runDataSync(cmd.Context(), args[0], args[1], f)
		},
	}
	fl := cmd.Flags()
	f.ds.register(fl)
	fl.StringArrayVar(&f.include, "include", nil, "only paths matching this DataSync pattern, e.g. /train or *.parquet (repeatable)")
	fl.StringArrayVar(&f.exclude, "exclude", nil, "skip paths matching this DataSync pattern (repeatable)")
	fl.StringVar(&f.storageClass, "storage-class", "", "S3 storage class DataSync writes, e.g. INTELLIGENT_TIERING")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the DataSync requests a first run would send, as JSON; send nothing")
	fl.BoolVar(&f.jsonOut, "json", false, "print the summary as JSON")
	f.progress.register(fl)
	return cmd
}

func (a *app) runDataSync(ctx context.Context, src, dst string, f dataSyncRun) error {
	s, err := datasync.ParseSource(src)
	if err != nil {
		return usageErr("SRC: %v", err)
	}
	d, err := datasync.ParseDest(dst)
	if err != nil {
		return usageErr("DST: %v", err)
	}
	if f.ds.poll <= 0 {
		return usageErr("--poll-interval must be positive")
	}
	bps, err := constantRate(a.conn.bwlimit)
	if err != nil {
		return err
	}
	o := datasync.Options{
		Source: s, Dest: d, Region: a.conn.region,
		AgentArns: f.ds.agentArns, BucketAccessRoleArn: f.ds.roleArn, StorageClass: f.storageClass,
		NFSVersion: f.ds.nfsVersion, SMBPassword: os.Getenv("AIRLIFT_SMB_PASSWORD"), SMBDomain: f.ds.smbDomain,
		ObjectAccessKey: os.Getenv("AIRLIFT_OBJECT_ACCESS_KEY"), ObjectSecretKey: os.Getenv("AIRLIFT_OBJECT_SECRET_KEY"),
		ObjectProtocol: f.ds.objectProtocol, TaskMode: f.ds.taskMode, VerifyMode: f.ds.verifyMode,
		OverwriteMode: f.ds.overwriteMode, Delete: f.ds.delete, BytesPerSecond: bps,
		Includes: f.include, Excludes: f.exclude, ReportTo: f.ds.reportTo, ReportLevel: f.ds.reportLevel,
	}
	if err := o.Validate(); err != nil {
		return usageErr("%v", err)
	}
	if f.dryRun {
		reqs, err := datasync.DryRun(o)
		if err != nil {
			return usageErr("%v", err)
		}
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(reqs)
	}
	cli, err := datasync.NewClient(ctx, datasync.ClientOptions{
		Region: a.conn.region, Profile: a.conn.profile, EndpointURL: f.ds.endpoint,
		CABundle: a.conn.caBundle, MaxAttempts: a.conn.maxAttempts,
	})
	if err != nil {
		return usageErr("%v", err)
	}
	if cp := cli.Options().Credentials; cp == nil {
		return usageErr("no AWS credentials found for DataSync (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --profile)")
	} else if _, err := cp.Retrieve(ctx); err != nil {
		return usageErr("no usable AWS credentials for DataSync (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --profile): %v", err)
	}
	o.Region = cli.Options().Region

	show := newDataSyncProgress(a.stderr, f.progress)
	r := &datasync.Runner{API: cli, Poll: f.ds.poll, OnProgress: show.update, OnCancel: func(arn string) {
		show.stop()
		fmt.Fprintf(a.stderr, "airlift: interrupted; cancelling DataSync execution %s\n", arn)
	}}
	res, err := r.Run(ctx, o)
	show.stop()
	if res != nil && res.ExecutionArn != "" {
		if f.jsonOut {
			enc := json.NewEncoder(a.stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(res)
		} else if !f.progress.quiet || err != nil {
			printDataSyncSummary(a.stdout, res)
		}
	}
	switch {
	case err == nil:
		return nil
	case ctxInterrupted(err):
		return &exitError{code: exitInterrupted, err: err}
	}
	// An execution that ended in ERROR (*datasync.ExecutionError, with
	// DataSync's code and detail) or a refused request (*datasync.APIError).
	return &exitError{code: exitFailed, err: err}
}

// constantRate turns --bwlimit into DataSync's BytesPerSecond; DataSync
// takes one rate per execution, not a timetable.
func constantRate(s string) (int64, error) {
	sched, err := bwlimit.Parse(s)
	if err != nil {
		return 0, usageErr("%v", err)
	}
	switch len(sched) {
	case 0:
		return 0, nil
	case 1:
		return int64(sched[0].Rate), nil
	}
	return 0, usageErr("--bwlimit: DataSync takes one constant rate, not a timetable")
}

func printDataSyncSummary(w io.Writer, r *datasync.Result) {
	reused := func(b bool) string {
		if b {
			return " (reused)"
		}
		return " (created)"
	}
	fmt.Fprintf(w, "datasync %s: %s of ~%s transferred, %d files (%d verified, %d deleted, %d skipped) in %s (%.1f MB/s)\n",
		r.Status, units.FormatBytes(r.BytesTransferred), units.FormatBytes(r.EstimatedBytes), r.FilesTransferred,
		r.FilesVerified, r.FilesDeleted, r.FilesSkipped,
		time.Duration(r.Seconds*float64(time.Second)).Round(time.Millisecond), r.MBps)
	fmt.Fprintf(w, "task: %s%s\n", r.TaskArn, reused(r.Reused.Task))
	fmt.Fprintf(w, "execution: %s\n", r.ExecutionArn)
	if r.ErrorCode != "" {
		fmt.Fprintf(w, "error: %s: %s\n", r.ErrorCode, r.ErrorDetail)
	}
}

// dataSyncProgress renders execution updates: a bar of BytesTransferred
// against EstimatedBytesToTransfer on a terminal (DataSync's file
// counters lag, bytes do not), a line per phase change otherwise.
type dataSyncProgress struct {
	w     io.Writer
	quiet bool
	every time.Duration

	mu      sync.Mutex
	bar     *progressbar.ProgressBar
	last    string
	lastLog time.Time
	done    bool
}

func newDataSyncProgress(w io.Writer, o progressOpts) *dataSyncProgress {
	p := &dataSyncProgress{w: w, quiet: o.quiet, every: o.interval}
	if !o.quiet && isTerminal(w) {
		p.bar = newBar(w)
	}
	return p
}

func (p *dataSyncProgress) update(u datasync.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.quiet || p.done {
		return
	}
	if p.bar != nil {
		if u.EstimatedBytes > 0 {
			p.bar.ChangeMax64(u.EstimatedBytes)
		}
		p.bar.Describe("datasync " + u.Status)
		_ = p.bar.Set64(u.BytesTransferred)
		return
	}
	if u.Status != p.last || time.Since(p.lastLog) >= p.every {
		fmt.Fprintf(p.w, "%s datasync %s %s of ~%s, %d of ~%d files\n", time.Now().UTC().Format(time.RFC3339), u.Status,
			units.FormatBytes(u.BytesTransferred), units.FormatBytes(u.EstimatedBytes), u.FilesTransferred, u.EstimatedFiles)
		p.last, p.lastLog = u.Status, time.Now()
	}
}

func (p *dataSyncProgress) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil && !p.done {
		_ = p.bar.Finish()
	}
	p.done = true
}

// dataSyncOnly returns the first DataSync-only flag set on cmd, so that
// copy can refuse it on a local copy rather than silently ignore it
// (--delete above all).
func dataSyncOnly(fl *pflag.FlagSet) string {
	var tmp dataSyncFlags
	probe := pflag.NewFlagSet("probe", pflag.ContinueOnError)
	tmp.register(probe)
	found := ""
	probe.VisitAll(func(p *pflag.Flag) {
		if found == "" && fl.Changed(p.Name) {
			found = p.Name
		}
	})
	return found
}
