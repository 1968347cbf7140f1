package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/airlift-io/airlift/internal/s3test"
	"github.com/airlift-io/airlift/transfer"
)

// agedTree is a tree whose files' times say how long ago they were read
// (atime) and written (mtime), at now: under the rules
// atime>180d=GLACIER_IR and mtime>365d=DEEP_ARCHIVE, with STANDARD_IA by
// default, fresh.bin is STANDARD_IA, cold.bin and big-cold.bin (6 MiB)
// GLACIER_IR, frozen.bin DEEP_ARCHIVE.
func agedTree(t *testing.T, now time.Time) string {
	t.Helper()
	src := tree(t, map[string]int{"fresh.bin": 100, "cold.bin": 200, "frozen.bin": 300, "big-cold.bin": 6 * mib})
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
	return src
}

// sentClasses is the storage class each object below prefix was sent
// with, by its key below prefix, as read on the wire: from the PutObject
// and CreateMultipartUpload requests.
func sentClasses(rec *s3test.Recorder, bucket, prefix string) map[string]string {
	sent := map[string]string{}
	for _, q := range rec.Requests() {
		op, b, key := q.Operation()
		if (op == "PutObject" || op == "CreateMultipartUpload") && b == bucket && strings.HasPrefix(key, prefix) {
			sent[strings.TrimPrefix(key, prefix)] = q.Header.Get("X-Amz-Storage-Class")
		}
	}
	return sent
}

// tieringFlags are the rules agedTree is made for.
var tieringFlags = []string{"--storage-class", "STANDARD_IA",
	"--storage-class-rule", "atime>180d=GLACIER_IR", "--storage-class-rule", "mtime>365d=DEEP_ARCHIVE"}

// --storage-class-rule stores each object in the class its source file's
// age calls for, by single PUT and by multipart upload alike (as sent to
// the local server), and the report counts each class.
func TestStorageClassRules(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	src := agedTree(t, time.Now())
	rec := srv.Record(t)
	r := airliftEnv(t, nil, srv.Env(), append([]string{"--endpoint-url", rec.URL, "copy", src, "s3://bkt/t", "--part-size", "5MiB", "--no-journal", "--json", "-q"},
		tieringFlags...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := map[string]string{"fresh.bin": "STANDARD_IA", "cold.bin": "GLACIER_IR", "big-cold.bin": "GLACIER_IR", "frozen.bin": "DEEP_ARCHIVE"}
	// The local server (versitygw, posix) keeps no storage class (its
	// head-object says STANDARD of every object): the class is read on
	// the wire, from the PutObject and CreateMultipartUpload requests.
	sent := sentClasses(rec, "bkt", "t/")
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

// plan prices a month of the tree in the classes copy would store it in
// (the same rules): per class, with the 128 KiB minimum of STANDARD_IA
// and GLACIER_IR applied per object and DEEP_ARCHIVE's 40 KiB per object
// (32 KiB at its rate, 8 KiB at STANDARD's); and it warns that atimes may
// be untrustworthy when many files were read before their last write.
func TestPlanStorageBill(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	now := time.Now()
	src := agedTree(t, now)
	rewritten := filepath.Join(src, "rewritten.bin") // read 5 days ago, rewritten 2 days ago: STANDARD_IA
	if err := os.WriteFile(rewritten, make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(rewritten, now.Add(-5*24*time.Hour), now.Add(-2*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"plan", src, "--sample", "0", "-q"}, tieringFlags...)
	r := airlift(t, nil, append(args, "--json")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep struct {
		Scan struct {
			StorageClasses   map[string]struct{ Objects, Bytes int64 } `json:"storage_classes"`
			AtimeBeforeMtime int64                                     `json:"atime_before_mtime"`
			AtimeWarning     string                                    `json:"atime_warning"`
		}
		Estimate struct {
			Storage struct {
				Classes []struct {
					Class         string
					BillableBytes int64   `json:"billable_bytes"`
					StandardBytes int64   `json:"standard_overhead_bytes"`
					MinDays       float64 `json:"min_storage_days"`
				}
				MonthlyUSD float64 `json:"monthly_usd"`
				Exact      bool
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	sc := rep.Scan.StorageClasses
	if len(sc) != 3 || sc["STANDARD_IA"].Objects != 2 || sc["STANDARD_IA"].Bytes != 1100 || sc["GLACIER_IR"].Bytes != 200+6*mib || sc["DEEP_ARCHIVE"].Bytes != 300 {
		t.Errorf("storage_classes = %+v", sc)
	}
	if rep.Scan.AtimeBeforeMtime != 1 || !strings.Contains(rep.Scan.AtimeWarning, "1 of 5 files") {
		t.Errorf("atime_before_mtime %d, warning %q", rep.Scan.AtimeBeforeMtime, rep.Scan.AtimeWarning)
	}
	// The published us-east-1 prices per GB-month (2^30 bytes).
	const gib = 1 << 30
	want := map[string][3]int64{ // billable, at STANDARD's rate, minimum days
		"STANDARD_IA":  {2 * 128 << 10, 0, 30},
		"GLACIER_IR":   {128<<10 + 6*mib, 0, 90},
		"DEEP_ARCHIVE": {300 + 32<<10, 8 << 10, 180},
	}
	for _, c := range rep.Estimate.Storage.Classes {
		w := want[c.Class]
		if c.BillableBytes != w[0] || c.StandardBytes != w[1] || int64(c.MinDays) != w[2] {
			t.Errorf("%s: billable %d, standard %d, %v days; want %v", c.Class, c.BillableBytes, c.StandardBytes, c.MinDays, w)
		}
	}
	usd := (float64(want["STANDARD_IA"][0])*0.0125 + float64(want["GLACIER_IR"][0])*0.004 +
		float64(want["DEEP_ARCHIVE"][0])*0.00099 + float64(want["DEEP_ARCHIVE"][1])*0.023) / gib
	if d := rep.Estimate.Storage.MonthlyUSD - usd; d > 1e-12 || d < -1e-12 || !rep.Estimate.Storage.Exact {
		t.Errorf("monthly %v USD (exact %v), want %v", rep.Estimate.Storage.MonthlyUSD, rep.Estimate.Storage.Exact, usd)
	}

	r = airlift(t, nil, args...)
	for _, re := range []string{`Storage bill: +<0\.01 USD a month`, `Storage class +Objects +Bytes +Billed as +USD/month +Minimum stay`,
		`STANDARD_IA +2 +1\.1 KiB +256\.0 KiB +<0\.01 +30 days`, `DEEP_ARCHIVE +1 +300 B +40\.3 KiB +<0\.01 +180 days`,
		`Storage: STANDARD_IA: 2 object\(s\) under 128\.0 KiB are billed as 128\.0 KiB each`,
		`Storage: DEEP_ARCHIVE: objects deleted, overwritten or moved within 180 days are billed for 180 days`,
		`Warning: 1 of 5 files \(20%\) were last read over a minute before they were last modified`} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("plan's text does not match %s:\n%s", re, r.stdout)
		}
	}
	r = airlift(t, nil, "plan", src, "--storage-class", "COLD", "-q")
	if r.code != 2 || !strings.Contains(r.stderr, `--storage-class: unknown storage class "COLD"`) {
		t.Errorf("--storage-class COLD: exit %d, %s", r.code, r.stderr)
	}
}

// sync's report counts, per storage class, what the pass uploaded: all
// of the tree on the first pass, only the changed file on the next; the
// classes are those sent on the wire.
func TestSyncStorageClasses(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	now := time.Now()
	src := agedTree(t, now)
	rec := srv.Record(t)
	state := t.TempDir()
	pass := func() map[string]transfer.ClassCount {
		t.Helper()
		r := airliftEnv(t, nil, srv.Env(), append([]string{"--endpoint-url", rec.URL, "sync", src, "s3://bkt/s", "--state-dir", state,
			"--part-size", "5MiB", "--json", "-q"}, tieringFlags...)...)
		var rep struct {
			Uploaded       int64
			StorageClasses map[string]transfer.ClassCount `json:"storage_classes"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); r.code != 0 || err != nil {
			t.Fatalf("sync: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
		}
		return rep.StorageClasses
	}
	got := pass()
	want := map[string]transfer.ClassCount{"STANDARD_IA": {Objects: 1, Bytes: 100}, "GLACIER_IR": {Objects: 2, Bytes: 200 + 6*mib}, "DEEP_ARCHIVE": {Objects: 1, Bytes: 300}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("first pass storage_classes = %+v, want %+v", got, want)
	}
	sent := sentClasses(rec, "bkt", "s/")
	for rel, class := range map[string]string{"fresh.bin": "STANDARD_IA", "cold.bin": "GLACIER_IR", "big-cold.bin": "GLACIER_IR", "frozen.bin": "DEEP_ARCHIVE"} {
		if sent[rel] != class {
			t.Errorf("%s sent with storage class %q, want %s", rel, sent[rel], class)
		}
	}

	// frozen.bin is rewritten (and read since): STANDARD_IA now.
	frozen := filepath.Join(src, "frozen.bin")
	if err := os.WriteFile(frozen, make([]byte, 700), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(frozen, now.Add(-time.Hour), now.Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	rec.Reset()
	if got := pass(); !reflect.DeepEqual(got, map[string]transfer.ClassCount{"STANDARD_IA": {Objects: 1, Bytes: 700}}) {
		t.Errorf("second pass storage_classes = %+v, want STANDARD_IA 1 object, 700 bytes", got)
	}
	if sent := sentClasses(rec, "bkt", "s/"); len(sent) != 1 || sent["frozen.bin"] != "STANDARD_IA" {
		t.Errorf("second pass sent %v, want frozen.bin in STANDARD_IA", sent)
	}
}
