package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/airlift-io/airlift/checksum"
)

// fakeSource is a source bucket of one object for the read stage: it lists
// it, answers ranged GETs with If-Match as S3 does, and can be told to
// rewrite the object after some GETs.
type fakeSource struct {
	S3API
	key  string
	data []byte

	mu          sync.Mutex
	etag        string
	gets        int
	rewriteAt   int // after this many GETs the object is rewritten (0: never)
	inFlight    int
	maxInFlight int
	// together, when set, holds the first GETs until this many are in
	// flight at once (or a while has passed): read-ahead shows as overlap.
	together int
	met      chan struct{}
}

func (f *fakeSource) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	return &s3.ListObjectsV2Output{Contents: []types.Object{{Key: aws.String(f.key), Size: aws.Int64(int64(len(f.data))),
		ETag: aws.String(`"` + f.etag + `"`), LastModified: aws.Time(time.Unix(1700000000, 0))}}}, nil
}

func (f *fakeSource) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.mu.Lock()
	f.gets++
	if f.rewriteAt > 0 && f.gets > f.rewriteAt {
		f.etag = "rewritten"
	}
	etag := f.etag
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	wait := f.together > 0 && f.gets <= f.together
	if f.together > 0 && f.inFlight == f.together && wait {
		close(f.met)
	}
	f.mu.Unlock()
	if wait {
		select {
		case <-f.met:
		case <-time.After(5 * time.Second): // no overlap: maxInFlight says so
		}
	}
	defer func() { f.mu.Lock(); f.inFlight--; f.mu.Unlock() }()
	if aws.ToString(in.IfMatch) != `"`+etag+`"` {
		return nil, &smithy.GenericAPIError{Code: "PreconditionFailed"}
	}
	var lo, hi int64
	if _, err := fmt.Sscanf(aws.ToString(in.Range), "bytes=%d-%d", &lo, &hi); err != nil {
		return nil, err
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(f.data[lo : hi+1])),
		ContentRange: aws.String(fmt.Sprintf("bytes %d-%d/%d", lo, hi, len(f.data)))}, nil
}

// TestBucketSourceStages runs an object of a source bucket through the
// upload stages: read as ranges (several at once) straight into parts,
// hashed as they pass; and, when the source object is rewritten mid-copy,
// failed as changed and aborted, never completed.
func TestBucketSourceStages(t *testing.T) {
	data := make([]byte, 17<<20+99)
	for i := range data {
		data[i] = byte(i * 13)
	}
	cases := []struct {
		name      string
		rewriteAt int
		ok        bool
	}{
		{"copied part by part", 0, true},
		{"rewritten after the first range: changed, aborted", 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := &fakeSource{key: "in/big.bin", data: data, etag: "0123abcd-2", rewriteAt: c.rewriteAt, met: make(chan struct{})}
			if c.ok {
				src.together = 2
			}
			dst := &fakeDest{}
			u, err := NewUploader(dst, "bkt", UploadOptions{Sizing: Sizing{PartSize: 5 << 20, MaxMemory: 64 << 20}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := u.CopyFrom(context.Background(), &Bucket{API: src, Loc: Location{Bucket: "srcb", Prefix: "in"}}, Location{Bucket: "bkt", Prefix: "out"})
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Failed == 0; got != c.ok {
				t.Fatalf("ok = %v, want %v (failures %v, calls %v)", got, c.ok, rep.Failures, dst.calls)
			}
			if !c.ok {
				if dst.count("Complete") != 0 || dst.count("Abort") != 1 {
					t.Errorf("calls %v: want no Complete and one Abort", dst.calls)
				}
				if !bytes.Contains([]byte(rep.Failures[0].Err), []byte("changed")) {
					t.Errorf("failure %q does not say the object changed", rep.Failures[0].Err)
				}
				return
			}
			if !bytes.Equal(dst.object, data) {
				t.Fatalf("assembled object differs (%d bytes, want %d)", len(dst.object), len(data))
			}
			if src.maxInFlight < 2 {
				t.Errorf("at most %d ranges read at once; want them read ahead", src.maxInFlight)
			}
			if u.Stats.BytesSent.Load() != int64(len(data)) {
				t.Errorf("sent %d bytes, want %d", u.Stats.BytesSent.Load(), len(data))
			}
		})
	}
}

// TestObjectReaderChanged: a 412 to a ranged read is ErrChanged (so the
// upload is aborted, not kept) and ErrObjectChanged (so the report says
// the object changed).
func TestObjectReaderChanged(t *testing.T) {
	src := &fakeSource{key: "k", data: []byte("hello world"), etag: "e1"}
	b := &Bucket{API: src, Loc: Location{Bucket: "b"}}
	r, _ := b.Open(context.Background(), Entry{Rel: "k", Size: 11, ETag: "e0"})
	err := r.ReadAt(context.Background(), make([]byte, 5), 0)
	if !errors.Is(err, ErrChanged) || !errors.Is(err, ErrObjectChanged) || keepForResume(err) {
		t.Fatalf("err = %v: want ErrChanged and ErrObjectChanged, not kept", err)
	}
	if checksum.Valid("") {
		t.Fatal("an empty BLAKE3 is not valid")
	}
}
