package s3client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The conformance tests hold the lean PutObject path to the SDK's: the
// same inputs sent through both to a recording server on 127.0.0.1 must
// arrive as the same request, header by header and byte by byte, and the
// same answers must come back as the same outputs and errors, after the
// same attempts and the same backoff.
//
// Differences allowed, and why:
//   - Authorization: the signature covers X-Amz-Date and the invocation
//     id, which differ between two requests; the credential scope and the
//     signed header list must be equal.
//   - X-Amz-Date: the signing time (checked for form only).
//   - Amz-Sdk-Invocation-Id: a fresh UUID per operation (form only).
//   - On success, ResultMetadata has no S3 host id (x-amz-id-2): the SDK
//     stores it under a key of an internal package. The request id, the
//     response timing and the attempt results are there.

// exchange is one request as the server saw it.
type exchange struct {
	method, uri, host string
	header            http.Header
	body              []byte
}

// answer is what the server does with one request: reset the connection,
// or answer with status, headers and body.
type answer struct {
	reset  bool
	status int
	header map[string]string
	body   string
}

type recorder struct {
	mu      sync.Mutex
	got     []exchange
	answers func(n int, r *http.Request) answer // n counts from 1
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.got = append(rec.got, exchange{r.Method, r.RequestURI, r.Host, r.Header.Clone(), body})
	n := len(rec.got)
	answers := rec.answers
	rec.mu.Unlock()
	a := answer{status: 200, header: map[string]string{"ETag": `"e"`}}
	if answers != nil {
		a = answers(n, r)
	}
	if a.reset {
		c, _, _ := w.(http.Hijacker).Hijack()
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, not a clean close
		}
		c.Close()
		return
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func (rec *recorder) take() []exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	got := rec.got
	rec.got = nil
	return got
}

// delayLog records what the retryer was asked for each backoff, and
// makes the retry loop wait no time at all. The retryer's delay is a
// function of the attempt number and the error (the error decides the
// throttling base, and its response carries Retry-After), so equal
// records mean equal backoff schedules, without a clock.
type delayLog struct {
	aws.RetryerV2
	mu  sync.Mutex
	log []string
}

func (d *delayLog) RetryDelay(attempt int, err error) (time.Duration, error) {
	if _, derr := d.RetryerV2.RetryDelay(attempt, err); derr != nil {
		return 0, derr
	}
	throttle := retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
	retryAfter := ""
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		retryAfter = re.Response.Header.Get("X-Amz-Retry-After")
	}
	d.mu.Lock()
	d.log = append(d.log, fmt.Sprintf("attempt %d: code=%q status=%d throttle=%v retry-after=%q", attempt, apiCode(err), httpStatus(err), throttle, retryAfter))
	d.mu.Unlock()
	return 0, nil
}

func (d *delayLog) take() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.log
	d.log = nil
	return l
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var he interface{ HTTPStatusCode() int }
	if errors.As(err, &he) {
		return he.HTTPStatusCode()
	}
	return 0
}

// errorChain names the types err wraps, outermost first.
func errorChain(err error) string {
	var names []string
	for e := err; e != nil; e = errors.Unwrap(e) {
		names = append(names, fmt.Sprintf("%T", e))
	}
	return strings.Join(names, " > ")
}

// side is one way of sending a PutObject.
type side struct {
	name   string
	put    func(context.Context, *s3.PutObjectInput) (*s3.PutObjectOutput, error)
	delays *delayLog
}

// sides builds a lean and an SDK client for endpoint (empty: AWS itself,
// reached through hc), each its own client with its own learnt skew.
func sides(t *testing.T, endpoint string, hc aws.HTTPClient, maxAttempts int) (lean, sdk side) {
	t.Helper()
	mk := func(name string) side {
		c, err := New(context.Background(), Options{EndpointURL: endpoint, Region: "us-east-1", MaxAttempts: maxAttempts})
		if err != nil {
			t.Fatal(err)
		}
		o := c.S3.Options()
		if hc != nil {
			o.HTTPClient = hc
		}
		d := &delayLog{RetryerV2: o.Retryer.(aws.RetryerV2)}
		o.Retryer = d
		cli := s3.New(o)
		if name == "sdk" {
			return side{name: name, put: func(ctx context.Context, in *s3.PutObjectInput) (*s3.PutObjectOutput, error) {
				return cli.PutObject(ctx, in)
			}, delays: d}
		}
		l := newLeanPut(cli, c.skew, len(o.APIOptions))
		if l == nil {
			t.Fatal("no lean path for this client")
		}
		return side{name: name, put: func(ctx context.Context, in *s3.PutObjectInput) (*s3.PutObjectOutput, error) {
			out, ok, err := l.put(ctx, in)
			if !ok {
				t.Fatalf("the lean path refused %+v", in)
			}
			return out, err
		}, delays: d}
	}
	return mk("lean"), mk("sdk")
}

func conformanceEnv(t *testing.T, token string) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", token)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
}

var (
	uuidForm = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	dateForm = regexp.MustCompile(`^\d{8}T\d{6}Z$`)
	sigForm  = regexp.MustCompile(`, Signature=[0-9a-f]{64}$`)
	// localAddr: a reset's message names the connection's client port.
	localAddr = regexp.MustCompile(`127\.0\.0\.1:\d+`)
)

// sameRequest reports how two recorded requests differ, beyond the
// differences listed at the top of this file.
func sameRequest(lean, sdk exchange) []string {
	var diffs []string
	if lean.method != sdk.method || lean.uri != sdk.uri || lean.host != sdk.host {
		diffs = append(diffs, fmt.Sprintf("request line: lean %s %s (Host %s), sdk %s %s (Host %s)", lean.method, lean.uri, lean.host, sdk.method, sdk.uri, sdk.host))
	}
	if !bytes.Equal(lean.body, sdk.body) {
		diffs = append(diffs, fmt.Sprintf("body: lean %d bytes, sdk %d bytes", len(lean.body), len(sdk.body)))
	}
	keys := map[string]bool{}
	for k := range lean.header {
		keys[k] = true
	}
	for k := range sdk.header {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		lv, sv := lean.header[k], sdk.header[k]
		switch k {
		case "Authorization":
			if len(lv) != 1 || len(sv) != 1 || !sigForm.MatchString(lv[0]) || sigForm.ReplaceAllString(lv[0], "") != sigForm.ReplaceAllString(sv[0], "") {
				diffs = append(diffs, fmt.Sprintf("Authorization: lean %q, sdk %q", lv, sv))
			}
		case "X-Amz-Date":
			if len(lv) != 1 || len(sv) != 1 || !dateForm.MatchString(lv[0]) || !dateForm.MatchString(sv[0]) {
				diffs = append(diffs, fmt.Sprintf("X-Amz-Date: lean %q, sdk %q", lv, sv))
			}
		case "Amz-Sdk-Invocation-Id":
			if len(lv) != 1 || len(sv) != 1 || !uuidForm.MatchString(lv[0]) || !uuidForm.MatchString(sv[0]) {
				diffs = append(diffs, fmt.Sprintf("Amz-Sdk-Invocation-Id: lean %q, sdk %q", lv, sv))
			}
		default:
			if !reflect.DeepEqual(lv, sv) {
				diffs = append(diffs, fmt.Sprintf("%s: lean %q, sdk %q", k, lv, sv))
			}
		}
	}
	return diffs
}

// awsDialer reaches "AWS" (any host, port 443) at the test server.
func awsDialer(srv *httptest.Server) aws.HTTPClient {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the test server's own certificate
	}
	return &http.Client{Transport: tr}
}

func TestLeanPutConformsToSDKOnTheWire(t *testing.T) {
	small := []byte("hello, airlift")
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB: Expect: 100-continue
	inputs := []struct {
		name string
		in   func(key string) *s3.PutObjectInput
	}{
		{"crc32c, type, blake3", func(k string) *s3.PutObjectInput { return input(k, small) }},
		{"empty metadata values and mixed-case keys", func(k string) *s3.PutObjectInput {
			in := input(k, small)
			in.Metadata = map[string]string{"blake3": "abc", "Empty": "", "mixed-Case_key": "v a l", "utf8": "ünï"}
			return in
		}},
		{"no metadata, no type", func(k string) *s3.PutObjectInput {
			in := input(k, small)
			in.Metadata, in.ContentType = nil, nil
			return in
		}},
		{"empty content type", func(k string) *s3.PutObjectInput {
			in := input(k, small)
			in.ContentType = aws.String("")
			return in
		}},
		{"storage class", func(k string) *s3.PutObjectInput {
			in := input(k, small)
			in.StorageClass = types.StorageClassStandardIa
			return in
		}},
		{"SSE-S3", func(k string) *s3.PutObjectInput {
			in := input(k, small)
			in.ServerSideEncryption = types.ServerSideEncryptionAes256
			return in
		}},
		{"SSE-KMS", func(k string) *s3.PutObjectInput {
			in := input(k, small)
			in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
			in.SSEKMSKeyId = aws.String("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
			return in
		}},
		{"checksum algorithm named", func(k string) *s3.PutObjectInput {
			in := input(k, small)
			in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32c
			return in
		}},
		{"empty body", func(k string) *s3.PutObjectInput { return input(k, nil) }},
		{"empty body, no type", func(k string) *s3.PutObjectInput {
			in := input(k, nil)
			in.ContentType = nil
			return in
		}},
		{"3 MiB body", func(k string) *s3.PutObjectInput { return input(k, big) }},
	}
	keys := []string{"plain.txt", "dir/sub/file.bin", "space in name", "plus+sign", "pct%20literal", "semi;colon,comma",
		"star*paren()", "tilde~quote'", "hash#question?", "amp&eq=", "at@dollar$colon:", "brackets[]{}",
		"ünïcødé/日本語", "emoji 🚀", "back\\slash", "dots..name", "double//slash", "/leading", "trailing/"}

	for _, ep := range []struct {
		name  string
		tls   bool
		aws   bool // virtual-hosted AWS endpoint, reached through awsDialer
		token string
	}{
		{name: "custom endpoint"},
		{name: "custom endpoint, session token", token: "the-session-token"},
		{name: "custom https endpoint", tls: true},
		{name: "AWS endpoint", tls: true, aws: true},
	} {
		t.Run(ep.name, func(t *testing.T) {
			conformanceEnv(t, ep.token)
			rec := &recorder{}
			srv := httptest.NewUnstartedServer(rec)
			if ep.tls {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			endpoint, hc := srv.URL, aws.HTTPClient(nil)
			if ep.tls {
				hc = awsDialer(srv) // the test server's certificate
			}
			if ep.aws {
				endpoint = ""
			}
			lean, sdk := sides(t, endpoint, hc, 3)
			check := func(name string, in func() *s3.PutObjectInput) {
				t.Helper()
				for _, s := range []side{lean, sdk} {
					if _, err := s.put(context.Background(), in()); err != nil {
						t.Fatalf("%s: %s: %v", name, s.name, err)
					}
				}
				got := rec.take()
				if len(got) != 2 {
					t.Fatalf("%s: %d requests, want 2", name, len(got))
				}
				for _, d := range sameRequest(got[0], got[1]) {
					t.Errorf("%s: %s", name, d)
				}
			}
			for _, in := range inputs {
				check(in.name, func() *s3.PutObjectInput { return in.in("k") })
			}
			for _, k := range keys {
				check("key "+k, func() *s3.PutObjectInput { return input(k, small) })
			}
		})
	}
}

func input(key string, data []byte) *s3.PutObjectInput {
	return &s3.PutObjectInput{
		Bucket:         aws.String("bkt"),
		Key:            aws.String(key),
		Body:           BytesBody(data),
		ContentLength:  aws.Int64(int64(len(data))),
		ChecksumCRC32C: aws.String("UmSRbA=="),
		ContentType:    aws.String("application/octet-stream"),
		Metadata:       map[string]string{"blake3": "7884279a80978589141a701c949ed457cd8938ceab36653898156243ee7a85ff"},
	}
}

const slowDown = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>R1</RequestId><HostId>H1</HostId></Error>`

func TestLeanPutConformsToSDKOnErrors(t *testing.T) {
	xmlErr := func(status int, code string, hdr map[string]string) answer {
		return answer{status: status, header: hdr, body: fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>m</Message><RequestId>R</RequestId><HostId>H</HostId></Error>`, code)}
	}
	ok := answer{status: 200, header: map[string]string{"ETag": `"e"`, "X-Amz-Request-Id": "OK1", "X-Amz-Id-2": "HOST", "X-Amz-Version-Id": "v1",
		"X-Amz-Expiration": `expiry-date="Fri, 23 Dec 2012 00:00:00 GMT", rule-id="r"`, "X-Amz-Checksum-Crc32c": "UmSRbA==", "X-Amz-Server-Side-Encryption": "AES256"}}
	// failFirst answers a for the first n attempts, then ok.
	failFirst := func(n int, a answer) func(int, *http.Request) answer {
		return func(i int, _ *http.Request) answer {
			if i <= n {
				return a
			}
			return ok
		}
	}
	skewedServer := func(i int, r *http.Request) answer {
		serverNow := time.Now().Add(time.Hour)
		hdr := map[string]string{"Date": serverNow.UTC().Format(http.TimeFormat)}
		signed, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
		if err != nil || serverNow.Sub(signed).Abs() > 15*time.Minute {
			return xmlErr(403, "RequestTimeTooSkewed", hdr)
		}
		a := ok
		a.header = map[string]string{"ETag": `"e"`, "Date": hdr["Date"]}
		return a
	}
	for _, tc := range []struct {
		name    string
		answers func(int, *http.Request) answer
	}{
		{"success", failFirst(0, answer{})},
		{"SlowDown twice", failFirst(2, answer{status: 503, body: slowDown})},
		{"SlowDown with Retry-After", failFirst(1, answer{status: 503, body: slowDown, header: map[string]string{"X-Amz-Retry-After": "1"}})},
		{"SlowDown always", failFirst(100, answer{status: 503, body: slowDown})},
		{"500 InternalError", failFirst(2, xmlErr(500, "InternalError", nil))},
		{"connection reset", failFirst(1, answer{reset: true})},
		{"connection reset always", failFirst(100, answer{reset: true})},
		{"301 PermanentRedirect", failFirst(100, xmlErr(301, "PermanentRedirect", map[string]string{"X-Amz-Bucket-Region": "eu-west-1"}))},
		{"307 TemporaryRedirect", failFirst(100, xmlErr(307, "TemporaryRedirect", map[string]string{"Location": "/elsewhere/k"}))},
		{"403 AccessDenied", failFirst(100, xmlErr(403, "AccessDenied", nil))},
		{"404 NoSuchBucket", failFirst(100, xmlErr(404, "NoSuchBucket", nil))},
		{"RequestTimeTooSkewed", skewedServer},
		{"non-XML 502", failFirst(100, answer{status: 502, header: map[string]string{"Content-Type": "text/html"}, body: "<html><body>Bad Gateway</body></html>"})},
		{"empty 503", failFirst(1, answer{status: 503})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conformanceEnv(t, "")
			rec := &recorder{}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			lean, sdk := sides(t, srv.URL, nil, 4)
			type result struct {
				out      string
				requests []string
				err      string
				delays   []string
			}
			var results []result
			for _, s := range []side{lean, sdk} {
				rec.mu.Lock()
				rec.answers = tc.answers
				rec.mu.Unlock()
				out, err := s.put(context.Background(), input("k", []byte("payload")))
				var r result
				for _, x := range rec.take() {
					r.requests = append(r.requests, x.header.Get("Amz-Sdk-Request"))
				}
				r.delays = s.delays.take()
				if err != nil {
					msg := localAddr.ReplaceAllString(err.Error(), "127.0.0.1:PORT")
					r.err = fmt.Sprintf("%s\ncode=%q status=%d\nmessage=%s", errorChain(err), apiCode(err), httpStatus(err), msg)
					var re interface {
						ServiceRequestID() string
						ServiceHostID() string
					}
					if errors.As(err, &re) {
						r.err += fmt.Sprintf("\nrequest id %q, host id %q", re.ServiceRequestID(), re.ServiceHostID())
					}
				} else {
					id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
					attempts, _ := retry.GetAttemptResults(out.ResultMetadata)
					_, timed := awsmiddleware.GetResponseAt(out.ResultMetadata)
					o := *out
					o.ResultMetadata = s3.PutObjectOutput{}.ResultMetadata
					js, _ := json.Marshal(o)
					r.out = fmt.Sprintf("%s request id %q, %d attempts, timed %v", js, id, len(attempts.Results), timed)
				}
				results = append(results, r)
			}
			if !reflect.DeepEqual(results[0], results[1]) {
				t.Errorf("lean:\n%+v\nsdk:\n%+v", results[0], results[1])
			}
		})
	}
}
