package s3client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/airlift-io/airlift/checksum"
	"github.com/airlift-io/airlift/internal/s3client"
	"github.com/airlift-io/airlift/internal/s3test"
)

func putInput(bucket, key string, data []byte, body io.Reader) *s3.PutObjectInput {
	return &s3.PutObjectInput{
		Bucket:         aws.String(bucket),
		Key:            aws.String(key),
		Body:           body,
		ContentLength:  aws.Int64(int64(len(data))),
		ChecksumCRC32C: aws.String(checksum.CRC32C(data)),
		ContentType:    aws.String("text/plain; charset=utf-8"),
		Metadata:       map[string]string{checksum.MetaKey: checksum.Sum(data), "origin": "lean"},
	}
}

// The lean path and the SDK store the same object for every kind of key:
// same bytes, metadata, content type and checksum, read back through the
// SDK. Keys with characters that need escaping test that the path sent
// and the path signed agree.
func TestLeanPutMatchesSDK(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			srv := s3test.Start(t, s3test.Options{TLS: tls})
			srv.CreateBucket(t, "bkt")
			rec := srv.Record(t)
			srv.SetEnv(t)
			cli, err := s3client.New(context.Background(), s3client.Options{EndpointURL: rec.URL, CABundle: srv.CACert, MaxAttempts: 3})
			if err != nil {
				t.Fatal(err)
			}
			api := cli.API()
			ctx := context.Background()
			keys := []string{
				"plain.txt", "dir/sub/file.bin", "space in name", "plus+sign", "pct%20literal", "semi;colon,comma",
				"star*paren()", "tilde~quote'", "hash#question?", "amp&eq=", "at@dollar$colon:", "brackets[]{}",
				"ünïcødé/日本語", "emoji 🚀", "back\\slash", "dots..name", "double//slash",
			}
			keys = append(keys, "big") // over 2 MiB: sent with Expect: 100-continue
			for i, key := range keys {
				data := bytes.Repeat([]byte{byte(i)}, 1000+i)
				if key == "big" {
					data = bytes.Repeat([]byte("0123456789abcdef"), 3<<16)
				}
				rec.Reset()
				if _, err := api.PutObject(ctx, putInput("bkt", "lean/"+key, data, s3client.BytesBody(data))); err != nil {
					t.Fatalf("lean put %q: %v", key, err)
				}
				reqs := rec.Requests()
				// The lean path sends what the SDK sends (conformance_test.go
				// holds it to that), so only the count tells them apart here.
				if len(reqs) != 1 {
					t.Fatalf("%q: want one request, got %d (%v)", key, len(reqs), reqs)
				}
				// An io.Reader body is not in memory: the SDK sends it.
				if _, err := api.PutObject(ctx, putInput("bkt", "sdk/"+key, data, bytes.NewReader(data))); err != nil {
					t.Fatalf("sdk put %q: %v", key, err)
				}
				lean, sdk := head(t, cli, "bkt", "lean/"+key), head(t, cli, "bkt", "sdk/"+key)
				if lean != sdk {
					t.Errorf("%q: lean path stored\n  %s\nSDK stored\n  %s", key, lean, sdk)
				}
				got, err := cli.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("lean/" + key)})
				if err != nil {
					t.Fatalf("get %q: %v", key, err)
				}
				b, _ := io.ReadAll(got.Body)
				got.Body.Close()
				if !bytes.Equal(b, data) {
					t.Errorf("%q: read back %d bytes, want %d", key, len(b), len(data))
				}
			}
		})
	}
}

func head(t *testing.T, cli *s3client.Client, bucket, key string) string {
	t.Helper()
	h, err := cli.S3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatalf("head %q: %v", key, err)
	}
	return fmt.Sprintf("len=%d type=%s crc32c=%s meta=%v", aws.ToInt64(h.ContentLength), aws.ToString(h.ContentType), aws.ToString(h.ChecksumCRC32C), h.Metadata)
}

// Errors from the lean path carry S3's code, as the SDK's do, so the
// engine classifies them the same way; a bad checksum is refused.
func TestLeanPutErrors(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	cli := srv.Client(t)
	api := cli.API()
	data := []byte("hello")
	ctx := context.Background()

	in := putInput("missing", "k", data, s3client.BytesBody(data))
	if _, err := api.PutObject(ctx, in); apiCode(err) != "NoSuchBucket" {
		t.Errorf("missing bucket: got %v, want NoSuchBucket", err)
	}
	in = putInput("bkt", "k", data, s3client.BytesBody(data))
	in.ChecksumCRC32C = aws.String(checksum.CRC32C([]byte("other")))
	if _, err := api.PutObject(ctx, in); err == nil || apiCode(err) == "" {
		t.Errorf("wrong CRC32C: got %v, want the server's refusal", err)
	}
	if _, err := cli.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")}); err == nil {
		t.Error("an object with a wrong checksum was stored")
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
	bad, err := s3client.New(ctx, s3client.Options{EndpointURL: srv.URL, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	in = putInput("bkt", "k", data, s3client.BytesBody(data))
	if _, err := bad.API().PutObject(ctx, in); apiCode(err) != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: got %v, want SignatureDoesNotMatch", err)
	}
	if n := bad.Retries.Load(); n != 0 {
		t.Errorf("a permanent error was retried %d times", n)
	}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// flaky answers the first failures requests with a throttling error or
// a dropped connection, then stores nothing and answers success.
func flaky(t *testing.T, failures int, drop bool, want []byte) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if i := n.Add(1); int(i) <= failures {
			if drop {
				conn, _, _ := w.(http.Hijacker).Hijack()
				conn.Close()
				return
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>R1</RequestId></Error>`)
			return
		}
		if !bytes.Equal(body, want) {
			t.Errorf("attempt %d sent %d bytes, want %d", n.Load(), len(body), len(want))
		}
		w.Header().Set("ETag", `"e"`)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// Throttling and dropped connections are retried with the client's
// retryer, which counts them; the body is sent whole on every attempt.
func TestLeanPutRetries(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 40<<10) // 640 KiB: read through, rewound per attempt
	for _, tc := range []struct {
		drop bool
		data []byte
	}{{false, []byte("payload")}, {true, []byte("payload")}, {false, big}, {true, big}} {
		drop, data := tc.drop, tc.data
		t.Run(fmt.Sprintf("drop=%v,bytes=%d", drop, len(data)), func(t *testing.T) {
			srv, n := flaky(t, 2, drop, data)
			t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			cli, err := s3client.New(context.Background(), s3client.Options{EndpointURL: srv.URL, Region: "us-east-1", MaxAttempts: 5})
			if err != nil {
				t.Fatal(err)
			}
			out, err := cli.API().PutObject(context.Background(), putInput("bkt", "k", data, s3client.BytesBody(data)))
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.ETag) != `"e"` || n.Load() != 3 || cli.Retries.Load() != 2 {
				t.Errorf("etag %s after %d requests and %d retries, want \"e\", 3 and 2", aws.ToString(out.ETag), n.Load(), cli.Retries.Load())
			}
		})
	}
	t.Run("gives up", func(t *testing.T) {
		srv, n := flaky(t, 100, false, []byte("payload"))
		t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
		cli, _ := s3client.New(context.Background(), s3client.Options{EndpointURL: srv.URL, Region: "us-east-1", MaxAttempts: 3})
		data := []byte("payload")
		_, err := cli.API().PutObject(context.Background(), putInput("bkt", "k", data, s3client.BytesBody(data)))
		if apiCode(err) != "SlowDown" || n.Load() != 3 || !strings.Contains(err.Error(), "exceeded maximum number of attempts, 3") {
			t.Errorf("after %d requests: %v", n.Load(), err)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		srv, _ := flaky(t, 100, false, []byte("payload"))
		t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
		cli, _ := s3client.New(context.Background(), s3client.Options{EndpointURL: srv.URL, Region: "us-east-1", MaxAttempts: 50})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		data := []byte("payload")
		_, err := cli.API().PutObject(ctx, putInput("bkt", "k", data, s3client.BytesBody(data)))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want the context's error", err)
		}
	})
}

// A server whose clock is an hour ahead refuses the first signature as
// too skewed; the lean path learns the skew from its Date header, retries,
// and signs later requests with the corrected time at once.
func TestLeanPutClockSkew(t *testing.T) {
	ahead := time.Hour
	var requests, refused atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		serverNow := time.Now().Add(ahead)
		w.Header().Set("Date", serverNow.UTC().Format(http.TimeFormat))
		signed, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
		if err != nil || serverNow.Sub(signed).Abs() > 15*time.Minute {
			refused.Add(1)
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current time is too large.</Message></Error>`)
			return
		}
		w.Header().Set("ETag", `"e"`)
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	cli, err := s3client.New(context.Background(), s3client.Options{EndpointURL: srv.URL, Region: "us-east-1", MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("payload")
	for i := 0; i < 3; i++ {
		if _, err := cli.API().PutObject(context.Background(), putInput("bkt", fmt.Sprint("k", i), data, s3client.BytesBody(data))); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if requests.Load() != 4 || refused.Load() != 1 {
		t.Errorf("%d requests, %d refused as skewed; want 4 and 1", requests.Load(), refused.Load())
	}
}

// Temporary credentials (a session token) are signed and sent, as the
// SDK sends them.
func TestLeanPutSessionToken(t *testing.T) {
	var token, signed string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		token, signed = r.Header.Get("X-Amz-Security-Token"), r.Header.Get("Authorization")
		w.Header().Set("ETag", `"e"`)
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "ASIATEMP")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "the-session-token")
	cli, err := s3client.New(context.Background(), s3client.Options{EndpointURL: srv.URL, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("payload")
	if _, err := cli.API().PutObject(context.Background(), putInput("bkt", "k", data, s3client.BytesBody(data))); err != nil {
		t.Fatal(err)
	}
	if token != "the-session-token" || !strings.Contains(signed, "x-amz-security-token") || !strings.Contains(signed, "Credential=ASIATEMP/") {
		t.Errorf("token %q, authorization %q", token, signed)
	}
}
