package transfer_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/airlift-io/airlift/internal/s3client"
	"github.com/airlift-io/airlift/internal/s3test"
	"github.com/airlift-io/airlift/transfer"
)

// TestListObjectsOnTheWire lists through a recording proxy and checks
// which listing API reached the server: v1 (no list-type=2) for the
// snowball-edge profile, v2 otherwise, and that both see every key across
// pages.
func TestListObjectsOnTheWire(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "lst")
	seed := srv.Client(t)
	var want []string
	for i := 0; i < 7; i++ {
		k := fmt.Sprintf("p/%02d", i)
		want = append(want, k)
		if _, err := seed.S3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("lst"), Key: aws.String(k), Body: bytes.NewReader([]byte("x"))}); err != nil {
			t.Fatal(err)
		}
	}
	rec := srv.Record(t)
	for _, target := range []s3client.Profile{s3client.ProfileSnowballEdge, s3client.ProfileAWS} {
		t.Run(string(target), func(t *testing.T) {
			rec.Reset()
			cli, err := s3client.New(context.Background(), s3client.Options{EndpointURL: rec.URL, Target: target, MaxAttempts: 1})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			err = transfer.ListObjects(context.Background(), cli.S3, "lst", "p/", transfer.ListOptions{V1: cli.ListV1(), MaxKeys: 3}, func(o types.Object) error {
				got = append(got, aws.ToString(o.Key))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("listed %v, want %v", got, want)
			}
			reqs := rec.Requests()
			if len(reqs) != 3 {
				t.Errorf("%d list requests for 7 keys at 3 a page, want 3", len(reqs))
			}
			for _, r := range reqs {
				v2 := r.Query.Get("list-type") == "2"
				if v2 != (target == s3client.ProfileAWS) {
					t.Errorf("%s: %s %s?%s", target, r.Method, r.Path, r.Query.Encode())
				}
				if r.Host != rec.Host() || r.Path != "/lst" {
					t.Errorf("not path-style: Host %s path %s", r.Host, r.Path)
				}
			}
		})
	}
}

// TestWithListV1Pages drives ListObjectsV2 callers' loop through the v1
// adapter with URL-encoded keys and pages of two, so markers carry keys
// that need decoding.
func TestWithListV1Pages(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "enc")
	seed := srv.Client(t)
	want := []string{"d/a b", "d/caf\u00e9", "d/p%25q", "d/x+y", "d/z&w"}
	for _, k := range want {
		if _, err := seed.S3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("enc"), Key: aws.String(k), Body: bytes.NewReader(nil)}); err != nil {
			t.Fatal(err)
		}
	}
	rec := srv.Record(t)
	cli, err := s3client.New(context.Background(), s3client.Options{EndpointURL: rec.URL, Target: s3client.ProfileSnowballEdge, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	api := transfer.WithListV1(cli.S3)
	var got []string
	err = transfer.ListFolder(context.Background(), pagesOf2{api}, transfer.Location{Bucket: "enc", Prefix: "d"}, func(o transfer.Object) error {
		got = append(got, o.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("listed %q, want %q", got, want)
	}
	reqs := rec.Requests()
	if len(reqs) != 3 {
		t.Errorf("%d requests for 5 keys at 2 a page", len(reqs))
	}
	for _, r := range reqs {
		if r.Query.Get("list-type") != "" || r.Query.Get("continuation-token") != "" {
			t.Errorf("v2 parameters on the wire: %s", r.Query.Encode())
		}
	}
}

// pagesOf2 asks for two keys a page.
type pagesOf2 struct{ transfer.S3API }

func (p pagesOf2) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, o ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	c := *in
	c.MaxKeys = aws.Int32(2)
	return p.S3API.ListObjectsV2(ctx, &c, o...)
}
