package main

// faultProxy sits between the airlift binary and versitygw on 127.0.0.1
// and injects the failures a long migration meets: connection resets part
// way through a body, throttling and server errors, truncated responses,
// a 200 whose body is an error, slow and hung connections. It counts the
// body bytes it forwards, so that tests can bound what a resumed run sends
// again from the wire rather than from airlift's own report.

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airlift-io/airlift/internal/s3test"
)

type s3op string

const (
	opPut      s3op = "PutObject"
	opPart     s3op = "UploadPart"
	opCreate   s3op = "CreateMultipartUpload"
	opComplete s3op = "CompleteMultipartUpload"
	opList     s3op = "ListParts"
	opAbort    s3op = "AbortMultipartUpload"
	opGet      s3op = "GetObject"
	opOther    s3op = "other"
)

// opOf names the S3 operation of a path-style request, as s3test names
// recorded ones; the operations no fault targets are opOther.
func opOf(r *http.Request) s3op {
	op, _, _ := s3test.Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Header: r.Header}.Operation()
	switch s3op(op) {
	case opPut, opPart, opCreate, opComplete, opList, opAbort, opGet:
		return s3op(op)
	}
	return opOther
}

type faultKind int

const (
	faultReset        faultKind = iota + 1 // RST after `at` of the request body
	faultStatus                            // answer status with an S3 error code
	faultTruncate                          // forward, then cut the response body in half
	fault200Error                          // 200 with an <Error> body, request not forwarded
	faultSlow                              // forward the body at bps
	faultHang                              // read the request, never answer
	faultFakeComplete                      // 200 CompleteMultipartUploadResult, request not forwarded
)

type fault struct {
	kind   faultKind
	at     float64
	status int
	code   string
	bps    int
}

// faultProxy is an HTTP proxy for one upstream.
type faultProxy struct {
	URL string
	up  *url.URL
	tr  *http.Transport
	srv *httptest.Server

	mu     sync.Mutex
	decide func(op s3op, n int, r *http.Request) *fault // n: how many of op came before
	counts map[s3op]int
	acked  map[string]bool // parts and objects the server acknowledged, ever
	onSent func(total int64)

	gen      atomic.Int64 // bumped by set: bytes of an earlier run's requests still draining are not counted
	sent     atomic.Int64 // PutObject/UploadPart body bytes forwarded upstream
	resent   atomic.Int64 // of which, bytes of parts or objects the server had acknowledged before
	injected atomic.Int64
}

func newFaultProxy(t *testing.T, upstream string) *faultProxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{up: u, counts: map[s3op]int{}, acked: map[string]bool{},
		tr: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	p.srv = httptest.NewServer(p)
	p.URL = p.srv.URL
	t.Cleanup(func() {
		p.srv.CloseClientConnections()
		p.srv.Close()
		p.tr.CloseIdleConnections()
	})
	return p
}

// set installs the fault plan and kill hook for the next run and zeroes
// the per-run counters; what the server acknowledged is remembered.
func (p *faultProxy) set(decide func(op s3op, n int, r *http.Request) *fault, onSent func(int64)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.decide, p.onSent = decide, onSent
	p.counts = map[s3op]int{}
	p.gen.Add(1)
	p.sent.Store(0)
	p.resent.Store(0)
	p.injected.Store(0)
}

// ackKey identifies what a successful request stored: a part of an upload
// or an object.
func ackKey(op s3op, r *http.Request) string {
	q := r.URL.Query()
	switch op {
	case opPart:
		return "part " + q.Get("uploadId") + " " + q.Get("partNumber")
	case opPut:
		return "put " + r.URL.Path + " " + r.Header.Get("X-Amz-Checksum-Crc32c")
	}
	return ""
}

func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected by the test proxy</Message><RequestId>fault</RequestId></Error>`, code)
}

// reset closes the client's connection with a TCP RST.
func reset(w http.ResponseWriter) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := opOf(r)
	p.mu.Lock()
	n := p.counts[op]
	p.counts[op]++
	var f *fault
	if p.decide != nil {
		f = p.decide(op, n, r)
	}
	onSent := p.onSent
	gen := p.gen.Load()
	key := ackKey(op, r)
	again := key != "" && p.acked[key]
	p.mu.Unlock()
	if f != nil {
		p.injected.Add(1)
	}

	if f != nil {
		switch f.kind {
		case faultStatus:
			// Read the body first, as S3 does: answering early makes the
			// client see a reset while it writes, and retry that.
			_, _ = io.Copy(io.Discard, r.Body)
			s3Error(w, f.status, f.code)
			return
		case faultReset:
			if r.ContentLength > 0 {
				_, _ = io.CopyN(io.Discard, r.Body, int64(f.at*float64(r.ContentLength)))
			}
			reset(w)
			return
		case fault200Error:
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><RequestId>fault</RequestId></Error>`)
			return
		case faultFakeComplete:
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusOK)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<CompleteMultipartUploadResult><Bucket>b</Bucket><Key>%s</Key><ETag>"00000000000000000000000000000000-3"</ETag></CompleteMultipartUploadResult>`, r.URL.Path)
			return
		case faultHang:
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
			return
		}
	}

	var body io.Reader = r.Body
	if op == opPut || op == opPart {
		body = &countingReader{r: r.Body, fn: func(n int) {
			if p.gen.Load() != gen {
				return
			}
			total := p.sent.Add(int64(n))
			if again {
				p.resent.Add(int64(n))
			}
			if onSent != nil {
				onSent(total)
			}
		}}
	}
	if f != nil && f.kind == faultSlow {
		body = &slowReader{r: body, bps: f.bps}
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, p.up.Scheme+"://"+p.up.Host+r.URL.RequestURI(), body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	out.Header.Del("Connection")
	out.Host = r.Host // the signature covers it
	out.ContentLength = r.ContentLength
	if r.ContentLength == 0 {
		out.Body = http.NoBody
	}
	resp, err := p.tr.RoundTrip(out)
	if err != nil {
		reset(w)
		return
	}
	defer resp.Body.Close()
	if os.Getenv("PROXY_LOG") != "" && op == opComplete {
		b, _ := io.ReadAll(resp.Body)
		fmt.Fprintf(os.Stderr, "%s proxy: %s %s %s -> %d %q\n", time.Now().Format("15:04:05.000"), op, r.Method, r.URL.RequestURI(), resp.StatusCode, b)
		resp.Body = io.NopCloser(bytes.NewReader(b))
	}
	if resp.StatusCode == http.StatusOK && key != "" {
		p.mu.Lock()
		p.acked[key] = true
		p.mu.Unlock()
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if f != nil && f.kind == faultTruncate {
		b, _ := io.ReadAll(resp.Body)
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(b[:len(b)/2])
		_ = http.NewResponseController(w).Flush()
		reset(w)
		return
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

type countingReader struct {
	r  io.Reader
	fn func(int)
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if n > 0 {
		c.fn(n)
	}
	return n, err
}

// slowReader paces a body to about bps bytes a second.
type slowReader struct {
	r   io.Reader
	bps int
}

func (s *slowReader) Read(b []byte) (int, error) {
	if chunk := s.bps / 20; len(b) > chunk {
		b = b[:chunk]
	}
	n, err := s.r.Read(b)
	time.Sleep(time.Duration(n) * time.Second / time.Duration(s.bps))
	return n, err
}
