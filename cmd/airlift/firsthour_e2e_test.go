package main

// What a new user hit in the first hour (issue 13), through the binary.

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/airlift-io/airlift/internal/s3test"
)

func TestFirstHourE2E(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	src := tree(t, map[string]int{"a.txt": 10, "b.bin": 20, "d/c.txt": 30})

	t.Run("copy DIR s3://bkt/f/ --exclude * --include *.txt", func(t *testing.T) {
		r := airlift(t, srv, "copy", src, "s3://bkt/f/", "--exclude", "*", "--include", "*.txt")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		for k, want := range map[string]bool{"f/a.txt": true, "f/d/c.txt": true, "f/b.bin": false} {
			if _, err := os.Stat(srv.ObjectPath("bkt", k)); (err == nil) != want {
				t.Errorf("%s copied: %v, want %v", k, err == nil, want)
			}
		}
	})

	t.Run("copy DIR-with-bad-name s3://bkt/u/", func(t *testing.T) {
		dir := tree(t, map[string]int{"ok.txt": 5})
		os.WriteFile(filepath.Join(dir, "bad\xff\nname.txt"), []byte("z"), 0o644)
		r := airlift(t, srv, "copy", dir, "s3://bkt/u/")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if strings.Contains(r.stderr, "\xff") || strings.Contains(r.stderr, "bad\xff\n") {
			t.Errorf("raw name bytes on stderr: %q", r.stderr)
		}
		mustContain(t, "stderr", r.stderr, `"bad\xff\nname.txt"`)
		mustContain(t, "stderr", r.stderr, "S3 keys must be UTF-8")
		r = airlift(t, srv, "copy", dir, "s3://bkt/u2/", "--exclude", "bad*")
		if r.code != 0 || strings.Contains(r.stderr, "UTF-8") {
			t.Errorf("--exclude 'bad*': exit %d: %s", r.code, r.stderr)
		}
	})

	t.Run("copy DIR s3://BadBucket/x", func(t *testing.T) {
		r := airlift(t, srv, "copy", src, "s3://BadBucket/x")
		if r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Fatalf("exit %d: %q", r.code, r.stderr)
		}
		mustContain(t, "stderr", r.stderr, "lower case")
	})

	t.Run("copy s3://bkt/nosuchprefix DIR", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "out")
		r := airlift(t, srv, "copy", "s3://bkt/nosuchprefix", dst)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1: %s", r.code, r.stderr)
		}
		if _, err := os.Stat(dst); err == nil {
			t.Error("an empty folder was created")
		}
		if r := airlift(t, srv, "copy", "s3://bkt/nosuchprefix", dst, "--allow-empty"); r.code != 0 {
			t.Errorf("--allow-empty: exit %d: %s", r.code, r.stderr)
		}
	})

	t.Run("copy DIR s3://nobucket/x", func(t *testing.T) {
		r := airlift(t, srv, "copy", src, "s3://nobucket/x")
		for _, noise := range []string{"https response error", "RequestID", "HostID"} {
			if strings.Contains(r.stderr, noise) {
				t.Errorf("stderr has %q: %s", noise, r.stderr)
			}
		}
		mustContain(t, "stderr", r.stderr, `bucket "nobucket" does not exist`)
	})

	t.Run("copy DIR s3://bkt/x --endpoint-url NON-S3", func(t *testing.T) {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
		}))
		defer hs.Close()
		r := airlift(t, &s3test.Server{URL: hs.URL}, "copy", src, "s3://bkt/x", "--max-attempts", "1")
		mustContain(t, "stderr", r.stderr, "did not answer as S3 does (HTTP 301")
		if strings.Contains(r.stderr, "--region") {
			t.Errorf("stderr suggests --region: %s", r.stderr)
		}
	})

	t.Run("copy DIR s3://bkt/x --part-size 5GiB", func(t *testing.T) {
		r := airlift(t, srv, "copy", src, "s3://bkt/x", "--part-size", "5GiB")
		if r.code != 2 {
			t.Fatalf("exit %d, want 2: %s", r.code, r.stderr)
		}
		// The flag at fault and the sizes in the user's units, not
		// "--max-memory 167772160 is smaller than one part (8589934592 bytes)".
		mustContain(t, "stderr", r.stderr, "--max-memory: memory budget 160.0 MiB is smaller than one part buffer (8.0 GiB for 5.0 GiB parts)")
		if regexp.MustCompile(`[0-9]{7,}`).MatchString(r.stderr) {
			t.Errorf("raw byte counts: %s", r.stderr)
		}
	})

}
