package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// watchedBuffer is a process's stderr that tells when a line containing
// a given text has been written.
type watchedBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	want  string
	fired bool
	seen  chan struct{} // closed when want has been written
}

func newWatchedBuffer(want string) *watchedBuffer {
	return &watchedBuffer{want: want, seen: make(chan struct{})}
}

func (w *watchedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if !w.fired && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
		w.fired = true
	}
	return n, err
}

func (w *watchedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startCopy starts a copy through the rig's proxy with stderr watched
// for want.
func (r *rig) startCopy(t *testing.T, want string, args ...string) (*exec.Cmd, *watchedBuffer, chan error) {
	t.Helper()
	args = append([]string{args[0], "--endpoint-url", r.px.URL, "--state-dir", r.state}, args[1:]...)
	cmd := exec.Command(airliftBin, args...)
	cmd.Env = r.srv.Env()
	stderr := newWatchedBuffer(want)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, stderr, done
}

// exitOf waits for the process, failing if it is still running after
// limit: a guard against a hang, far above what a prompt exit takes and
// far below what the bandwidth limit would make the run last.
func exitOf(t *testing.T, cmd *exec.Cmd, done chan error, limit time.Duration, stderr *watchedBuffer) int {
	t.Helper()
	select {
	case <-done:
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("airlift still running %s after the signal; stderr:\n%s", limit, stderr)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -int(ws.Signal())
	}
	return cmd.ProcessState.ExitCode()
}

// Ctrl-C under a bandwidth limit far below the data's size stops the run
// promptly, exit 130 with the resume hint, and keeps its multipart
// uploads for the next run, which completes the copy. The signal is sent
// once the proxy has forwarded body bytes of a part, so a multipart
// upload is in flight, its connection waiting for bandwidth tokens.
func TestInterruptUnderBandwidthLimit(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			r := newRig(t)
			src := bigTree(t)
			inFlight := r.partInFlight()
			cmd, stderr, done := r.startCopy(t, "", append(r.copyArgs(src, "bw/"), "--bwlimit", "1KiB/s")...)
			awaitEvent(t, inFlight, done, stderr)
			_ = cmd.Process.Signal(sig)
			// At 1 KiB/s the 24 MiB tree takes hours; the grace is 5 s.
			code := exitOf(t, cmd, done, 20*time.Second, stderr)
			if code != 130 {
				t.Fatalf("exit %d, want 130; stderr:\n%s", code, stderr)
			}
			mustContain(t, "stderr", stderr.String(), "run the same command again")
			if n := r.openUploads(t, "bw/"); n == 0 {
				t.Errorf("no multipart upload kept for the next run")
			}
			r.px.set(nil, nil)
			wantCode(t, r.copy(t, src, "bw/"), 0)
			r.check(t, src, "bw/")
		})
	}
}

// partInFlight returns a channel closed once the proxy has forwarded
// body bytes and seen a part's request: a multipart upload is in flight.
func (r *rig) partInFlight() chan struct{} {
	var partSeen, bytesSeen atomic.Bool
	var once sync.Once
	ch := make(chan struct{})
	fire := func() {
		if partSeen.Load() && bytesSeen.Load() {
			once.Do(func() { close(ch) })
		}
	}
	r.px.set(func(op s3op, _ int, _ *http.Request) *fault {
		if op == opPart {
			partSeen.Store(true)
			fire()
		}
		return nil
	}, func(total int64) {
		if total > 0 {
			bytesSeen.Store(true)
			fire()
		}
	})
	return ch
}

func awaitEvent(t *testing.T, ev chan struct{}, done chan error, stderr *watchedBuffer) {
	t.Helper()
	select {
	case <-ev:
	case err := <-done:
		t.Fatalf("airlift ended (%v) before the event; stderr:\n%s", err, stderr)
	case <-time.After(time.Minute):
		// A guard against a hang, not a measure: the event comes within a
		// second or two.
		t.Fatalf("the event did not come within a minute; stderr:\n%s", stderr)
	}
}

// bigTree holds only multipart files, so that under a tiny bandwidth
// limit the first requests to carry a body are parts (small files would
// share the limit and hold the parts back for minutes).
func bigTree(t *testing.T) string {
	return tree(t, map[string]int{"big/a.bin": 12<<20 + 123, "big/b.bin": 6<<20 + 7})
}

// A second signal while the first is being handled exits at once, with
// exit 130 and a message saying so, instead of the silent default kill
// (143). It is sent when the first has been acknowledged on stderr,
// while the run's in-flight requests crawl under the bandwidth limit.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	r := newRig(t)
	src := bigTree(t)
	inFlight := r.partInFlight()
	cmd, stderr, done := r.startCopy(t, "signal again to exit at once", append(r.copyArgs(src, "twice/"), "--bwlimit", "1KiB/s")...)
	awaitEvent(t, inFlight, done, stderr)
	_ = cmd.Process.Signal(os.Interrupt)
	awaitEvent(t, stderr.seen, done, stderr)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	code := exitOf(t, cmd, done, 20*time.Second, stderr)
	if code != 130 {
		t.Fatalf("exit %d, want 130; stderr:\n%s", code, stderr)
	}
	mustContain(t, "stderr", stderr.String(), "second signal: exiting at once")
	r.px.set(nil, nil)
	wantCode(t, r.copy(t, src, "twice/"), 0)
	r.check(t, src, "twice/")
}
