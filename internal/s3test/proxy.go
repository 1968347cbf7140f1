package s3test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Request is what a Recorder saw of one request on the wire.
type Request struct {
	Method string
	Host   string // the Host header as sent
	Path   string // escaped path
	Query  url.Values
	Header http.Header
	// Body of a DeleteObjects request (the keys are in it); nil for
	// every other request, whose bodies are not kept.
	Body []byte
}

// Recorder is a reverse proxy on 127.0.0.1 in front of a Server that
// records every request, so tests can assert on what a client really
// sent (headers, addressing style, which API). It speaks the server's
// scheme with the server's certificate, so the same --ca-bundle works.
type Recorder struct {
	URL    string
	mu     sync.Mutex
	reqs   []Request
	stored map[string]Stored // by bucket/key (see Store)
}

// Record starts a recording proxy in front of s for the test.
func (s *Server) Record(t *testing.T) *Recorder {
	t.Helper()
	up, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	rec := &Recorder{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			pr.Out.Host = pr.In.Host // signed by the client: keep it
		},
		Transport:      insecureTransport(),
		ModifyResponse: rec.present,
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Method == http.MethodPost && r.URL.Query().Has("delete") {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = b
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		q := Request{Method: r.Method, Host: r.Host, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Header: r.Header.Clone(), Body: body}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, q)
		rec.mu.Unlock()
		if rec.refuse(w, q) {
			return
		}
		rp.ServeHTTP(w, r)
	})
	var ps *httptest.Server
	if up.Scheme == "https" {
		cert, err := tls.LoadX509KeyPair(s.CACert, s.keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		ps = httptest.NewUnstartedServer(h)
		ps.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		ps.StartTLS()
	} else {
		ps = httptest.NewServer(h)
	}
	t.Cleanup(ps.Close)
	rec.URL = ps.URL
	return rec
}

// Requests returns what was recorded so far.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

// Reset forgets what was recorded.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.reqs = nil
	r.mu.Unlock()
}

// Host is the proxy's host:port, which path-style requests carry.
func (r *Recorder) Host() string {
	return strings.TrimPrefix(strings.TrimPrefix(r.URL, "https://"), "http://")
}
