package s3test

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Hostile is an S3 endpoint that serves whatever keys a test gives it,
// including ones no real server would accept on PUT ("../x", "a/../../x",
// a NUL byte) but that real S3 will happily list: the way to test that a
// client treats keys as untrusted input. It answers HeadBucket,
// ListObjectsV2 (URL-encoded when asked) and GetObject (with Range and
// If-Match); it checks no signatures.
type Hostile struct {
	URL     string
	Bucket  string
	Objects map[string][]byte
	// ChangedKeys answer every GetObject with 412 Precondition Failed, as
	// S3 does when the object was overwritten after it was listed.
	ChangedKeys map[string]bool
	// CutOnce keys have the first GET's body cut off half way, the
	// connection closed, as a flaky network does after the headers.
	CutOnce map[string]bool

	mu  sync.Mutex
	cut map[string]bool
}

// StartHostile serves objects in bucket until the test ends.
func StartHostile(t testing.TB, bucket string, objects map[string][]byte) *Hostile {
	t.Helper()
	h := &Hostile{Bucket: bucket, Objects: objects, ChangedKeys: map[string]bool{}, CutOnce: map[string]bool{}, cut: map[string]bool{}}
	// A bare handler, not a ServeMux: a mux would clean "/../" out of the
	// path and redirect, hiding the very keys under test.
	srv := httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(srv.Close)
	h.URL = srv.URL
	return h
}

func etagOf(b []byte) string {
	s := md5.Sum(b)
	return `"` + hex.EncodeToString(s[:]) + `"`
}

func (h *Hostile) serve(w http.ResponseWriter, r *http.Request) {
	raw := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	bucket, escKey, _ := strings.Cut(raw, "/")
	if bucket != h.Bucket {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><Message>no such bucket</Message></Error>`)
		return
	}
	if escKey == "" {
		if r.Method == http.MethodHead {
			return
		}
		h.list(w, r)
		return
	}
	key, err := url.PathUnescape(escKey)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	body, ok := h.Objects[key]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>no such key</Message></Error>`)
		return
	}
	if h.ChangedKeys[key] {
		w.WriteHeader(http.StatusPreconditionFailed)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>`)
		return
	}
	w.Header().Set("ETag", etagOf(body))
	h.mu.Lock()
	cut := h.CutOnce[key] && !h.cut[key] && r.Method == http.MethodGet
	if cut {
		h.cut[key] = true
	}
	h.mu.Unlock()
	if rng := r.Header.Get("Range"); rng != "" {
		var from, to int
		if _, err := fmt.Sscanf(rng, "bytes=%d-%d", &from, &to); err != nil || from > to || to >= len(body) {
			http.Error(w, "bad range", http.StatusRequestedRangeNotSatisfiable)
			return
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to, len(body)))
		w.Header().Set("Content-Length", strconv.Itoa(to-from+1))
		w.WriteHeader(http.StatusPartialContent)
		body = body[from : to+1]
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	if r.Method != http.MethodGet {
		return
	}
	if cut {
		// Fewer bytes than the Content-Length promised: the server closes
		// the connection and the client reads an unexpected EOF.
		_, _ = w.Write(body[:len(body)/2])
		return
	}
	_, _ = w.Write(body)
}

type listContents struct {
	Key  string `xml:"Key"`
	Size int    `xml:"Size"`
	ETag string `xml:"ETag"`
}

type listResult struct {
	XMLName      xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name         string         `xml:"Name"`
	Prefix       string         `xml:"Prefix"`
	KeyCount     int            `xml:"KeyCount"`
	MaxKeys      int            `xml:"MaxKeys"`
	EncodingType string         `xml:"EncodingType,omitempty"`
	IsTruncated  bool           `xml:"IsTruncated"`
	Contents     []listContents `xml:"Contents"`
}

func (h *Hostile) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	prefix := q.Get("prefix")
	enc := q.Get("encoding-type") == "url"
	res := listResult{Name: h.Bucket, Prefix: prefix, MaxKeys: 1000}
	if enc {
		res.EncodingType = "url"
	}
	keys := make([]string, 0, len(h.Objects))
	for k := range h.Objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := k
		if enc {
			name = url.QueryEscape(k)
		}
		res.Contents = append(res.Contents, listContents{Key: name, Size: len(h.Objects[k]), ETag: etagOf(h.Objects[k])})
	}
	res.KeyCount = len(res.Contents)
	w.Header().Set("Content-Type", "application/xml")
	fmt.Fprint(w, xml.Header)
	_ = xml.NewEncoder(w).Encode(res)
}
