package main

import (
	"strings"
	"testing"

	"github.com/airlift-io/airlift/internal/s3test"
)

// checkSnowballWire asserts what a Snowball Edge S3 adapter needs of
// every request: no aws-chunked bodies (so no decoded-length header), and
// path-style addressing.
func checkSnowballWire(t *testing.T, rec *s3test.Recorder, bucket string) {
	t.Helper()
	reqs := rec.Requests()
	if len(reqs) == 0 {
		t.Fatal("no requests recorded")
	}
	for _, r := range reqs {
		what := r.Method + " " + r.Path + "?" + r.Query.Encode()
		if ce := r.Header.Get("Content-Encoding"); strings.Contains(ce, "aws-chunked") {
			t.Errorf("%s: Content-Encoding %q", what, ce)
		}
		if v := r.Header.Get("X-Amz-Decoded-Content-Length"); v != "" {
			t.Errorf("%s: x-amz-decoded-content-length %s", what, v)
		}
		if sha := r.Header.Get("X-Amz-Content-Sha256"); strings.HasPrefix(sha, "STREAMING-") {
			t.Errorf("%s: x-amz-content-sha256 %s", what, sha)
		}
		if r.Header.Get("X-Amz-Trailer") != "" {
			t.Errorf("%s: x-amz-trailer %s", what, r.Header.Get("X-Amz-Trailer"))
		}
		if r.Host != rec.Host() || !(r.Path == "/"+bucket || strings.HasPrefix(r.Path, "/"+bucket+"/")) {
			t.Errorf("%s: not path-style (Host %s)", what, r.Host)
		}
		if r.Query.Get("list-type") == "2" {
			t.Errorf("%s: ListObjectsV2 in the snowball-edge profile", what)
		}
	}
}

func TestSnowballEdgeProfileE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	srv := s3test.Start(t, s3test.Options{TLS: true})
	srv.CreateBucket(t, "snow")
	rec := srv.Record(t)
	src := trickyTree(t)

	r := airliftEnv(t, nil, srv.Env(), "copy", src, "s3://snow/data/", "--part-size", "5MiB",
		"--target-profile", "snowball-edge", "--endpoint-url", rec.URL, "--ca-bundle", srv.CACert)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	checkCopied(t, srv, src, "snow", "data/")
	checkSnowballWire(t, rec, "snow")
	var puts, parts int
	for _, q := range rec.Requests() {
		switch {
		case q.Method == "PUT" && q.Query.Get("partNumber") != "":
			parts++
		case q.Method == "PUT" && q.Query.Get("x-id") == "PutObject":
			puts++
		}
	}
	if puts == 0 || parts == 0 {
		t.Errorf("expected both single PUTs and parts on the wire: %d puts, %d parts", puts, parts)
	}

	// Commands that list (verify, download) go through ListObjects v1.
	snow := []string{"--target-profile", "snowball-edge", "--endpoint-url", rec.URL, "--ca-bundle", srv.CACert}
	t.Run("verify DIR s3://snow/data/ and copy s3://snow/data/ DIR", func(t *testing.T) {
		rec.Reset()
		r := airliftEnv(t, nil, srv.Env(), append([]string{"verify", src, "s3://snow/data/"}, snow...)...)
		if r.code != 0 {
			t.Fatalf("verify: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		got := t.TempDir()
		r = airliftEnv(t, nil, srv.Env(), append([]string{"copy", "s3://snow/data/", got}, snow...)...)
		if r.code != 0 {
			t.Fatalf("download: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		sameTree(t, src, got)
		checkSnowballWire(t, rec, "snow")
		lists := 0
		for _, q := range rec.Requests() {
			if q.Method == "GET" && q.Path == "/snow" && q.Query.Has("prefix") {
				lists++
			}
		}
		if lists < 2 {
			t.Errorf("%d ListObjects requests seen for verify + download", lists)
		}
	})

	// sync lists the destination too: v1 as well.
	t.Run("sync DIR s3://snow/data/ --reconcile", func(t *testing.T) {
		rec.Reset()
		r := airliftEnv(t, nil, srv.Env(), append([]string{"sync", src, "s3://snow/data/", "--reconcile", "--state-dir", t.TempDir()}, snow...)...)
		if r.code != 0 {
			t.Fatalf("sync: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		checkSnowballWire(t, rec, "snow")
		lists := 0
		for _, q := range rec.Requests() {
			if q.Method == "GET" && q.Path == "/snow" && q.Query.Has("prefix") {
				lists++
			}
		}
		if lists == 0 {
			t.Error("sync --reconcile made no ListObjects request")
		}
	})

	t.Run("copy DIR s3://snow/ax/ --auto-extract --keep-whole *.bin", func(t *testing.T) {
		rec.Reset()
		r := airliftEnv(t, nil, srv.Env(), "copy", src, "s3://snow/ax/", "--auto-extract", "--keep-whole", "*.bin",
			"--batch-file-max", "64KiB", "--batch-size", "1MiB", "--json",
			"--target-profile", "snowball-edge", "--endpoint-url", rec.URL, "--ca-bundle", srv.CACert)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		mustContain(t, "stdout", r.stdout, `"files": 11`)
		checkSnowballWire(t, rec, "snow")
		out := srv.AWS(t, "s3api", "list-objects", "--bucket", "snow", "--prefix", "ax/", "--query", "Contents[].Key", "--output", "text")
		keys := strings.Fields(out)
		var archives []string
		for _, k := range keys {
			if strings.HasPrefix(k, "ax/airlift-batch-") {
				archives = append(archives, k)
			}
		}
		// The small files (8 of them, all under 64 KiB) share one archive;
		// the three .bin files and nothing else travel whole.
		if len(archives) != 1 || len(keys) != 4 {
			t.Fatalf("objects under ax/: %v", keys)
		}
		if m := headMeta(t, srv, "snow", archives[0]); m["snowball-auto-extract"] != "true" {
			t.Errorf("archive metadata %v", m)
		}
	})

	t.Run("copy --auto-extract without the snowball-edge profile", func(t *testing.T) {
		r := airlift(t, srv, "copy", src, "s3://snow/no/", "--auto-extract")
		if r.code != 2 {
			t.Fatalf("exit %d, want 2: %s", r.code, r.stderr)
		}
		mustContain(t, "stderr", r.stderr, "--target-profile snowball-edge")
	})
}
