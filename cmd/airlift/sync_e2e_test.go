package main

// End-to-end tests of `airlift sync` and `airlift status` against
// versitygw. The bucket's content is checked from the server's backing
// files, never from airlift's own report.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/airlift-io/airlift/internal/s3test"
)

// syncEnv is one source folder, one bucket prefix and one state dir.
type syncEnv struct {
	t      *testing.T
	srv    *s3test.Server
	src    string
	state  string
	bucket string
	prefix string
}

func newSyncEnv(t *testing.T, files map[string]int) *syncEnv {
	t.Helper()
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "sync")
	return &syncEnv{t: t, srv: srv, src: tree(t, files), state: t.TempDir(), bucket: "sync", prefix: "data"}
}

func (e *syncEnv) dst() string { return "s3://" + e.bucket + "/" + e.prefix }

// sync runs `airlift sync SRC DST --state-dir DIR args...`.
func (e *syncEnv) sync(args ...string) result {
	e.t.Helper()
	return airlift(e.t, e.srv, append([]string{"sync", e.src, e.dst(), "--state-dir", e.state}, args...)...)
}

// report runs sync with --json and decodes the report.
func (e *syncEnv) report(args ...string) (result, map[string]any) {
	e.t.Helper()
	r := e.sync(append(args, "--json")...)
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		e.t.Fatalf("sync --json printed no report (exit %d): %v\nstdout: %s\nstderr: %s", r.code, err, r.stdout, r.stderr)
	}
	return r, m
}

// remote reads the objects under the prefix from the server's backing
// files: key below the prefix -> content.
func (e *syncEnv) remote() map[string]string {
	e.t.Helper()
	root := e.srv.ObjectPath(e.bucket, e.prefix)
	out := map[string]string{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".sgw") || rel == ".airlift") {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, _ := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	return out
}

// local reads the source the same way.
func (e *syncEnv) local() map[string]string {
	out := map[string]string{}
	filepath.WalkDir(e.src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(e.src, p)
		b, _ := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	return out
}

// mirrored asserts that the bucket holds exactly the source.
func (e *syncEnv) mirrored(when string) {
	e.t.Helper()
	want, got := e.local(), e.remote()
	for k, v := range want {
		if g, ok := got[k]; !ok {
			e.t.Errorf("%s: %s missing from the bucket", when, k)
		} else if g != v {
			e.t.Errorf("%s: %s differs in the bucket (%d vs %d bytes)", when, k, len(g), len(v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			e.t.Errorf("%s: %s is in the bucket but not in the source", when, k)
		}
	}
}

func (e *syncEnv) write(rel, content string) {
	e.t.Helper()
	p := filepath.Join(e.src, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func num(m map[string]any, k string) int {
	f, _ := m[k].(float64)
	return int(f)
}

func TestSyncLifecycle(t *testing.T) {
	e := newSyncEnv(t, map[string]int{"a.bin": 1000, "b/c.bin": 2000, "b/d/e.bin": 300, "z.txt": 10})

	r := e.sync()
	if r.code != 0 {
		t.Fatalf("first sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	mustContain(t, "stdout", r.stdout, "4 uploaded")
	e.mirrored("after the first sync")

	// Nothing changed: no output, nothing uploaded or deleted.
	r = e.sync("--delete")
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("no-change sync: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	_, m := e.report("--delete")
	if num(m, "uploaded") != 0 || num(m, "deleted") != 0 || num(m, "skipped") != 4 {
		t.Fatalf("no-change sync report: %v", m)
	}

	// Create and modify (new size).
	e.write("new/f.txt", "fresh")
	e.write("a.bin", strings.Repeat("x", 1500))
	_, m = e.report()
	if num(m, "uploaded") != 2 || num(m, "new") != 1 || num(m, "changed") != 1 {
		t.Fatalf("create+modify report: %v", m)
	}
	e.mirrored("after create and modify")

	// Same size, mtime put back: caught (the ctime moved), and with
	// --checksum by content.
	p := filepath.Join(e.src, "b", "c.bin")
	fi, _ := os.Stat(p)
	old, _ := os.ReadFile(p)
	edited := bytes.Clone(old)
	edited[0] ^= 0xff
	if err := os.WriteFile(p, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
	_, m = e.report("--checksum")
	if num(m, "uploaded") != 1 {
		t.Fatalf("same-size edit with mtime restored, --checksum: %v", m)
	}
	e.mirrored("after a same-size edit")

	// A touch with the same bytes is hashed, not uploaded.
	now := time.Now()
	os.Chtimes(filepath.Join(e.src, "z.txt"), now, now)
	_, m = e.report()
	if num(m, "uploaded") != 0 {
		t.Fatalf("touch re-uploaded: %v", m)
	}

	// Rename and delete: without --delete the old keys stay.
	if err := os.Rename(filepath.Join(e.src, "b", "d", "e.bin"), filepath.Join(e.src, "b", "d", "renamed.bin")); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(e.src, "z.txt"))
	_, m = e.report()
	if num(m, "uploaded") != 1 || num(m, "deleted") != 0 || num(m, "delete_pending") != 2 {
		t.Fatalf("rename without --delete: %v", m)
	}
	if _, ok := e.remote()["z.txt"]; !ok {
		t.Fatal("z.txt deleted without --delete")
	}

	// --dry-run prints exactly what would be deleted, and deletes nothing.
	r = e.sync("--delete", "--dry-run")
	if r.code != 0 {
		t.Fatalf("dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	mustContain(t, "dry-run stdout", r.stdout, "would delete s3://sync/data/b/d/e.bin")
	mustContain(t, "dry-run stdout", r.stdout, "would delete s3://sync/data/z.txt")
	if strings.Contains(r.stdout, "would upload") {
		t.Errorf("dry run would upload something:\n%s", r.stdout)
	}
	if _, ok := e.remote()["z.txt"]; !ok {
		t.Fatal("dry run deleted z.txt")
	}

	_, m = e.report("--delete")
	if num(m, "deleted") != 2 {
		t.Fatalf("--delete: %v", m)
	}
	e.mirrored("after rename and delete with --delete")

	// status: one new file pending.
	e.write("late.txt", "late")
	st := airlift(t, e.srv, "status", e.dst(), "--source", e.src, "--state-dir", e.state, "--json")
	var sm map[string]any
	if err := json.Unmarshal([]byte(st.stdout), &sm); err != nil {
		t.Fatalf("status --json: %v\n%s%s", err, st.stdout, st.stderr)
	}
	if num(sm, "pending_files") != 1 || num(sm, "pending_bytes") != 4 || sm["last_success"] == nil {
		t.Fatalf("status: %v", sm)
	}
	st = e.sync("--status")
	mustContain(t, "sync --status", st.stdout, "pending:      1 files")
}

func TestSyncNeverDeletesAfterAFailure(t *testing.T) {
	files := map[string]int{"keep.txt": 10, "sub/a.txt": 20, "sub/b.txt": 30, "other/c.txt": 40}
	e := newSyncEnv(t, files)
	if r := e.sync(); r.code != 0 {
		t.Fatalf("first sync: exit %d\n%s", r.code, r.stderr)
	}

	t.Run("unreadable subtree", func(t *testing.T) {
		sub := filepath.Join(e.src, "sub")
		if err := os.Chmod(sub, 0); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(sub, 0o755)
		os.Remove(filepath.Join(e.src, "other", "c.txt")) // a real deletion that must wait too
		var wrap []string
		if os.Geteuid() == 0 {
			// root reads a mode-000 folder anyway; drop the
			// capabilities that let it.
			sp, err := exec.LookPath("setpriv")
			if err != nil {
				t.Skip("running as root without setpriv: cannot make a folder unreadable")
			}
			wrap = []string{sp, "--bounding-set=-dac_read_search,-dac_override"}
		}
		r := runWrapped(t, e.srv, wrap, "sync", e.src, e.dst(), "--state-dir", e.state, "--delete", "--force")
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
		}
		mustContain(t, "stderr", r.stderr, "deleted nothing")
		mustContain(t, "stderr", r.stderr, "could not be read")
		got := e.remote()
		for _, k := range []string{"sub/a.txt", "sub/b.txt", "other/c.txt"} {
			if _, ok := got[k]; !ok {
				t.Errorf("%s was deleted after a failed walk", k)
			}
		}
	})

	t.Run("failed upload", func(t *testing.T) {
		p := filepath.Join(e.src, "keep.txt")
		if err := os.Chmod(p, 0); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(p, 0o644)
		var wrap []string
		if os.Geteuid() == 0 {
			sp, err := exec.LookPath("setpriv")
			if err != nil {
				t.Skip("running as root without setpriv: cannot make a file unreadable")
			}
			wrap = []string{sp, "--bounding-set=-dac_read_search,-dac_override"}
		}
		r := runWrapped(t, e.srv, wrap, "sync", e.src, e.dst(), "--state-dir", e.state, "--delete", "--force")
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
		}
		mustContain(t, "stderr", r.stderr, "failed: "+p)
		mustContain(t, "stderr", r.stderr, "deleted nothing (1 pending): 1 upload(s) failed")
		if _, ok := e.remote()["other/c.txt"]; !ok {
			t.Error("other/c.txt was deleted by a run whose upload failed")
		}
	})

	t.Run("empty source root", func(t *testing.T) {
		empty := t.TempDir()
		r := airlift(t, e.srv, "sync", empty, e.dst(), "--state-dir", e.state, "--delete", "--force")
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
		}
		mustContain(t, "stderr", r.stderr, "the source root is empty")
		if len(e.remote()) != 4 {
			t.Fatalf("objects deleted: %v", e.remote())
		}
	})

	t.Run("vanished source root", func(t *testing.T) {
		gone := filepath.Join(t.TempDir(), "unmounted")
		r := airlift(t, e.srv, "sync", gone, e.dst(), "--state-dir", e.state, "--delete", "--force")
		if r.code == 0 {
			t.Fatalf("exit 0 for a missing source\n%s%s", r.stdout, r.stderr)
		}
		mustContain(t, "stderr", r.stderr, "source root is missing")
		if len(e.remote()) != 4 {
			t.Fatalf("objects deleted: %v", e.remote())
		}
	})

	t.Run("more than half without --force", func(t *testing.T) {
		os.Remove(filepath.Join(e.src, "sub", "a.txt"))
		os.Remove(filepath.Join(e.src, "sub", "b.txt"))
		// other/c.txt is gone too: 3 of 4 tracked.
		r := e.sync("--delete")
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
		}
		mustContain(t, "stderr", r.stderr, "over half of the 4 tracked objects")
		r = e.sync("--delete", "--max-delete", "2")
		mustContain(t, "stderr", r.stderr, "exceed --max-delete 2")
		if len(e.remote()) != 4 {
			t.Fatalf("objects deleted: %v", e.remote())
		}
		if r := e.sync("--delete", "--max-delete", "75%"); r.code != 0 {
			t.Fatalf("--max-delete 75%%: exit %d\n%s", r.code, r.stderr)
		}
		e.mirrored("after the allowed deletion")
	})
}

// runWrapped runs airlift under a wrapper command (e.g. setpriv).
func runWrapped(t *testing.T, srv *s3test.Server, wrap []string, args ...string) result {
	t.Helper()
	args = append(args, "--endpoint-url", srv.URL)
	argv := append(append([]string{}, wrap...), airliftBin)
	argv = append(argv, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = srv.Env()
	return runCmd(t, cmd)
}

func TestSyncAdoptsExistingObjects(t *testing.T) {
	e := newSyncEnv(t, map[string]int{"with-meta.bin": 5000, "no-meta.bin": 6000, "differs.bin": 700})
	// Fill the prefix by another path: the aws CLI, with and without the
	// blake3 metadata airlift writes.
	put := func(rel string, meta bool, body string) {
		t.Helper()
		f := filepath.Join(t.TempDir(), "body")
		os.WriteFile(f, []byte(body), 0o644)
		args := []string{"s3api", "put-object", "--endpoint-url", e.srv.URL, "--bucket", e.bucket, "--key", e.prefix + "/" + rel, "--body", f}
		if meta {
			sum := s3test.B3Sum(t, filepath.Join(e.src, rel))
			args = append(args, "--metadata", "blake3="+sum)
		}
		cmd := exec.Command("aws", args...)
		cmd.Env = e.srv.Env()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("aws put-object: %v\n%s", err, out)
		}
	}
	l := e.local()
	put("with-meta.bin", true, l["with-meta.bin"])
	put("no-meta.bin", false, l["no-meta.bin"])
	wrong := []byte(l["differs.bin"])
	wrong[0] ^= 1
	put("differs.bin", false, string(wrong))

	_, m := e.report("--adopt=deep", "--dry-run")
	if num(m, "adopted") != 2 || num(m, "uploaded") != 1 {
		t.Fatalf("dry-run adoption: %v", m)
	}
	_, m = e.report()
	if num(m, "adopted") != 1 || num(m, "uploaded") != 2 {
		t.Fatalf("adoption by stored BLAKE3: %v", m)
	}
	e.mirrored("after adoption")
	_, m = e.report()
	if num(m, "uploaded") != 0 {
		t.Fatalf("second sync after adoption uploaded: %v", m)
	}
}

func TestSyncReconcileRepairsDrift(t *testing.T) {
	e := newSyncEnv(t, map[string]int{"a.txt": 100, "b.txt": 200, "c.txt": 300})
	if r := e.sync(); r.code != 0 {
		t.Fatalf("first sync: exit %d\n%s", r.code, r.stderr)
	}
	// Behind airlift's back: one object deleted, one overwritten.
	os.Remove(e.srv.ObjectPath(e.bucket, e.prefix+"/a.txt"))
	cmd := exec.Command("aws", "s3api", "put-object", "--endpoint-url", e.srv.URL, "--bucket", e.bucket, "--key", e.prefix+"/b.txt", "--body", "/etc/hostname")
	cmd.Env = e.srv.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	_, m := e.report()
	if num(m, "uploaded") != 0 {
		t.Fatalf("plain sync made requests per object: %v", m)
	}
	_, m = e.report("--reconcile")
	if num(m, "drift_repaired") != 2 || num(m, "uploaded") != 2 {
		t.Fatalf("--reconcile: %v", m)
	}
	e.mirrored("after --reconcile")
}

// startWatch runs `airlift sync --watch` in the background.
func (e *syncEnv) startWatch(args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	e.t.Helper()
	argv := append([]string{"sync", e.src, e.dst(), "--state-dir", e.state, "--watch", "--endpoint-url", e.srv.URL}, args...)
	cmd := exec.Command(airliftBin, argv...)
	cmd.Env = e.srv.Env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, &out, &errb
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSyncWatch(t *testing.T) {
	e := newSyncEnv(t, map[string]int{"seed.txt": 10})
	port := freeTCPPort(t)
	cmd, out, errb := e.startWatch("--debounce", "700ms", "--interval", "1m", "--metrics-addr", fmt.Sprintf("127.0.0.1:%d", port))
	waitFor(t, "the first pass", 30*time.Second, func() bool { _, ok := e.remote()["seed.txt"]; return ok })

	// A second sync of the same destination exits 0 and names the
	// watcher; with --fail-if-locked it fails.
	r := e.sync()
	if r.code != 0 {
		t.Fatalf("sync while watching: exit %d\n%s", r.code, r.stderr)
	}
	mustContain(t, "stderr", r.stderr, fmt.Sprintf("another sync is running, pid %d", cmd.Process.Pid))
	if r := e.sync("--fail-if-locked"); r.code != 1 {
		t.Fatalf("--fail-if-locked: exit %d", r.code)
	}

	// A new file appears within a few seconds.
	start := time.Now()
	e.write("new/one.txt", "hello")
	waitFor(t, "new/one.txt", 10*time.Second, func() bool { return e.remote()["new/one.txt"] == "hello" })
	t.Logf("new file in the bucket after %s", time.Since(start).Round(time.Millisecond))

	// Metrics (the pass that sent the file may still be finishing).
	var body string
	waitFor(t, "the metrics to count 2 files", 10*time.Second, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		return strings.Contains(body, "airlift_sync_uploaded_files_total 2\n")
	})
	for _, m := range []string{"airlift_sync_uploaded_bytes_total", "airlift_sync_pending_files", "airlift_sync_pending_bytes",
		"airlift_sync_failures_total", "airlift_sync_last_success_timestamp_seconds", "airlift_sync_replication_lag_seconds"} {
		mustContain(t, "metrics", body, m)
	}

	// status while the watcher holds the store: from its last pass.
	st := airlift(t, e.srv, "status", e.dst(), "--state-dir", e.state)
	mustContain(t, "status", st.stdout, fmt.Sprintf("a sync is running (pid %d)", cmd.Process.Pid))

	// SIGTERM: a clean exit.
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("watch after SIGTERM: %v\nstdout: %s\nstderr: %s", err, out, errb)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("watch did not exit within 15s of SIGTERM")
	}
	e.mirrored("after the watch")
}

// A file written slowly, with rescans every 300ms while it grows, is
// uploaded only once it has settled, whole.
func TestSyncWatchWaitsForFilesToSettle(t *testing.T) {
	e := newSyncEnv(t, map[string]int{"seed.txt": 10})
	cmd, out, errb := e.startWatch("--debounce", "700ms", "--interval", "300ms")
	waitFor(t, "the first pass", 30*time.Second, func() bool { _, ok := e.remote()["seed.txt"]; return ok })
	// A file written slowly is never uploaded half-written.
	p := filepath.Join(e.src, "slow.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("0123456789abcdef", 4096)
	chunk := len(want) / 8
	for i := 0; i < 8; i++ {
		f.WriteString(want[i*chunk : (i+1)*chunk])
		time.Sleep(250 * time.Millisecond)
		if got, ok := e.remote()["slow.bin"]; ok {
			t.Fatalf("slow.bin uploaded while being written (%d of %d bytes)", len(got), len(want))
		}
	}
	f.Close()
	waitFor(t, "slow.bin", 10*time.Second, func() bool { _, ok := e.remote()["slow.bin"]; return ok })
	if got := e.remote()["slow.bin"]; got != want {
		t.Fatalf("slow.bin in the bucket has %d bytes, want %d", len(got), len(want))
	}

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("watch after SIGTERM: %v\nstdout: %s\nstderr: %s", err, out, errb)
	}
}

// Two one-shot syncs at once: one runs, the other exits 0 saying so (or
// also runs, if the first was already done); the bucket ends correct.
func TestSyncConcurrentRuns(t *testing.T) {
	files := map[string]int{}
	for i := 0; i < 200; i++ {
		files[fmt.Sprintf("d%d/f%03d", i%5, i)] = 2000
	}
	e := newSyncEnv(t, files)
	res := make(chan result, 2)
	for i := 0; i < 2; i++ {
		go func() { res <- e.sync() }()
	}
	a, b := <-res, <-res
	for _, r := range []result{a, b} {
		if r.code != 0 {
			t.Fatalf("concurrent sync: exit %d\n%s", r.code, r.stderr)
		}
	}
	locked := strings.Contains(a.stderr+b.stderr, "another sync is running, pid ")
	t.Logf("second run found the lock: %v", locked)
	e.mirrored("after two concurrent syncs")
}

func freeTCPPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// SIGTERM during a one-shot sync: no new file is started, the ones in
// flight finish, nothing is deleted, the exit code says interrupted, and
// the next run completes the job.
func TestSyncSIGTERMFinishesInFlightFiles(t *testing.T) {
	files := map[string]int{"gone.txt": 10}
	for i := 0; i < 12; i++ {
		files[fmt.Sprintf("f%02d.bin", i)] = 512 << 10
	}
	e := newSyncEnv(t, files)
	if r := e.sync("--exclude", "*", "--include", "gone.txt"); r.code != 0 {
		t.Fatalf("seed: exit %d\n%s", r.code, r.stderr)
	}
	os.Remove(filepath.Join(e.src, "gone.txt"))
	cmd := exec.Command(airliftBin, "sync", e.src, e.dst(), "--state-dir", e.state, "--endpoint-url", e.srv.URL,
		"--delete", "--force", "--concurrency", "2", "--bwlimit", "1MiB/s")
	cmd.Env = e.srv.Env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	start := time.Now()
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130\n%s%s", err, out.String(), errb.String())
	}
	t.Logf("exited %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	mustContain(t, "stderr", errb.String(), "interrupted")
	got := e.remote()
	if _, ok := got["gone.txt"]; !ok {
		t.Fatal("an interrupted run deleted gone.txt")
	}
	l := e.local()
	n := 0
	for k, v := range got {
		if k == "gone.txt" {
			continue
		}
		if v != l[k] {
			t.Fatalf("%s in the bucket is not the whole file (%d of %d bytes)", k, len(v), len(l[k]))
		}
		n++
	}
	if n == 0 || n == 12 {
		t.Fatalf("%d of 12 files in the bucket after SIGTERM: want some, not all", n)
	}
	if r := e.sync("--delete", "--force"); r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", r.code, r.stderr)
	}
	e.mirrored("after the rerun")
}

func TestSyncUsageErrors(t *testing.T) {
	src := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sync", src, "s3://bucket/p", "--max-delete", "lots"}, "--max-delete"},
		{[]string{"sync", src, "s3://bucket/p", "--max-delete", "150%"}, "--max-delete"},
		{[]string{"sync", src, "s3://bucket/p", "--adopt", "maybe"}, "--adopt"},
		{[]string{"sync", src, "s3://bucket/p", "--watch", "--dry-run"}, "cannot be combined"},
		{[]string{"sync", src, "s3://bucket/p", "--metrics-addr", "127.0.0.1:1"}, "needs --watch"},
		{[]string{"sync", "s3://bucket/p", src}, "DST: "}, // an s3:// SRC needs an s3:// DST
		{[]string{"sync", src, "/not/s3"}, "not an s3:// URL"},
		{[]string{"status", "s3://bucket/p", "--state-dir", t.TempDir()}, "give --source"},
	} {
		t.Run(strings.Join(c.args[min(3, len(c.args)-1):], " "), func(t *testing.T) {
			r := airlift(t, nil, c.args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\n%s", r.code, r.stderr)
			}
			mustContain(t, "stderr", r.stderr, c.want)
			if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
				t.Errorf("error is %d lines:\n%s", n+1, r.stderr)
			}
		})
	}
}

// A run with nothing changed makes no request per object: through a
// counting proxy, the only request is the HeadBucket that checks the
// credentials up front; status makes none.
func TestSyncNoChangeMakesNoRequestPerObject(t *testing.T) {
	files := map[string]int{}
	for i := 0; i < 50; i++ {
		files[fmt.Sprintf("d%d/f%02d", i%3, i)] = 100
	}
	e := newSyncEnv(t, files)
	reqs, proxyURL := countingProxy(t, e.srv.URL)
	run := func(args ...string) result {
		t.Helper()
		r := airliftEnv(t, nil, e.srv.Env(), append(args, "--endpoint-url", proxyURL)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
		return r
	}
	run("sync", e.src, e.dst(), "--state-dir", e.state)
	before := len(reqs())
	if r := run("sync", e.src, e.dst(), "--state-dir", e.state, "--delete"); r.stdout != "" {
		t.Fatalf("no-change sync printed %q", r.stdout)
	}
	if got := reqs()[before:]; fmt.Sprint(got) != "[HEAD /sync]" {
		t.Fatalf("no-change sync made requests %v, want only [HEAD /sync]", got)
	}
	before = len(reqs())
	run("status", e.dst(), "--source", e.src, "--state-dir", e.state)
	if got := reqs()[before:]; len(got) != 0 {
		t.Fatalf("status made requests %v", got)
	}
}

// countingProxy forwards to target and records each request's method and
// path.
func countingProxy(t *testing.T, target string) (func() []string, string) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}, srv.URL
}

// copy, then sync with a fresh state: every object is adopted from what
// copy stored (metadata for the small file, the tag for the multipart
// one), nothing is uploaded again.
func TestSyncAdoptsWhatCopyWrote(t *testing.T) {
	e := newSyncEnv(t, map[string]int{"small.bin": 3000, "big/multi.bin": 9 << 20})
	r := airliftEnv(t, e.srv, []string{"XDG_STATE_HOME=" + t.TempDir()}, "copy", e.src, e.dst(), "-q")
	if r.code != 0 {
		t.Fatalf("copy: exit %d\n%s", r.code, r.stderr)
	}
	_, m := e.report()
	if num(m, "adopted") != 2 || num(m, "uploaded") != 0 {
		t.Fatalf("sync after copy: %v", m)
	}
	_, m = e.report("--reconcile")
	if num(m, "uploaded") != 0 || num(m, "drift_repaired") != 0 {
		t.Fatalf("--reconcile after adoption found drift: %v", m)
	}
}

// A sync killed in the middle of a multipart file continues it on the
// next run (the store is the engine's journal) and leaves no upload open.
func TestSyncResumesAfterSIGKILL(t *testing.T) {
	e := newSyncEnv(t, map[string]int{"big.bin": 20 << 20, "small.txt": 100})
	// Killed on the proxy's byte count, once a part of big.bin is on its
	// way (more than the first part's worth forwarded), not after a
	// fixed time that may or may not fall inside the upload.
	px := newFaultProxy(t, e.srv.URL)
	var cmd *exec.Cmd
	var mu sync.Mutex
	var once sync.Once
	killed := make(chan struct{})
	mu.Lock()
	px.set(nil, func(total int64) {
		if total > 6<<20 {
			once.Do(func() {
				mu.Lock()
				_ = cmd.Process.Kill()
				mu.Unlock()
				close(killed)
			})
		}
	})
	cmd = exec.Command(airliftBin, "sync", e.src, e.dst(), "--state-dir", e.state, "--endpoint-url", px.URL, "--bwlimit", "4MiB/s")
	cmd.Env = e.srv.Env()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	mu.Unlock()
	_ = cmd.Wait()
	select {
	case <-killed:
	default:
		t.Fatal("the first sync ended before the proxy saw a part of big.bin")
	}
	if n := syncOpenUploads(t, e); n != 1 {
		t.Fatalf("%d multipart uploads open after SIGKILL, want big.bin's", n)
	}
	// The rerun goes through the same endpoint (the proxy, now passing
	// everything): the state store, and so the journal that owns the
	// open upload, belongs to the endpoint.
	px.set(nil, nil)
	rerun := exec.Command(airliftBin, "sync", e.src, e.dst(), "--state-dir", e.state, "--endpoint-url", px.URL)
	rerun.Env = e.srv.Env()
	if r := runCmd(t, rerun); r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", r.code, r.stderr)
	}
	e.mirrored("after SIGKILL and a rerun")
	if n := syncOpenUploads(t, e); n != 0 {
		t.Fatalf("%d uploads left open", n)
	}
	ls := exec.Command("aws", "s3api", "list-multipart-uploads", "--endpoint-url", e.srv.URL, "--bucket", e.bucket, "--output", "json")
	ls.Env = e.srv.Env()
	out, err := ls.CombinedOutput()
	if err != nil {
		t.Fatalf("list-multipart-uploads: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "UploadId") {
		t.Fatalf("uploads left open:\n%s", out)
	}
	if _, m := e.report(); num(m, "uploaded") != 0 {
		t.Fatalf("third run uploaded again: %v", m)
	}
}

func syncOpenUploads(t *testing.T, e *syncEnv) int {
	t.Helper()
	out, err := e.srv.Client(t).S3.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(e.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

// A CreateMultipartUpload whose response is lost is retried; the upload
// the first attempt created belongs to nobody, and sync (like copy)
// aborts it: a sync never leaves a billed upload behind. The engine sees
// the retry through the client's retry counter, which sync's passes did
// not hand it.
func TestSyncAbortsTheUploadOfALostCreateResponse(t *testing.T) {
	e := newSyncEnv(t, map[string]int{"big.bin": 12 << 20})
	px := newFaultProxy(t, e.srv.URL)
	px.set(func(op s3op, n int, _ *http.Request) *fault {
		if op == opCreate && n == 0 {
			return &fault{kind: faultTruncate} // created on the server, answer cut off
		}
		return nil
	}, nil)
	cmd := exec.Command(airliftBin, "sync", e.src, e.dst(), "--state-dir", e.state, "--endpoint-url", px.URL, "--part-size", "5MiB")
	cmd.Env = e.srv.Env()
	if r := runCmd(t, cmd); r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if px.injected.Load() == 0 {
		t.Fatal("no Create response was cut")
	}
	e.mirrored("after a lost Create response")
	if n := syncOpenUploads(t, e); n != 0 {
		t.Fatalf("%d multipart uploads left open", n)
	}
}
