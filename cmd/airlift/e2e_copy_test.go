package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/airlift-io/airlift/checksum"
	"github.com/airlift-io/airlift/internal/s3test"
)

const MiB = 1 << 20

// trickyTree holds the cases that break copiers: empty files, sizes at and
// around the multipart boundary, an uneven last part, Unicode in NFC and
// NFD, shell- and URL-special characters, and deep nesting.
func trickyTree(t *testing.T) string {
	return tree(t, map[string]int{
		"empty":                          0,
		"small.txt":                      1000,
		"exactly-5MiB.bin":               5 * MiB,
		"5MiB-plus-1.bin":                5*MiB + 1,
		"uneven/multipart.bin":           12*MiB + 12345,
		"unicode/caf\u00e9-nfc.txt":      10,
		"unicode/cafe\u0301-nfd.txt":     11,
		"unicode/数据集.parquet":            4096,
		"special/a b #?%&+=.txt":         77,
		"special/semi;colon,comma'q.txt": 5,
		"deep/1/2/3/4/5/6/7/8/9/10/leaf": 3,
	})
}

// headMeta returns an object's user metadata via the aws CLI.
func headMeta(t *testing.T, srv *s3test.Server, bucket, key string) map[string]string {
	t.Helper()
	out := srv.AWS(t, "s3api", "head-object", "--bucket", bucket, "--key", key, "--output", "json")
	var h struct {
		Metadata      map[string]string
		ContentLength int64
	}
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatalf("head-object %s: %v\n%s", key, err, out)
	}
	return h.Metadata
}

func openUploads(t *testing.T, srv *s3test.Server, bucket string) string {
	t.Helper()
	return strings.TrimSpace(srv.AWS(t, "s3api", "list-multipart-uploads", "--bucket", bucket, "--query", "Uploads[].Key", "--output", "text"))
}

// checkCopied downloads prefix with the aws CLI and compares it with src
// byte for byte, and compares every stored BLAKE3 (metadata, else tag)
// with what b3sum computes from the source.
func checkCopied(t *testing.T, srv *s3test.Server, src, bucket, prefix string) {
	t.Helper()
	got := t.TempDir()
	srv.AWS(t, "s3", "cp", "--recursive", "--only-show-errors", "s3://"+bucket+"/"+prefix, got)
	sameTree(t, src, got)
	want := s3test.B3SumTree(t, src)
	cli := srv.Client(t)
	ctx := context.Background()
	for rel, sum := range want {
		key := prefix + rel
		h, err := cli.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Errorf("HeadObject %s: %v", key, err)
			continue
		}
		stored := h.Metadata[checksum.MetaKey]
		if stored == "" {
			tags, err := cli.S3.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				t.Errorf("GetObjectTagging %s: %v", key, err)
				continue
			}
			for _, tg := range tags.TagSet {
				if aws.ToString(tg.Key) == checksum.TagKey {
					stored = aws.ToString(tg.Value)
				}
			}
		}
		if stored != sum {
			t.Errorf("%s: stored BLAKE3 %q, b3sum says %q", key, stored, sum)
		}
	}
	if open := openUploads(t, srv, bucket); open != "" && open != "None" {
		t.Errorf("multipart uploads left open: %s", open)
	}
}

func TestCopyE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	for _, tls := range []bool{false, true} {
		name := "http"
		if tls {
			name = "https"
		}
		t.Run(name, func(t *testing.T) {
			srv := s3test.Start(t, s3test.Options{TLS: tls})
			srv.CreateBucket(t, "bkt")
			src := trickyTree(t)

			t.Run("copy DIR s3://bkt/data/ --part-size 5MiB", func(t *testing.T) {
				r := airlift(t, srv, "copy", src, "s3://bkt/data/", "--part-size", "5MiB", "--json")
				if r.code != 0 {
					t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
				}
				var rep struct {
					Files, Bytes int64
					Failed       int64 `json:"files_failed"`
				}
				if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
					t.Fatalf("--json output: %v\n%s", err, r.stdout)
				}
				if rep.Files != 11 || rep.Failed != 0 || rep.Bytes != 1000+5*MiB+5*MiB+1+12*MiB+12345+10+11+4096+77+5+3 {
					t.Fatalf("report %+v", rep)
				}
				checkCopied(t, srv, src, "bkt", "data/")
			})
			if tls {
				return // the rest does not depend on the scheme
			}

			t.Run("copy FILE s3://bkt/renamed.bin", func(t *testing.T) {
				r := airlift(t, srv, "copy", filepath.Join(src, "small.txt"), "s3://bkt/renamed.bin", "--quiet")
				if r.code != 0 {
					t.Fatalf("exit %d: %s", r.code, r.stderr)
				}
				if b, err := os.ReadFile(srv.ObjectPath("bkt", "renamed.bin")); err != nil || len(b) != 1000 {
					t.Fatalf("renamed object: %d bytes, %v", len(b), err)
				}
			})

			t.Run("copy DIR s3://bkt/f/ --exclude *.bin --include ...", func(t *testing.T) {
				r := airlift(t, srv, "copy", src, "s3://bkt/f/", "--exclude", "*.bin", "--exclude", "deep/**")
				if r.code != 0 {
					t.Fatalf("exit %d: %s", r.code, r.stderr)
				}
				if _, err := os.Stat(srv.ObjectPath("bkt", "f/small.txt")); err != nil {
					t.Error("small.txt not copied")
				}
				for _, k := range []string{"f/exactly-5MiB.bin", "f/uneven/multipart.bin", "f/deep/1/2/3/4/5/6/7/8/9/10/leaf"} {
					if _, err := os.Stat(srv.ObjectPath("bkt", k)); err == nil {
						t.Errorf("%s copied despite --exclude", k)
					}
				}
			})

			t.Run("copy DIR s3://bkt/dry/ --dry-run", func(t *testing.T) {
				r := airlift(t, srv, "copy", src, "s3://bkt/dry/", "--dry-run")
				if r.code != 0 {
					t.Fatalf("exit %d: %s", r.code, r.stderr)
				}
				mustContain(t, "stdout", r.stdout, "would upload")
				if _, err := os.Stat(srv.ObjectPath("bkt", "dry")); err == nil {
					t.Fatal("dry run wrote objects")
				}
			})

			t.Run("copy DIR s3://bkt/m/ --manifest", func(t *testing.T) {
				r := airlift(t, srv, "copy", src, "s3://bkt/m/", "--manifest", "--part-size", "5MiB")
				if r.code != 0 {
					t.Fatalf("exit %d: %s", r.code, r.stderr)
				}
				mustContain(t, "stdout", r.stdout, "manifest: s3://bkt/m/.airlift/manifests/")
				ms, _ := filepath.Glob(filepath.Join(srv.ObjectPath("bkt", "m/.airlift/manifests"), "*.jsonl.zst"))
				if len(ms) != 1 {
					t.Fatalf("manifests on the server: %v", ms)
				}
				f, _ := os.Open(ms[0])
				defer f.Close()
				n := 0
				_, err := checksum.ReadManifest(f, func(e checksum.ManifestEntry) error {
					n++
					rel := strings.TrimPrefix(e.Key, "m/")
					if want := s3test.B3Sum(t, filepath.Join(src, filepath.FromSlash(rel))); e.BLAKE3 != want {
						t.Errorf("manifest %s: %s, b3sum %s", e.Key, e.BLAKE3, want)
					}
					return nil
				})
				if err != nil || n != 11 {
					t.Fatalf("manifest: %d entries, %v", n, err)
				}
			})
		})
	}
}

func TestCopyErrorsE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	src := tree(t, map[string]int{"a": 10, "b/c": 20})

	usage := []struct {
		name string
		args []string
		want string
	}{
		{"copy MISSING s3://bkt/", []string{"copy", "/nonexistent/dir", "s3://bkt/"}, "no such file"},
		{"copy DIR not-an-url", []string{"copy", src, "not-an-url"}, "not an s3:// URL"},
		{"copy DIR s3://nosuchbucket/", []string{"copy", src, "s3://nosuchbucket/"}, "does not exist"},
		{"copy DIR s3://bkt/ --sse-kms-key-id K", []string{"copy", src, "s3://bkt/", "--sse-kms-key-id", "k"}, "--sse aws:kms"},
		{"copy DIR s3://bkt/ --part-size 1KiB", []string{"copy", src, "s3://bkt/", "--part-size", "1KiB"}, "--part-size"},
		{"copy DIR s3://bkt/ --bwlimit fast", []string{"copy", src, "s3://bkt/", "--bwlimit", "fast"}, "--bwlimit"},
		{"copy DIR s3://bkt/ --no-such-flag", []string{"copy", src, "s3://bkt/", "--no-such-flag"}, "unknown flag"},
		{"copy DIR", []string{"copy", src}, "arg"},
	}
	for _, c := range usage {
		t.Run(c.name, func(t *testing.T) {
			r := airlift(t, srv, c.args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\n%s", r.code, r.stderr)
			}
			if lines := strings.Count(strings.TrimSpace(r.stderr), "\n"); lines != 0 {
				t.Errorf("error is %d lines, want one:\n%s", lines+1, r.stderr)
			}
			mustContain(t, "stderr", r.stderr, c.want)
		})
	}
	if entries, _ := os.ReadDir(srv.ObjectPath("bkt", "")); len(entries) != 0 {
		t.Fatalf("failed starts wrote %d objects", len(entries))
	}

	t.Run("copy DIR s3://bkt/ with a wrong secret", func(t *testing.T) {
		secret := "wrong-secret-do-not-print-me"
		r := airliftEnv(t, srv, []string{"AWS_SECRET_ACCESS_KEY=" + secret}, "copy", src, "s3://bkt/creds/")
		if r.code != 2 {
			t.Fatalf("exit %d, want 2\n%s", r.code, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Fatal("the secret key appears in the output")
		}
	})

	t.Run("copy DIR-with-fifo-and-broken-link s3://bkt/partial/ --follow-symlinks", func(t *testing.T) {
		dir := tree(t, map[string]int{"good1": 100, "sub/good2": 200})
		if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Symlink("/nonexistent/target", filepath.Join(dir, "dangling"))
		r := airlift(t, srv, "copy", dir, "s3://bkt/partial/", "--follow-symlinks")
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
		}
		mustContain(t, "stderr", r.stderr, "pipe")
		mustContain(t, "stderr", r.stderr, "FIFO")
		mustContain(t, "stderr", r.stderr, "dangling")
		for _, k := range []string{"partial/good1", "partial/sub/good2"} {
			if _, err := os.Stat(srv.ObjectPath("bkt", k)); err != nil {
				t.Errorf("%s not copied: the rest of the tree must go", k)
			}
		}
	})

	t.Run("copy DIR s3://bkt/LONGPREFIX/ (one key over 1024 bytes)", func(t *testing.T) {
		dir := tree(t, map[string]int{"ok": 1, strings.Repeat("n", 200): 1})
		prefix := strings.Repeat("pppp/", 166) // 830 bytes, in segments a POSIX backend can store
		r := airlift(t, srv, "copy", dir, "s3://bkt/"+prefix)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
		}
		mustContain(t, "stderr", r.stderr, "over S3's limit of 1024")
		if _, err := os.Stat(srv.ObjectPath("bkt", prefix+"ok")); err != nil {
			t.Error("the file with a short key was not copied")
		}
	})

	t.Run("copy DIR s3://bkt/mem/ --max-memory 12MiB --part-size 5MiB", func(t *testing.T) {
		files := map[string]int{"big1": 23 * MiB, "big2": 11 * MiB}
		for i := 0; i < 200; i++ {
			files[fmt.Sprintf("small/%03d", i)] = 64 << 10
		}
		dir := tree(t, files)
		r := airlift(t, srv, "copy", dir, "s3://bkt/mem/", "--max-memory", "12MiB", "--part-size", "5MiB", "--json")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var rep struct {
			Files int64
			Peak  int64 `json:"peak_buffer_bytes"`
		}
		json.Unmarshal([]byte(r.stdout), &rep)
		if rep.Files != 202 || rep.Peak <= 0 || rep.Peak > 12*MiB {
			t.Fatalf("files %d, peak buffers %d bytes: want 202 files within the 12 MiB budget", rep.Files, rep.Peak)
		}
		checkCopied(t, srv, dir, "bkt", "mem/")
	})

	t.Run("copy BIG s3://bkt/int/ then SIGINT", func(t *testing.T) {
		big := tree(t, map[string]int{"big.bin": 40 * MiB})
		cmd := airliftCmd(srv, "copy", big, "s3://bkt/int/", "--bwlimit", "4MiB/s", "--part-size", "5MiB", "--quiet")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		cmd.Process.Signal(os.Interrupt)
		err := cmd.Wait()
		code := cmd.ProcessState.ExitCode()
		if code != 130 {
			t.Fatalf("exit %d after SIGINT (%v), want 130", code, err)
		}
		if _, err := os.Stat(srv.ObjectPath("bkt", "int/big.bin")); err == nil {
			t.Fatal("an interrupted upload was completed as an object")
		}
	})
}

// A finished copy is finished: running it again copies again (it does not
// trust the journal to say objects are still there), while an unfinished
// one resumes (resume_test.go).
func TestCopyAgainAfterFinishedRunE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	src := tree(t, map[string]int{"a": 100, "b/c": 200})
	stateDir := t.TempDir()
	for i := 0; i < 2; i++ {
		r := airlift(t, srv, "copy", src, "s3://bkt/again/", "--state-dir", stateDir, "--json")
		if r.code != 0 {
			t.Fatalf("run %d: exit %d: %s", i, r.code, r.stderr)
		}
		var rep struct{ Files int64 }
		json.Unmarshal([]byte(r.stdout), &rep)
		if rep.Files != 2 {
			t.Fatalf("run %d copied %d files, want 2", i, rep.Files)
		}
		os.Remove(srv.ObjectPath("bkt", "again/a")) // lost behind airlift's back
	}
}

// sync --quiet (as cron and the benchmark harness run it) prints nothing
// even when it uploads, and still names failures on stderr.
func TestSyncQuietE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	src := tree(t, map[string]int{"a": 10, "b/c": 20})
	state := t.TempDir()
	r := airlift(t, srv, "sync", src, "s3://bkt/q/", "--state-dir", state, "--quiet")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(srv.ObjectPath("bkt", "q/b/c")); err != nil {
		t.Fatal("quiet sync did not upload")
	}
	if err := syscall.Mkfifo(filepath.Join(src, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = airlift(t, srv, "sync", src, "s3://bkt/q/", "--state-dir", state, "--quiet")
	if r.code != 1 || r.stdout != "" {
		t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
	}
	mustContain(t, "stderr", r.stderr, "pipe")
}
