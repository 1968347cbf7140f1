package transfer

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/airlift-io/airlift/internal/state"
)

func TestResumePointReuse(t *testing.T) {
	server := map[int32]types.Part{
		1: {PartNumber: aws.Int32(1), Size: aws.Int64(100), ETag: aws.String(`"e1"`), ChecksumCRC32C: aws.String("c1")},
		2: {PartNumber: aws.Int32(2), Size: aws.Int64(100), ETag: aws.String(`"e2"`)}, // no server checksum
		3: {PartNumber: aws.Int32(3), Size: aws.Int64(100), ETag: aws.String(`"e3"`)},
	}
	journal := map[int32]state.Part{
		2: {Number: 2, ETag: `"e2"`, CRC32C: "c2"},
		3: {Number: 3, ETag: `"other"`, CRC32C: "c3"},
	}
	rp := &resumePoint{uploadID: "u", server: server, journal: journal}
	for _, c := range []struct {
		name string
		num  int32
		n    int64
		crc  string
		want bool
	}{
		{"server checksum matches the local bytes", 1, 100, "c1", true},
		{"server checksum differs: local file differs", 1, 100, "cX", false},
		{"size differs", 1, 99, "c1", false},
		{"no server checksum, journal ETag and CRC agree", 2, 100, "c2", true},
		{"no server checksum, local CRC differs from journal", 2, 100, "cX", false},
		{"no server checksum, journal ETag differs from server", 3, 100, "c3", false},
		{"part not on the server", 4, 100, "c4", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cp, ok := rp.reuse(c.num, c.n, c.crc)
			if ok != c.want {
				t.Fatalf("reuse = %v, want %v", ok, c.want)
			}
			if ok && (aws.ToInt32(cp.PartNumber) != c.num || aws.ToString(cp.ChecksumCRC32C) != c.crc) {
				t.Errorf("completed part %+v", cp)
			}
		})
	}
	if _, ok := (*resumePoint)(nil).reuse(1, 100, "c1"); ok {
		t.Error("nil resume point reused a part")
	}
}

func respErr(code int) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: errors.New("x")}}
}

func TestKeepForResume(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"interrupted", fmt.Errorf("UploadPart: %w", context.Canceled), true},
		{"file changed", fmt.Errorf("x: %w", ErrChanged), false},
		{"fatal", &FatalError{Reason: "access denied", Err: errors.New("x")}, false},
		{"503 after retries", respErr(503), true},
		{"500", respErr(500), true},
		{"400", respErr(400), false},
		{"404", respErr(404), false},
		{"connection reset", errors.New("read: connection reset by peer"), true},
	} {
		if got := keepForResume(c.err); got != c.want {
			t.Errorf("%s: keepForResume = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestMultipartETag(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	data := make([]byte, 11<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := openFile(Entry{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	plan, _ := PlanParts(int64(len(data)), 5<<20)
	got, err := multipartETag(context.Background(), f, plan)
	if err != nil {
		t.Fatal(err)
	}
	// S3's definition, spelled out: MD5 over the parts' binary MD5s.
	var cat []byte
	for _, part := range [][]byte{data[:5<<20], data[5<<20 : 10<<20], data[10<<20:]} {
		s := md5.Sum(part)
		cat = append(cat, s[:]...)
	}
	s := md5.Sum(cat)
	if want := hex.EncodeToString(s[:]) + "-3"; got != want {
		t.Errorf("multipartETag = %s, want %s", got, want)
	}
}
