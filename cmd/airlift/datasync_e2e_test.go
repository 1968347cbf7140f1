package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/airlift-io/airlift/internal/datasynctest"
)

const (
	testAgent = "arn:aws:datasync:us-east-1:111122223333:agent/agent-0b0addbeef44baca3"
	testRole  = "arn:aws:iam::111122223333:role/airlift-datasync"
)

// dataSyncEnv is an environment with throwaway credentials and nothing
// inherited that could point at a real account.
func dataSyncEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if len(kv) < 4 || kv[:4] != "AWS_" {
			env = append(env, kv)
		}
	}
	return append(env, "AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secrettest", "AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
}

func dsArgs(srv *datasynctest.Server, args ...string) []string {
	return append(args, "--agent-arn", testAgent, "--role-arn", testRole,
		"--datasync-endpoint-url", srv.URL, "--poll-interval", "5ms")
}

func runDS(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, airliftBin, args...)
	cmd.Env = dataSyncEnv()
	return runCmd(t, cmd)
}

type dsSummary struct {
	Status           string `json:"status"`
	TaskArn          string `json:"task_arn"`
	BytesTransferred int64  `json:"bytes_transferred"`
	Reused           struct {
		SourceLocation bool `json:"source_location"`
		DestLocation   bool `json:"dest_location"`
		Task           bool `json:"task"`
	} `json:"reused"`
}

func TestE2EDataSyncCopyViaDataSync(t *testing.T) {
	srv := datasynctest.Start(t)
	r := runDS(t, dsArgs(srv, "copy", "nfs://filer/export/data", "s3://airlift-bucket/ds", "--via", "datasync",
		"--include", "*.parquet", "--delete", "--bwlimit", "10MiB/s")...)
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	mustContain(t, "stdout", r.stdout, "datasync SUCCESS: 10.0 MiB")
	mustContain(t, "stdout", r.stdout, "(created)")
	for _, phase := range []string{"QUEUED", "LAUNCHING", "PREPARING", "TRANSFERRING", "VERIFYING"} {
		mustContain(t, "stderr", r.stderr, "datasync "+phase)
	}
	task := srv.Calls("CreateTask")
	if len(task) != 1 {
		t.Fatalf("CreateTask sent %d times", len(task))
	}
	opts, _ := task[0].Body["Options"].(map[string]any)
	if opts["PreserveDeletedFiles"] != "REMOVE" || opts["BytesPerSecond"] != float64(10<<20) || opts["TransferMode"] != "CHANGED" {
		t.Errorf("task options %v", opts)
	}

	// The same command again, as --json, reuses everything: a nfs://
	// source alone routes to DataSync.
	r = runDS(t, dsArgs(srv, "copy", "nfs://filer/export/data", "s3://airlift-bucket/ds", "--json",
		"--include", "*.parquet", "--delete", "--bwlimit", "10MiB/s")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var s dsSummary
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("--json output: %v\n%s", err, r.stdout)
	}
	if s.Status != "SUCCESS" || !s.Reused.SourceLocation || !s.Reused.DestLocation || !s.Reused.Task || s.BytesTransferred != 10<<20 {
		t.Errorf("second run summary %+v", s)
	}
	if l, tk, ex := srv.Counts(); l != 2 || tk != 1 || ex != 2 {
		t.Errorf("%d locations, %d tasks, %d executions; want 2, 1, 2", l, tk, ex)
	}
}

func TestE2EDataSyncErrorExit1(t *testing.T) {
	srv := datasynctest.Start(t)
	srv.SetFailure(&datasynctest.Failure{Code: "SyncTaskErrorLocationNotAdded", Detail: "mount.nfs: access denied by server"})
	r := runDS(t, dsArgs(srv, "datasync", "nfs://filer/export/data", "s3://airlift-bucket/ds")...)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	mustContain(t, "stderr", r.stderr, "SyncTaskErrorLocationNotAdded: mount.nfs: access denied by server")
	mustContain(t, "stdout", r.stdout, "datasync ERROR")

	srv.SetFailure(nil)
	srv.SetFault("CreateLocationS3", &datasynctest.APIFault{Type: "InvalidRequestException", Message: "Unable to assume role"})
	r = runDS(t, dsArgs(srv, "datasync", "nfs://filer/export/data", "s3://airlift-bucket/other")...)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	mustContain(t, "stderr", r.stderr, "InvalidRequestException")
	mustContain(t, "stderr", r.stderr, "Unable to assume role")
}

func TestE2EDataSyncInterruptCancels(t *testing.T) {
	srv := datasynctest.Start(t)
	srv.SetHold(true)
	cmd := exec.Command(airliftBin, dsArgs(srv, "datasync", "nfs://filer/export/data", "s3://airlift-bucket/ds")...)
	cmd.Env = dataSyncEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(srv.Calls("DescribeTaskExecution")) < 6 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("execution never reached TRANSFERRING; stderr: %s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130\nstderr: %s", err, errb.String())
	}
	mustContain(t, "stderr", errb.String(), "interrupted; cancelling DataSync execution arn:aws:datasync:")
	if n := len(srv.Calls("CancelTaskExecution")); n != 1 {
		t.Errorf("CancelTaskExecution sent %d times, want 1", n)
	}
	mustContain(t, "stdout", out.String(), "datasync CANCELLING")
}

func TestE2EDataSyncDryRunAndUsage(t *testing.T) {
	srv := datasynctest.Start(t)
	t.Setenv("AIRLIFT_SMB_PASSWORD", "")
	r := runDS(t, dsArgs(srv, "datasync", "hdfs://namenode/warehouse", "s3://airlift-bucket/ds", "--dry-run", "--task-mode", "enhanced", "--verify-mode", "ONLY_FILES_TRANSFERRED")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var reqs []struct {
		Operation string         `json:"operation"`
		Input     map[string]any `json:"input"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &reqs); err != nil {
		t.Fatalf("dry run output is not JSON: %v\n%s", err, r.stdout)
	}
	if len(reqs) != 4 || reqs[0].Operation != "CreateLocationHdfs" || reqs[2].Operation != "CreateTask" || reqs[2].Input["TaskMode"] != "ENHANCED" {
		t.Errorf("dry run requests: %s", r.stdout)
	}
	if n := len(srv.Calls("")); n != 0 {
		t.Errorf("dry run sent %d requests", n)
	}

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no role", []string{"datasync", "nfs://filer/x", "s3://airlift-bucket/p", "--agent-arn", testAgent}, "--role-arn"},
		{"enhanced bwlimit", append(dsArgs(srv, "datasync", "nfs://filer/x", "s3://airlift-bucket/p", "--task-mode", "ENHANCED", "--verify-mode", "NONE"), "--bwlimit", "1MiB/s"), "BASIC"},
		{"timetable", append(dsArgs(srv, "datasync", "nfs://filer/x", "s3://airlift-bucket/p"), "--bwlimit", "08:00,1MiB/s 18:00,off"), "timetable"},
		{"smb no password", dsArgs(srv, "datasync", "smb://u@winfs/share", "s3://airlift-bucket/p"), "AIRLIFT_SMB_PASSWORD"},
		{"local copy with --delete", []string{"copy", os.TempDir(), "s3://airlift-bucket/p", "--delete"}, "--delete works only with --via datasync"},
		{"local source via datasync", dsArgs(srv, "copy", "/tmp", "s3://airlift-bucket/p", "--via", "datasync"), "not a DataSync source"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runDS(t, c.args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2: %s", r.code, r.stderr)
			}
			mustContain(t, "stderr", r.stderr, c.want)
		})
	}
	if n := len(srv.Calls("")); n != 0 {
		t.Errorf("usage errors sent %d requests", n)
	}
}
