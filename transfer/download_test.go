package transfer_test

// Integration tests of download and verify against a real versitygw on
// 127.0.0.1 (and, for keys no real server accepts on PUT, a hostile
// endpoint that lists them anyway).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
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
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/airlift-io/airlift/internal/s3client"
	"github.com/airlift-io/airlift/internal/s3test"
	"github.com/airlift-io/airlift/transfer"
)

const mib = 1 << 20

// trickyTree is what a dataset throws at a copier: empty files, files on
// and just past the multipart threshold, a multipart file whose last part
// is short, the same name in NFC and NFD, URL-hostile characters, and
// deep nesting.
var trickyTree = map[string]int{
	"zero":                           0,
	"empty/also-zero":                0,
	"exactly-5MiB.bin":               5 * mib,
	"5MiB-plus-1.bin":                5*mib + 1,
	"multipart-uneven.bin":           12*mib + 12345,
	"caf\u00e9.txt":                  100, // NFC
	"cafe\u0301.txt":                 200, // NFD: a different name on Linux
	"with spaces/a b  c.txt":         10,
	"odd/#?%&+=;@!$'()[] ~^.txt":     11,
	"odd/100%25 not-escaped":         12,
	"a/b/c/d/e/f/g/h/i/j/k/l/m/deep": 13,
	"日本語/ファイル.dat":                   14,
}

type env struct {
	srv *s3test.Server
	api transfer.S3API
	loc transfer.Location
}

func upload(t *testing.T, files map[string]int, o transfer.UploadOptions) (env, string) {
	t.Helper()
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	api := srv.Client(t).S3
	src := s3test.Tree(t, files)
	loc := transfer.Location{Bucket: "bkt", Prefix: "ds/v1"}
	up, err := transfer.NewUploader(api, loc.Bucket, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := up.Copy(context.Background(), src, loc)
	if err != nil || rep.Failed != 0 {
		t.Fatalf("upload: %v %+v", err, rep.Failures)
	}
	return env{srv, api, loc}, src
}

func TestDownloadRoundTripTrickyTree(t *testing.T) {
	e, src := upload(t, trickyTree, transfer.UploadOptions{Manifest: true, Sizing: transfer.Sizing{PartSize: 5 * mib}})
	for _, deep := range []bool{false, true} {
		rep, err := transfer.Verify(context.Background(), e.api, src, e.loc, transfer.VerifyOptions{Deep: deep, Sizing: transfer.Sizing{PartSize: 5 * mib}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Differ() != 0 || rep.Equal != int64(len(trickyTree)) {
			t.Fatalf("verify deep=%v: %d equal, differences %+v", deep, rep.Equal, rep.Differences)
		}
		if !deep && rep.HashSources["manifest"] != int64(len(trickyTree)) {
			t.Errorf("fast verify used %v; want every hash from the manifest", rep.HashSources)
		}
	}

	dst := filepath.Join(t.TempDir(), "restore")
	dl, err := transfer.NewDownloader(e.api, transfer.DownloadOptions{Sizing: transfer.Sizing{PartSize: 5 * mib, Concurrency: 4, PartConcurrency: 4}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := dl.Copy(context.Background(), e.loc, dst)
	if err != nil || rep.Failed != 0 {
		t.Fatalf("download: %v %+v", err, rep.Failures)
	}
	if rep.Files != int64(len(trickyTree)) {
		t.Errorf("downloaded %d files, want %d", rep.Files, len(trickyTree))
	}
	s3test.SameTree(t, src, dst)
	// The manifest carries the source files' mtimes; they come back.
	for _, rel := range []string{"zero", "multipart-uneven.bin", "a/b/c/d/e/f/g/h/i/j/k/l/m/deep"} {
		a, _ := os.Stat(filepath.Join(src, rel))
		b, _ := os.Stat(filepath.Join(dst, rel))
		if a == nil || b == nil || !a.ModTime().Equal(b.ModTime()) {
			t.Errorf("%s: mtime not restored", rel)
		}
	}
	// b3sum, which shares no code with airlift, agrees on the multipart file.
	if a, b := s3test.B3Sum(t, filepath.Join(src, "multipart-uneven.bin")), s3test.B3Sum(t, filepath.Join(dst, "multipart-uneven.bin")); a != b {
		t.Errorf("b3sum differs: %s vs %s", a, b)
	}
}

func TestVerifyDeepDetectsFlippedByte(t *testing.T) {
	e, src := upload(t, map[string]int{"big.bin": 11 * mib, "small.bin": 1000}, transfer.UploadOptions{Sizing: transfer.Sizing{PartSize: 5 * mib}})
	// versitygw keeps each object as a plain file: corrupt it behind the
	// server's back. Its ETag and the recorded BLAKE3 stay as they were.
	for _, key := range []string{"ds/v1/big.bin", "ds/v1/small.bin"} {
		p := e.srv.ObjectPath("bkt", key)
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		off := int64(7*mib + 3)
		if strings.HasSuffix(key, "small.bin") {
			off = 999
		}
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, off); err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0x01
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	fast, err := transfer.Verify(context.Background(), e.api, src, e.loc, transfer.VerifyOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fast.Differ() != 0 {
		t.Logf("fast verify noticed too: %+v", fast.Differences)
	}
	deep, err := transfer.Verify(context.Background(), e.api, src, e.loc, transfer.VerifyOptions{Deep: true, Sizing: transfer.Sizing{PartSize: 5 * mib}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if deep.Counts[transfer.HashDiffers] != 2 || len(deep.Differences) != 2 {
		t.Fatalf("deep verify: %+v, want both files as blake3_differs", deep.Differences)
	}
	for _, d := range deep.Differences {
		if d.Local != s3test.B3Sum(t, d.Path) || d.Remote == d.Local {
			t.Errorf("%s: local %s remote %s", d.Rel, d.Local, d.Remote)
		}
	}
	// A download refuses to put the corrupt bytes in place.
	dst := t.TempDir()
	dl, _ := transfer.NewDownloader(e.api, transfer.DownloadOptions{Sizing: transfer.Sizing{PartSize: 5 * mib}}, nil)
	rep, err := dl.Copy(context.Background(), e.loc, dst)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 2 {
		t.Fatalf("download of corrupt objects: %d failed, want 2: %+v", rep.Failed, rep.Failures)
	}
	mustBeEmpty(t, dst)
}

func TestVerifyReportsEachKindOfDifference(t *testing.T) {
	e, src := upload(t, map[string]int{"same": 10, "gone-remote": 5, "resized": 100, "changed": 64, "unknown": 3}, transfer.UploadOptions{})
	ctx := context.Background()
	put := func(key string, body []byte) {
		_, err := e.api.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("ds/v1/" + key), Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.api.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("ds/v1/gone-remote")}}}}); err != nil {
		t.Fatal(err)
	}
	put("resized", make([]byte, 99))
	put("only-remote", []byte("x"))
	put("console-folder/", nil) // a folder marker, as the S3 console makes: not a file
	old, _ := os.ReadFile(filepath.Join(src, "unknown"))
	put("unknown", old) // same bytes, but no BLAKE3 stored with them
	if err := os.WriteFile(filepath.Join(src, "changed"), bytes.Repeat([]byte{1}, 64), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := transfer.Verify(ctx, e.api, src, e.loc, transfer.VerifyOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"gone-remote": transfer.MissingRemote, "only-remote": transfer.MissingLocal,
		"resized": transfer.SizeDiffers, "changed": transfer.HashDiffers, "unknown": transfer.HashUnknown,
	}
	got := map[string]string{}
	for _, d := range rep.Differences {
		got[d.Rel] = d.Kind
	}
	if len(got) != len(want) {
		t.Errorf("differences %v, want %v", got, want)
	}
	for rel, k := range want {
		if got[rel] != k {
			t.Errorf("%s: %q, want %q", rel, got[rel], k)
		}
	}
	if rep.Equal != 1 {
		t.Errorf("equal %d, want 1 (same)", rep.Equal)
	}
	// Deep mode reads "unknown" back and finds it equal.
	rep, err = transfer.Verify(ctx, e.api, src, e.loc, transfer.VerifyOptions{Deep: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Equal != 2 || rep.Counts[transfer.HashUnknown] != 0 {
		t.Errorf("deep: equal %d, counts %v", rep.Equal, rep.Counts)
	}
}

func mustBeEmpty(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("unexpected file %s", p)
		}
		return nil
	})
}

func hostileClient(t *testing.T, url string) transfer.S3API {
	t.Helper()
	(&s3test.Server{}).SetEnv(t)
	c, err := s3client.New(context.Background(), s3client.Options{EndpointURL: url, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c.S3
}

func TestDownloadRefusesTraversalKeys(t *testing.T) {
	evil := []byte("pwned")
	objs := map[string][]byte{
		"p/ok.txt": []byte("fine"),
	}
	bad := []string{"../x", "a/../../x", "a//../x", "/abs", `..\x`, "a\x00b", ".", "..", "sub/../../../escape", "d/./e"}
	for _, k := range bad {
		objs["p/"+k] = evil
	}
	h := s3test.StartHostile(t, "bkt", objs)
	api := hostileClient(t, h.URL)

	base := t.TempDir()
	dst := filepath.Join(base, "deep", "dst")
	dl, _ := transfer.NewDownloader(api, transfer.DownloadOptions{}, nil)
	rep, err := dl.Copy(context.Background(), transfer.Location{Bucket: "bkt", Prefix: "p"}, dst)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files != 1 || rep.Failed != int64(len(bad)) {
		t.Errorf("%d written, %d failed; want 1 and %d: %+v", rep.Files, rep.Failed, len(bad), rep.Failures)
	}
	refused := map[string]bool{}
	for _, p := range rep.Failures {
		if !strings.Contains(p.Err, "refusing") {
			t.Errorf("%q: %s", p.Key, p.Err)
		}
		refused[strings.TrimPrefix(p.Key, "p/")] = true
	}
	for _, k := range bad {
		if !refused[k] {
			t.Errorf("key %q not reported", k)
		}
	}
	// Nothing anywhere under base but dst/ok.txt.
	_ = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && p != filepath.Join(dst, "ok.txt") {
			t.Errorf("written outside the plan: %s", p)
		}
		return nil
	})
	if b, _ := os.ReadFile(filepath.Join(dst, "ok.txt")); string(b) != "fine" {
		t.Errorf("ok.txt = %q", b)
	}
}

func TestDownloadReportsCollidingKeys(t *testing.T) {
	h := s3test.StartHostile(t, "bkt", map[string][]byte{
		"p/a":   []byte("file a"),
		"p/a/":  []byte("a with a slash"), // same path as p/a
		"p/a/b": []byte("needs a folder"), // a is a file
		"p/c/":  nil,                      // folder marker
		"p/c/d": []byte("in c"),
	})
	dst := t.TempDir()
	dl, _ := transfer.NewDownloader(hostileClient(t, h.URL), transfer.DownloadOptions{}, nil)
	rep, err := dl.Copy(context.Background(), transfer.Location{Bucket: "bkt", Prefix: "p/"}, dst)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 2 || rep.Files != 2 {
		t.Fatalf("%d written, %d failed, want 2 and 2: %+v", rep.Files, rep.Failed, rep.Failures)
	}
	for _, p := range rep.Failures {
		if !strings.Contains(p.Err, `key "p/a"`) {
			t.Errorf("%s: %s (should name the key that owns the path)", p.Key, p.Err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "a")); string(b) != "file a" {
		t.Errorf("a = %q: overwritten", b)
	}
}

func TestDownloadObjectChangedMidway(t *testing.T) {
	big := bytes.Repeat([]byte("z"), 6*mib)
	h := s3test.StartHostile(t, "bkt", map[string][]byte{"p/big": big, "p/small": []byte("s")})
	h.ChangedKeys["p/big"] = true
	dst := t.TempDir()
	dl, _ := transfer.NewDownloader(hostileClient(t, h.URL), transfer.DownloadOptions{Sizing: transfer.Sizing{PartSize: 5 * mib}}, nil)
	rep, err := dl.Copy(context.Background(), transfer.Location{Bucket: "bkt", Prefix: "p"}, dst)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 1 || !strings.Contains(rep.Failures[0].Err, "changed") {
		t.Fatalf("%+v", rep.Failures)
	}
	if _, err := os.Stat(filepath.Join(dst, "big")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("big exists after a failed download: %v", err)
	}
	entries, _ := os.ReadDir(dst)
	if len(entries) != 1 || entries[0].Name() != "small" {
		t.Errorf("destination holds %v, want only small", entries)
	}
}

func TestDownloadNeverFollowsLinksOutOfTheDestination(t *testing.T) {
	e, _ := upload(t, map[string]int{"link/inside.txt": 10, "plain.txt": 5}, transfer.UploadOptions{})
	outside := t.TempDir()
	realDst := t.TempDir()
	// A link inside the destination that points out of it.
	if err := os.Symlink(outside, filepath.Join(realDst, "link")); err != nil {
		t.Fatal(err)
	}
	// The destination itself is a link: followed, as documented.
	dst := filepath.Join(t.TempDir(), "dst-link")
	if err := os.Symlink(realDst, dst); err != nil {
		t.Fatal(err)
	}
	dl, _ := transfer.NewDownloader(e.api, transfer.DownloadOptions{}, nil)
	rep, err := dl.Copy(context.Background(), e.loc, dst)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 1 || rep.Files != 1 {
		t.Errorf("%d written, %d failed: %+v", rep.Files, rep.Failed, rep.Failures)
	}
	mustBeEmpty(t, outside)
	if _, err := os.Stat(filepath.Join(realDst, "plain.txt")); err != nil {
		t.Errorf("plain.txt not written through the destination link: %v", err)
	}
}

func TestDownloadDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root; skipped")
	}
	e, src := upload(t, map[string]int{"a-1.bin": 700 << 10, "b-2.bin": 700 << 10, "c-3.bin": 700 << 10, "d-4.bin": 700 << 10}, transfer.UploadOptions{})
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s); skipped", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	dl, _ := transfer.NewDownloader(e.api, transfer.DownloadOptions{Sizing: transfer.Sizing{Concurrency: 1}}, nil)
	rep, err := dl.Copy(context.Background(), e.loc, mnt)
	if err == nil || !transfer.IsFatal(err) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("err = %v, want a fatal no-space error", err)
	}
	if !strings.Contains(err.Error(), mnt) || !strings.Contains(err.Error(), ".bin") {
		t.Errorf("error %q does not name the file", err)
	}
	if rep == nil || rep.Files < 1 {
		t.Fatalf("report %+v: want some files completed before the disk filled", rep)
	}
	// The summary agrees with the exit code: the file the disk refused
	// failed.
	if rep.Failed < 1 || len(rep.Failures) < 1 || !strings.Contains(rep.Failures[0].Err, "no space") {
		t.Errorf("report says %d failed (%+v) after the disk filled", rep.Failed, rep.Failures)
	}
	entries, _ := os.ReadDir(mnt)
	for _, de := range entries {
		if strings.HasPrefix(de.Name(), ".airlift-") {
			t.Errorf("partial file left behind: %s", de.Name())
			continue
		}
		a, _ := os.ReadFile(filepath.Join(src, de.Name()))
		b, _ := os.ReadFile(filepath.Join(mnt, de.Name()))
		if !bytes.Equal(a, b) {
			t.Errorf("completed file %s is not intact", de.Name())
		}
	}
	if int64(len(entries)) != rep.Files {
		t.Errorf("%d files in the destination, report says %d completed", len(entries), rep.Files)
	}
}

// counting wraps the client and counts requests by operation.
type counting struct {
	transfer.S3API
	mu sync.Mutex
	n  map[string]int
}

func (c *counting) add(op string) {
	c.mu.Lock()
	c.n[op]++
	c.mu.Unlock()
}

func (c *counting) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	c.add("HeadObject")
	return c.S3API.HeadObject(ctx, in, o...)
}

func (c *counting) GetObjectTagging(ctx context.Context, in *s3.GetObjectTaggingInput, o ...func(*s3.Options)) (*s3.GetObjectTaggingOutput, error) {
	c.add("GetObjectTagging")
	return c.S3API.GetObjectTagging(ctx, in, o...)
}

func (c *counting) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	c.add("GetObject")
	return c.S3API.GetObject(ctx, in, o...)
}

func (c *counting) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, o ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	c.add("ListObjectsV2")
	return c.S3API.ListObjectsV2(ctx, in, o...)
}

// With a run manifest, fast verify costs the listing and the manifest,
// not a request per object; an object overwritten since (new ETag) is no
// longer vouched for and costs its own request.
func TestFastVerifyUsesManifestNotPerObjectRequests(t *testing.T) {
	files := map[string]int{"big.bin": 6 * mib}
	for i := 0; i < 40; i++ {
		files[fmt.Sprintf("small/%02d", i)] = 100 + i
	}
	e, src := upload(t, files, transfer.UploadOptions{Manifest: true, Sizing: transfer.Sizing{PartSize: 5 * mib}})
	c := &counting{S3API: e.api, n: map[string]int{}}
	rep, err := transfer.Verify(context.Background(), c, src, e.loc, transfer.VerifyOptions{}, nil)
	if err != nil || rep.Differ() != 0 || rep.Equal != int64(len(files)) {
		t.Fatalf("%v %+v", err, rep)
	}
	if c.n["HeadObject"]+c.n["GetObjectTagging"] != 0 || c.n["GetObject"] != 1 || c.n["ListObjectsV2"] != 2 {
		t.Errorf("requests %v: want 2 listings and 1 manifest GET, nothing per object", c.n)
	}

	// Overwrite one object with other bytes of the same size, no BLAKE3.
	_, err = e.api.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("ds/v1/small/07"), Body: bytes.NewReader(make([]byte, 107))})
	if err != nil {
		t.Fatal(err)
	}
	c.n = map[string]int{}
	rep, err = transfer.Verify(context.Background(), c, src, e.loc, transfer.VerifyOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts[transfer.HashUnknown] != 1 || rep.Differ() != 1 || rep.Differences[0].Rel != "small/07" {
		t.Errorf("after overwrite: %+v", rep.Differences)
	}
	if c.n["HeadObject"] != 1 {
		t.Errorf("requests %v: want one HeadObject for the overwritten object", c.n)
	}
}

func TestDownloadSingleObjectURL(t *testing.T) {
	e, src := upload(t, map[string]int{"one.bin": 6 * mib, "two.bin": 3}, transfer.UploadOptions{Sizing: transfer.Sizing{PartSize: 5 * mib}})
	dst := t.TempDir()
	dl, _ := transfer.NewDownloader(e.api, transfer.DownloadOptions{Sizing: transfer.Sizing{PartSize: 5 * mib}}, nil)
	rep, err := dl.Copy(context.Background(), transfer.Location{Bucket: "bkt", Prefix: "ds/v1/one.bin"}, dst)
	if err != nil || rep.Files != 1 || rep.Failed != 0 {
		t.Fatalf("%v %+v", err, rep)
	}
	a, _ := os.ReadFile(filepath.Join(src, "one.bin"))
	b, _ := os.ReadFile(filepath.Join(dst, "one.bin"))
	if !bytes.Equal(a, b) {
		t.Error("one.bin differs")
	}
}

// A download stopped part way leaves only complete files at final paths
// and no temporary files.
func TestDownloadCancelledLeavesNoPartialFiles(t *testing.T) {
	files := map[string]int{}
	for i := 0; i < 6; i++ {
		files[fmt.Sprintf("f%d.bin", i)] = 6 * mib
	}
	e, src := upload(t, files, transfer.UploadOptions{Sizing: transfer.Sizing{PartSize: 5 * mib}})
	dst := t.TempDir()
	st := &transfer.Stats{}
	dl, _ := transfer.NewDownloader(e.api, transfer.DownloadOptions{Sizing: transfer.Sizing{PartSize: 5 * mib, Concurrency: 2, PartConcurrency: 2}}, st)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for st.BytesSent.Load() < 8*mib {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := dl.Copy(ctx, e.loc, dst)
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Logf("download finished before the cancel landed: %v", err)
	}
	entries, _ := os.ReadDir(dst)
	for _, de := range entries {
		if strings.HasPrefix(de.Name(), ".airlift-") {
			t.Errorf("temporary file left: %s", de.Name())
			continue
		}
		a, _ := os.ReadFile(filepath.Join(src, de.Name()))
		b, _ := os.ReadFile(filepath.Join(dst, de.Name()))
		if !bytes.Equal(a, b) {
			t.Errorf("%s at its final path is not complete", de.Name())
		}
	}
	if len(entries) == len(files) {
		t.Log("every file completed before the cancel")
	}
}

// A connection cut part way through a body (which the SDK does not retry)
// is resumed: from the byte it stopped at for a whole-object GET, by
// reading the range again for a part.
func TestDownloadResumesCutBodies(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	small, big := make([]byte, 3*mib), make([]byte, 12*mib+5)
	rng.Read(small)
	rng.Read(big)
	h := s3test.StartHostile(t, "bkt", map[string][]byte{"p/small": small, "p/big": big})
	h.CutOnce["p/small"], h.CutOnce["p/big"] = true, true
	dst := t.TempDir()
	st := &transfer.Stats{}
	dl, _ := transfer.NewDownloader(hostileClient(t, h.URL), transfer.DownloadOptions{Sizing: transfer.Sizing{PartSize: 5 * mib}}, st)
	rep, err := dl.Copy(context.Background(), transfer.Location{Bucket: "bkt", Prefix: "p"}, dst)
	if err != nil || rep.Failed != 0 {
		t.Fatalf("%v %+v", err, rep)
	}
	for name, want := range map[string][]byte{"small": small, "big": big} {
		if got, _ := os.ReadFile(filepath.Join(dst, name)); !bytes.Equal(got, want) {
			t.Errorf("%s differs", name)
		}
	}
	if st.Retries.Load() < 2 {
		t.Errorf("%d retries counted, want at least 2", st.Retries.Load())
	}
}

// Temporary files that a killed download left (its process gone) are
// removed when a later download writes into their folder; those of a
// live process, and files that only look alike, are left alone.
func TestDownloadSweepsLeftoverTemporaries(t *testing.T) {
	e, src := upload(t, map[string]int{"top.bin": 10, "sub/a.bin": 20}, transfer.UploadOptions{})
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	stale := []string{
		fmt.Sprintf(".airlift-dl-%d-0123456789ab.tmp", dead.Process.Pid),
		fmt.Sprintf("sub/.airlift-dl-%d-ba9876543210.tmp", dead.Process.Pid),
	}
	kept := []string{
		fmt.Sprintf("sub/.airlift-dl-%d-aaaaaaaaaaaa.tmp", os.Getppid()), // a live process
		".airlift-dl-notapid-0.tmp",
		"sub/my.airlift-dl-1-0.tmp",
	}
	for _, n := range append(append([]string{}, stale...), kept...) {
		p := filepath.Join(dst, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dl, _ := transfer.NewDownloader(e.api, transfer.DownloadOptions{}, nil)
	rep, err := dl.Copy(context.Background(), e.loc, dst)
	if err != nil || rep.Failed != 0 {
		t.Fatalf("download: %v %+v", err, rep.Failures)
	}
	for _, n := range stale {
		if _, err := os.Stat(filepath.Join(dst, n)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: still there (%v)", n, err)
		}
	}
	for _, n := range kept {
		if _, err := os.Stat(filepath.Join(dst, n)); err != nil {
			t.Errorf("%s: removed (%v)", n, err)
		}
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "removed 2 temporary file(s)") {
		t.Errorf("warnings: %q", rep.Warnings)
	}
	for _, n := range []string{"top.bin", "sub/a.bin"} {
		a, _ := os.ReadFile(filepath.Join(src, n))
		b, _ := os.ReadFile(filepath.Join(dst, n))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs", n)
		}
	}
}

// A prefix under which nothing matches (a typo, most often) creates
// nothing and fails, unless an empty result is allowed.
func TestDownloadNothingMatched(t *testing.T) {
	e, _ := upload(t, map[string]int{"a.txt": 10}, transfer.UploadOptions{})
	for _, c := range []struct {
		name   string
		loc    transfer.Location
		filter []transfer.Rule
	}{
		{"mistyped prefix", transfer.Location{Bucket: "bkt", Prefix: "ds/v2"}, nil},
		{"filters select nothing", e.loc, []transfer.Rule{{Exclude: true, Pattern: "*"}, {Pattern: "*.csv"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, _ := transfer.NewFilterRules(c.filter)
			dst := filepath.Join(t.TempDir(), "out")
			dl, _ := transfer.NewDownloader(e.api, transfer.DownloadOptions{Filter: f}, nil)
			rep, err := dl.Copy(context.Background(), c.loc, dst)
			if !errors.Is(err, transfer.ErrNothingMatched) || transfer.IsFatal(err) || rep == nil || len(rep.Warnings) == 0 {
				t.Fatalf("err = %v, report %+v; want ErrNothingMatched and a warning", err, rep)
			}
			if _, err := os.Stat(dst); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("destination created: %v", err)
			}
			dl, _ = transfer.NewDownloader(e.api, transfer.DownloadOptions{Filter: f, AllowEmpty: true}, nil)
			if _, err := dl.Copy(context.Background(), c.loc, dst); err != nil {
				t.Errorf("with AllowEmpty: %v", err)
			}
		})
	}
}

// Running a download again continues it: files already there with the
// object's size and BLAKE3 are not fetched again; a file that differs is
// refused unless Overwrite, which keeps its permissions.
func TestDownloadRerunSkipsSameAndRefusesDifferent(t *testing.T) {
	files := map[string]int{"a.txt": 100, "b.bin": 3 * mib, "big.bin": 12 * mib}
	e, src := upload(t, files, transfer.UploadOptions{Sizing: transfer.Sizing{PartSize: 5 * mib}})
	dst := t.TempDir()
	copyAll := func(o transfer.DownloadOptions) (*transfer.Report, map[string]int) {
		t.Helper()
		c := &counting{S3API: e.api, n: map[string]int{}}
		o.PartSize = 5 * mib
		dl, _ := transfer.NewDownloader(c, o, nil)
		rep, err := dl.Copy(context.Background(), e.loc, dst)
		if err != nil {
			t.Fatal(err)
		}
		return rep, c.n
	}
	if rep, _ := copyAll(transfer.DownloadOptions{}); rep.Files != 3 {
		t.Fatalf("first run: %+v", rep)
	}
	rep, n := copyAll(transfer.DownloadOptions{})
	if rep.Files != 0 || rep.FilesSkipped != 3 || rep.Failed != 0 || n["GetObject"] != 0 {
		t.Fatalf("second run: %d copied, %d skipped, %d failed, requests %v; want all 3 skipped without a GET", rep.Files, rep.FilesSkipped, rep.Failed, n)
	}

	p := filepath.Join(dst, "a.txt")
	mine := bytes.Repeat([]byte("m"), 100) // same size, other bytes
	os.Chmod(p, 0o600)
	os.WriteFile(p, mine, 0o600)
	os.Chmod(p, 0o400)
	rep, _ = copyAll(transfer.DownloadOptions{})
	if rep.Failed != 1 || len(rep.Failures) != 1 || !strings.Contains(rep.Failures[0].Err, "not replaced") || rep.FilesSkipped != 2 {
		t.Fatalf("changed local file: %+v", rep)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, mine) {
		t.Fatal("a local file that differs was replaced without Overwrite")
	}
	rep, _ = copyAll(transfer.DownloadOptions{Overwrite: true})
	if rep.Files != 1 || rep.Failed != 0 {
		t.Fatalf("with Overwrite: %+v", rep)
	}
	want, _ := os.ReadFile(filepath.Join(src, "a.txt"))
	if b, _ := os.ReadFile(p); !bytes.Equal(b, want) {
		t.Error("Overwrite did not replace the file")
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o400 {
		t.Errorf("mode %v after Overwrite, want 0400 kept", fi.Mode().Perm())
	}
}

// verify passes over a name S3 cannot store (refused by rule, and
// reported), instead of failing on it as an unreadable file.
func TestVerifyReportsRefusedNameWithoutDiffering(t *testing.T) {
	e, src := upload(t, map[string]int{"a.txt": 10}, transfer.UploadOptions{})
	os.WriteFile(filepath.Join(src, "bad\xff.txt"), []byte("z"), 0o644)
	rep, err := transfer.Verify(context.Background(), e.api, src, e.loc, transfer.VerifyOptions{}, nil)
	if err != nil || rep.Differ() != 0 || rep.Equal != 1 {
		t.Fatalf("%v %+v", err, rep)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], `"bad\xff.txt"`) || !strings.Contains(rep.Warnings[0], "UTF-8") {
		t.Errorf("warnings %q", rep.Warnings)
	}
}
