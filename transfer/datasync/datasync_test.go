package datasync_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ds "github.com/aws/aws-sdk-go-v2/service/datasync"

	"github.com/airlift-io/airlift/internal/datasynctest"
	"github.com/airlift-io/airlift/transfer/datasync"
)

const (
	agent = "arn:aws:datasync:us-east-1:111122223333:agent/agent-0b0addbeef44baca3"
	role  = "arn:aws:iam::111122223333:role/airlift-datasync"
)

// client is the real SDK client pointed at the fake endpoint.
func client(t *testing.T, srv *datasynctest.Server) *ds.Client {
	t.Helper()
	return ds.New(ds.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET"}, nil
		})),
		RetryMaxAttempts: 1,
	})
}

func opts(t *testing.T, src string) datasync.Options {
	t.Helper()
	s, err := datasync.ParseSource(src)
	if err != nil {
		t.Fatal(err)
	}
	d, err := datasync.ParseDest("s3://bucket/datasets/imagenet")
	if err != nil {
		t.Fatal(err)
	}
	return datasync.Options{Source: s, Dest: d, AgentArns: []string{agent}, BucketAccessRoleArn: role, Region: "us-east-1"}
}

// get walks a decoded JSON body by keys and indexes.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func tagOf(body map[string]any, key string) string {
	for _, t := range get(body, "Tags").([]any) {
		if get(t, "Key") == key {
			s, _ := get(t, "Value").(string)
			return s
		}
	}
	return ""
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v (%T), want %v (%T)", what, got, got, want, want)
	}
}

func TestRunCreatesThenReuses(t *testing.T) {
	srv := datasynctest.Start(t)
	var mu sync.Mutex
	var statuses []string
	r := &datasync.Runner{API: client(t, srv), Poll: time.Millisecond, OnProgress: func(p datasync.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if len(statuses) == 0 || statuses[len(statuses)-1] != p.Status {
			statuses = append(statuses, p.Status)
		}
	}}
	o := opts(t, "nfs://filer/export/data")
	o.Includes = []string{"/train", "*.parquet"}
	o.Excludes = []string{"*.tmp"}
	o.BytesPerSecond = 100 << 20
	o.StorageClass = "INTELLIGENT_TIERING"
	o.ReportTo = "s3://reports/datasync"
	res, err := r.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "status", res.Status, "SUCCESS")
	eq(t, "bytes", res.BytesTransferred, int64(10<<20))
	eq(t, "phases", strings.Join(statuses, ","), "QUEUED,LAUNCHING,PREPARING,TRANSFERRING,VERIFYING,SUCCESS")
	if res.Reused != (datasync.Reused{}) {
		t.Errorf("first run reused %+v", res.Reused)
	}

	nfs := srv.Calls("CreateLocationNfs")
	if len(nfs) != 1 {
		t.Fatalf("CreateLocationNfs sent %d times", len(nfs))
	}
	b := nfs[0].Body
	eq(t, "ServerHostname", get(b, "ServerHostname"), "filer")
	eq(t, "Subdirectory", get(b, "Subdirectory"), "/export/data")
	eq(t, "AgentArns", get(b, "OnPremConfig", "AgentArns", 0), agent)
	eq(t, "NFS version", get(b, "MountOptions", "Version"), "AUTOMATIC")
	if tagOf(b, datasync.TagID) == "" {
		t.Errorf("source location not tagged %s: %v", datasync.TagID, b["Tags"])
	}

	s3 := srv.Calls("CreateLocationS3")[0].Body
	eq(t, "S3BucketArn", get(s3, "S3BucketArn"), "arn:aws:s3:::bucket")
	eq(t, "S3 Subdirectory", get(s3, "Subdirectory"), "/datasets/imagenet")
	eq(t, "BucketAccessRoleArn", get(s3, "S3Config", "BucketAccessRoleArn"), role)
	eq(t, "S3StorageClass", get(s3, "S3StorageClass"), "INTELLIGENT_TIERING")

	task := srv.Calls("CreateTask")[0].Body
	eq(t, "VerifyMode", get(task, "Options", "VerifyMode"), "POINT_IN_TIME_CONSISTENT")
	eq(t, "TransferMode", get(task, "Options", "TransferMode"), "CHANGED")
	eq(t, "OverwriteMode", get(task, "Options", "OverwriteMode"), "ALWAYS")
	eq(t, "PreserveDeletedFiles", get(task, "Options", "PreserveDeletedFiles"), "PRESERVE")
	eq(t, "BytesPerSecond", get(task, "Options", "BytesPerSecond"), float64(100<<20))
	eq(t, "TaskMode", get(task, "TaskMode"), "BASIC")
	eq(t, "Includes", get(task, "Includes", 0, "Value"), "/train|*.parquet")
	eq(t, "Includes type", get(task, "Includes", 0, "FilterType"), "SIMPLE_PATTERN")
	eq(t, "Excludes", get(task, "Excludes", 0, "Value"), "*.tmp")
	eq(t, "report bucket", get(task, "TaskReportConfig", "Destination", "S3", "S3BucketArn"), "arn:aws:s3:::reports")
	eq(t, "report dir", get(task, "TaskReportConfig", "Destination", "S3", "Subdirectory"), "/datasync")
	eq(t, "report level", get(task, "TaskReportConfig", "ReportLevel"), "ERRORS_ONLY")
	eq(t, "task tag", tagOf(task, "airlift:role"), "task")
	if len(srv.Calls("StartTaskExecution")) != 1 || get(srv.Calls("StartTaskExecution")[0].Body, "OverrideOptions") != nil {
		t.Errorf("first start: %+v", srv.Calls("StartTaskExecution"))
	}

	// Second run, now with --delete: everything is found by its tags,
	// nothing new is created, and the run's options override the task's.
	o.Delete = true
	res2, err := r.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Reused != (datasync.Reused{SourceLocation: true, DestLocation: true, Task: true}) {
		t.Errorf("second run reused %+v", res2.Reused)
	}
	eq(t, "same task", res2.TaskArn, res.TaskArn)
	if l, tk, ex := srv.Counts(); l != 2 || tk != 1 || ex != 2 {
		t.Errorf("after two runs: %d locations, %d tasks, %d executions; want 2, 1, 2", l, tk, ex)
	}
	for _, op := range []string{"CreateLocationNfs", "CreateLocationS3", "CreateTask"} {
		if n := len(srv.Calls(op)); n != 1 {
			t.Errorf("%s sent %d times over two runs", op, n)
		}
	}
	start := srv.Calls("StartTaskExecution")[1].Body
	eq(t, "override PreserveDeletedFiles", get(start, "OverrideOptions", "PreserveDeletedFiles"), "REMOVE")
	eq(t, "override Includes", get(start, "Includes", 0, "Value"), "/train|*.parquet")
	lf := srv.Calls("ListLocations")[0].Body
	eq(t, "ListLocations filter", get(lf, "Filters", 0, "Operator"), "BeginsWith")
	eq(t, "ListLocations value", get(lf, "Filters", 0, "Values", 0), "nfs://filer/")
}

func TestSourceKinds(t *testing.T) {
	cases := []struct {
		src, op string
		check   func(t *testing.T, b map[string]any)
		setup   func(o *datasync.Options)
	}{
		{"smb://svc-copy@winfs/share/data", "CreateLocationSmb", func(t *testing.T, b map[string]any) {
			eq(t, "User", get(b, "User"), "svc-copy")
			eq(t, "Password", get(b, "Password"), "hunter2")
			eq(t, "Domain", get(b, "Domain"), "CORP")
			eq(t, "Subdirectory", get(b, "Subdirectory"), "/share/data")
		}, func(o *datasync.Options) { o.SMBPassword, o.SMBDomain = "hunter2", "CORP" }},
		{"hdfs://namenode/warehouse", "CreateLocationHdfs", func(t *testing.T, b map[string]any) {
			eq(t, "Hostname", get(b, "NameNodes", 0, "Hostname"), "namenode")
			eq(t, "Port", get(b, "NameNodes", 0, "Port"), float64(8020))
			eq(t, "AuthenticationType", get(b, "AuthenticationType"), "SIMPLE")
			eq(t, "SimpleUser", get(b, "SimpleUser"), "hdfs")
		}, nil},
		{"objectstorage://minio.lan:9000/raw/images", "CreateLocationObjectStorage", func(t *testing.T, b map[string]any) {
			eq(t, "BucketName", get(b, "BucketName"), "raw")
			eq(t, "Subdirectory", get(b, "Subdirectory"), "/images")
			eq(t, "ServerPort", get(b, "ServerPort"), float64(9000))
			eq(t, "ServerProtocol", get(b, "ServerProtocol"), "HTTP")
			eq(t, "AccessKey", get(b, "AccessKey"), "minio")
		}, func(o *datasync.Options) {
			o.ObjectProtocol, o.ObjectAccessKey, o.ObjectSecretKey = "HTTP", "minio", "minio123"
		}},
	}
	for _, c := range cases {
		t.Run(c.src, func(t *testing.T) {
			srv := datasynctest.Start(t)
			o := opts(t, c.src)
			if c.setup != nil {
				c.setup(&o)
			}
			r := &datasync.Runner{API: client(t, srv), Poll: time.Millisecond}
			if _, err := r.Run(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			calls := srv.Calls(c.op)
			if len(calls) != 1 {
				t.Fatalf("%s sent %d times; ops: %v", c.op, len(calls), srv.Ops())
			}
			c.check(t, calls[0].Body)
		})
	}
}

func TestCancelOnInterrupt(t *testing.T) {
	srv := datasynctest.Start(t)
	srv.SetHold(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelsBefore := -1
	r := &datasync.Runner{API: client(t, srv), Poll: time.Millisecond,
		OnProgress: func(p datasync.Progress) {
			if p.Status == "TRANSFERRING" {
				cancel()
			}
		},
		OnCancel: func(string) { cancelsBefore = len(srv.Calls("CancelTaskExecution")) },
	}
	res, err := r.Run(ctx, opts(t, "nfs://filer/export/data"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if cancelsBefore != 0 {
		t.Errorf("OnCancel saw %d CancelTaskExecution calls; the user must hear first", cancelsBefore)
	}
	c := srv.Calls("CancelTaskExecution")
	if len(c) != 1 || get(c[0].Body, "TaskExecutionArn") != res.ExecutionArn {
		t.Fatalf("CancelTaskExecution calls %+v, want one for %s", c, res.ExecutionArn)
	}
	if !res.Cancelled || res.Status != "CANCELLING" {
		t.Errorf("result cancelled=%v status=%s", res.Cancelled, res.Status)
	}
}

func TestExecutionError(t *testing.T) {
	srv := datasynctest.Start(t)
	srv.SetFailure(&datasynctest.Failure{Code: "SyncTaskErrorLocationNotAdded", Detail: "agent cannot mount filer:/export/data"})
	r := &datasync.Runner{API: client(t, srv), Poll: time.Millisecond}
	res, err := r.Run(context.Background(), opts(t, "nfs://filer/export/data"))
	var ee *datasync.ExecutionError
	if !errors.As(err, &ee) {
		t.Fatalf("err = %v, want *ExecutionError", err)
	}
	eq(t, "code", ee.Code, "SyncTaskErrorLocationNotAdded")
	eq(t, "detail", ee.Detail, "agent cannot mount filer:/export/data")
	eq(t, "status", res.Status, "ERROR")
	mustHave(t, err.Error(), "SyncTaskErrorLocationNotAdded")
}

func TestAPIError(t *testing.T) {
	srv := datasynctest.Start(t)
	srv.SetFault("CreateTask", &datasynctest.APIFault{Type: "InvalidRequestException", Message: "DataSync cannot assume role"})
	r := &datasync.Runner{API: client(t, srv), Poll: time.Millisecond}
	_, err := r.Run(context.Background(), opts(t, "nfs://filer/export/data"))
	var ae *datasync.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want *APIError", err)
	}
	eq(t, "op", ae.Op, "CreateTask")
	eq(t, "code", ae.Code, "InvalidRequestException")
	mustHave(t, err.Error(), "DataSync cannot assume role")
}

func mustHave(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%q does not contain %q", s, sub)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(o *datasync.Options)
		want string
	}{
		{"ok", func(o *datasync.Options) {}, ""},
		{"enhanced with bwlimit", func(o *datasync.Options) { o.TaskMode, o.BytesPerSecond = "enhanced", 1<<20 }, "BASIC"},
		{"enhanced point in time", func(o *datasync.Options) { o.TaskMode, o.VerifyMode = "ENHANCED", "POINT_IN_TIME_CONSISTENT" }, "ONLY_FILES_TRANSFERRED"},
		{"no role", func(o *datasync.Options) { o.BucketAccessRoleArn = "" }, "--role-arn"},
		{"no agent", func(o *datasync.Options) { o.AgentArns = nil }, "--agent-arn"},
		{"pipe in filter", func(o *datasync.Options) { o.Includes = []string{"a|b"} }, "|"},
		{"bad verify", func(o *datasync.Options) { o.VerifyMode = "SOMETIMES" }, "verify mode"},
		{"bad storage class", func(o *datasync.Options) { o.StorageClass = "COLD" }, "storage class"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := opts(t, "nfs://filer/export/data")
			c.edit(&o)
			err := o.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestParseSource(t *testing.T) {
	cases := []struct {
		in   string
		want datasync.Source
		err  string
	}{
		{in: "nfs://filer/export/data/", want: datasync.Source{Kind: datasync.NFS, Host: "filer", Path: "/export/data"}},
		{in: "hdfs://nn:9000/a", want: datasync.Source{Kind: datasync.HDFS, Host: "nn", Port: 9000, Path: "/a", User: "hdfs"}},
		{in: "objectstorage://h/b", want: datasync.Source{Kind: datasync.ObjectStorage, Host: "h", Path: "/", Bucket: "b"}},
		{in: "smb://u:pw@h/share", err: "password"},
		{in: "smb://h/share", err: "user"},
		{in: "nfs://filer", err: "export"},
		{in: "nfs:///x", err: "server"},
		{in: "/local/dir", err: "not a DataSync source"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := datasync.ParseSource(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				if strings.Contains(fmtQ(err), "pw") {
					t.Errorf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.URL = ""
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func fmtQ(err error) string { return strings.ReplaceAll(err.Error(), "password", "") }

func TestDryRun(t *testing.T) {
	o := opts(t, "smb://svc@winfs/share")
	o.SMBPassword = "hunter2"
	reqs, err := datasync.DryRun(o)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, r := range reqs {
		ops = append(ops, r.Operation)
	}
	eq(t, "ops", strings.Join(ops, ","), "CreateLocationSmb,CreateLocationS3,CreateTask,StartTaskExecution")
	js, _ := json.Marshal(reqs)
	if strings.Contains(string(js), "hunter2") {
		t.Errorf("dry run prints the SMB password: %s", js)
	}
	mustHave(t, string(js), `"TransferMode":"CHANGED"`)
}
