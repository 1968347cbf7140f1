package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlift-io/airlift/internal/s3test"
)

// --storage-class-rule stores each object in the class its source file's
// age calls for, by single PUT and by multipart upload alike (as sent to
// the local server), and the report counts each class.
func TestStorageClassRules(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	src := tree(t, map[string]int{"fresh.bin": 100, "cold.bin": 200, "frozen.bin": 300, "big-cold.bin": 6 * mib})
	now := time.Now()
	age := func(rel string, atime, mtime time.Duration) {
		if err := os.Chtimes(filepath.Join(src, rel), now.Add(-atime), now.Add(-mtime)); err != nil {
			t.Fatal(err)
		}
	}
	day := 24 * time.Hour
	age("fresh.bin", time.Hour, 30*day)   // read lately: STANDARD_IA (--storage-class)
	age("cold.bin", 200*day, 200*day)     // not read for 200 days: GLACIER_IR
	age("big-cold.bin", 200*day, 200*day) // the same, multipart
	age("frozen.bin", 10*day, 400*day)    // read 10 days ago, but the first rule wants 180: the second, by mtime
	rec := srv.Record(t)
	r := airliftEnv(t, nil, srv.Env(), "--endpoint-url", rec.URL, "copy", src, "s3://bkt/t", "--part-size", "5MiB", "--no-journal", "--json", "-q",
		"--storage-class", "STANDARD_IA",
		"--storage-class-rule", "atime>180d=GLACIER_IR", "--storage-class-rule", "mtime>365d=DEEP_ARCHIVE")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := map[string]string{"fresh.bin": "STANDARD_IA", "cold.bin": "GLACIER_IR", "big-cold.bin": "GLACIER_IR", "frozen.bin": "DEEP_ARCHIVE"}
	// The local server (versitygw, posix) keeps no storage class (its
	// head-object says STANDARD of every object): the class is read on
	// the wire, from the PutObject and CreateMultipartUpload requests.
	sent := map[string]string{}
	for _, q := range rec.Requests() {
		put := q.Method == "PUT" && q.Query.Get("x-id") == "PutObject"
		create := q.Method == "POST" && q.Query.Has("uploads")
		if put || create {
			sent[strings.TrimPrefix(q.Path, "/bkt/t/")] = q.Header.Get("X-Amz-Storage-Class")
		}
	}
	for rel, class := range want {
		if sent[rel] != class {
			t.Errorf("%s sent with storage class %q, want %s", rel, sent[rel], class)
		}
	}
	var rep struct {
		StorageClasses map[string]struct{ Objects, Bytes int64 } `json:"storage_classes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	gi := rep.StorageClasses["GLACIER_IR"]
	if gi.Objects != 2 || gi.Bytes != 200+6*mib || rep.StorageClasses["DEEP_ARCHIVE"].Objects != 1 || rep.StorageClasses["STANDARD_IA"].Bytes != 100 {
		t.Errorf("storage_classes = %+v", rep.StorageClasses)
	}
}
