package main

// Crash safety and fault injection: the airlift binary talks to versitygw
// through faultProxy. Every case ends with the same checks, made without
// trusting airlift: the exit code, each object byte-identical to its source
// in the server's backing directory, no multipart upload left open (aws
// CLI), and the bytes a resumed run sends again (counted at the proxy).

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"net/http"
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
	"github.com/airlift-io/airlift/internal/state"
)

const partSize = 5 << 20

// faultTree is the dataset of every case: many small files and a few
// multipart ones (3 and 2 parts of 5 MiB).
func faultTree(t *testing.T) (root string, size, small int64) {
	files := map[string]int{"big/a.bin": 12<<20 + 123, "big/b.bin": 6<<20 + 7}
	for i := 0; i < 24; i++ {
		n := 1<<10 + i*2500
		files[fmt.Sprintf("small/f%02d.bin", i)] = n
		small += int64(n)
	}
	for _, n := range files {
		size += int64(n)
	}
	return tree(t, files), size, small
}

// rig is one server, one proxy in front of it, one bucket.
type rig struct {
	srv    *s3test.Server
	s3     *s3.Client // straight to the server, for listing uploads
	px     *faultProxy
	bucket string
	state  string
}

// newRig starts the server and proxy; when the test ends, the aws CLI
// confirms that no multipart upload is left open in the bucket.
func newRig(t *testing.T) *rig {
	srv := s3test.Start(t, s3test.Options{})
	r := &rig{srv: srv, s3: srv.Client(t).S3, px: newFaultProxy(t, srv.URL), bucket: "faults", state: t.TempDir()}
	srv.CreateBucket(t, r.bucket)
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		out := srv.AWS(t, "s3api", "list-multipart-uploads", "--bucket", r.bucket, "--output", "json")
		if strings.Contains(out, "UploadId") {
			t.Errorf("aws s3api list-multipart-uploads: uploads left open:\n%s", out)
		}
	})
	return r
}

// run is one airlift process. kill, when set, receives a function that
// SIGKILLs it, to call from a proxy hook.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	mu             sync.Mutex
	killed         bool
}

func (r *rig) start(t *testing.T, args ...string) *proc {
	t.Helper()
	// Defaults right after the command name, so that args can override them.
	args = append([]string{args[0], "--endpoint-url", r.px.URL, "--state-dir", r.state, "--io-timeout", "2s"}, args[1:]...)
	ru := &proc{cmd: exec.Command(airliftBin, args...)}
	ru.cmd.Env = r.srv.Env()
	ru.cmd.Stdout, ru.cmd.Stderr = &ru.stdout, &ru.stderr
	if err := ru.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return ru
}

func (ru *proc) kill() {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	if !ru.killed {
		ru.killed = true
		_ = ru.cmd.Process.Signal(syscall.SIGKILL)
	}
}

func (ru *proc) wait(t *testing.T) result {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- ru.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		ru.kill()
		<-done
		t.Fatalf("airlift hung; stderr:\n%s", ru.stderr.String())
	}
	code := ru.cmd.ProcessState.ExitCode()
	if ws, ok := ru.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = -int(ws.Signal())
	}
	return result{code: code, stdout: ru.stdout.String(), stderr: ru.stderr.String()}
}

func (r *rig) copy(t *testing.T, src, prefix string, extra ...string) result {
	t.Helper()
	return r.start(t, r.copyArgs(src, prefix, extra...)...).wait(t)
}

func (r *rig) copyArgs(src, prefix string, extra ...string) []string {
	return append([]string{"copy", src, "s3://" + r.bucket + "/" + prefix, "--part-size", "5MiB",
		"--concurrency", "8", "--part-concurrency", "4", "--max-attempts", "6", "--quiet"}, extra...)
}

// check asserts the pass condition: objects identical to the source (read
// from the server's own files) and no multipart upload open.
func (r *rig) check(t *testing.T, src, prefix string) {
	t.Helper()
	sameTree(t, src, r.srv.ObjectPath(r.bucket, prefix))
	r.noOpenUploads(t, prefix)
}

func (r *rig) noOpenUploads(t *testing.T, prefix string) {
	t.Helper()
	if n := r.openUploads(t, prefix); n != 0 {
		t.Errorf("%d multipart upload(s) left open under %s", n, prefix)
	}
}

func (r *rig) openUploads(t *testing.T, prefix string) int {
	t.Helper()
	out, err := r.s3.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(r.bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

func wantCode(t *testing.T, res result, code int) {
	t.Helper()
	if res.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", res.code, code, res.stdout, res.stderr)
	}
}

// TestFaultsRetried: transient faults are retried until every object is
// right; the run succeeds and leaves nothing open.
func TestFaultsRetried(t *testing.T) {
	r := newRig(t)
	src, size, _ := faultTree(t)
	rng := rand.New(rand.NewSource(7))
	var rngMu sync.Mutex
	frac := func(p float64) bool { rngMu.Lock(); defer rngMu.Unlock(); return rng.Float64() < p }
	isA := func(req *http.Request) bool { return strings.HasSuffix(req.URL.Path, "/big/a.bin") }
	cases := []struct {
		name   string
		decide func(op s3op, n int, req *http.Request) *fault
	}{
		{"reset at 0% of a part", func(op s3op, n int, _ *http.Request) *fault {
			if op == opPart && n == 0 {
				return &fault{kind: faultReset, at: 0}
			}
			return nil
		}},
		{"reset at 50% of a part", func(op s3op, n int, _ *http.Request) *fault {
			if op == opPart && n == 1 {
				return &fault{kind: faultReset, at: 0.5}
			}
			return nil
		}},
		{"reset at 99% of a part", func(op s3op, n int, _ *http.Request) *fault {
			if op == opPart && n == 2 {
				return &fault{kind: faultReset, at: 0.99}
			}
			return nil
		}},
		{"reset during CompleteMultipartUpload", func(op s3op, n int, _ *http.Request) *fault {
			if op == opComplete && n == 0 {
				return &fault{kind: faultReset, at: 0.5}
			}
			return nil
		}},
		{"CompleteMultipartUpload response lost after success", func(op s3op, n int, _ *http.Request) *fault {
			if op == opComplete && n == 0 {
				return &fault{kind: faultTruncate}
			}
			return nil
		}},
		{"503 SlowDown storm", func(op s3op, n int, _ *http.Request) *fault {
			if (op == opPut || op == opPart) && n < 8 {
				return &fault{kind: faultStatus, status: 503, code: "SlowDown"}
			}
			return nil
		}},
		{"500 on a fifth of requests", func(op s3op, n int, _ *http.Request) *fault {
			if op != opOther && frac(0.2) {
				return &fault{kind: faultStatus, status: 500, code: "InternalError"}
			}
			return nil
		}},
		{"400 RequestTimeout", func(op s3op, n int, _ *http.Request) *fault {
			if (op == opPart && n < 2) || (op == opPut && n%6 == 0 && n < 18) {
				return &fault{kind: faultStatus, status: 400, code: "RequestTimeout"}
			}
			return nil
		}},
		{"truncated response bodies", func(op s3op, n int, _ *http.Request) *fault {
			if (op == opCreate && n == 0) || (op == opComplete && n == 1) {
				return &fault{kind: faultTruncate}
			}
			return nil
		}},
		{"200 CompleteMultipartUpload with an error body", func(op s3op, n int, _ *http.Request) *fault {
			if op == opComplete && n < 2 {
				return &fault{kind: fault200Error}
			}
			return nil
		}},
		{"slow link", func(op s3op, n int, req *http.Request) *fault {
			if op == opPart && isA(req) {
				return &fault{kind: faultSlow, bps: 8 << 20}
			}
			return nil
		}},
		{"hung connection", func(op s3op, n int, _ *http.Request) *fault {
			if (op == opPart || op == opPut || op == opComplete) && n == 0 {
				return &fault{kind: faultHang}
			}
			return nil
		}},
	}
	for i, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			prefix := fmt.Sprintf("case%02d/", i)
			r.px.set(c.decide, nil)
			start := time.Now()
			res := r.copy(t, src, prefix)
			wantCode(t, res, 0)
			if r.px.injected.Load() == 0 {
				t.Fatal("no fault was injected")
			}
			r.check(t, src, prefix)
			if sent := r.px.sent.Load(); sent > 2*size {
				t.Errorf("sent %d bytes for a %d-byte dataset", sent, size)
			}
			t.Logf("%d faults, %d bytes sent for %d, %s", r.px.injected.Load(), r.px.sent.Load(), size, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestFaultsNotRetried: 403 stops the run at once and 404 fails its file,
// each after exactly one attempt.
func TestFaultsNotRetried(t *testing.T) {
	r := newRig(t)
	src, _, _ := faultTree(t)
	var mu sync.Mutex
	attempts := map[string]int{}
	t.Run("403_AccessDenied", func(t *testing.T) {
		r.px.set(func(op s3op, n int, req *http.Request) *fault {
			if op == opPut && strings.HasSuffix(req.URL.Path, "/small/f03.bin") {
				mu.Lock()
				attempts["403"]++
				mu.Unlock()
				return &fault{kind: faultStatus, status: 403, code: "AccessDenied"}
			}
			return nil
		}, nil)
		res := r.copy(t, src, "deny/")
		wantCode(t, res, 1)
		mustContain(t, "stderr", res.stderr, "access denied")
		if attempts["403"] != 1 {
			t.Errorf("the 403 request was tried %d times, want 1", attempts["403"])
		}
		// The run stopped; what it had started is the journal's to
		// continue: the next run completes it and leaves nothing open.
		r.px.set(nil, nil)
		wantCode(t, r.copy(t, src, "deny/"), 0)
		r.check(t, src, "deny/")
	})
	t.Run("Complete_acknowledged_but_no_object", func(t *testing.T) {
		// What versitygw does when a slow Complete is retried: 200, and
		// no object. The HEAD after Complete must catch it.
		r.px.set(func(op s3op, n int, req *http.Request) *fault {
			if op == opComplete && strings.HasSuffix(req.URL.Path, "/big/a.bin") {
				return &fault{kind: faultFakeComplete}
			}
			return nil
		}, nil)
		res := r.copy(t, src, "lost/")
		wantCode(t, res, 1)
		mustContain(t, "stderr", res.stderr, "big/a.bin")
		mustContain(t, "stderr", res.stderr, "not there")
		r.noOpenUploads(t, "lost/")
		r.px.set(nil, nil)
		wantCode(t, r.copy(t, src, "lost/"), 0)
		r.check(t, src, "lost/")
	})
	t.Run("404_NoSuchUpload", func(t *testing.T) {
		r.px.set(func(op s3op, n int, req *http.Request) *fault {
			if op == opPart && strings.HasSuffix(req.URL.Path, "/big/b.bin") {
				mu.Lock()
				attempts["404"]++
				mu.Unlock()
				return &fault{kind: faultStatus, status: 404, code: "NoSuchUpload"}
			}
			return nil
		}, nil)
		res := r.copy(t, src, "gone/")
		wantCode(t, res, 1)
		mustContain(t, "stderr", res.stderr, "big/b.bin")
		if attempts["404"] > 2 { // one per part in flight, none retried
			t.Errorf("404s were tried %d times", attempts["404"])
		}
		r.noOpenUploads(t, "gone/")
		r.px.set(nil, nil)
		wantCode(t, r.copy(t, src, "gone/"), 0)
		r.check(t, src, "gone/")
	})
}

// TestKillAndResume: SIGKILL at 20 or more seeded points (mid-body, at a
// request, between files), each followed by the same command again. The
// journal and ListParts let each resumed run send only what the server
// lacks; the proxy counts what is sent again.
func TestKillAndResume(t *testing.T) {
	r := newRig(t)
	src, size, small := faultTree(t)
	rng := rand.New(rand.NewSource(20261127))
	// What a resumed run may send again: the small files whose completion
	// the last journal batch had not committed, and the parts in flight.
	allowance := small + 4*partSize
	kills := 0
	for round := 0; kills < 20 && round < 12; round++ {
		prefix := fmt.Sprintf("kill%d/", round)
		var cum int64 // bytes sent so far in this round
		for attempt := 0; attempt < 5; attempt++ {
			var ru *proc
			var startMu sync.Mutex
			startMu.Lock()
			killNow := func() { startMu.Lock(); defer startMu.Unlock(); ru.kill() }
			var what string
			if left := size - cum; rng.Intn(10) < 7 && left > 1<<20 {
				at := rng.Int63n(left * 7 / 10)
				what = fmt.Sprintf("after %d bytes", at)
				r.px.set(nil, func(total int64) {
					if total >= at {
						killNow()
					}
				})
			} else {
				ops := []s3op{opCreate, opComplete, opPut, opPart}
				op := ops[rng.Intn(len(ops))]
				what = fmt.Sprintf("at the first %s", op)
				r.px.set(func(o s3op, n int, _ *http.Request) *fault {
					if o == op && n == 0 {
						killNow()
					}
					return nil
				}, nil)
			}
			ru = r.start(t, r.copyArgs(src, prefix)...)
			startMu.Unlock()
			res := ru.wait(t)
			cum += r.px.sent.Load()
			if attempt > 0 && r.px.resent.Load() > allowance {
				t.Errorf("round %d (kill %s): resumed run re-sent %d bytes the server already had (allowance %d)", round, what, r.px.resent.Load(), allowance)
			}
			if res.code == 0 {
				t.Logf("round %d: finished before the kill %s", round, what)
				break
			}
			if res.code != -int(syscall.SIGKILL) {
				t.Fatalf("round %d kill %s: exit %d\n%s", round, what, res.code, res.stderr)
			}
			kills++
			t.Logf("round %d: killed %s (%d bytes sent)", round, what, r.px.sent.Load())
		}
		r.px.set(nil, nil)
		res := r.copy(t, src, prefix)
		wantCode(t, res, 0)
		r.check(t, src, prefix)
		if got := r.px.resent.Load(); got > allowance {
			t.Errorf("round %d: final run re-sent %d bytes the server already had (allowance %d)", round, got, allowance)
		}
		if sent := r.px.sent.Load(); sent > size+allowance {
			t.Errorf("round %d: final run sent %d bytes for a %d-byte dataset", round, sent, size)
		}
		t.Logf("round %d: final run sent %d bytes (%d again); %s", round, r.px.sent.Load(), r.px.resent.Load(), strings.TrimSpace(res.stdout))
	}
	if kills < 20 {
		t.Errorf("only %d runs were killed, want at least 20", kills)
	}
}

// TestSourceChangesDuringUpload: a file that grows, shrinks or is
// rewritten while it is being read fails (never a mixed object), the rest
// are copied, nothing is left open, and the next run copies the new file.
func TestSourceChangesDuringUpload(t *testing.T) {
	r := newRig(t)
	for i, c := range []struct {
		name   string
		change func(p string) error
	}{
		{"grows", func(p string) error {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.Write(bytes.Repeat([]byte("x"), 1<<20))
			return err
		}},
		{"shrinks", func(p string) error { return os.Truncate(p, 7<<20) }},
		{"is rewritten", func(p string) error {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for i := range b {
				b[i] ^= 0xff
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				return err
			}
			later := time.Now().Add(time.Hour)
			return os.Chtimes(p, later, later)
		}},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			src, _, _ := faultTree(t)
			prefix := fmt.Sprintf("change%d/", i)
			var once sync.Once
			r.px.set(func(op s3op, n int, req *http.Request) *fault {
				if op == opPart && strings.HasSuffix(req.URL.Path, "/big/a.bin") {
					once.Do(func() {
						if err := c.change(filepath.Join(src, "big", "a.bin")); err != nil {
							t.Error(err)
						}
					})
				}
				return nil
			}, nil)
			res := r.copy(t, src, prefix, "--part-concurrency", "1")
			wantCode(t, res, 1)
			mustContain(t, "stderr", res.stderr, "big/a.bin")
			mustContain(t, "stderr", res.stderr, "changed")
			if _, err := os.Stat(r.srv.ObjectPath(r.bucket, prefix+"big/a.bin")); err == nil {
				t.Error("an object was completed from a file that changed while being read")
			}
			r.noOpenUploads(t, prefix)
			r.px.set(nil, nil)
			wantCode(t, r.copy(t, src, prefix), 0)
			r.check(t, src, prefix)
		})
	}
}

// TestChangedSinceInterruptedRun: the file changed between the killed run
// and the resume: the stale upload is aborted, the user told, the new
// content copied.
func TestChangedSinceInterruptedRun(t *testing.T) {
	r := newRig(t)
	src, _, _ := faultTree(t)
	var ru *proc
	var mu sync.Mutex
	mu.Lock()
	var killed bool
	r.px.set(func(op s3op, n int, req *http.Request) *fault {
		// Kill on a part of a.bin itself: a part of b.bin may come first,
		// and then a.bin would have no upload to find stale.
		if op == opPart && strings.Contains(req.URL.Path, "big/a.bin") {
			mu.Lock()
			if !killed {
				killed = true
				ru.kill()
			}
			mu.Unlock()
		}
		return nil
	}, nil)
	ru = r.start(t, r.copyArgs(src, "stale/")...)
	mu.Unlock()
	if res := ru.wait(t); res.code != -int(syscall.SIGKILL) {
		t.Fatalf("not killed: %d %s", res.code, res.stderr)
	}
	if r.openUploads(t, "stale/") == 0 {
		t.Fatal("the killed run left no upload to resume")
	}
	p := filepath.Join(src, "big", "a.bin")
	if err := os.WriteFile(p, bytes.Repeat([]byte("new"), 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	r.px.set(nil, nil)
	res := r.copy(t, src, "stale/")
	wantCode(t, res, 0)
	mustContain(t, "stderr", res.stderr, "changed since the interrupted run")
	r.check(t, src, "stale/")
}

// TestInterruptKeepsUploads: SIGINT mid-transfer exits 130 within a few
// seconds, says how to resume, and keeps the uploads; the next run sends
// only the parts the server lacks. Parts after the first crawl, so that
// they are cut off when the grace period ends.
func TestInterruptKeepsUploads(t *testing.T) {
	r := newRig(t)
	src, size, small := faultTree(t)
	var ru *proc
	var mu sync.Mutex
	var once sync.Once
	sent := make(chan time.Time, 1)
	mu.Lock()
	r.px.set(func(op s3op, n int, req *http.Request) *fault {
		if op == opPart && req.URL.Query().Get("partNumber") != "1" {
			return &fault{kind: faultSlow, bps: 128 << 10} // 1 MiB takes 8 s: longer than the grace
		}
		return nil
	}, func(total int64) {
		if total > 10<<20 {
			once.Do(func() {
				time.AfterFunc(time.Second, func() {
					mu.Lock()
					_ = ru.cmd.Process.Signal(os.Interrupt)
					mu.Unlock()
					sent <- time.Now()
				})
			})
		}
	})
	ru = r.start(t, r.copyArgs(src, "int/")...)
	mu.Unlock()
	res := ru.wait(t)
	wantCode(t, res, 130)
	if d := time.Since(<-sent); d > 8*time.Second {
		t.Errorf("took %s to stop after SIGINT", d)
	}
	mustContain(t, "stderr", res.stderr, "run the same command again")
	if r.openUploads(t, "int/") != 2 {
		t.Errorf("%d uploads open after the interrupt, want both kept", r.openUploads(t, "int/"))
	}
	r.px.set(nil, nil)
	res = r.copy(t, src, "int/", "--quiet=false")
	wantCode(t, res, 0)
	r.check(t, src, "int/")
	mustContain(t, "stdout", res.stdout, "resumed: 10.0 MiB")
	if r.px.resent.Load() != 0 {
		t.Errorf("resume re-sent %d bytes of parts the server had", r.px.resent.Load())
	}
	if sent := r.px.sent.Load(); sent > size-2*partSize+small {
		t.Errorf("resume sent %d bytes; the first parts (10 MiB) were on the server", sent)
	}
	t.Logf("resume sent %d of %d bytes; %s", r.px.sent.Load(), size, res.stdout)
}

// TestJournalLockedAndCorrupt: a second process on the same store stops at
// once naming the holder's PID; an unreadable store stops loudly.
func TestJournalLockedAndCorrupt(t *testing.T) {
	r := newRig(t)
	src, _, _ := faultTree(t)
	st, err := state.Open(r.state, state.Dest{Endpoint: r.px.URL, Bucket: r.bucket, Prefix: "lock/"}, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res := r.copy(t, src, "lock/")
	wantCode(t, res, 2)
	mustContain(t, "stderr", res.stderr, fmt.Sprintf("in use by airlift process %d", os.Getpid()))
	if time.Since(start) > 10*time.Second {
		t.Errorf("waited %s for the lock", time.Since(start))
	}
	path := st.Path()
	st.Close()
	if r.px.sent.Load() != 0 {
		t.Error("bytes were sent while the store was locked")
	}

	if err := os.WriteFile(path, bytes.Repeat([]byte("garbage!"), 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	res = r.copy(t, src, "lock/")
	wantCode(t, res, 2)
	mustContain(t, "stderr", res.stderr, path)
	mustContain(t, "stderr", res.stderr, "move it aside")
	if r.px.sent.Load() != 0 {
		t.Error("bytes were sent with a corrupt store")
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != 8*4096 {
		t.Errorf("the corrupt store was touched: %v", err)
	}
}

// TestCleanup: an upload whose abort failed is in the ledger with no
// owner; cleanup aborts it (after a dry run that aborts nothing), keeps
// uploads a journal owns and uploads airlift did not start, and prints the
// lifecycle rule.
func TestCleanup(t *testing.T) {
	r := newRig(t)
	src, _, _ := faultTree(t)
	// 1. An orphan: the file changes mid-upload and every abort fails.
	var once sync.Once
	r.px.set(func(op s3op, n int, req *http.Request) *fault {
		if op == opPart && strings.HasSuffix(req.URL.Path, "/big/a.bin") {
			once.Do(func() { _ = os.Truncate(filepath.Join(src, "big", "a.bin"), 7<<20) })
		}
		if op == opAbort {
			return &fault{kind: faultStatus, status: 403, code: "AccessDenied"}
		}
		return nil
	}, nil)
	res := r.copy(t, src, "clean/", "--part-concurrency", "1")
	wantCode(t, res, 1)
	mustContain(t, "stderr", res.stderr, "airlift cleanup")
	// 2. An upload another tool started.
	r.srv.AWS(t, "s3api", "create-multipart-upload", "--bucket", r.bucket, "--key", "clean/foreign.bin")
	if n := r.openUploads(t, "clean/"); n != 2 {
		t.Fatalf("%d uploads open, want 2", n)
	}
	r.px.set(nil, nil)
	cleanup := func(args ...string) result {
		return r.start(t, append([]string{"cleanup", "s3://" + r.bucket + "/clean/"}, args...)...).wait(t)
	}
	res = cleanup("--older-than", "0s", "--dry-run")
	wantCode(t, res, 0)
	mustContain(t, "stdout", res.stdout, "would abort s3://faults/clean/big/a.bin")
	mustContain(t, "stdout", res.stdout, "kept        s3://faults/clean/foreign.bin")
	mustContain(t, "stdout", res.stdout, `"AbortIncompleteMultipartUpload"`)
	if n := r.openUploads(t, "clean/"); n != 2 {
		t.Fatalf("dry run changed something: %d open", n)
	}
	res = cleanup("--older-than", "1h")
	wantCode(t, res, 0)
	mustContain(t, "stdout", res.stdout, "younger than --older-than")
	res = cleanup("--older-than", "0s")
	wantCode(t, res, 0)
	mustContain(t, "stdout", res.stdout, "aborted     s3://faults/clean/big/a.bin")
	if n := r.openUploads(t, "clean/"); n != 1 {
		t.Fatalf("%d uploads open after cleanup, want the foreign one", n)
	}
	res = cleanup("--older-than", "0s", "--all")
	wantCode(t, res, 0)
	r.noOpenUploads(t, "clean/")
	wantCode(t, r.copy(t, src, "clean/"), 0)
	r.check(t, src, "clean/")
}

// TestStateDiskFull: the state store's filesystem (a small tmpfs the test
// mounts) fills up mid-run. The run stops loudly, naming the store; given
// room, the same command finishes and leaves nothing open.
func TestStateDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	r := newRig(t)
	r.state = filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(r.state, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", r.state).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", r.state).Run() })
	files := map[string]int{"big/a.bin": 12<<20 + 5}
	for i := 0; i < 500; i++ {
		files[fmt.Sprintf("small/%03d-with-a-longer-name-to-fill-the-journal.bin", i)] = 300
	}
	src := tree(t, files)
	res := r.copy(t, src, "full/")
	wantCode(t, res, 1)
	mustContain(t, "stderr", res.stderr, "state journal")
	mustContain(t, "stderr", res.stderr, "no space left on device")
	t.Logf("full: %s", strings.TrimSpace(res.stderr))
	if out, err := exec.Command("mount", "-o", "remount,size=16m", r.state).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	res = r.copy(t, src, "full/")
	wantCode(t, res, 0)
	r.check(t, src, "full/")
}
