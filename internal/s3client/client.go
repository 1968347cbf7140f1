// Package s3client builds the one S3 client a run uses: endpoint and
// addressing, credentials through the SDK's default chain, a connection
// pool sized for the run's concurrency, idle timeouts that turn a hung
// connection into a retryable error, the bandwidth limit, and a retryer
// that counts its retries and never gives up because of a client-side
// retry quota.
package s3client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"

	"github.com/airlift-io/airlift/internal/bwlimit"
)

// Profile names a target's compatibility profile: what the endpoint
// accepts on the wire.
type Profile string

const (
	// ProfileAWS is Amazon S3 itself (and servers that match it fully).
	ProfileAWS Profile = "aws"
	// ProfileSnowballEdge is the S3 adapter of a Snowball Edge device:
	// path-style, no aws-chunked bodies, ListObjects v1 only.
	ProfileSnowballEdge Profile = "snowball-edge"
)

// ParseProfile checks a --target-profile value.
func ParseProfile(s string) (Profile, error) {
	switch Profile(s) {
	case "", ProfileAWS:
		return ProfileAWS, nil
	case ProfileSnowballEdge:
		return ProfileSnowballEdge, nil
	}
	return "", fmt.Errorf("unknown --target-profile %q (want aws or snowball-edge)", s)
}

// Options says how to reach the target.
type Options struct {
	Region      string
	Profile     string // shared-config profile (--profile)
	EndpointURL string
	CABundle    string
	Accelerate  bool
	Target      Profile

	RetryMode   string // "standard" (default) or "adaptive"
	MaxAttempts int    // per request, including the first; 0 = 10
	// IOTimeout bounds how long a connection may make no progress reading
	// or writing before it is closed and the request retried.
	IOTimeout time.Duration
	// MaxConns sizes the idle connection pool; it should be at least the
	// number of requests the run keeps in flight, or sockets churn.
	MaxConns int
	Limiter  *bwlimit.Limiter
	// SDKPut sends every PutObject through the SDK's middleware stack
	// instead of the lean path (for side-by-side measurement).
	SDKPut bool
}

// Client is the configured S3 client and what the run learns about it.
type Client struct {
	S3      *s3.Client
	Region  string
	HTTPS   bool
	Target  Profile
	Retries *atomic.Int64 // retries made so far, across all requests
	// Requests counts the requests the server answered, by operation.
	Requests *RequestCounts
	creds    aws.CredentialsProvider
	lean     *leanPut
	skew     *atomic.Int64 // clock skew learnt by both PutObject paths
}

// New builds the client. It does not contact the endpoint.
func New(ctx context.Context, o Options) (*Client, error) {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	if o.IOTimeout <= 0 {
		o.IOTimeout = 60 * time.Second
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 64
	}
	target, err := ParseProfile(string(o.Target))
	if err != nil {
		return nil, err
	}
	if o.Accelerate && o.EndpointURL != "" {
		return nil, errors.New("--accelerate and --endpoint-url cannot be used together")
	}
	if target == ProfileSnowballEdge {
		if o.EndpointURL, err = SnowballEndpoint(o.EndpointURL); err != nil {
			return nil, err
		}
	}
	https := true
	if o.EndpointURL != "" {
		u, err := url.Parse(o.EndpointURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("invalid --endpoint-url %q: want http(s)://host[:port]", o.EndpointURL)
		}
		https = u.Scheme == "https"
	}

	hc, err := httpClient(o)
	if err != nil {
		return nil, err
	}
	retries := new(atomic.Int64)
	loadOpts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(hc),
		// The SDK's own log lines (IMDS fallbacks, checksum notices) are
		// not for our users; errors reach them through our messages.
		config.WithLogger(logging.Nop{}),
		config.WithRetryer(func() aws.Retryer { return newRetryer(o, retries) }),
		// We supply CRC32C ourselves on every body we send; the SDK need not
		// compute a second checksum, and downloads are checked by BLAKE3.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	cfg, err := LoadConfig(ctx, ConfigOptions{Region: o.Region, Profile: o.Profile, CABundle: o.CABundle}, loadOpts...)
	if err != nil {
		return nil, err
	}
	// Counted below the SDK and the lean path alike: every request either
	// sends goes through this client (after the config loader added a CA
	// bundle to it).
	requests := &RequestCounts{}
	cfg.HTTPClient = countingClient{HTTPClient: cfg.HTTPClient, counts: requests}
	if cfg.Region == "" {
		// Custom endpoints (versitygw, MinIO, a Snowball device) ignore the
		// region but the signer needs one.
		cfg.Region = "us-east-1"
	}
	// ours counts the APIOptions added here, all of which the lean path
	// reproduces by construction: it never sends aws-chunked bodies, always
	// signs UNSIGNED-PAYLOAD and keeps its clock skew in skew.
	ours := 0
	skew := new(atomic.Int64)
	cli := s3.NewFromConfig(cfg, func(so *s3.Options) {
		before := len(so.APIOptions)
		defer func() { ours = len(so.APIOptions) - before }()
		if o.EndpointURL != "" {
			so.BaseEndpoint = aws.String(o.EndpointURL)
			so.UsePathStyle = true
		}
		if target == ProfileSnowballEdge {
			so.UsePathStyle = true
			so.APIOptions = append(so.APIOptions, refuseAWSChunked)
		}
		so.UseAccelerate = o.Accelerate
		so.DisableLogOutputChecksumValidationSkipped = true
		// Bodies carry a CRC32C the server checks and a BLAKE3 airlift
		// checks end to end; signing the payload as well would make both
		// sides SHA-256 every byte (over plain HTTP the SDK would), which
		// on a small machine costs more than the transfer itself.
		so.APIOptions = append(so.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
		so.APIOptions = append(so.APIOptions, shareClockSkew(skew))
	})
	c := &Client{S3: cli, Region: cfg.Region, HTTPS: https, Target: target, Retries: retries, Requests: requests, creds: cfg.Credentials, skew: skew}
	if !o.SDKPut {
		c.lean = newLeanPut(cli, skew, ours)
	}
	return c, nil
}

// ConfigOptions are what every AWS client airlift builds (S3, DataSync)
// takes from the command line.
type ConfigOptions struct {
	Region, Profile, CABundle string
}

// LoadConfig loads the SDK's configuration (default credential chain,
// shared config) with o applied over it; extra load options come first.
func LoadConfig(ctx context.Context, o ConfigOptions, extra ...func(*config.LoadOptions) error) (aws.Config, error) {
	lo := append([]func(*config.LoadOptions) error{}, extra...)
	if o.Profile != "" {
		lo = append(lo, config.WithSharedConfigProfile(o.Profile))
	}
	if o.Region != "" {
		lo = append(lo, config.WithRegion(o.Region))
	}
	if o.CABundle != "" {
		pem, err := os.ReadFile(o.CABundle)
		if err != nil {
			return aws.Config{}, fmt.Errorf("--ca-bundle: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return aws.Config{}, fmt.Errorf("--ca-bundle %s: no PEM certificates found", o.CABundle)
		}
		lo = append(lo, config.WithCustomCABundle(bytes.NewReader(pem)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return cfg, fmt.Errorf("loading AWS configuration: %w", err)
	}
	return cfg, nil
}

// CheckCredentials resolves the credential chain once, so that "no
// credentials" is reported as such instead of as a failed request.
func (c *Client) CheckCredentials(ctx context.Context) error {
	if c.creds == nil {
		return errors.New("no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --profile)")
	}
	if _, err := c.creds.Retrieve(ctx); err != nil {
		return fmt.Errorf("no usable AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --profile): %w", err)
	}
	return nil
}

// ListV1 reports whether listings must use ListObjects (v1): the S3
// adapter of a Snowball Edge has no ListObjectsV2. Pass it to
// transfer.ListOptions.
func (c *Client) ListV1() bool { return c.Target == ProfileSnowballEdge }

// BucketRegion asks S3 where bucket lives, for runs against AWS that were
// not given --region. Custom endpoints answer with the configured region.
func (c *Client) BucketRegion(ctx context.Context, bucket string) (string, error) {
	return manager.GetBucketRegion(ctx, c.S3, bucket)
}

// httpClient is the SDK's buildable client (so the config loader can still
// add a CA bundle from AWS_CA_BUNDLE or --ca-bundle) with our transport
// settings.
func httpClient(o Options) (*awshttp.BuildableClient, error) {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.Proxy = http.ProxyFromEnvironment
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return newConn(c, o.IOTimeout, o.Limiter), nil
		}
		tr.MaxIdleConns = o.MaxConns * 2
		tr.MaxIdleConnsPerHost = o.MaxConns * 2
		tr.IdleConnTimeout = 90 * time.Second
		tr.TLSHandshakeTimeout = 15 * time.Second
		tr.ExpectContinueTimeout = time.Second
		// No ResponseHeaderTimeout: the connection's idle timeout already
		// bounds a wait for headers, and WithPatience must be able to extend it.
		tr.WriteBufferSize = 64 << 10
		tr.ReadBufferSize = 64 << 10
		// S3 speaks HTTP/1.1; many connections beat one multiplexed one.
		tr.ForceAttemptHTTP2 = false
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}), nil
}

// conn closes a connection that makes no progress for timeout (so a hung
// peer becomes a retryable timeout, never a hang) and paces writes and
// reads through the bandwidth limiter.
type conn struct {
	net.Conn
	timeout time.Duration
	lim     *bwlimit.Limiter
	// closed ends every bandwidth wait when the connection is closed. The
	// transport closes a connection when its request's context ends (a
	// signal cancels the run's), but the transport's reader and writer
	// goroutines may be waiting for tokens, which at a low limit could
	// take minutes: without this, a run could not stop.
	closed    context.Context
	markClose context.CancelFunc
	// patientUntil (unix ns) extends read deadlines for a request that
	// was given patience (WithPatience).
	patientUntil atomic.Int64
}

func newConn(c net.Conn, timeout time.Duration, lim *bwlimit.Limiter) *conn {
	closed, markClose := context.WithCancel(context.Background())
	return &conn{Conn: c, timeout: timeout, lim: lim, closed: closed, markClose: markClose}
}

func (c *conn) Close() error {
	c.markClose()
	return c.Conn.Close()
}

func (c *conn) Read(p []byte) (int, error) {
	if c.lim != nil && len(p) > 64<<10 {
		p = p[:64<<10]
	}
	if err := c.setReadDeadline(); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if n > 0 && c.lim != nil && err == nil {
		if werr := c.lim.Wait(c.closed, n); werr != nil {
			return n, net.ErrClosed
		}
	}
	return n, err
}

// setReadDeadline arms the idle timeout, or the patience a request was
// given if that lasts longer. Patience granted while we set the deadline
// is not lost: we look again after setting it.
func (c *conn) setReadDeadline() error {
	for {
		until := c.patientUntil.Load()
		deadline := time.Now().Add(c.timeout)
		if until > deadline.UnixNano() {
			deadline = time.Unix(0, until)
		}
		if err := c.Conn.SetReadDeadline(deadline); err != nil {
			return err
		}
		if c.patientUntil.Load() == until {
			return nil
		}
	}
}

// WithPatience lets a request made under ctx wait for the server's answer
// d longer than the connection's idle timeout. S3 keeps a slow
// CompleteMultipartUpload alive with whitespace, but S3-compatible servers
// often assemble a large object in silence; cutting them off would turn a
// success into a retry (and some servers lose the object on that retry).
func WithPatience(ctx context.Context, d time.Duration) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			nc := info.Conn
			if tc, ok := nc.(*tls.Conn); ok {
				nc = tc.NetConn()
			}
			if pc, ok := nc.(*conn); ok {
				// The transport's reader may already be blocked in Read
				// with the short deadline: extend that one too.
				until := time.Now().Add(pc.timeout + d)
				pc.patientUntil.Store(until.UnixNano())
				_ = pc.Conn.SetReadDeadline(until)
			}
		},
	})
}

// sendBuffers hold a request body on its way from its reader to the
// socket (conn.ReadFrom).
var sendBuffers = sync.Pool{New: func() any { b := make([]byte, sendBuffer); return &b }}

// sendBuffer is how much of a body one write to the socket takes: io.Copy's
// 32 KiB made a part of 16 MiB 512 writes, and each woke the server's reader.
const sendBuffer = 256 << 10

// ReadFrom is how net/http sends a request body (io.Copy to the
// connection): through a buffer of sendBuffer instead of io.Copy's own.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	b := sendBuffers.Get().(*[]byte)
	defer sendBuffers.Put(b)
	return io.CopyBuffer(struct{ io.Writer }{c}, r, *b)
}

func (c *conn) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := p
		if c.lim != nil && len(chunk) > 64<<10 {
			chunk = chunk[:64<<10]
		}
		if c.lim != nil {
			if err := c.lim.Wait(c.closed, len(chunk)); err != nil {
				return written, net.ErrClosed
			}
		}
		if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
			return written, err
		}
		n, err := c.Conn.Write(chunk)
		written += n
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// extraRetryable adds the transient failures S3 and S3-compatible servers
// report under codes the SDK does not retry by default: InternalError
// arrives inside a 200 response to CompleteMultipartUpload, and some
// servers use ServiceUnavailable with a 4xx-looking body.
var extraRetryable = retry.RetryableErrorCode{Codes: map[string]struct{}{
	"InternalError":      {},
	"ServiceUnavailable": {},
	"SlowDown":           {},
	"RequestTimeout":     {},
	"ExpiredToken":       {}, // refreshed by the credential provider on retry
}}

func newRetryer(o Options, retries *atomic.Int64) aws.Retryer {
	std := func(so *retry.StandardOptions) {
		so.MaxAttempts = o.MaxAttempts
		so.MaxBackoff = 20 * time.Second
		// A multi-day migration meets throttling storms; the SDK's default
		// retry quota would turn a storm into failed files.
		so.RateLimiter = ratelimit.None
		so.Retryables = append(so.Retryables, extraRetryable)
	}
	var r aws.RetryerV2
	if strings.EqualFold(o.RetryMode, "adaptive") {
		r = retry.NewAdaptiveMode(func(ao *retry.AdaptiveModeOptions) {
			ao.StandardOptions = append(ao.StandardOptions, std)
		})
	} else {
		r = retry.NewStandard(std)
	}
	return &countingRetryer{RetryerV2: r, n: retries}
}

// countingRetryer counts every retry the SDK decides to make.
type countingRetryer struct {
	aws.RetryerV2
	n *atomic.Int64
}

func (c *countingRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	c.n.Add(1)
	return c.RetryerV2.RetryDelay(attempt, err)
}
