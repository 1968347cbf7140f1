package main

// Measurements for the resume and journal work (not part of make test):
//
//	AIRLIFT_MEASURE=1 AIRLIFT_E2E_NORACE=1 go test -count=1 -v -timeout 30m \
//	    -run 'TestMeasure' ./cmd/airlift
//
// MEASURE_BIG_MIB (default 2048) sizes the kill-and-resume file;
// MEASURE_FILES (default 20000) the small-file set for journal overhead.

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/airlift-io/airlift/internal/s3test"
)

func measureOnly(t *testing.T) {
	if os.Getenv("AIRLIFT_MEASURE") == "" {
		t.Skip("a measurement, not a test: set AIRLIFT_MEASURE=1")
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func fileSum(t *testing.T, p string) [32]byte {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

// TestMeasureKillResume: one big file, copied fresh; then copied again to
// another prefix, SIGKILLed once half its bytes have crossed the proxy,
// and resumed. Bytes are counted at the proxy.
func TestMeasureKillResume(t *testing.T) {
	measureOnly(t)
	r := newRig(t)
	mib := envInt("MEASURE_BIG_MIB", 2048)
	size := int64(mib) << 20
	dir := t.TempDir()
	src := filepath.Join(dir, "big.bin")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.New(rand.NewSource(1)), size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want := fileSum(t, src)
	args := func(prefix string) []string {
		// The default --io-timeout: versitygw takes seconds to assemble a
		// 2 GiB object and sends nothing meanwhile (S3 sends whitespace).
		return []string{"copy", src, "s3://" + r.bucket + "/" + prefix, "--quiet", "--io-timeout", "60s"}
	}

	r.px.set(nil, nil)
	start := time.Now()
	fres := r.start(t, append(args("fresh/"), "--quiet=false")...).wait(t)
	wantCode(t, fres, 0)
	t.Logf("fresh: %s %s", fres.stdout, fres.stderr)
	fresh := time.Since(start)
	freshSent := r.px.sent.Load()
	if fileSum(t, r.srv.ObjectPath(r.bucket, "fresh/big.bin")) != want {
		t.Fatal("fresh copy differs")
	}

	var ru *proc
	var mu sync.Mutex
	mu.Lock()
	r.px.set(nil, func(total int64) {
		if total >= size/2 {
			mu.Lock()
			ru.kill()
			mu.Unlock()
		}
	})
	start = time.Now()
	ru = r.start(t, args("resume/")...)
	mu.Unlock()
	if res := ru.wait(t); res.code != -int(syscall.SIGKILL) {
		t.Fatalf("not killed: %d %s", res.code, res.stderr)
	}
	killedAfter := time.Since(start)
	beforeKill := r.px.sent.Load()

	r.px.set(nil, nil)
	start = time.Now()
	res := r.start(t, append(args("resume/"), "--quiet=false")...).wait(t)
	wantCode(t, res, 0)
	resume := time.Since(start)
	if fileSum(t, r.srv.ObjectPath(r.bucket, "resume/big.bin")) != want {
		t.Fatal("resumed copy differs")
	}
	r.noOpenUploads(t, "")
	sent, resent := r.px.sent.Load(), r.px.resent.Load()
	t.Logf("file %d MiB; fresh copy: %s, %d bytes sent", mib, fresh.Round(time.Millisecond), freshSent)
	t.Logf("killed after %s with %d bytes sent (%.1f%%)", killedAfter.Round(time.Millisecond), beforeKill, 100*float64(beforeKill)/float64(size))
	t.Logf("resume: %s, %d bytes sent (%.1f%% of the file), of which %d bytes the server already had; in-flight bytes lost at the kill: %d",
		resume.Round(time.Millisecond), sent, 100*float64(sent)/float64(size), resent, beforeKill+sent-size)
	t.Logf("resume took %.0f%% of a fresh copy\n%s", 100*resume.Seconds()/fresh.Seconds(), res.stdout)
}

// TestMeasureJournalOverhead: N x 16 KiB files, copied with and without
// the journal, alternating, straight to the server.
func TestMeasureJournalOverhead(t *testing.T) {
	measureOnly(t)
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "journal")
	n := envInt("MEASURE_FILES", 20000)
	files := map[string]int{}
	for i := 0; i < n; i++ {
		files[fmt.Sprintf("d%02d/f%05d.bin", i%100, i)] = 16 << 10
	}
	src := tree(t, files)
	type sample struct{ wall, cpu time.Duration }
	var with, without []sample
	rounds := envInt("MEASURE_ROUNDS", 3)
	for round := 0; round < rounds; round++ {
		for _, journal := range []bool{round%2 == 1, round%2 == 0} {
			prefix := fmt.Sprintf("r%d-%v/", round, journal)
			args := []string{"copy", src, "s3://journal/" + prefix, "--quiet", "--state-dir", t.TempDir(), "--endpoint-url", srv.URL}
			if !journal {
				args = append(args, "--no-journal")
			}
			cmd := exec.Command(airliftBin, args...)
			cmd.Env = srv.Env()
			start := time.Now()
			out, err := cmd.CombinedOutput()
			d := time.Since(start)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			smp := sample{d, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
			if journal {
				with = append(with, smp)
			} else {
				without = append(without, smp)
			}
			t.Logf("round %d journal=%v: wall %s, airlift CPU %s", round, journal, d.Round(time.Millisecond), smp.cpu.Round(time.Millisecond))
		}
	}
	sum := func(ss []sample) (wall, cpu time.Duration) {
		for _, s := range ss {
			wall += s.wall
			cpu += s.cpu
		}
		return
	}
	ww, wc := sum(with)
	nw, nc := sum(without)
	t.Logf("%d x 16 KiB, %d runs each: wall with/without journal %.3f, airlift CPU with/without %.3f", n, rounds, ww.Seconds()/nw.Seconds(), wc.Seconds()/nc.Seconds())
}
