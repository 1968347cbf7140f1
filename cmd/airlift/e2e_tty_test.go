package main

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/airlift-io/airlift/internal/datasynctest"
	"github.com/airlift-io/airlift/internal/s3test"
)

// shellQuote quotes s for sh -c.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// onTerminal runs airlift with a pseudo-terminal for its output (through
// script(1), from util-linux) and returns what the terminal showed.
func onTerminal(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script(1) not installed")
	}
	line := shellQuote(airliftBin)
	for _, a := range args {
		line += " " + shellQuote(a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "script", "-qfec", line, "/dev/null")
	cmd.Env = env
	r := runCmd(t, cmd)
	return r.stdout + r.stderr, r.code
}

var barPercent = regexp.MustCompile(`(\d+)% \|`)

// On a terminal, copy draws a progress bar that follows the bytes as the
// connection sends them (a 2.5 MiB/s limit makes the run last about 3 s),
// with file counts, then clears it for the summary. Files above the lean
// path's in-memory size and below it are both in the tree.
func TestE2ECopyProgressBarOnTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "tty")
	src := s3test.Tree(t, map[string]int{"a.bin": 6 * MiB, "b.bin": 1 * MiB, "c/small.txt": 100 << 10})
	out, code := onTerminal(t, srv.Env(), "copy", src, "s3://tty/run/", "--bwlimit", "2.5MiB/s", "--no-journal", "--endpoint-url", srv.URL)
	if code != 0 {
		t.Fatalf("exit %d\n%q", code, out)
	}
	seen := map[int]bool{}
	for _, m := range barPercent.FindAllStringSubmatch(out, -1) {
		p, _ := strconv.Atoi(m[1])
		seen[p] = true
	}
	between := 0
	for p := range seen {
		if p > 0 && p < 100 {
			between++
		}
	}
	if between < 2 {
		t.Errorf("the bar never moved through the transfer (percentages seen: %v)\n%q", seen, out)
	}
	if !regexp.MustCompile(`copied [0-3]/3 files +[0-9]+% \|`).MatchString(out) {
		t.Errorf("no file count beside the bar\n%q", out)
	}
	mustContain(t, "terminal", out, "copied 3 files, 7.1 MiB")
}

// sync shows the same bar as copy on a terminal: a first sync of a few
// megabytes under a bandwidth limit moves it through the upload, counting
// the files the pass sends.
func TestE2ESyncProgressBarOnTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "tty")
	src := s3test.Tree(t, map[string]int{"a.bin": 6 * MiB, "c/small.txt": 100 << 10})
	out, code := onTerminal(t, srv.Env(), "sync", src, "s3://tty/sync/", "--bwlimit", "2.5MiB/s", "--state-dir", t.TempDir(), "--endpoint-url", srv.URL)
	if code != 0 {
		t.Fatalf("exit %d\n%q", code, out)
	}
	between := 0
	for _, m := range barPercent.FindAllStringSubmatch(out, -1) {
		if p, _ := strconv.Atoi(m[1]); p > 0 && p < 100 {
			between++
		}
	}
	if between < 2 {
		t.Errorf("the bar never moved through the upload\n%q", out)
	}
	if !regexp.MustCompile(`synced [0-2]/2 files +[0-9]+% \|`).MatchString(out) {
		t.Errorf("no file count beside the bar\n%q", out)
	}
}

// DataSync's bar on a terminal: the phases as they come, then the
// summary.
func TestE2EDataSyncProgressOnTerminal(t *testing.T) {
	srv := datasynctest.Start(t)
	args := dsArgs(srv, "datasync", "nfs://filer/export/data", "s3://airlift-bucket/tty")
	for i, a := range args {
		if a == "--poll-interval" {
			args[i+1] = "300ms" // a few redraws per phase
		}
	}
	out, code := onTerminal(t, dataSyncEnv(), args...)
	if code != 0 {
		t.Fatalf("exit %d\n%q", code, out)
	}
	mustContain(t, "terminal", out, "datasync TRANSFERRING")
	mustContain(t, "terminal", out, "datasync SUCCESS")
}
