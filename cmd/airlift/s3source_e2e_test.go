package main

// An S3 prefix as the source: two versitygw servers with different
// credentials (a migration from an on-premise store), the source filled
// by the aws CLI as a foreign store would hold it (no airlift metadata),
// results cross-checked with the aws CLI, b3sum and the servers' own
// backing files.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/airlift-io/airlift/bench/plan"
	"github.com/airlift-io/airlift/checksum"
	"github.com/airlift-io/airlift/internal/s3test"
	"github.com/airlift-io/airlift/internal/ui"
)

// migration is a destination server (the default credentials, in the
// environment) and a source server with other credentials, reached
// through the profile "onprem" of a credentials file.
type migration struct {
	dst, src *s3test.Server
	srcURL   string // what --source-endpoint-url names: src, or a proxy in front of it
	env      []string
	state    string
}

func newMigration(t *testing.T) *migration {
	t.Helper()
	m := &migration{
		dst:   s3test.Start(t, s3test.Options{}),
		src:   s3test.Start(t, s3test.Options{AccessKey: "onpremkey", SecretKey: "onpremsecret5678"}),
		state: t.TempDir(),
	}
	m.srcURL = m.src.URL
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, []byte(fmt.Sprintf("[onprem]\naws_access_key_id = %s\naws_secret_access_key = %s\n", m.src.AccessKey, m.src.SecretKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	// Many files: let the aws CLI fill the source with more requests in flight.
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte("[default]\ns3 =\n  max_concurrent_requests = 32\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m.env = []string{"AWS_SHARED_CREDENTIALS_FILE=" + creds, "AWS_CONFIG_FILE=" + cfg}
	m.src.CreateBucket(t, "onprem")
	m.dst.CreateBucket(t, "cloud")
	return m
}

// fill uploads a local tree to the source with the aws CLI.
func (m *migration) fill(t *testing.T, dir, prefix string) {
	t.Helper()
	cmd := exec.Command(s3test.AWSCLI(t), "--endpoint-url", m.src.URL, "s3", "cp", "--recursive", "--only-show-errors", dir, "s3://onprem/"+prefix)
	cmd.Env = append(m.src.Env(), m.env[1])
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("aws s3 cp: %v\n%s", err, out)
	}
}

// args adds the connection flags of both sides to an airlift command.
func (m *migration) args(args ...string) []string {
	args = append(args, "--endpoint-url", m.dst.URL, "--source-endpoint-url", m.srcURL, "--source-profile", "onprem")
	if args[0] == "copy" || args[0] == "sync" {
		args = append(args, "--state-dir", m.state)
	}
	return args
}

func (m *migration) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(airliftBin, m.args(args...)...)
	cmd.Env = append(m.dst.Env(), m.env...)
	return cmd
}

func (m *migration) run(t *testing.T, args ...string) result {
	t.Helper()
	return runCmd(t, m.cmd(args...))
}

// copyReport is the part of copy --json the tests read.
type copyReport struct {
	Files          int64 `json:"files"`
	Bytes          int64 `json:"bytes"`
	Failed         int64 `json:"files_failed"`
	Skipped        int64 `json:"files_skipped"`
	Retries        int64 `json:"retries"`
	CopiedInServer int64 `json:"copied_in_server"`
	NoBLAKE3       int64 `json:"objects_without_blake3"`
	Failures       []struct {
		Key, Error string
	} `json:"failures"`
}

func parseCopy(t *testing.T, res result) copyReport {
	t.Helper()
	var r copyReport
	if err := json.Unmarshal([]byte(res.stdout), &r); err != nil {
		t.Fatalf("copy --json: %v\nstdout:\n%s\nstderr:\n%s", err, res.stdout, res.stderr)
	}
	return r
}

// sourceTree is what a foreign store holds: awkward keys, empty objects,
// objects above the part size (the aws CLI sends those above 8 MiB as
// multipart objects, whose ETag is not an MD5), and n small objects.
func sourceTree(t *testing.T, n int) (dir string, count int, size int64) {
	files := map[string]int{
		"empty":                          0,
		"dir/also-empty":                 0,
		"big/multipart-cli.bin":          20*MiB + 17,
		"big/single-cli.bin":             6*MiB + 3,
		"unicode/数据集 caf\u00e9.parquet":  4096,
		"special/a b #?%&+=.txt":         77,
		"special/semi;colon,comma'q.txt": 5,
		"deep/1/2/3/4/5/6/7/8/9/leaf":    3,
	}
	for i := 0; i < n; i++ {
		files[fmt.Sprintf("many/%02d/f%05d.bin", i%50, i)] = 100 + i%900
	}
	for _, s := range files {
		size += int64(s)
	}
	return tree(t, files), len(files), size
}

// TestS3SourceCopy: airlift copy s3://onprem/data s3://cloud/copy
// --source-endpoint-url --source-profile: every object arrives byte for
// byte (compared in the two servers' backing folders), with a BLAKE3 that
// b3sum agrees with; then the same command again with the state of the
// finished run starts afresh, and a same-endpoint copy is done by the
// server, carrying BLAKE3 over.
func TestS3SourceCopy(t *testing.T) {
	m := newMigration(t)
	dir, count, size := sourceTree(t, 5000)
	m.fill(t, dir, "data/")

	res := m.run(t, "copy", "s3://onprem/data", "s3://cloud/copy", "--part-size", "5MiB", "--json", "--quiet")
	wantCode(t, res, 0)
	rep := parseCopy(t, res)
	if rep.Files != int64(count) || rep.Bytes != size || rep.Failed != 0 || rep.CopiedInServer != 0 {
		t.Fatalf("report: %d files %d bytes %d failed %d in server, want %d files %d bytes streamed\n%s", rep.Files, rep.Bytes, rep.Failed, rep.CopiedInServer, count, size, res.stdout)
	}
	sameTree(t, m.src.ObjectPath("onprem", "data"), m.dst.ObjectPath("cloud", "copy"))
	// The listing as the aws CLI sees it: the same keys on both sides.
	keys := func(srv *s3test.Server, bucket, prefix string) []string {
		out := srv.AWS(t, "s3api", "list-objects-v2", "--bucket", bucket, "--prefix", prefix, "--query", "Contents[].Key", "--output", "json")
		var ks []string
		if err := json.Unmarshal([]byte(out), &ks); err != nil {
			t.Fatal(err)
		}
		for i := range ks {
			ks[i] = strings.TrimPrefix(ks[i], prefix)
		}
		return ks
	}
	if a, b := keys(m.src, "onprem", "data/"), keys(m.dst, "cloud", "copy/"); strings.Join(a, "\n") != strings.Join(b, "\n") || len(a) != count {
		t.Errorf("keys differ: source %d, destination %d", len(a), len(b))
	}
	// BLAKE3 computed from the bytes as they passed, stored as for files.
	for _, rel := range []string{"special/a b #?%&+=.txt", "unicode/数据集 caf\u00e9.parquet", "empty"} {
		want := s3test.B3Sum(t, filepath.Join(dir, filepath.FromSlash(rel)))
		if got := headMeta(t, m.dst, "cloud", "copy/"+rel)[checksum.MetaKey]; got != want {
			t.Errorf("%s: x-amz-meta-blake3 %q, b3sum %q", rel, got, want)
		}
	}
	for _, rel := range []string{"big/multipart-cli.bin", "big/single-cli.bin"} { // multipart with 5 MiB parts: in the tag
		tag := m.dst.AWS(t, "s3api", "get-object-tagging", "--bucket", "cloud", "--key", "copy/"+rel, "--output", "json")
		mustContain(t, "tags of "+rel, tag, s3test.B3Sum(t, filepath.Join(dir, filepath.FromSlash(rel))))
	}

	t.Run("same endpoint: copied by the server, BLAKE3 carried over", func(t *testing.T) {
		res := airlift(t, m.dst, "copy", "s3://cloud/copy/big", "s3://cloud/again", "--json", "--quiet", "--state-dir", m.state)
		wantCode(t, res, 0)
		rep := parseCopy(t, res)
		if rep.CopiedInServer != 2 || rep.NoBLAKE3 != 0 {
			t.Fatalf("copied in server %d (want 2), without BLAKE3 %d (want 0)\n%s", rep.CopiedInServer, rep.NoBLAKE3, res.stdout)
		}
		sameTree(t, filepath.Join(dir, "big"), m.dst.ObjectPath("cloud", "again"))
		for _, rel := range []string{"multipart-cli.bin", "single-cli.bin"} {
			// A CopyObject makes a single-part object: its BLAKE3 belongs in the metadata.
			want := s3test.B3Sum(t, filepath.Join(dir, "big", rel))
			if got := headMeta(t, m.dst, "cloud", "again/"+rel)[checksum.MetaKey]; got != want {
				t.Errorf("%s: x-amz-meta-blake3 %q, want %q", rel, got, want)
			}
		}
		res = airlift(t, m.dst, "verify", "s3://cloud/copy/big", "s3://cloud/again", "--quiet")
		wantCode(t, res, 0)
	})
}

// TestS3SourceServerCopyWithoutBLAKE3: within the source's own endpoint,
// objects the aws CLI wrote have no BLAKE3 to carry over: the report
// counts them, and --hash streams them instead to compute it.
func TestS3SourceServerCopyWithoutBLAKE3(t *testing.T) {
	m := newMigration(t)
	dir, count, _ := sourceTree(t, 0)
	m.fill(t, dir, "data/")
	res := airliftEnv(t, m.src, nil, "copy", "s3://onprem/data", "s3://onprem/mirror", "--json", "--quiet", "--no-journal")
	wantCode(t, res, 0)
	rep := parseCopy(t, res)
	if rep.CopiedInServer != int64(count) || rep.NoBLAKE3 != int64(count) {
		t.Fatalf("copied in server %d, without BLAKE3 %d; want %d and %d\n%s", rep.CopiedInServer, rep.NoBLAKE3, count, count, res.stdout)
	}
	sameTree(t, dir, m.src.ObjectPath("onprem", "mirror"))
	mustContain(t, "summary", airliftEnv(t, m.src, nil, "copy", "s3://onprem/data", "s3://onprem/mirror2", "--no-journal").stdout, "no BLAKE3")

	res = airliftEnv(t, m.src, nil, "copy", "s3://onprem/data", "s3://onprem/hashed", "--hash", "--json", "--quiet", "--no-journal")
	wantCode(t, res, 0)
	if rep := parseCopy(t, res); rep.CopiedInServer != 0 || rep.Files != int64(count) {
		t.Fatalf("--hash: %d copied in server, %d files\n%s", rep.CopiedInServer, rep.Files, res.stdout)
	}
	want := s3test.B3Sum(t, filepath.Join(dir, "big", "single-cli.bin"))
	if got := headMeta(t, m.src, "onprem", "hashed/big/single-cli.bin")[checksum.MetaKey]; got != want {
		t.Errorf("--hash: x-amz-meta-blake3 %q, b3sum %q", got, want)
	}
}

// TestS3SourceFaults: resets in the middle of GET bodies and 503s from the
// source lose nothing.
func TestS3SourceFaults(t *testing.T) {
	m := newMigration(t)
	dir, _, _ := sourceTree(t, 40)
	m.fill(t, dir, "data/")
	px := newFaultProxy(t, m.src.URL)
	m.srcURL = px.URL
	// The first GET of each range fails: every third one cut off half way
	// through its body (then RST), the others a 503; the retry goes through.
	var mu sync.Mutex
	seen := map[string]bool{}
	px.set(func(op s3op, n int, r *http.Request) *fault {
		if op != opGet {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		var start int64 // a retry asks for the rest of its range: the same part
		fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-", &start)
		id := fmt.Sprintf("%s %d", r.URL.Path, start/(5*MiB))
		if seen[id] {
			return nil
		}
		seen[id] = true
		if len(seen)%3 == 0 {
			return &fault{kind: faultTruncate}
		}
		return &fault{kind: faultStatus, status: 503, code: "SlowDown"}
	}, nil)
	res := m.run(t, "copy", "s3://onprem/data", "s3://cloud/copy", "--part-size", "5MiB", "--json", "--quiet", "--max-attempts", "6")
	wantCode(t, res, 0)
	if px.injected.Load() < 40 {
		t.Fatalf("only %d faults injected", px.injected.Load())
	}
	if rep := parseCopy(t, res); rep.Retries < px.injected.Load() {
		t.Errorf("report counts %d retries, %d faults were injected", rep.Retries, px.injected.Load())
	}
	sameTree(t, dir, m.dst.ObjectPath("cloud", "copy"))
}

// TestS3SourceChangedMidCopy: a source object rewritten after it was
// listed and before its parts were all read is reported as changed, its
// upload aborted; the object is not completed from two versions.
func TestS3SourceChangedMidCopy(t *testing.T) {
	m := newMigration(t)
	dir, _, _ := sourceTree(t, 0)
	m.fill(t, dir, "data/")
	px := newFaultProxy(t, m.src.URL)
	m.srcURL = px.URL
	cli := m.src.Client(t)
	var once sync.Once
	px.set(func(op s3op, n int, r *http.Request) *fault {
		if op == opGet && strings.HasSuffix(r.URL.Path, "/multipart-cli.bin") && r.Header.Get("Range") != "bytes=0-5242879" {
			once.Do(func() {
				_, err := cli.S3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("onprem"),
					Key: aws.String("data/big/multipart-cli.bin"), Body: strings.NewReader(strings.Repeat("new", 8<<20))})
				if err != nil {
					t.Errorf("rewriting the source object: %v", err)
				}
			})
		}
		return nil
	}, nil)
	res := m.run(t, "copy", "s3://onprem/data", "s3://cloud/copy", "--part-size", "5MiB", "--json", "--quiet", "--max-attempts", "2")
	wantCode(t, res, 1)
	rep := parseCopy(t, res)
	if rep.Failed != 1 || len(rep.Failures) != 1 || !strings.Contains(rep.Failures[0].Error, "changed") {
		t.Fatalf("want one failure saying the object changed:\n%s", res.stdout)
	}
	if _, err := os.Stat(m.dst.ObjectPath("cloud", "copy/big/multipart-cli.bin")); err == nil {
		t.Error("the changed object was completed")
	}
	if open := openUploads(t, m.dst, "cloud"); open != "" && open != "None" {
		t.Errorf("uploads left open: %s", open)
	}
}

// TestS3SourceKillAndResume: SIGKILL while parts are being sent (counted
// at a proxy in front of the destination); the next run continues the
// uploads part by part, sending again nothing the destination holds.
func TestS3SourceKillAndResume(t *testing.T) {
	m := newMigration(t)
	dir := tree(t, map[string]int{"a.bin": 23 * MiB, "b.bin": 16*MiB + 5, "c.bin": 11 * MiB})
	m.fill(t, dir, "data/")
	px := newFaultProxy(t, m.dst.URL)
	args := []string{"copy", "s3://onprem/data", "s3://cloud/copy", "--part-size", "5MiB", "--quiet", "--concurrency", "3", "--part-concurrency", "3"}
	start := func() *proc {
		cmd := m.cmd(args...)
		for i, a := range cmd.Args {
			if a == m.dst.URL {
				cmd.Args[i] = px.URL
			}
		}
		ru := &proc{cmd: cmd}
		cmd.Stdout, cmd.Stderr = &ru.stdout, &ru.stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return ru
	}
	var ru *proc
	var mu sync.Mutex
	mu.Lock()
	px.set(nil, func(sent int64) {
		if sent > 22*MiB {
			mu.Lock()
			defer mu.Unlock()
			ru.kill()
		}
	})
	ru = start()
	mu.Unlock()
	if res := ru.wait(t); res.code != -int(syscall.SIGKILL) {
		t.Fatalf("not killed: exit %d\n%s", res.code, res.stderr)
	}
	if open := openUploads(t, m.dst, "cloud"); open == "" || open == "None" {
		t.Fatal("the killed run left no upload to resume")
	}
	px.set(nil, nil)
	res := start().wait(t)
	wantCode(t, res, 0)
	if px.resent.Load() != 0 {
		t.Errorf("the resumed run sent again %d bytes the destination held", px.resent.Load())
	}
	if px.sent.Load() >= 50*MiB {
		t.Errorf("the resumed run sent %d bytes: it started over", px.sent.Load())
	}
	sameTree(t, dir, m.dst.ObjectPath("cloud", "copy"))
	if open := openUploads(t, m.dst, "cloud"); open != "" && open != "None" {
		t.Errorf("uploads left open: %s", open)
	}
}

// syncReport is the part of sync --json the tests read.
type syncReport struct {
	Uploaded      int64  `json:"uploaded"`
	Deleted       int64  `json:"deleted"`
	Failed        int64  `json:"failed"`
	DeleteRefused string `json:"delete_refused"`
}

// TestS3SourceSync: sync from an S3 prefix judges changes from the
// listing alone (a pass with nothing changed makes no request per object
// on either side), sends new and rewritten objects, and deletes with
// every guard of a folder sync: not after a failure, not beyond
// --max-delete, not when the source lists nothing.
func TestS3SourceSync(t *testing.T) {
	m := newMigration(t)
	files := map[string]int{"keep/a.bin": 6 * MiB, "gone/x": 10, "gone/y": 20, "edit.txt": 100, "empty": 0}
	for i := 0; i < 30; i++ {
		files[fmt.Sprintf("small/%02d", i)] = 500 + i
	}
	dir := tree(t, files)
	m.fill(t, dir, "data/")
	srcPx, dstPx := newFaultProxy(t, m.src.URL), newFaultProxy(t, m.dst.URL)
	m.srcURL = srcPx.URL
	pass := func(t *testing.T, extra ...string) (result, syncReport) {
		t.Helper()
		cmd := m.cmd(append([]string{"sync", "s3://onprem/data", "s3://cloud/mirror", "--json", "--part-size", "5MiB", "--max-attempts", "1"}, extra...)...)
		for i, a := range cmd.Args {
			if a == m.dst.URL {
				cmd.Args[i] = dstPx.URL
			}
		}
		res := runCmd(t, cmd)
		var rep syncReport
		if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
			t.Fatalf("sync --json: %v\n%s\n%s", err, res.stdout, res.stderr)
		}
		return res, rep
	}
	mirror := m.dst.ObjectPath("cloud", "mirror")
	var mu sync.Mutex
	perObject := 0 // requests naming one object, on either side
	count := func(op s3op, n int, r *http.Request) *fault {
		headObject := r.Method == http.MethodHead && strings.Contains(strings.Trim(r.URL.Path, "/"), "/") // not HeadBucket
		if op == opGet || op == opPut || op == opPart || headObject {
			mu.Lock()
			perObject++
			mu.Unlock()
		}
		return nil
	}

	res, rep := pass(t)
	wantCode(t, res, 0)
	if rep.Uploaded != int64(len(files)) {
		t.Fatalf("first pass uploaded %d, want %d\n%s", rep.Uploaded, len(files), res.stdout)
	}
	sameTree(t, dir, mirror)

	t.Run("no change: listing pages only", func(t *testing.T) {
		srcPx.set(count, nil)
		dstPx.set(count, nil)
		res, rep := pass(t)
		wantCode(t, res, 0)
		if rep.Uploaded != 0 || perObject != 0 {
			t.Fatalf("uploaded %d, %d requests for single objects; want none\n%s", rep.Uploaded, perObject, res.stdout)
		}
	})

	put := func(key, body string) {
		t.Helper()
		_, err := m.src.Client(t).S3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("onprem"), Key: aws.String("data/" + key), Body: strings.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
	}
	del := func(key string) {
		t.Helper()
		m.src.AWS(t, "s3", "rm", "s3://onprem/data/"+key)
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(key))); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("nothing deleted after a failure", func(t *testing.T) {
		del("gone/x")
		srcPx.set(func(op s3op, n int, r *http.Request) *fault {
			if op == opGet && strings.HasSuffix(r.URL.Path, "/edit.txt") {
				return &fault{kind: faultStatus, status: 500, code: "InternalError"}
			}
			return nil
		}, nil)
		dstPx.set(nil, nil)
		edited := strings.Repeat("E", 100) // same size, new bytes: only the ETag tells
		put("edit.txt", edited)
		res, rep := pass(t, "--delete")
		wantCode(t, res, 1)
		if rep.Deleted != 0 || rep.Failed != 1 || !strings.Contains(rep.DeleteRefused, "failed") {
			t.Fatalf("deleted %d, failed %d, refused %q\n%s", rep.Deleted, rep.Failed, rep.DeleteRefused, res.stdout)
		}
		if _, err := os.Stat(filepath.Join(mirror, "gone", "x")); err != nil {
			t.Fatal("an object was deleted after a failure")
		}
		if err := os.WriteFile(filepath.Join(dir, "edit.txt"), []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("--max-delete holds", func(t *testing.T) {
		srcPx.set(nil, nil)
		del("gone/y")
		res, rep := pass(t, "--delete", "--max-delete", "1")
		wantCode(t, res, 1)
		if rep.Deleted != 0 || rep.Uploaded != 1 || !strings.Contains(rep.DeleteRefused, "--max-delete") {
			t.Fatalf("deleted %d, uploaded %d, refused %q\n%s", rep.Deleted, rep.Uploaded, rep.DeleteRefused, res.stdout)
		}
		res, rep = pass(t, "--delete")
		wantCode(t, res, 0)
		if rep.Deleted != 2 {
			t.Fatalf("deleted %d, want 2\n%s", rep.Deleted, res.stdout)
		}
		sameTree(t, dir, mirror)
	})
	t.Run("an empty source listing is a missing source", func(t *testing.T) {
		m.src.AWS(t, "s3", "rm", "--recursive", "--only-show-errors", "s3://onprem/data/")
		res, rep := pass(t, "--delete", "--force")
		wantCode(t, res, 1)
		mustContain(t, "stderr", res.stderr, "lists no object")
		if rep.Deleted != 0 {
			t.Fatalf("deleted %d objects of an empty source", rep.Deleted)
		}
		sameTree(t, dir, mirror)
	})
}

// TestS3SourcePlan: plan s3://onprem/data scans the listing to the same
// figures as a scan of the folder the source was filled from, and
// samples compressibility with ranged GETs.
func TestS3SourcePlan(t *testing.T) {
	m := newMigration(t)
	root := planTree(t)
	m.fill(t, root, "data/")
	px := newFaultProxy(t, m.src.URL)
	m.srcURL = px.URL
	var mu sync.Mutex
	ranged := 0
	px.set(func(op s3op, n int, r *http.Request) *fault {
		if op == opGet && r.Header.Get("Range") != "" {
			mu.Lock()
			ranged++
			mu.Unlock()
		}
		return nil
	}, nil)
	scanOf := func(res result) plan.Scan {
		t.Helper()
		wantCode(t, res, 0)
		var out ui.PlanJSON
		if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
			t.Fatalf("%v\n%s", err, res.stdout)
		}
		return *out.Scan
	}
	local := scanOf(airlift(t, nil, "plan", root, "--json"))
	remote := scanOf(m.run(t, "plan", "s3://onprem/data", "--json"))
	if remote.Files != local.Files || remote.Bytes != local.Bytes || remote.Requests != local.Requests ||
		remote.SmallFiles != local.SmallFiles || remote.LargestSize != local.LargestSize || remote.MultipartFiles != local.MultipartFiles {
		t.Errorf("scan of the listing %+v\nscan of the folder %+v", remote, local)
	}
	if fmt.Sprint(remote.Histogram) != fmt.Sprint(local.Histogram) {
		t.Errorf("histogram %v, want %v", remote.Histogram, local.Histogram)
	}
	ext := map[string]plan.ExtStat{}
	for _, e := range remote.ByExt {
		ext[e.Ext] = e
	}
	if remote.SampledFiles == 0 || ext[".csv"].Ratio > 0.05 || ext[".bin"].Ratio < 0.98 {
		t.Errorf("sample: %d files; by extension %+v", remote.SampledFiles, remote.ByExt)
	}
	if ranged == 0 {
		t.Error("no ranged GET reached the source")
	}
}

// verifyReport is the part of verify --json the tests read.
type verifyReport struct {
	Equal  int64            `json:"equal"`
	Counts map[string]int64 `json:"differences_by_kind"`
	From   map[string]int64 `json:"blake3_from"`
}

// TestS3SourceVerify: verify of two prefixes on two endpoints, after a
// streamed copy of objects the aws CLI wrote (no BLAKE3 at the source):
// fast mode shows equal what equal ETags prove (single-part objects) and
// calls unknown what it cannot (different part layouts); --deep reads
// both sides and finds every object equal, then finds the one object
// corrupted behind the destination's back.
func TestS3SourceVerify(t *testing.T) {
	m := newMigration(t)
	dir := tree(t, map[string]int{"a.txt": 1000, "b/c.bin": 3 * MiB, "big.bin": 20 * MiB, "empty": 0})
	m.fill(t, dir, "data/")
	wantCode(t, m.run(t, "copy", "s3://onprem/data", "s3://cloud/copy", "--part-size", "5MiB", "--quiet"), 0)
	verify := func(extra ...string) (result, verifyReport) {
		res := m.run(t, append([]string{"verify", "s3://onprem/data", "s3://cloud/copy", "--json", "--quiet"}, extra...)...)
		var rep verifyReport
		if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
			t.Fatalf("verify --json: %v\n%s\n%s", err, res.stdout, res.stderr)
		}
		return res, rep
	}
	res, rep := verify()
	wantCode(t, res, 1)
	if rep.Equal != 3 || rep.Counts["blake3_unknown"] != 1 || rep.From["etag"] != 3 {
		t.Fatalf("fast: equal %d, counts %v, from %v; want 3 equal by ETag, the multipart object unknown\n%s", rep.Equal, rep.Counts, rep.From, res.stdout)
	}
	res, rep = verify("--deep")
	wantCode(t, res, 0)
	if rep.Equal != 4 {
		t.Fatalf("--deep: equal %d, want 4\n%s", rep.Equal, res.stdout)
	}
	// Bytes changed behind the destination's back: its ETag still vouches
	// for the old ones, so only --deep can tell.
	p := m.dst.ObjectPath("cloud", "copy/a.txt")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[10] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	res, rep = verify("--deep")
	wantCode(t, res, 1)
	if rep.Equal != 3 || rep.Counts["blake3_differs"] != 1 {
		t.Fatalf("--deep after corruption: equal %d, counts %v\n%s", rep.Equal, rep.Counts, res.stdout)
	}
}

// TestS3SourceUsageErrors: source flags that cannot apply are refused
// with one line and exit 2, before anything is contacted.
func TestS3SourceUsageErrors(t *testing.T) {
	src := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"copy", src, "s3://bucket/p", "--source-profile", "onprem"}, "--source-profile applies to an s3:// SRC only"},
		{[]string{"verify", src, "s3://bucket/p", "--source-endpoint-url", "http://127.0.0.1:1"}, "--source-endpoint-url applies to an s3:// SRC only"},
		{[]string{"sync", "s3://a/p", "s3://bucket/p", "--watch"}, "--watch follows a local folder"},
		{[]string{"copy", "s3://bucket/p", src, "--source-region", "eu-west-1"}, "--source-region applies to uploads only"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := airlift(t, nil, c.args...)
			if r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Fatalf("exit %d, want 2 and one line:\n%s", r.code, r.stderr)
			}
			mustContain(t, "stderr", r.stderr, c.want)
		})
	}
}
