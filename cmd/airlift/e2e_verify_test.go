package main

// End-to-end cases for `airlift verify` and `airlift copy s3://… DIR`,
// named after their command lines.

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlift-io/airlift/internal/s3test"
)

const mib = 1 << 20

func TestE2EVerifyAndDownload(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	src := tree(t, map[string]int{
		"zero": 0, "exactly-5MiB": 5 * mib, "5MiB-plus-1": 5*mib + 1, "multipart-uneven.bin": 11*mib + 7,
		"caf\u00e9": 1, "cafe\u0301": 2, "sp ace/#?%&+=.txt": 30, "a/b/c/d/e/f/g/h/deep": 9,
	})
	if r := airlift(t, srv, "copy", src, "s3://bkt/ds", "--part-size", "5MiB", "-q"); r.code != 0 {
		t.Fatalf("upload: %d %s", r.code, r.stderr)
	}

	t.Run("verify DIR s3://bkt/ds", func(t *testing.T) {
		r := airlift(t, srv, "verify", src, "s3://bkt/ds")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		mustContain(t, "stdout", r.stdout, "EQUAL: 8 local files, 8 objects; 8 equal")
	})
	t.Run("verify s3://bkt/ds DIR --deep --json", func(t *testing.T) {
		r := airlift(t, srv, "verify", "s3://bkt/ds", src, "--deep", "--json")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		var rep struct {
			Equal     int64 `json:"equal"`
			ReadBytes int64 `json:"bytes_read_from_s3"`
			Deep      bool  `json:"deep"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		if rep.Equal != 8 || !rep.Deep || rep.ReadBytes != 21*mib+8+42 {
			t.Errorf("%+v", rep)
		}
	})
	t.Run("copy s3://bkt/ds DIR", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "restore")
		r := airlift(t, srv, "copy", "s3://bkt/ds", dst, "--part-size", "5MiB", "--json")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		mustContain(t, "stdout", r.stdout, `"files": 8`)
		sameTree(t, src, dst)
	})
	t.Run("copy s3://bkt/ds FILE", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "f")
		os.WriteFile(f, nil, 0o644)
		if r := airlift(t, srv, "copy", "s3://bkt/ds", f); r.code != 2 {
			t.Errorf("exit %d, want 2: %s", r.code, r.stderr)
		}
	})
	t.Run("copy s3://bkt/ds DIR --sse AES256", func(t *testing.T) {
		r := airlift(t, srv, "copy", "s3://bkt/ds", t.TempDir(), "--sse", "AES256")
		if r.code != 2 {
			t.Errorf("exit %d, want 2", r.code)
		}
		mustContain(t, "stderr", r.stderr, "uploads only")
	})
	t.Run("verify DIR DIR", func(t *testing.T) {
		if r := airlift(t, srv, "verify", src, src); r.code != 2 {
			t.Errorf("exit %d, want 2", r.code)
		}
	})
	t.Run("verify DIR s3://no-such-bucket/x", func(t *testing.T) {
		r := airlift(t, srv, "verify", src, "s3://no-such-bucket/x")
		if r.code != 2 {
			t.Errorf("exit %d, want 2: %s", r.code, r.stderr)
		}
	})
	t.Run("verify MISSING s3://bkt/ds", func(t *testing.T) {
		if r := airlift(t, srv, "verify", filepath.Join(src, "nope"), "s3://bkt/ds"); r.code != 2 {
			t.Errorf("exit %d, want 2", r.code)
		}
	})

	// Last: corrupts an object behind the server's back.
	t.Run("verify DIR s3://bkt/ds --deep after a flipped byte", func(t *testing.T) {
		p := srv.ObjectPath("bkt", "ds/multipart-uneven.bin")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[9*mib] ^= 0x80
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		r := airlift(t, srv, "verify", src, "s3://bkt/ds", "--deep")
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
		}
		mustContain(t, "stdout", r.stdout, "BLAKE3 differs: multipart-uneven.bin (local "+s3test.B3Sum(t, filepath.Join(src, "multipart-uneven.bin")))
		mustContain(t, "stdout", r.stdout, "DIFFERENT: 8 local files, 8 objects; 7 equal")
	})
}

func TestE2EVerifyForeignUpload(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	src := tree(t, map[string]int{"x.bin": 6 * mib, "y": 10})
	srv.AWS(t, "s3", "cp", "--recursive", "--quiet", src, "s3://bkt/aws/")

	t.Run("verify DIR s3://bkt/aws", func(t *testing.T) {
		r := airlift(t, srv, "verify", src, "s3://bkt/aws")
		if r.code != 1 {
			t.Fatalf("exit %d, want 1 (nothing recorded to compare with)\n%s%s", r.code, r.stdout, r.stderr)
		}
		mustContain(t, "stdout", r.stdout, "BLAKE3 unknown: x.bin")
		mustContain(t, "stdout", r.stdout, "--deep")
	})
	t.Run("verify DIR s3://bkt/aws --deep", func(t *testing.T) {
		if r := airlift(t, srv, "verify", src, "s3://bkt/aws", "--deep"); r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("copy s3://bkt/aws DIR", func(t *testing.T) {
		dst := t.TempDir()
		if r := airlift(t, srv, "copy", "s3://bkt/aws/", dst, "-q"); r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		sameTree(t, src, dst)
	})
}

func TestE2EDownloadHostileKeys(t *testing.T) {
	h := s3test.StartHostile(t, "bkt", map[string][]byte{
		"p/good": []byte("ok"), "p/../escape": []byte("evil"), "p/a/../../x": []byte("evil"), "p//abs": []byte("evil"),
	})
	srv := &s3test.Server{URL: h.URL}
	base := t.TempDir()
	dst := filepath.Join(base, "dst")
	r := airlift(t, srv, "copy", "s3://bkt/p", dst, "--max-attempts", "1")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, k := range []string{"../escape", "a/../../x", "/abs"} {
		mustContain(t, "stderr", r.stderr, "unsafe key \""+k+"\"")
	}
	mustContain(t, "stderr", r.stderr, "3 file(s) failed")
	filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && p != filepath.Join(dst, "good") {
			t.Errorf("unexpected file %s", p)
		}
		return nil
	})
	if !strings.Contains(r.stdout, "copied 1 files") {
		t.Errorf("stdout: %s", r.stdout)
	}
}

func TestE2EDownloadDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root; skipped")
	}
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	src := tree(t, map[string]int{"a.bin": 900 << 10, "b.bin": 900 << 10, "c.bin": 900 << 10})
	if r := airlift(t, srv, "copy", src, "s3://bkt/ds", "-q"); r.code != 0 {
		t.Fatalf("upload: %s", r.stderr)
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s); skipped", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })

	t.Run("copy s3://bkt/ds TMPFS-2MiB --concurrency 1", func(t *testing.T) {
		r := airlift(t, srv, "copy", "s3://bkt/ds", mnt, "--concurrency", "1")
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
		}
		mustContain(t, "stderr", r.stderr, "airlift: cannot write "+filepath.Join(mnt, "c.bin")+": no space left on device")
		mustContain(t, "stdout", r.stdout, "1 failed") // the summary agrees with the exit code
		entries, _ := os.ReadDir(mnt)
		if len(entries) != 2 {
			t.Errorf("destination holds %v, want a.bin and b.bin only", entries)
		}
	})
}
