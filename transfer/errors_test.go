package transfer_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/airlift-io/airlift/internal/s3client"
	"github.com/airlift-io/airlift/internal/s3test"
	"github.com/airlift-io/airlift/transfer"
)

func clientFor(t *testing.T, endpoint, key string) transfer.S3API {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", key)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	c, err := s3client.New(context.Background(), s3client.Options{EndpointURL: endpoint, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c.S3
}

// A web server that is not S3 (python3 -m http.server) answers 301; no
// region setting helps, so the message must not suggest one.
func TestCheckBucketNonS3Redirect(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
	}))
	defer hs.Close()
	err := transfer.CheckBucket(context.Background(), clientFor(t, hs.URL, "k"), "bkt")
	msg := transfer.UserMessage(err, false)
	if !transfer.IsFatal(err) || !strings.Contains(msg, "did not answer as S3 does (HTTP 301") || strings.Contains(msg, "region") {
		t.Fatalf("err = %v\nmessage %q", err, msg)
	}
}

// HeadBucket answers 404 both for a missing bucket and (on some servers)
// for an access key it does not know; one listing tells them apart.
func TestCheckBucketTellsMissingBucketFromUnknownKey(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	good := clientFor(t, srv.URL, s3test.AccessKey)
	err := transfer.CheckBucket(context.Background(), good, "nobkt")
	if msg := transfer.UserMessage(err, false); !strings.Contains(msg, `bucket "nobkt" does not exist`) || strings.Contains(msg, "credentials") {
		t.Errorf("missing bucket: %q", msg)
	}
	bad := clientFor(t, srv.URL, "unknownkey")
	for _, b := range []string{"bkt", "nobkt"} {
		err := transfer.CheckBucket(context.Background(), bad, b)
		if msg := transfer.UserMessage(err, false); !transfer.IsFatal(err) || !strings.Contains(msg, "refused the credentials") || strings.Contains(msg, "does not exist") {
			t.Errorf("unknown key, bucket %s: %q", b, msg)
		}
	}
}

// The user reads one line without the SDK's "https response error" (which
// it says over http too) and without request ids, unless verbose.
func TestUserMessageIsOneLineWithoutNoise(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	api := clientFor(t, srv.URL, s3test.AccessKey)
	err := transfer.CheckBucket(context.Background(), api, "nobkt")
	if err == nil {
		t.Fatal("no error for a missing bucket")
	}
	msg := transfer.UserMessage(err, false)
	for _, noise := range []string{"https response error", "RequestID", "HostID", "request id", "\n", "operation error"} {
		if strings.Contains(msg, noise) {
			t.Errorf("message %q contains %q", msg, noise)
		}
	}
	if !strings.Contains(msg, "NoSuchBucket") || !strings.Contains(msg, "HTTP 404") {
		t.Errorf("message %q does not say what the server answered", msg)
	}
	id := transfer.RequestID(err)
	if v := transfer.UserMessage(err, true); id == "" || !strings.Contains(v, "request id "+id) {
		t.Errorf("verbose message %q lacks the request id %q", v, id)
	}
}
