package s3test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
)

// Stored is how a Recorder presents one object beyond what the server
// keeps: versitygw's posix backend stores no storage class (it reports
// STANDARD for every object) and has no archive tier, so a test of
// archived objects has the proxy answer as S3 does for them.
type Stored struct {
	// Class is the storage class the listings (ListObjectsV2,
	// ListObjects) and the HeadObject and GetObject responses report
	// (x-amz-storage-class).
	Class string
	// Archived objects answer GetObject with 403 InvalidObjectState, as
	// S3 does for GLACIER and DEEP_ARCHIVE objects that have not been
	// restored, and for objects in Intelligent-Tiering's archive tiers
	// (whose listing says INTELLIGENT_TIERING). HeadObject still works.
	Archived bool
	// Restore is the x-amz-restore header HeadObject answers with:
	// `ongoing-request="true"` while a restore runs,
	// `ongoing-request="false", expiry-date="..."` once the restored copy
	// can be read (then Archived is false: S3 serves the copy).
	Restore string
}

// Store has the proxy present the object bucket/key as s says.
func (r *Recorder) Store(bucket, key string, s Stored) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stored == nil {
		r.stored = map[string]Stored{}
	}
	r.stored[bucket+"/"+key] = s
}

func (r *Recorder) storedAs(bucket, key string) (Stored, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.stored[bucket+"/"+key]
	return s, ok
}

// refuse answers a GetObject of an archived object itself, with the error
// S3 gives, and reports whether it did.
func (r *Recorder) refuse(w http.ResponseWriter, q Request) bool {
	op, bucket, key := q.Operation()
	s, ok := r.storedAs(bucket, key)
	if op != "GetObject" || !ok || !s.Archived {
		return false
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Error><Code>InvalidObjectState</Code><Message>The operation is not valid for the object's storage class</Message>`+
		`<StorageClass>%s</StorageClass><RequestId>s3test</RequestId><HostId>s3test</HostId></Error>`, xmlText(s.Class))
	return true
}

// present rewrites the server's responses for the stored objects: the
// class (and restore state) on HeadObject and GetObject, the class in
// listings.
func (r *Recorder) present(resp *http.Response) error {
	r.mu.Lock()
	n := len(r.stored)
	r.mu.Unlock()
	if n == 0 || resp.StatusCode/100 != 2 {
		return nil
	}
	in := resp.Request
	op, bucket, key := Request{Method: in.Method, Path: in.URL.EscapedPath(), Query: in.URL.Query(), Header: in.Header}.Operation()
	switch op {
	case "HeadObject", "GetObject":
		if s, ok := r.storedAs(bucket, key); ok {
			resp.Header.Set("X-Amz-Storage-Class", s.Class)
			if s.Restore != "" {
				resp.Header.Set("X-Amz-Restore", s.Restore)
			}
		}
	case "ListObjectsV2", "ListObjects":
		if resp.Header.Get("Content-Encoding") != "" {
			return fmt.Errorf("s3test: cannot rewrite a %s listing", resp.Header.Get("Content-Encoding"))
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		body = r.relist(bucket, in.URL.Query().Get("encoding-type") == "url", body)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	return nil
}

var (
	contentsRE = regexp.MustCompile(`(?s)<Contents>.*?</Contents>`)
	keyRE      = regexp.MustCompile(`(?s)<Key>(.*?)</Key>`)
	classRE    = regexp.MustCompile(`<StorageClass>[^<]*</StorageClass>`)
)

// relist sets the StorageClass of each stored object in a listing's
// <Contents> entries.
func (r *Recorder) relist(bucket string, urlKeys bool, body []byte) []byte {
	return contentsRE.ReplaceAllFunc(body, func(c []byte) []byte {
		m := keyRE.FindSubmatch(c)
		if m == nil {
			return c
		}
		var key string
		if err := xml.Unmarshal(append(append([]byte("<k>"), m[1]...), "</k>"...), &key); err != nil {
			return c
		}
		if urlKeys {
			if k, err := url.QueryUnescape(key); err == nil {
				key = k
			}
		}
		s, ok := r.storedAs(bucket, key)
		if !ok {
			return c
		}
		class := []byte("<StorageClass>" + xmlText(s.Class) + "</StorageClass>")
		if classRE.Match(c) {
			return classRE.ReplaceAllLiteral(c, class)
		}
		return bytes.Replace(c, []byte("</Contents>"), append(class, "</Contents>"...), 1)
	})
}

func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
