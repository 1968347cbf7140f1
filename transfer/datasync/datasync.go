// Package datasync drives AWS DataSync for sources one host cannot read
// fast enough (or at all): it creates, or finds again by tags, the
// source location, the S3 destination location and the task, starts an
// execution and follows it to the end, cancelling it when the caller's
// context is cancelled. It never prints: progress goes to a callback and
// the outcome to a Result the CLI renders.
package datasync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ds "github.com/aws/aws-sdk-go-v2/service/datasync"
	"github.com/aws/aws-sdk-go-v2/service/datasync/types"
	"github.com/aws/smithy-go"

	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/s3client"
)

// API is the part of the DataSync client airlift uses. *datasync.Client
// satisfies it; so does the dry-run recorder.
type API interface {
	ListLocations(context.Context, *ds.ListLocationsInput, ...func(*ds.Options)) (*ds.ListLocationsOutput, error)
	ListTasks(context.Context, *ds.ListTasksInput, ...func(*ds.Options)) (*ds.ListTasksOutput, error)
	ListTagsForResource(context.Context, *ds.ListTagsForResourceInput, ...func(*ds.Options)) (*ds.ListTagsForResourceOutput, error)
	CreateLocationNfs(context.Context, *ds.CreateLocationNfsInput, ...func(*ds.Options)) (*ds.CreateLocationNfsOutput, error)
	CreateLocationSmb(context.Context, *ds.CreateLocationSmbInput, ...func(*ds.Options)) (*ds.CreateLocationSmbOutput, error)
	CreateLocationHdfs(context.Context, *ds.CreateLocationHdfsInput, ...func(*ds.Options)) (*ds.CreateLocationHdfsOutput, error)
	CreateLocationObjectStorage(context.Context, *ds.CreateLocationObjectStorageInput, ...func(*ds.Options)) (*ds.CreateLocationObjectStorageOutput, error)
	CreateLocationS3(context.Context, *ds.CreateLocationS3Input, ...func(*ds.Options)) (*ds.CreateLocationS3Output, error)
	CreateTask(context.Context, *ds.CreateTaskInput, ...func(*ds.Options)) (*ds.CreateTaskOutput, error)
	StartTaskExecution(context.Context, *ds.StartTaskExecutionInput, ...func(*ds.Options)) (*ds.StartTaskExecutionOutput, error)
	DescribeTaskExecution(context.Context, *ds.DescribeTaskExecutionInput, ...func(*ds.Options)) (*ds.DescribeTaskExecutionOutput, error)
	CancelTaskExecution(context.Context, *ds.CancelTaskExecutionInput, ...func(*ds.Options)) (*ds.CancelTaskExecutionOutput, error)
}

var _ API = (*ds.Client)(nil)

// TagID is the tag that carries a resource's airlift identity.
const TagID = "airlift:id"

// Options describe one DataSync transfer. Zero values take the defaults
// noted.
type Options struct {
	Source Source
	Dest   Dest
	Region string // for ARN partitions; "" = aws

	AgentArns           []string // agents that reach the source (not needed for Enhanced object storage)
	BucketAccessRoleArn string   // IAM role DataSync assumes to write the bucket
	StorageClass        string   // S3 storage class; "" = STANDARD

	NFSVersion      string // AUTOMATIC (default), NFS3, NFS4_0, NFS4_1
	SMBPassword     string // never printed
	SMBDomain       string
	ObjectAccessKey string // self-managed object storage credentials
	ObjectSecretKey string // never printed
	ObjectProtocol  string // HTTPS (default) or HTTP

	TaskMode       string // BASIC (default) or ENHANCED
	VerifyMode     string // default POINT_IN_TIME_CONSISTENT (Basic), ONLY_FILES_TRANSFERRED (Enhanced)
	OverwriteMode  string // ALWAYS (default) or NEVER
	Delete         bool   // remove from S3 what is gone from the source
	BytesPerSecond int64  // 0 = unlimited; Basic mode only
	Includes       []string
	Excludes       []string

	ReportTo      string // s3://bucket/prefix for the task report; "" = none
	ReportLevel   string // ERRORS_ONLY (default) or SUCCESSES_AND_ERRORS
	ReportRoleArn string // "" = BucketAccessRoleArn
}

func (o *Options) defaults() {
	o.TaskMode = strings.ToUpper(o.TaskMode)
	if o.TaskMode == "" {
		o.TaskMode = string(types.TaskModeBasic)
	}
	if o.VerifyMode == "" {
		o.VerifyMode = string(types.VerifyModePointInTimeConsistent)
		if o.TaskMode == string(types.TaskModeEnhanced) {
			o.VerifyMode = string(types.VerifyModeOnlyFilesTransferred)
		}
	}
	if o.OverwriteMode == "" {
		o.OverwriteMode = string(types.OverwriteModeAlways)
	}
	if o.NFSVersion == "" {
		o.NFSVersion = string(types.NfsVersionAutomatic)
	}
	if o.ObjectProtocol == "" {
		o.ObjectProtocol = string(types.ObjectStorageServerProtocolHttps)
	}
	if o.ReportLevel == "" {
		o.ReportLevel = string(types.ReportLevelErrorsOnly)
	}
	if o.ReportRoleArn == "" {
		o.ReportRoleArn = o.BucketAccessRoleArn
	}
}

// Validate checks o the way DataSync would, so that a bad flag is a usage
// error before anything is created.
func (o *Options) Validate() error {
	o.defaults()
	if !valid(o.TaskMode, types.TaskMode("").Values()) {
		return fmt.Errorf("unknown task mode %q (want BASIC or ENHANCED)", o.TaskMode)
	}
	if !valid(o.VerifyMode, types.VerifyMode("").Values()) {
		return fmt.Errorf("unknown verify mode %q (want POINT_IN_TIME_CONSISTENT, ONLY_FILES_TRANSFERRED or NONE)", o.VerifyMode)
	}
	if !valid(o.OverwriteMode, types.OverwriteMode("").Values()) {
		return fmt.Errorf("unknown overwrite mode %q (want ALWAYS or NEVER)", o.OverwriteMode)
	}
	if o.StorageClass != "" && !valid(o.StorageClass, types.S3StorageClass("").Values()) {
		return fmt.Errorf("unknown storage class %q for DataSync", o.StorageClass)
	}
	if !valid(o.NFSVersion, types.NfsVersion("").Values()) {
		return fmt.Errorf("unknown NFS version %q", o.NFSVersion)
	}
	if !valid(o.ObjectProtocol, types.ObjectStorageServerProtocol("").Values()) {
		return fmt.Errorf("unknown object storage protocol %q (want HTTPS or HTTP)", o.ObjectProtocol)
	}
	if !valid(o.ReportLevel, types.ReportLevel("").Values()) {
		return fmt.Errorf("unknown report level %q", o.ReportLevel)
	}
	enhanced := o.TaskMode == string(types.TaskModeEnhanced)
	if enhanced && o.BytesPerSecond > 0 {
		return outcome.BadOption("BytesPerSecond", "a bandwidth limit ({BytesPerSecond}) works only in BASIC task mode")
	}
	if enhanced && o.VerifyMode == string(types.VerifyModePointInTimeConsistent) {
		return outcome.BadOption("VerifyMode", "ENHANCED task mode verifies only the files transferred (use {VerifyMode} ONLY_FILES_TRANSFERRED)")
	}
	if o.BucketAccessRoleArn == "" {
		return errors.New("--role-arn is required: the IAM role DataSync assumes to write the bucket")
	}
	if len(o.AgentArns) == 0 && o.Source.Kind != ObjectStorage {
		return fmt.Errorf("--agent-arn is required for a %s source", o.Source.Kind)
	}
	for _, a := range append(append([]string{o.BucketAccessRoleArn}, o.AgentArns...), o.ReportRoleArn) {
		if !strings.HasPrefix(a, "arn:") {
			return fmt.Errorf("%q is not an ARN", a)
		}
	}
	for _, p := range append(append([]string{}, o.Includes...), o.Excludes...) {
		if p == "" || strings.Contains(p, "|") {
			return fmt.Errorf("filter %q: DataSync patterns are non-empty and may not contain |", p)
		}
	}
	if o.Source.Kind == SMB && o.SMBPassword == "" {
		return errors.New("an SMB source needs its password in AIRLIFT_SMB_PASSWORD")
	}
	if o.ReportTo != "" {
		if _, err := ParseDest(o.ReportTo); err != nil {
			return outcome.BadOption("ReportTo", "%v", err)
		}
	}
	return nil
}

func valid[T ~string](s string, vals []T) bool {
	for _, v := range vals {
		if string(v) == s {
			return true
		}
	}
	return false
}

func bucketArn(region, bucket string) string {
	return "arn:" + s3client.Partition(region) + ":s3:::" + bucket
}

// subdir turns an S3 prefix into DataSync's subdirectory form.
func subdir(prefix string) string { return "/" + strings.Trim(prefix, "/") }

// Progress is one observation of a running execution.
type Progress struct {
	Status           string
	BytesTransferred int64
	EstimatedBytes   int64
	FilesTransferred int64
	EstimatedFiles   int64
}

// Reused says which resources an earlier run had already created.
type Reused struct {
	SourceLocation bool `json:"source_location"`
	DestLocation   bool `json:"dest_location"`
	Task           bool `json:"task"`
}

// Result is what a run did; it is also the --json summary.
type Result struct {
	Source            string  `json:"source"`
	Dest              string  `json:"dest"`
	SourceLocationArn string  `json:"source_location_arn"`
	DestLocationArn   string  `json:"dest_location_arn"`
	TaskArn           string  `json:"task_arn"`
	ExecutionArn      string  `json:"execution_arn"`
	TaskMode          string  `json:"task_mode"`
	Reused            Reused  `json:"reused"`
	Status            string  `json:"status"`
	ErrorCode         string  `json:"error_code,omitempty"`
	ErrorDetail       string  `json:"error_detail,omitempty"`
	BytesTransferred  int64   `json:"bytes_transferred"`
	BytesWritten      int64   `json:"bytes_written"`
	EstimatedBytes    int64   `json:"estimated_bytes"`
	FilesTransferred  int64   `json:"files_transferred"`
	FilesVerified     int64   `json:"files_verified"`
	FilesDeleted      int64   `json:"files_deleted"`
	FilesSkipped      int64   `json:"files_skipped"`
	EstimatedFiles    int64   `json:"estimated_files"`
	Seconds           float64 `json:"seconds"`
	MBps              float64 `json:"mbps"`
	Cancelled         bool    `json:"cancelled,omitempty"`
}

// ExecutionError is an execution that ended in ERROR, with DataSync's own
// code and detail.
type ExecutionError struct {
	ExecutionArn string
	Code, Detail string
}

func (e *ExecutionError) Error() string {
	code := e.Code
	if code == "" {
		code = "UnknownError"
	}
	msg := fmt.Sprintf("DataSync execution %s failed: %s", e.ExecutionArn, code)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// APIError is a DataSync request that was refused, with the service's
// error code (InvalidRequestException, InternalException, ...).
type APIError struct {
	Op   string
	Code string
	Err  error
}

func (e *APIError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *APIError) Unwrap() error { return e.Err }

func apiErr(op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return &APIError{Op: op, Code: ae.ErrorCode(), Err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Runner runs DataSync transfers through one client.
type Runner struct {
	API API
	// Poll is the DescribeTaskExecution interval; 0 = 5s.
	Poll time.Duration
	// OnProgress, when set, sees every observation of the execution.
	OnProgress func(Progress)
	// OnCancel, when set, is called once before the execution is
	// cancelled because ctx was, so the user hears it first.
	OnCancel func(executionArn string)
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Run ensures the locations and the task, starts an execution and
// follows it to the end. The Result is non-nil once anything was
// created; the error is an *ExecutionError when DataSync reports ERROR,
// wraps ctx.Err() when the run was cancelled, and an *APIError when a
// request was refused.
func (r *Runner) Run(ctx context.Context, o Options) (*Result, error) {
	res, start, err := r.prepare(ctx, o)
	if err != nil {
		return res, err
	}
	out, err := r.API.StartTaskExecution(ctx, start)
	if err != nil {
		return res, apiErr("StartTaskExecution", err)
	}
	res.ExecutionArn = aws.ToString(out.TaskExecutionArn)
	return res, r.follow(ctx, res)
}

// prepare validates o, ensures the locations and the task, and returns
// the request that starts the execution.
func (r *Runner) prepare(ctx context.Context, o Options) (*Result, *ds.StartTaskExecutionInput, error) {
	if err := o.Validate(); err != nil {
		return nil, nil, err
	}
	res := &Result{Source: o.Source.URL, Dest: "s3://" + o.Dest.Bucket + "/" + o.Dest.Prefix, TaskMode: o.TaskMode}
	var err error
	if res.SourceLocationArn, res.Reused.SourceLocation, err = r.ensureSource(ctx, o); err != nil {
		return res, nil, err
	}
	if res.DestLocationArn, res.Reused.DestLocation, err = r.ensureDest(ctx, o); err != nil {
		return res, nil, err
	}
	if res.TaskArn, res.Reused.Task, err = r.ensureTask(ctx, o, res.SourceLocationArn, res.DestLocationArn); err != nil {
		return res, nil, err
	}
	start := &ds.StartTaskExecutionInput{TaskArn: aws.String(res.TaskArn)}
	if res.Reused.Task {
		// A task found again keeps the options it was created with; this
		// run's flags apply to this execution.
		start.OverrideOptions = taskOptions(o)
		start.Includes = filterRules(o.Includes)
		start.Excludes = filterRules(o.Excludes)
		start.TaskReportConfig = reportConfig(o)
	}
	return res, start, nil
}

func (r *Runner) follow(ctx context.Context, res *Result) error {
	poll := r.Poll
	if poll <= 0 {
		poll = 5 * time.Second
	}
	started := r.now()
	defer func() {
		res.Seconds = r.now().Sub(started).Seconds()
		if res.Seconds > 0 {
			res.MBps = float64(res.BytesTransferred) / 1e6 / res.Seconds
		}
	}()
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		d, err := r.API.DescribeTaskExecution(ctx, &ds.DescribeTaskExecutionInput{TaskExecutionArn: aws.String(res.ExecutionArn)})
		if err != nil {
			if ctx.Err() != nil {
				return r.cancel(ctx, res)
			}
			return apiErr("DescribeTaskExecution", err)
		}
		observe(res, d)
		if r.OnProgress != nil {
			r.OnProgress(Progress{Status: res.Status, BytesTransferred: res.BytesTransferred, EstimatedBytes: res.EstimatedBytes,
				FilesTransferred: res.FilesTransferred, EstimatedFiles: res.EstimatedFiles})
		}
		switch d.Status {
		case types.TaskExecutionStatusSuccess:
			return nil
		case types.TaskExecutionStatusError:
			return &ExecutionError{ExecutionArn: res.ExecutionArn, Code: res.ErrorCode, Detail: res.ErrorDetail}
		}
		select {
		case <-ctx.Done():
			return r.cancel(ctx, res)
		case <-t.C:
		}
	}
}

// cancel stops the execution with a context of its own (ctx is already
// done) and reports the state DataSync then gives.
func (r *Runner) cancel(ctx context.Context, res *Result) error {
	if r.OnCancel != nil {
		r.OnCancel(res.ExecutionArn)
	}
	res.Cancelled = true
	cctx, done := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer done()
	if _, err := r.API.CancelTaskExecution(cctx, &ds.CancelTaskExecutionInput{TaskExecutionArn: aws.String(res.ExecutionArn)}); err != nil {
		return fmt.Errorf("execution %s: cancelling failed (cancel it in the console): %v: %w", res.ExecutionArn, apiErr("CancelTaskExecution", err), ctx.Err())
	}
	if d, err := r.API.DescribeTaskExecution(cctx, &ds.DescribeTaskExecutionInput{TaskExecutionArn: aws.String(res.ExecutionArn)}); err == nil {
		observe(res, d)
	} else {
		res.Status = string(types.TaskExecutionStatusCancelling)
	}
	return fmt.Errorf("execution %s cancelled: %w", res.ExecutionArn, ctx.Err())
}

func observe(res *Result, d *ds.DescribeTaskExecutionOutput) {
	res.Status = string(d.Status)
	res.BytesTransferred = d.BytesTransferred
	res.BytesWritten = d.BytesWritten
	res.EstimatedBytes = d.EstimatedBytesToTransfer
	res.FilesTransferred = d.FilesTransferred
	res.FilesVerified = d.FilesVerified
	res.FilesDeleted = d.FilesDeleted
	res.FilesSkipped = d.FilesSkipped
	res.EstimatedFiles = d.EstimatedFilesToTransfer
	if d.Result != nil {
		res.ErrorCode = aws.ToString(d.Result.ErrorCode)
		res.ErrorDetail = aws.ToString(d.Result.ErrorDetail)
	}
}
