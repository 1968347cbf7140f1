package main

// iam-policy against the requests each command really makes: every
// request recorded on the wire (S3 through the recording proxy, DataSync
// at the local endpoint) is mapped to the IAM actions AWS documents for
// its operation and must be allowed by the printed policy for that bucket
// and prefix; every statement must allow at least one of them.

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/airlift-io/airlift/internal/datasynctest"
	"github.com/airlift-io/airlift/internal/iam"
	"github.com/airlift-io/airlift/internal/s3test"
)

// s3Actions is the action each S3 operation is authorized as, from the S3
// API reference ("Permissions") and the Service Authorization Reference:
// bucket-level unless objectLevel.
var s3Actions = map[string]struct {
	action      string
	objectLevel bool
}{
	"HeadBucket":              {"s3:ListBucket", false},
	"ListObjectsV2":           {"s3:ListBucket", false},
	"ListObjects":             {"s3:ListBucket", false},
	"ListMultipartUploads":    {"s3:ListBucketMultipartUploads", false},
	"HeadObject":              {"s3:GetObject", true},
	"GetObject":               {"s3:GetObject", true},
	"GetObjectTagging":        {"s3:GetObjectTagging", true},
	"PutObjectTagging":        {"s3:PutObjectTagging", true},
	"PutObject":               {"s3:PutObject", true},
	"CreateMultipartUpload":   {"s3:PutObject", true},
	"UploadPart":              {"s3:PutObject", true},
	"CompleteMultipartUpload": {"s3:PutObject", true},
	"ListParts":               {"s3:ListMultipartUploadParts", true},
	"AbortMultipartUpload":    {"s3:AbortMultipartUpload", true},
	"DeleteObject":            {"s3:DeleteObject", true},
	// DeleteObjects is authorized as s3:DeleteObject on each key.
}

// iamRequests turns one recorded S3 request into the IAM requests it
// makes, as IAM evaluates them for the caller.
func iamRequests(t *testing.T, q s3test.Request, kmsKey string) []iam.Request {
	t.Helper()
	op, bucket, key := q.Operation()
	arn := "arn:aws:s3:::" + bucket
	if op == "DeleteObjects" {
		var body struct {
			Objects []struct{ Key string } `xml:"Object"`
		}
		if err := xml.Unmarshal(q.Body, &body); err != nil {
			t.Fatalf("DeleteObjects body: %v", err)
		}
		var out []iam.Request
		for _, o := range body.Objects {
			out = append(out, iam.Request{Action: "s3:DeleteObject", Resource: arn + "/" + o.Key})
		}
		return out
	}
	a, ok := s3Actions[op]
	if !ok {
		t.Fatalf("%s %s?%s: an operation the test does not know (%q)", q.Method, q.Path, q.Query.Encode(), op)
	}
	r := iam.Request{Action: a.action, Resource: arn, Context: map[string]string{}}
	if a.objectLevel {
		r.Resource += "/" + key
	}
	if a.action == "s3:ListBucket" && q.Query.Has("prefix") {
		r.Context["s3:prefix"] = q.Query.Get("prefix")
	}
	out := []iam.Request{r}
	// SSE-KMS: S3 asks KMS for a data key as the caller when it writes an
	// object, and decrypts it as the caller to complete a multipart upload.
	if kmsKey != "" && (op == "PutObject" || op == "CreateMultipartUpload") && q.Header.Get("X-Amz-Server-Side-Encryption") == "aws:kms" {
		out = append(out, iam.Request{Action: "kms:GenerateDataKey", Resource: q.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")})
	}
	if kmsKey != "" && op == "CompleteMultipartUpload" {
		out = append(out, iam.Request{Action: "kms:Decrypt", Resource: kmsKey})
	}
	return out
}

const testKMSKey = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func kmsKeyOf(policyArgs []string) string {
	if slices.Contains(policyArgs, "--sse-kms-key-id") {
		return testKMSKey
	}
	return ""
}

// printedPolicy runs airlift iam-policy and returns the policy it prints.
func printedPolicy(t *testing.T, args ...string) iam.Policy {
	t.Helper()
	r := airlift(t, nil, append([]string{"iam-policy"}, args...)...)
	if r.code != 0 {
		t.Fatalf("iam-policy: exit %d\n%s", r.code, r.stderr)
	}
	var p iam.Policy
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("iam-policy printed no policy: %v\n%s", err, r.stdout)
	}
	return p
}

// checkAllowed holds every request to p and marks in used the statements
// and actions that allowed one.
func checkAllowed(t *testing.T, p iam.Policy, reqs []iam.Request, used map[string]bool) {
	t.Helper()
	for _, r := range reqs {
		sid, ok := p.Allows(r)
		if !ok {
			t.Errorf("not allowed by the printed policy: %s on %s (context %v)", r.Action, r.Resource, r.Context)
			continue
		}
		used[sid] = true
		used[sid+" "+r.Action] = true
	}
}

// checkNoneUnused: every statement, and every action in it, allowed a
// request (the runs drive the failure paths too).
func checkNoneUnused(t *testing.T, p iam.Policy, used map[string]bool) {
	t.Helper()
	for _, s := range p.Statement {
		if !used[s.Sid] {
			t.Errorf("statement %s allowed no request", s.Sid)
		}
		for _, a := range s.Action {
			if !used[s.Sid+" "+a] {
				t.Errorf("%s: action %s allowed no request", s.Sid, a)
			}
		}
	}
}

func TestE2EIAMPolicyAllowsEveryRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	rec := srv.Record(t)
	src := tree(t, map[string]int{"a.txt": 10, "dir/b.bin": 6 * mib, "dir/c": 0, "d/e.txt": 100})
	// The fault proxy in front of the recorder drives the paths only
	// failures take (a retried Create, a kept and a resumed upload, an
	// abort), so that their requests are held to the policy too.
	fp := newFaultProxy(t, rec.URL)
	runCode := func(t *testing.T, code int, args ...string) {
		t.Helper()
		r := airliftEnv(t, nil, srv.Env(), append(args, "--endpoint-url", fp.URL)...)
		if r.code != code {
			t.Fatalf("%s: exit %d, want %d\n%s\n%s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
		}
	}
	run := func(t *testing.T, args ...string) { t.Helper(); runCode(t, 0, args...) }
	// failingUploads drives the recovery paths: a run killed at its first
	// Create leaves an intent with no upload id, which the next run looks
	// for among the uploads in progress (and aborts); every Complete of
	// that run fails, so its uploads are kept; the run after resumes them
	// (ListParts); with parts refused for good the upload is aborted.
	failingUploads := func(t *testing.T, args, abortArgs []string) {
		t.Helper()
		defer fp.set(nil, nil)
		cmd := exec.Command(airliftBin, append(args, "--endpoint-url", fp.URL)...)
		cmd.Env = srv.Env()
		var mu sync.Mutex // cmd.Process is set by Start, read by the proxy
		mu.Lock()
		fp.set(func(op s3op, n int, _ *http.Request) *fault {
			if op == opCreate && n == 0 {
				mu.Lock()
				_ = cmd.Process.Kill()
				mu.Unlock()
			}
			return nil
		}, nil)
		err := cmd.Start()
		mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err == nil {
			t.Fatalf("%s: not killed at its first CreateMultipartUpload", strings.Join(args, " "))
		}
		fp.set(func(op s3op, n int, _ *http.Request) *fault {
			if op == opComplete {
				return &fault{kind: faultStatus, status: 500, code: "InternalError"}
			}
			return nil
		}, nil)
		runCode(t, 1, append(args, "--max-attempts", "2")...)
		fp.set(nil, nil)
		run(t, args...)
		fp.set(func(op s3op, n int, _ *http.Request) *fault {
			if op == opPart {
				return &fault{kind: faultStatus, status: 403, code: "AccessDenied"}
			}
			return nil
		}, nil)
		runCode(t, 1, abortArgs...)
	}
	state := t.TempDir()
	// Objects for verify and download to read, written before recording.
	run(t, "copy", src, "s3://bkt/ro/", "--part-size", "5MiB", "-q", "--state-dir", state)

	cases := []struct {
		name   string
		policy []string
		runs   func(t *testing.T)
	}{
		{"copy DIR s3://bkt/c/ failing, resumed, aborted", []string{"copy", "s3://bkt/c/"}, func(t *testing.T) {
			failingUploads(t, []string{"copy", src, "s3://bkt/c/", "--part-size", "5MiB", "-q", "--state-dir", t.TempDir()},
				[]string{"copy", src, "s3://bkt/c/again", "--part-size", "5MiB", "-q", "--state-dir", t.TempDir()})
		}},
		{"sync DIR s3://bkt/s --delete", []string{"sync", "s3://bkt/s", "--delete"}, func(t *testing.T) {
			d := tree(t, map[string]int{"x": 10, "big.bin": 6 * mib, "gone/y": 3})
			st := t.TempDir()
			failingUploads(t, []string{"sync", d, "s3://bkt/s", "--delete", "--part-size", "5MiB", "--state-dir", st},
				[]string{"sync", d, "s3://bkt/s/aborted", "--part-size", "5MiB", "--state-dir", t.TempDir()})
			// A new state store adopts what the bucket holds (reading
			// the BLAKE3 tags of multipart objects), then deletes what is gone.
			st = t.TempDir()
			run(t, "sync", d, "s3://bkt/s", "--state-dir", st)
			if err := os.RemoveAll(filepath.Join(d, "gone")); err != nil {
				t.Fatal(err)
			}
			run(t, "sync", d, "s3://bkt/s", "--delete", "--state-dir", st)
		}},
		{"copy DIR s3://bkt/k/ --sse aws:kms --sse-kms-key-id ARN", []string{"copy", "s3://bkt/k/", "--sse", "aws:kms", "--sse-kms-key-id", testKMSKey}, func(t *testing.T) {
			failingUploads(t, []string{"copy", src, "s3://bkt/k/", "--part-size", "5MiB", "-q", "--state-dir", t.TempDir(), "--sse", "aws:kms", "--sse-kms-key-id", testKMSKey},
				[]string{"copy", src, "s3://bkt/k/again", "--part-size", "5MiB", "-q", "--state-dir", t.TempDir(), "--sse", "aws:kms", "--sse-kms-key-id", testKMSKey})
		}},
		{"verify DIR s3://bkt/ro/", []string{"verify", "s3://bkt/ro/"}, func(t *testing.T) {
			run(t, "verify", src, "s3://bkt/ro/", "-q")
		}},
		{"copy s3://bkt/ro/ DIR", []string{"download", "s3://bkt/ro/"}, func(t *testing.T) {
			run(t, "copy", "s3://bkt/ro/", filepath.Join(t.TempDir(), "got"), "-q")
		}},
		{"cleanup s3://bkt/u/ --all", []string{"cleanup", "s3://bkt/u/"}, func(t *testing.T) {
			srv.AWS(t, "s3api", "create-multipart-upload", "--bucket", "bkt", "--key", "u/left-behind")
			run(t, "cleanup", "s3://bkt/u/", "--all", "--older-than", "0s", "--state-dir", state)
		}},
		{"bench s3://bkt/b/", []string{"bench", "s3://bkt/b/"}, func(t *testing.T) {
			run(t, "bench", "s3://bkt/b/", "-q", "--concurrency", "1", "--part-sizes", "5MiB",
				"--cell-time", "100ms", "--cell-bytes", "5MiB", "--cpu-time", "50ms", "--small-time", "100ms", "--small-concurrency", "2")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := printedPolicy(t, c.policy...)
			rec.Reset()
			c.runs(t)
			reqs := rec.Requests()
			if len(reqs) == 0 {
				t.Fatal("no request recorded")
			}
			used := map[string]bool{}
			for _, q := range reqs {
				checkAllowed(t, p, iamRequests(t, q, kmsKeyOf(c.policy)), used)
			}
			checkNoneUnused(t, p, used)
		})
	}
}

// dataSyncRequests turns one call the DataSync endpoint received into the
// IAM requests it makes: the operation's action, TagResource for tags
// given at creation, and iam:PassRole for each role handed to DataSync.
func dataSyncRequests(c datasynctest.Call) []iam.Request {
	res := "*"
	for _, k := range []string{"TaskExecutionArn", "TaskArn", "ResourceArn"} {
		if v, ok := c.Body[k].(string); ok {
			res = v
		}
	}
	out := []iam.Request{{Action: "datasync:" + c.Op, Resource: res}}
	if tags, ok := c.Body["Tags"].([]any); ok && len(tags) > 0 {
		out = append(out, iam.Request{Action: "datasync:TagResource", Resource: res})
	}
	var roles []string
	if s3c, ok := c.Body["S3Config"].(map[string]any); ok {
		roles = append(roles, s3c["BucketAccessRoleArn"].(string))
	}
	if rc, ok := c.Body["TaskReportConfig"].(map[string]any); ok {
		if d, ok := rc["Destination"].(map[string]any); ok {
			if s3d, ok := d["S3"].(map[string]any); ok {
				roles = append(roles, s3d["BucketAccessRoleArn"].(string))
			}
		}
	}
	for _, r := range roles {
		out = append(out, iam.Request{Action: "iam:PassRole", Resource: r,
			Context: map[string]string{"iam:PassedToService": "datasync.amazonaws.com"}})
	}
	return out
}

func TestE2EIAMPolicyDataSync(t *testing.T) {
	srv := datasynctest.Start(t)
	p := printedPolicy(t, "datasync", "s3://airlift-bucket/ds", "--role-arn", testRole)
	// A first run creates, a second finds and reuses; a report under the
	// bucket passes the role a second time.
	for _, args := range [][]string{
		{"datasync", "nfs://filer/export/data", "s3://airlift-bucket/ds", "--report-to", "s3://airlift-bucket/reports"},
		{"datasync", "nfs://filer/export/data", "s3://airlift-bucket/ds", "--report-to", "s3://airlift-bucket/reports"},
		{"datasync", "hdfs://namenode:8020/data", "s3://airlift-bucket/ds"},
		{"datasync", "objectstorage://minio.local/bucket/data", "s3://airlift-bucket/ds"},
	} {
		r := runDS(t, dsArgs(srv, args...)...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	smb := exec.Command(airliftBin, dsArgs(srv, "datasync", "smb://svc@filer/share/data", "s3://airlift-bucket/ds")...)
	smb.Env = append(dataSyncEnv(), "AIRLIFT_SMB_PASSWORD=secret")
	if r := runCmd(t, smb); r.code != 0 {
		t.Fatalf("datasync smb://: exit %d\n%s", r.code, r.stderr)
	}
	// An interrupted run cancels its execution.
	srv.SetHold(true)
	cmd := exec.Command(airliftBin, dsArgs(srv, "datasync", "nfs://filer/export/data", "s3://airlift-bucket/ds")...)
	cmd.Env = dataSyncEnv()
	errb := newWatchedBuffer("datasync TRANSFERRING")
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	<-errb.seen
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("the interrupted run ended well:\n%s", errb.String())
	}
	used := map[string]bool{}
	calls := srv.Calls("")
	if len(calls) == 0 {
		t.Fatal("no DataSync call recorded")
	}
	for _, c := range calls {
		checkAllowed(t, p, dataSyncRequests(c), used)
	}
	checkNoneUnused(t, p, used)
}
