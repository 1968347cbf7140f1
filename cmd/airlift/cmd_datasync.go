package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/airlift-io/airlift/bench/plan"
	"github.com/airlift-io/airlift/internal/bwlimit"
	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/ui"
	"github.com/airlift-io/airlift/transfer/datasync"
)

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
	progress         progressFlags
	route            *plan.Decision // copy --via auto's, for --json
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
		return outcome.Usagef("SRC: %v", err)
	}
	d, err := datasync.ParseDest(dst)
	if err != nil {
		return outcome.Usagef("DST: %v", err)
	}
	if f.ds.poll <= 0 {
		return outcome.Usagef("--poll-interval must be positive")
	}
	sched, err := bwlimit.Parse(a.conn.bwlimit)
	if err != nil {
		return outcome.As(outcome.Usage, err)
	}
	bps, err := sched.ConstantRate()
	if err != nil {
		return outcome.Usagef("--bwlimit: %v", err)
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
		return outcome.As(outcome.Usage, err)
	}
	if f.dryRun {
		reqs, err := datasync.DryRun(o)
		if err != nil {
			return outcome.As(outcome.Usage, err)
		}
		return a.printJSON(reqs)
	}
	cli, err := datasync.NewClient(ctx, datasync.ClientOptions{
		Region: a.conn.region, Profile: a.conn.profile, EndpointURL: f.ds.endpoint,
		CABundle: a.conn.caBundle, MaxAttempts: a.conn.maxAttempts,
	})
	if err == nil {
		err = datasync.CheckCredentials(ctx, cli)
	}
	if err != nil {
		return outcome.As(outcome.Usage, err)
	}
	o.Region = cli.Options().Region

	p := f.progress.start(a, nil)
	r := &datasync.Runner{API: cli, Poll: f.ds.poll, OnProgress: ui.DataSyncProgress(p), OnCancel: func(arn string) {
		p.Stop()
		fmt.Fprintf(a.stderr, "airlift: interrupted; cancelling DataSync execution %s\n", arn)
	}}
	res, err := r.Run(ctx, o)
	p.Stop()
	if res != nil && res.ExecutionArn != "" {
		if f.jsonOut {
			_ = a.printJSON(ui.WithRoute(res, f.route))
		} else if !f.progress.quiet || err != nil {
			ui.PrintDataSyncSummary(a.stdout, res)
		}
	}
	// An execution that ended in ERROR (*datasync.ExecutionError, with
	// DataSync's code and detail) or a refused request (*datasync.APIError)
	// failed; a cancelled one was interrupted.
	return err
}
