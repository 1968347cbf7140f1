package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/airlift-io/airlift/internal/s3test"
)

// archivedBucket uploads a tree to s3://bkt/t on the local server and
// returns it with a recording proxy that presents some of its objects as
// S3 does archived ones (see s3test.Stored: versitygw has no archive
// tier, so the proxy reports the class on listings, HEAD and GET, and
// answers a GET of an unrestored object with S3's 403 InvalidObjectState):
//
//	cold.bin, big-cold.bin (multipart)  GLACIER, not restored
//	deep.bin                            DEEP_ARCHIVE, not restored
//	tiered.bin                          INTELLIGENT_TIERING in an archive tier: only the GET tells
//	thawed.bin                          GLACIER, restored (x-amz-restore: ongoing-request="false")
//	thawing.bin                         DEEP_ARCHIVE, restore running (ongoing-request="true")
//	ir.bin                              GLACIER_IR: read at once
//	a/plain.bin                         STANDARD
func archivedBucket(t *testing.T) (srv *s3test.Server, rec *s3test.Recorder, src string, archived []string) {
	t.Helper()
	srv = s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	src = tree(t, map[string]int{"cold.bin": 100, "big-cold.bin": 6 * mib, "deep.bin": 200, "tiered.bin": 300,
		"thawed.bin": 400, "thawing.bin": 450, "ir.bin": 500, "a/plain.bin": 600})
	if r := airlift(t, srv, "copy", src, "s3://bkt/t", "--part-size", "5MiB", "--no-journal", "-q"); r.code != 0 {
		t.Fatalf("copy: exit %d: %s", r.code, r.stderr)
	}
	rec = srv.Record(t)
	for key, s := range map[string]s3test.Stored{
		"t/cold.bin":     {Class: "GLACIER", Archived: true},
		"t/big-cold.bin": {Class: "GLACIER", Archived: true},
		"t/deep.bin":     {Class: "DEEP_ARCHIVE", Archived: true},
		"t/tiered.bin":   {Class: "INTELLIGENT_TIERING", Archived: true},
		"t/thawed.bin":   {Class: "GLACIER", Restore: `ongoing-request="false", expiry-date="Fri, 21 Dec 2029 00:00:00 GMT"`},
		"t/thawing.bin":  {Class: "DEEP_ARCHIVE", Archived: true, Restore: `ongoing-request="true"`},
		"t/ir.bin":       {Class: "GLACIER_IR"},
	} {
		rec.Store("bkt", key, s)
	}
	return srv, rec, src, []string{"t/big-cold.bin", "t/cold.bin", "t/deep.bin", "t/thawing.bin", "t/tiered.bin"}
}

// A download passes over the objects that need a restore, names them
// once with what to do, downloads the rest (GLACIER_IR and a restored
// GLACIER object included), and exits 1 so that cron notices.
func TestDownloadNeedsRestore(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	srv, rec, src, archived := archivedBucket(t)
	dst := filepath.Join(t.TempDir(), "out")
	r := airliftEnv(t, nil, srv.Env(), "--endpoint-url", rec.URL, "copy", "s3://bkt/t", dst, "--part-size", "5MiB", "--json", "-q")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (failed)\n%s%s", r.code, r.stdout, r.stderr)
	}
	var rep struct {
		Files        int64
		Failed       int64
		NeedsRestore []string `json:"needs_restore"`
		Count        int64    `json:"needs_restore_count"`
		Failures     []any
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep.NeedsRestore, archived) || rep.Count != 5 || rep.Files != 3 || rep.Failed != 0 || len(rep.Failures) != 0 {
		t.Errorf("report: %d files, %d failed %v, needs_restore %d %v; want 3 files, 0 failed, %v", rep.Files, rep.Failed, rep.Failures, rep.Count, rep.NeedsRestore, archived)
	}
	for _, rel := range []string{"thawed.bin", "ir.bin", "a/plain.bin"} {
		want, _ := os.ReadFile(filepath.Join(src, rel))
		got, err := os.ReadFile(filepath.Join(dst, rel))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: not downloaded intact (%v)", rel, err)
		}
	}
	ents, _ := os.ReadDir(dst)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "a ir.bin thawed.bin" {
		t.Errorf("destination holds %v, want only what could be read", names)
	}
	// Objects listed in GLACIER or DEEP_ARCHIVE are passed over after one
	// HEAD, without a GET; the Intelligent-Tiering one only its GET shows.
	for _, q := range rec.Requests() {
		op, _, key := q.Operation()
		if op == "GetObject" && key != "t/tiered.bin" && strings.Contains(strings.Join(archived, " "), key) {
			t.Errorf("GET of %s, whose listing says it is archived", key)
		}
	}

	// In text: one message and the keys, no failure per object.
	r = airliftEnv(t, nil, srv.Env(), "--endpoint-url", rec.URL, "copy", "s3://bkt/t", filepath.Join(t.TempDir(), "out2"), "--part-size", "5MiB")
	mustContain(t, "stderr", r.stderr, "5 object(s) are in GLACIER/DEEP_ARCHIVE (or an Intelligent-Tiering archive tier) and need `aws s3api restore-object` first:\n  t/big-cold.bin\n  t/cold.bin\n")
	if r.code != 1 || strings.Contains(r.stderr, "failed:") || strings.Contains(r.stderr, "InvalidObjectState") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	mustContain(t, "stderr", r.stderr, "object(s) need a restore first")
}

// verify's fast mode reads only HEAD and tags, which work on archived
// objects: it shows them equal. --deep cannot read them: it names them
// as needing a restore, compares the rest, and exits 1.
func TestVerifyNeedsRestore(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	srv, rec, src, archived := archivedBucket(t)
	verify := func(args ...string) result {
		return airliftEnv(t, nil, srv.Env(), append([]string{"--endpoint-url", rec.URL, "verify", src, "s3://bkt/t"}, args...)...)
	}
	if r := verify(); r.code != 0 || !strings.Contains(r.stdout, "EQUAL: 8 local files, 8 objects; 8 equal") {
		t.Errorf("fast verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := verify("--deep", "--json")
	var rep struct {
		Equal        int64
		Counts       map[string]int64 `json:"differences_by_kind"`
		NeedsRestore []string         `json:"needs_restore"`
		Count        int64            `json:"needs_restore_count"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 1 {
		t.Fatalf("deep verify: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if rep.Equal != 3 || rep.Count != 5 || !reflect.DeepEqual(rep.NeedsRestore, archived) || !reflect.DeepEqual(rep.Counts, map[string]int64{"needs_restore": 5}) {
		t.Errorf("deep verify: %d equal, %v, needs_restore %d %v", rep.Equal, rep.Counts, rep.Count, rep.NeedsRestore)
	}
	r = verify("--deep")
	mustContain(t, "stderr", r.stderr, "5 object(s) are in GLACIER/DEEP_ARCHIVE")
	mustContain(t, "stdout", r.stdout, "needs restore: 5")
	if strings.Contains(r.stdout, "error:") {
		t.Errorf("deep verify reports errors:\n%s", r.stdout)
	}
}
