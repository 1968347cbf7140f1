package s3client

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyauth "github.com/aws/smithy-go/auth"
	"github.com/aws/smithy-go/encoding/httpbinding"
	"github.com/aws/smithy-go/middleware"
	smithyrand "github.com/aws/smithy-go/rand"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// API is the client as the engine uses it: the SDK's S3 client, except
// that PutObject of a body already in memory takes the lean path below.
type API struct {
	*s3.Client
	lean *leanPut
}

// API returns the engine's view of the client.
func (c *Client) API() *API { return &API{Client: c.S3, lean: c.lean} }

// PutObject sends in through the lean path when it can (a body in memory,
// only the fields airlift sets, a plain SigV4 endpoint) and through the
// SDK otherwise. Both send the same request on the wire.
func (a *API) PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if a.lean != nil && len(optFns) == 0 {
		if out, ok, err := a.lean.put(ctx, in); ok {
			return out, err
		}
	}
	return a.Client.PutObject(ctx, in, optFns...)
}

// MemoryBody is a request body held in memory. A small one is sent
// straight from the bytes Bytes returns (unread bytes, which from then on
// count as read); a larger one is read through as a ReadSeeker, rewound
// for each attempt, so that progress counted by its reader follows what
// the connection really sent.
type MemoryBody interface {
	io.ReadSeeker
	Bytes() []byte
}

// BytesBody returns b as a MemoryBody, for callers that hold a whole
// object in memory and want it sent as the engine sends its own.
func BytesBody(b []byte) MemoryBody { return &bytesBody{Reader: bytes.NewReader(b), b: b} }

type bytesBody struct {
	*bytes.Reader
	b []byte
}

func (x *bytesBody) Bytes() []byte {
	rest := x.b[len(x.b)-x.Len():]
	_, _ = x.Seek(0, io.SeekEnd)
	return rest
}

// inMemoryMax is the largest body sent from memory in one write with its
// headers. Such a body leaves in milliseconds even on a slow link, so
// counting it as sent at once keeps progress honest.
const inMemoryMax = 256 << 10

const unsignedPayload = "UNSIGNED-PAYLOAD"

// leanPut sends small PutObject requests without the SDK's per-call
// middleware stack. For a 16 KiB object the SDK builds and runs about 40
// middlewares per call (81 µs of CPU and 450 allocations, measured
// by BenchmarkPutObjectOverhead), which on a small machine moving tens of
// thousands of small files is a third of the client's work. This path
// uses the SDK's own parts for what matters: the endpoint resolver (once
// per bucket), the credentials cache, the SigV4 signer, the HTTP client
// (timeouts, bandwidth limit, CA bundle) and the retryer (same attempts,
// backoff, adaptive rate and retry counting). Errors have the SDK's types,
// so callers classify them the same way.
//
// It also lets net/http see a small body is in memory, so headers and
// body leave in one write instead of two (the SDK's wrapped body always
// costs a separate flush of the headers).
type leanPut struct {
	sdk    *s3.Client // decodes error responses (decodeError)
	opts   s3.Options
	hc     aws.HTTPClient
	signer *v4.Signer
	retry  *retry.Attempt
	timing *awsmiddleware.RecordResponseTiming
	ua     string
	// clientSkew is how far the server's clock is ahead of ours (ns), as
	// the retry middleware learnt it; shared with the SDK path (see
	// shareClockSkew) so both sign with one correction.
	clientSkew *atomic.Int64

	mu    sync.Mutex
	bases map[string]*bucketBase
}

// bucketBase is where a bucket's objects live and how to sign for them.
type bucketBase struct {
	lean                 bool // false: this bucket's requests go through the SDK
	scheme, host         string
	path, rawPath        string
	signName, signRegion string
}

// newLeanPut returns nil when the lean path cannot send what the SDK
// would. apiOptions is how many of cli's APIOptions the lean path
// reproduces (airlift's own, see New); any further one, which would
// change the SDK's request in a way the lean path does not know, sends
// every PutObject through the SDK.
func newLeanPut(cli *s3.Client, clientSkew *atomic.Int64, apiOptions int) *leanPut {
	o := cli.Options()
	if o.Retryer == nil || o.Credentials == nil || o.HTTPClient == nil || o.EndpointResolverV2 == nil || len(o.APIOptions) != apiOptions {
		return nil
	}
	if _, anon := o.Credentials.(aws.AnonymousCredentials); anon {
		return nil // unsigned requests: leave them to the SDK
	}
	ua, err := sdkUserAgent(cli)
	if err != nil {
		return nil
	}
	return &leanPut{
		sdk:    cli,
		opts:   o,
		hc:     o.HTTPClient,
		signer: v4.NewSigner(func(so *v4.SignerOptions) { so.DisableURIPathEscaping = true }),
		// As the S3 client's addRetry configures it.
		retry: retry.NewAttemptMiddleware(o.Retryer, smithyhttp.RequestCloner, func(m *retry.Attempt) {
			m.LogAttempts = o.ClientLogMode.IsRetries()
			m.OperationMeter = o.MeterProvider.Meter("github.com/aws/aws-sdk-go-v2/service/s3")
			m.ClientSkew = clientSkew
			m.DisableClockSkewCorrection = o.DisableClockSkewCorrection
		}),
		timing:     &awsmiddleware.RecordResponseTiming{DisableClockSkewCorrection: o.DisableClockSkewCorrection},
		ua:         ua,
		clientSkew: clientSkew,
		bases:      map[string]*bucketBase{},
	}
}

// sdkUserAgent asks the SDK what User-Agent it sends with a PutObject of
// the kind the lean path sends, by letting it build one and answering it
// without a network.
func sdkUserAgent(cli *s3.Client) (string, error) {
	var ua string
	_, err := cli.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("airlift-ua"), Key: aws.String("k"), ChecksumCRC32C: aws.String("AAAAAA=="),
	}, func(o *s3.Options) {
		o.Retryer = aws.NopRetryer{}
		o.HTTPClient = doFunc(func(r *http.Request) (*http.Response, error) {
			ua = r.Header.Get("User-Agent")
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
		})
	})
	if err != nil || ua == "" {
		return "", fmt.Errorf("learning the SDK's User-Agent: %w", err)
	}
	return ua, nil
}

type doFunc func(*http.Request) (*http.Response, error)

func (f doFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// shareClockSkew makes the SDK's retry middleware keep its learnt clock
// skew in skew, which the lean path also uses: a skew learnt on one path
// then corrects (and heals on) the other.
func shareClockSkew(skew *atomic.Int64) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		if m, ok := st.Finalize.Get("Retry"); ok {
			if a, ok := m.(*retry.Attempt); ok {
				a.ClientSkew = skew
			}
		}
		return nil
	}
}

// base resolves a bucket's endpoint once, with the same parameters the
// SDK binds for PutObject on every call (the object key takes no part).
func (l *leanPut) base(ctx context.Context, bucket string) *bucketBase {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.bases[bucket]; ok {
		return b
	}
	b := &bucketBase{}
	l.bases[bucket] = b
	o := l.opts
	ep, err := o.EndpointResolverV2.ResolveEndpoint(ctx, s3.EndpointParameters{
		Bucket:                         aws.String(bucket),
		Region:                         aws.String(o.Region),
		UseFIPS:                        aws.Bool(o.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled),
		UseDualStack:                   aws.Bool(o.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled),
		Endpoint:                       o.BaseEndpoint,
		ForcePathStyle:                 aws.Bool(o.UsePathStyle),
		Accelerate:                     aws.Bool(o.UseAccelerate),
		DisableMultiRegionAccessPoints: aws.Bool(o.DisableMultiRegionAccessPoints),
		UseArnRegion:                   aws.Bool(o.UseARNRegion),
		DisableS3ExpressSessionAuth:    o.DisableS3ExpressSessionAuth,
	})
	if err != nil || len(ep.Headers) > 0 {
		return b // the SDK reports the error, or adds what we do not
	}
	authOpts, _ := smithyauth.GetAuthOptions(&ep.Properties)
	for _, ao := range authOpts {
		if ao.SchemeID != "sigv4" && ao.SchemeID != "aws.auth#sigv4" {
			continue
		}
		b.signName, _ = smithyhttp.GetSigV4SigningName(&ao.SignerProperties)
		b.signRegion, _ = smithyhttp.GetSigV4SigningRegion(&ao.SignerProperties)
		break
	}
	if b.signName == "" {
		return b // S3 Express, SigV4a (multi-region access points): the SDK's
	}
	if b.signRegion == "" {
		b.signRegion = o.Region
	}
	b.scheme, b.host = ep.URI.Scheme, ep.URI.Host
	b.path = strings.TrimSuffix(ep.URI.Path, "/")
	b.rawPath = strings.TrimSuffix(ep.URI.EscapedPath(), "/")
	b.lean = true
	return b
}

// leanable reports whether in sets only the PutObjectInput fields the lean
// path sends; an input with any other field set goes through the SDK.
func leanable(in *s3.PutObjectInput) bool {
	c := *in
	c.Bucket, c.Key, c.Body, c.ContentLength = nil, nil, nil, nil
	c.ChecksumCRC32C, c.ContentType, c.Metadata = nil, nil, nil
	c.StorageClass, c.ServerSideEncryption, c.SSEKMSKeyId = "", "", nil
	if in.ChecksumAlgorithm == types.ChecksumAlgorithmCrc32c && in.ChecksumCRC32C != nil {
		c.ChecksumAlgorithm = ""
	}
	return reflect.ValueOf(c).IsZero()
}

// put reports ok=false when the request must go through the SDK instead.
func (l *leanPut) put(ctx context.Context, in *s3.PutObjectInput) (out *s3.PutObjectOutput, ok bool, err error) {
	var md middleware.Metadata
	mb, isMem := in.Body.(MemoryBody)
	if !isMem || in.ContentLength == nil || *in.ContentLength < 0 || in.Bucket == nil || *in.Bucket == "" || in.Key == nil || *in.Key == "" || !leanable(in) {
		return nil, false, nil
	}
	b := l.base(ctx, *in.Bucket)
	if !b.lean {
		return nil, false, nil
	}
	p := &payload{n: *in.ContentLength}
	if p.n <= inMemoryMax {
		p.data = mb.Bytes()
		if int64(len(p.data)) != p.n {
			return nil, true, fmt.Errorf("PutObject %s: body has %d bytes, ContentLength says %d", *in.Key, len(p.data), p.n)
		}
	} else {
		p.rs = mb
		if p.start, err = mb.Seek(0, io.SeekCurrent); err != nil {
			return nil, true, fmt.Errorf("PutObject %s: %w", *in.Key, err)
		}
	}
	id, err := smithyrand.NewUUID(rand.Reader).GetUUID()
	if err != nil {
		return nil, true, &smithy.OperationError{ServiceID: "S3", OperationName: "PutObject", Err: err}
	}
	// The headers in the SDK's order of work: the serializer's (a pointer
	// field set to "" is sent empty, as the SDK sends it), then what its
	// middlewares add. conformance_test.go holds the two to each other.
	h := make(http.Header, 16)
	h["User-Agent"] = []string{l.ua}
	h["X-Amz-Content-Sha256"] = []string{unsignedPayload}
	h["Accept-Encoding"] = []string{"identity"}
	h["Amz-Sdk-Invocation-Id"] = []string{id}
	if in.ContentType != nil {
		h["Content-Type"] = []string{*in.ContentType}
	} else {
		h["Content-Type"] = []string{"application/octet-stream"} // the SDK's default
	}
	if in.ChecksumAlgorithm != "" {
		h["X-Amz-Sdk-Checksum-Algorithm"] = []string{string(in.ChecksumAlgorithm)}
	}
	setHeader(h, "X-Amz-Checksum-Crc32c", in.ChecksumCRC32C)
	setHeader(h, "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", in.SSEKMSKeyId)
	if in.StorageClass != "" {
		h["X-Amz-Storage-Class"] = []string{string(in.StorageClass)}
	}
	if in.ServerSideEncryption != "" {
		h["X-Amz-Server-Side-Encryption"] = []string{string(in.ServerSideEncryption)}
	}
	for k, v := range in.Metadata {
		h["X-Amz-Meta-"+http.CanonicalHeaderKey(k)] = []string{v}
	}
	if p.n >= 2<<20 {
		// As the SDK does: a refusal (403, 503) arrives before the body
		// is sent, not after.
		h["Expect"] = []string{"100-continue"}
	}
	u := &url.URL{
		Scheme: b.scheme,
		Host:   b.host,
		Path:   b.path + "/" + *in.Key,
		// The SDK's own escaping, so the path sent and the path signed are
		// the ones the SDK would use.
		RawPath: b.rawPath + "/" + httpbinding.EscapePath(*in.Key, false),
		// As the SDK sends it: servers and proxies tell operations apart by it.
		RawQuery: "x-id=PutObject",
	}
	req := &smithyhttp.Request{Request: &http.Request{Method: http.MethodPut, URL: u, Header: h, ContentLength: p.n}}
	// Named as the SDK's stack names it, for what reads it below (the
	// request counts).
	ctx = awsmiddleware.SetOperationName(ctx, "PutObject")
	out, md, err = l.send(ctx, in, req, p, b)
	if err != nil {
		return nil, true, &smithy.OperationError{ServiceID: "S3", OperationName: "PutObject", Err: err}
	}
	out.ResultMetadata = md
	return out, true, nil
}

// payload is what every attempt of one request sends.
type payload struct {
	n     int64
	data  []byte        // up to inMemoryMax: sent from memory
	rs    io.ReadSeeker // larger: read through from start
	start int64
}

// body returns the request body for one attempt, and what to call once
// the attempt is over: from then on the transport (which may still hold
// the body in another goroutine) reads nothing more from the shared
// reader, so the next attempt can rewind it safely.
func (p *payload) body() (io.ReadCloser, func(), error) {
	switch {
	case p.n == 0:
		return http.NoBody, func() {}, nil
	case p.rs == nil:
		// A NopCloser over a bytes.Reader tells net/http the body is in
		// memory: it then writes headers and body in one go.
		return io.NopCloser(bytes.NewReader(p.data)), func() {}, nil
	}
	if _, err := p.rs.Seek(p.start, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("rewinding the request body: %w", err)
	}
	ab := &attemptBody{r: io.LimitReader(p.rs, p.n)}
	return ab, ab.end, nil
}

// attemptBody passes reads through until the attempt ends.
type attemptBody struct {
	mu    sync.Mutex
	r     io.Reader
	ended bool
}

func (b *attemptBody) Read(buf []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return 0, io.ErrUnexpectedEOF
	}
	return b.r.Read(buf)
}

func (b *attemptBody) Close() error { return nil }

func (b *attemptBody) end() {
	b.mu.Lock()
	b.ended = true
	b.mu.Unlock()
}

func setHeader(h http.Header, k string, v *string) {
	if v != nil {
		h[k] = []string{*v}
	}
}

// call is one lean PutObject: what every attempt sends, and the clock
// skew the next attempt signs with.
type call struct {
	l   *leanPut
	in  *s3.PutObjectInput
	p   *payload
	b   *bucketBase
	out *s3.PutObjectOutput
	// skew mirrors the one the SDK's Attempt middleware keeps for the
	// attempt it is about to make (it passes it to the SDK's signer
	// through an internal context key we cannot read): the client's
	// learnt skew for the first attempt, then whatever the last response
	// measured (zero when it measured nothing).
	skew time.Duration
}

// send runs the attempts through the SDK's own retry middleware
// (retry.Attempt), the one the SDK's PutObject uses, configured as the
// client configures it: the same attempt and retry tokens, the same
// backoff given the same error, Retry-After, clock-skew correction
// (sharing the client's learnt skew), the amz-sdk-request header and
// MaxAttemptsError. Only the step under it, signing and sending one
// attempt, is the lean path's own.
func (l *leanPut) send(ctx context.Context, in *s3.PutObjectInput, req *smithyhttp.Request, p *payload, b *bucketBase) (*s3.PutObjectOutput, middleware.Metadata, error) {
	c := &call{l: l, in: in, p: p, b: b}
	if !l.opts.DisableClockSkewCorrection {
		c.skew = time.Duration(l.clientSkew.Load())
	}
	_, md, err := l.retry.HandleFinalize(ctx, middleware.FinalizeInput{Request: req}, c)
	if err != nil {
		return nil, md, err
	}
	return c.out, md, nil
}

// HandleFinalize makes one attempt: sign, send, decode.
func (c *call) HandleFinalize(ctx context.Context, in middleware.FinalizeInput) (middleware.FinalizeOutput, middleware.Metadata, error) {
	l := c.l
	sreq, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("unknown transport type %T", in.Request)
	}
	// The retry middleware hands every attempt its own clone, with the
	// amz-sdk-request header of that attempt.
	req := (&http.Request{
		Method:        http.MethodPut,
		URL:           sreq.URL,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        sreq.Header,
		Host:          sreq.URL.Host,
		ContentLength: c.p.n,
	}).WithContext(ctx)
	body, endAttempt, err := c.p.body()
	if err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, err
	}
	req.Body = body
	creds, err := l.opts.Credentials.Retrieve(ctx)
	if err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("failed to retrieve credentials: %w", err)
	}
	if err := l.signer.SignHTTP(ctx, creds, req, unsignedPayload, c.b.signName, c.b.signRegion, time.Now().Add(c.skew).UTC()); err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("failed to sign request: %w", err)
	}
	// The SDK's own response timing: it records the server's Date and the
	// skew the retry middleware corrects for.
	dout, md, err := l.timing.HandleDeserialize(ctx, middleware.DeserializeInput{Request: sreq}, deserializeFunc(func(ctx context.Context) (any, error) {
		resp, err := l.hc.Do(req)
		endAttempt()
		if err != nil {
			return nil, l.viaSDK(ctx, c.in, &replay{err: err, cancelled: ctx.Err() != nil})
		}
		return &smithyhttp.Response{Response: resp}, nil
	}))
	c.skew, _ = awsmiddleware.GetAttemptSkew(md)
	if err != nil {
		return middleware.FinalizeOutput{}, md, err
	}
	resp := dout.RawResponse.(*smithyhttp.Response).Response
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if rerr != nil {
			return middleware.FinalizeOutput{}, md, l.viaSDK(ctx, c.in, &replay{err: fmt.Errorf("reading the error response: %w", rerr)})
		}
		return middleware.FinalizeOutput{}, md, l.viaSDK(ctx, c.in, &replay{resp: resp, body: body})
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	awsmiddleware.SetRequestIDMetadata(&md, resp.Header.Get("X-Amz-Request-Id"))
	c.out, err = putOutput(resp.Header)
	return middleware.FinalizeOutput{Result: c.out}, md, err
}

type deserializeFunc func(ctx context.Context) (any, error)

func (f deserializeFunc) HandleDeserialize(ctx context.Context, _ middleware.DeserializeInput) (middleware.DeserializeOutput, middleware.Metadata, error) {
	raw, err := f(ctx)
	return middleware.DeserializeOutput{RawResponse: raw}, middleware.Metadata{}, err
}

// viaSDK returns the error the SDK returns for an attempt that ended as
// rp replays it (a response, or a failure to get one): the SDK's own
// PutObject makes the attempt against rp and decodes it, so the error has
// the SDK's types throughout (S3's error type with the request and host
// ids, modeled errors, non-XML bodies, a send failure or cancellation
// inside S3's wrapper). Errors are rare, so the stack's cost does not
// matter here. The replay makes one attempt and learns no clock skew: the
// retry middleware around the lean attempt does both.
func (l *leanPut) viaSDK(ctx context.Context, in *s3.PutObjectInput, rp *replay) error {
	rctx := &replayContext{Context: context.WithoutCancel(ctx), parent: ctx, done: make(chan struct{})}
	rp.ctx = rctx
	_, err := l.sdk.PutObject(rctx, &s3.PutObjectInput{Bucket: in.Bucket, Key: in.Key}, func(o *s3.Options) {
		o.HTTPClient = rp
		o.Retryer = aws.NopRetryer{}
		o.DisableClockSkewCorrection = true
	})
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		return oe.Err
	}
	if err == nil {
		return errors.New("the SDK decoded no error from a failed attempt")
	}
	return err
}

// replay answers one request as the lean attempt ended: with the
// response it received, or the error it got instead.
type replay struct {
	resp      *http.Response
	body      []byte
	err       error
	cancelled bool // the attempt's context ended: the SDK reports that
	ctx       *replayContext
}

func (r *replay) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	if r.err != nil {
		if r.cancelled {
			r.ctx.cancel()
		}
		return nil, r.err
	}
	resp := *r.resp
	resp.Header = r.resp.Header.Clone()
	resp.Body = io.NopCloser(bytes.NewReader(r.body))
	resp.ContentLength = int64(len(r.body))
	return &resp, nil
}

// replayContext is live until the replayed attempt is sent (so the SDK
// makes it), then, if the lean attempt was cancelled, ends with the
// lean attempt's own context error (so the SDK reports the cancellation
// as it would have).
type replayContext struct {
	context.Context
	parent context.Context
	done   chan struct{}
	ended  atomic.Bool
}

func (c *replayContext) cancel() {
	if c.ended.CompareAndSwap(false, true) {
		close(c.done)
	}
}

func (c *replayContext) Done() <-chan struct{} { return c.done }

func (c *replayContext) Err() error {
	if c.ended.Load() {
		return c.parent.Err()
	}
	return nil
}

// putOutput decodes the response headers as the SDK's PutObject
// deserializer does.
func putOutput(h http.Header) (*s3.PutObjectOutput, error) {
	out := &s3.PutObjectOutput{}
	for _, f := range []struct {
		name string
		dst  **string
	}{
		{"X-Amz-Checksum-Crc32", &out.ChecksumCRC32},
		{"X-Amz-Checksum-Crc32c", &out.ChecksumCRC32C},
		{"X-Amz-Checksum-Crc64nvme", &out.ChecksumCRC64NVME},
		{"X-Amz-Checksum-Md5", &out.ChecksumMD5},
		{"X-Amz-Checksum-Sha1", &out.ChecksumSHA1},
		{"X-Amz-Checksum-Sha256", &out.ChecksumSHA256},
		{"X-Amz-Checksum-Sha512", &out.ChecksumSHA512},
		{"X-Amz-Checksum-Xxhash128", &out.ChecksumXXHASH128},
		{"X-Amz-Checksum-Xxhash3", &out.ChecksumXXHASH3},
		{"X-Amz-Checksum-Xxhash64", &out.ChecksumXXHASH64},
		{"Etag", &out.ETag},
		{"X-Amz-Expiration", &out.Expiration},
		{"X-Amz-Server-Side-Encryption-Customer-Algorithm", &out.SSECustomerAlgorithm},
		{"X-Amz-Server-Side-Encryption-Customer-Key-Md5", &out.SSECustomerKeyMD5},
		{"X-Amz-Server-Side-Encryption-Context", &out.SSEKMSEncryptionContext},
		{"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", &out.SSEKMSKeyId},
		{"X-Amz-Version-Id", &out.VersionId},
	} {
		if v, ok := h[f.name]; ok && len(v) > 0 {
			s := strings.TrimSpace(v[0])
			*f.dst = &s
		}
	}
	if v := h.Values("X-Amz-Checksum-Type"); len(v) > 0 {
		out.ChecksumType = types.ChecksumType(strings.TrimSpace(v[0]))
	}
	if v := h.Values("X-Amz-Request-Charged"); len(v) > 0 {
		out.RequestCharged = types.RequestCharged(strings.TrimSpace(v[0]))
	}
	if v := h.Values("X-Amz-Server-Side-Encryption"); len(v) > 0 {
		out.ServerSideEncryption = types.ServerSideEncryption(strings.TrimSpace(v[0]))
	}
	if v := h.Values("X-Amz-Server-Side-Encryption-Bucket-Key-Enabled"); len(v) > 0 {
		b, err := strconv.ParseBool(strings.TrimSpace(v[0]))
		if err != nil {
			return nil, fmt.Errorf("failed to parse BucketKeyEnabled, %w", err)
		}
		out.BucketKeyEnabled = &b
	}
	if v := h.Values("X-Amz-Object-Size"); len(v) > 0 {
		n, err := strconv.ParseInt(strings.TrimSpace(v[0]), 0, 64)
		if err != nil {
			return nil, fmt.Errorf("failed to parse Size, %w", err)
		}
		out.Size = &n
	}
	return out, nil
}
