package transfer

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/airlift-io/airlift/checksum"
	"github.com/airlift-io/airlift/internal/state"
)

// fakeDest is a destination for the multipart stages: it keeps the parts
// it is sent and assembles them at Complete, and can be told to fail one
// call. Only the calls a multipart upload makes are implemented.
type fakeDest struct {
	S3API // nil: any other call panics, so a test sees an unexpected one

	mu       sync.Mutex
	parts    map[int32][]byte
	object   []byte
	calls    []string
	failPart int32 // UploadPart of this part fails (0: none)
	complete string
}

func (f *fakeDest) call(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
}

func (f *fakeDest) CreateMultipartUpload(_ context.Context, in *s3.CreateMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	f.call("Create")
	f.parts = map[int32][]byte{}
	return &s3.CreateMultipartUploadOutput{UploadId: aws.String("up-1")}, nil
}

func (f *fakeDest) UploadPart(_ context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	f.call("UploadPart")
	b := new(bytes.Buffer)
	if _, err := b.ReadFrom(in.Body); err != nil {
		return nil, err
	}
	if aws.ToInt32(in.PartNumber) == f.failPart {
		return nil, &smithy.GenericAPIError{Code: "InvalidArgument", Message: "part refused"}
	}
	f.mu.Lock()
	f.parts[aws.ToInt32(in.PartNumber)] = b.Bytes()
	f.mu.Unlock()
	sum := md5.Sum(b.Bytes())
	return &s3.UploadPartOutput{ETag: aws.String(`"` + hex.EncodeToString(sum[:]) + `"`)}, nil
}

// etag is the multipart ETag of the assembled object.
func (f *fakeDest) etag() string {
	all := md5.New()
	nums := make([]int, 0, len(f.parts))
	for n := range f.parts {
		nums = append(nums, int(n))
	}
	sort.Ints(nums)
	for _, n := range nums {
		s := md5.Sum(f.parts[int32(n)])
		all.Write(s[:])
	}
	return fmt.Sprintf(`"%x-%d"`, all.Sum(nil), len(nums))
}

func (f *fakeDest) CompleteMultipartUpload(_ context.Context, in *s3.CompleteMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	f.call("Complete")
	f.object = nil
	for _, p := range in.MultipartUpload.Parts {
		f.object = append(f.object, f.parts[aws.ToInt32(p.PartNumber)]...)
	}
	switch f.complete {
	case "lost": // assembled, but the response never arrived; the retry finds no upload
		return nil, &smithy.GenericAPIError{Code: "NoSuchUpload"}
	case "refused":
		f.object = nil
		return nil, &smithy.GenericAPIError{Code: "InvalidPart", Message: "one or more parts could not be found"}
	}
	return &s3.CompleteMultipartUploadOutput{ETag: aws.String(f.etag())}, nil
}

func (f *fakeDest) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	f.call("Head")
	if f.object == nil {
		return nil, &smithy.GenericAPIError{Code: "NotFound"}
	}
	return &s3.HeadObjectOutput{ContentLength: aws.Int64(int64(len(f.object))), ETag: aws.String(f.etag())}, nil
}

func (f *fakeDest) AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	f.call("Abort")
	return &s3.AbortMultipartUploadOutput{}, nil
}

// ListParts answers as a server whose aborted upload is gone.
func (f *fakeDest) ListParts(context.Context, *s3.ListPartsInput, ...func(*s3.Options)) (*s3.ListPartsOutput, error) {
	f.call("ListParts")
	if f.count("Abort") > 0 {
		return nil, &smithy.GenericAPIError{Code: "NoSuchUpload"}
	}
	return &s3.ListPartsOutput{}, nil
}

func (f *fakeDest) PutObjectTagging(context.Context, *s3.PutObjectTaggingInput, ...func(*s3.Options)) (*s3.PutObjectTaggingOutput, error) {
	f.call("Tag")
	return &s3.PutObjectTaggingOutput{}, nil
}

func (f *fakeDest) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == name {
			n++
		}
	}
	return n
}

// TestMultipartStages runs a 12 MiB file (three 5 MiB parts, the last
// short) through create, send, complete and keep-or-abort against a fake
// destination, for each way the upload can end.
func TestMultipartStages(t *testing.T) {
	data := make([]byte, 12<<20+345)
	for i := range data {
		data[i] = byte(i * 7)
	}
	src := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name              string
		dest              *fakeDest
		ok                bool
		complete, aborted int
	}{
		{"completed", &fakeDest{}, true, 1, 0},
		{"complete response lost, object found made of our parts", &fakeDest{complete: "lost"}, true, 1, 0},
		{"complete refused: aborted", &fakeDest{complete: "refused"}, false, 1, 1},
		{"a part refused: aborted, never completed", &fakeDest{failPart: 2}, false, 0, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := c.dest
			u, err := NewUploader(f, "bkt", UploadOptions{Sizing: Sizing{PartSize: 5 << 20, MaxMemory: 32 << 20}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := u.Copy(context.Background(), src, Location{Bucket: "bkt", Prefix: "p/"})
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Failed == 0; got != c.ok {
				t.Fatalf("ok = %v, want %v (failures %v; calls %v)", got, c.ok, rep.Failures, f.calls)
			}
			if f.count("Complete") != c.complete || f.count("Abort") != c.aborted || f.count("Create") != 1 {
				t.Errorf("calls %v: want %d Complete, %d Abort, 1 Create", f.calls, c.complete, c.aborted)
			}
			if !c.ok {
				return
			}
			if !bytes.Equal(f.object, data) {
				t.Errorf("assembled object differs from the file (%d bytes, want %d)", len(f.object), len(data))
			}
			if f.count("Tag") != 1 {
				t.Errorf("BLAKE3 tag not written: %v", f.calls)
			}
			if u.Stats.BytesSent.Load() != int64(len(data)) {
				t.Errorf("sent %d bytes, want %d", u.Stats.BytesSent.Load(), len(data))
			}
		})
	}
}

// TestKeepOrAbort: with a journal, an upload cut off by a passing fault is
// kept for the next run; one that can never complete is aborted.
func TestKeepOrAbort(t *testing.T) {
	cases := []struct {
		name string
		err  error
		kept bool
	}{
		{"interrupted", context.Canceled, true},
		{"transport fault", errors.New("connection reset by peer"), true},
		{"file changed", fmt.Errorf("read 3 of 4: %w", ErrChanged), false},
		{"refused by the server", &smithy.GenericAPIError{Code: "InvalidPart"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeDest{}
			j, err := state.Open(t.TempDir(), state.Dest{Bucket: "bkt"}, state.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			u, err := NewUploader(f, "bkt", UploadOptions{Journal: j}, nil)
			if err != nil {
				t.Fatal(err)
			}
			u.report = &Report{}
			_ = u.keepOrAbort(context.Background(), &mpUpload{key: "k", id: "up-1", err: c.err})
			if aborted := f.count("Abort") == 1; aborted == c.kept {
				t.Errorf("kept = %v, want %v (calls %v)", !aborted, c.kept, f.calls)
			}
		})
	}
}

// TestResumeKeepsTheUploadsPartSize: an upload an older airlift began with
// 8 MiB parts, for a file that now takes 16 MiB parts by default, is
// continued in its own parts, not aborted and sent again.
func TestResumeKeepsTheUploadsPartSize(t *testing.T) {
	src := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(src, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(src, LargeFileSize+1); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	j, err := state.Open(t.TempDir(), state.Dest{Bucket: "bkt"}, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	rec := idOfEntry(FileEntry(src, "big.bin", fi)).record(state.Uploading)
	rec.UploadID, rec.PartSize = "up-0", DefaultPartSize
	if err := j.Put("p/big.bin", rec); err != nil {
		t.Fatal(err)
	}
	f := &fakeDest{parts: map[int32][]byte{}}
	u, err := NewUploader(f, "bkt", UploadOptions{Journal: j, Sizing: Sizing{MaxMemory: 64 << 20}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := u.Copy(context.Background(), src, Location{Bucket: "bkt", Prefix: "p/"})
	if err != nil || rep.Failed != 0 {
		t.Fatalf("copy: %v, failures %v", err, rep.Failures)
	}
	want := int((LargeFileSize + 1 + DefaultPartSize - 1) / DefaultPartSize)
	if f.count("Create") != 0 || f.count("Abort") != 0 || f.count("UploadPart") != want {
		t.Fatalf("calls: %d Create, %d Abort, %d UploadPart; want 0, 0, %d (the upload continued in 8 MiB parts); warnings %v",
			f.count("Create"), f.count("Abort"), f.count("UploadPart"), want, rep.Warnings)
	}
	if len(f.object) != LargeFileSize+1 {
		t.Fatalf("object of %d bytes, want %d", len(f.object), LargeFileSize+1)
	}
}

// fakeStream is a streamReader of data, whose Stat gives bound as its
// size (as a compressed shard's does).
type fakeStream struct {
	data  []byte
	bound int64
	off   int
}

func (s *fakeStream) Stat() Entry {
	return Entry{Path: "stream", Rel: "stream", Size: s.bound, ModTime: time.Unix(1, 0), Inode: 7}
}
func (s *fakeStream) ReadAt(context.Context, []byte, int64) error {
	return errors.New("a stream was read at an offset")
}
func (s *fakeStream) ReadNext(_ context.Context, p []byte) (int, error) {
	n := copy(p, s.data[s.off:])
	s.off += n
	return n, nil
}
func (s *fakeStream) Unchanged() error { return nil }
func (s *fakeStream) ReadAhead() int   { return 1 }
func (s *fakeStream) Close() error     { return nil }

// PutObject keeps the object (a stream short enough for one request).
func (f *fakeDest) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	f.call("Put")
	b := new(bytes.Buffer)
	if _, err := b.ReadFrom(in.Body); err != nil {
		return nil, err
	}
	f.object = b.Bytes()
	sum := md5.Sum(f.object)
	return &s3.PutObjectOutput{ETag: aws.String(`"` + hex.EncodeToString(sum[:]) + `"`)}, nil
}

// TestStreamStages: a stream, whose size is known only at its end, is
// planned on its bound and sent in full parts until the first short one;
// the object is exactly its bytes, with its real size and part count.
func TestStreamStages(t *testing.T) {
	const ps = 5 << 20
	cases := []struct {
		name        string
		size, bound int64
		ok          bool
		calls       string // the requests, in order, but for the parts (Head: the stored size checked)
		parts       int
	}{
		{"ends inside a part", 2*ps + 1234, 4 * ps, true, "Create Complete Head Tag", 3},
		{"ends on a part's end", 2 * ps, 4 * ps, true, "Create Complete Head Tag", 2},
		{"one short part", 1000, 3 * ps, true, "Create Complete Head Tag", 1},
		{"the bound fits one request", 3000, ps, true, "Put", 0},
		{"passes its bound", 3*ps + 1, 3 * ps, false, "Create Abort ListParts", 0},
		{"passes its one-request bound", ps + 1, ps, false, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := make([]byte, c.size)
			for i := range data {
				data[i] = byte(i*7 + i>>20)
			}
			f := &fakeDest{}
			u, err := NewUploader(f, "bkt", UploadOptions{Sizing: Sizing{PartSize: ps, MaxMemory: 64 << 20}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var sent FileResult
			rep, err := u.Run(context.Background(), "src", Location{Bucket: "bkt", Prefix: "p/"}, func(ctx context.Context, send func(Job) error) error {
				s := &fakeStream{data: data, bound: c.bound}
				return send(Job{Entry: s.Stat(), Key: "p/stream",
					open: func(context.Context) (Reader, error) { return s, nil },
					sent: func(_ context.Context, res FileResult) error { sent = res; return nil }})
			})
			if err != nil {
				t.Fatal(err)
			}
			var calls []string
			for _, c := range f.calls {
				if c != "UploadPart" {
					calls = append(calls, c)
				}
			}
			if got := strings.Join(calls, " "); got != c.calls || (rep.Failed == 0) != c.ok {
				t.Fatalf("calls %q, failed %d (%v); want %q, ok %v", got, rep.Failed, rep.Failures, c.calls, c.ok)
			}
			if !c.ok {
				return
			}
			if f.count("UploadPart") != c.parts && c.calls != "Put" {
				t.Errorf("%d parts sent, want %d", f.count("UploadPart"), c.parts)
			}
			if !bytes.Equal(f.object, data) {
				t.Errorf("object differs from the stream (%d bytes, want %d)", len(f.object), len(data))
			}
			if sent.Size != c.size || sent.Parts != c.parts || sent.BLAKE3 != checksum.Sum(data) {
				t.Errorf("result: size %d, %d parts, BLAKE3 %s; want %d, %d, the stream's", sent.Size, sent.Parts, sent.BLAKE3, c.size, c.parts)
			}
		})
	}
}
