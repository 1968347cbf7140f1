package transfer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A file whose name S3 cannot store is refused by rule: reported as
// skipped and refused, not as a failure, so the run exits clean.
func TestUploadRefusesNonUTF8NameWithoutFailing(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "bad\xff\n.txt"), []byte("z"), 0o644)
	os.WriteFile(filepath.Join(root, "good.txt"), []byte("z"), 0o644)
	up, err := NewUploader(nil, "bkt", UploadOptions{DryRun: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := up.Copy(context.Background(), root, Location{Bucket: "bkt"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 0 || rep.Files != 1 || rep.FilesSkipped != 1 || len(rep.Skipped) != 1 || !rep.Skipped[0].Refused {
		t.Fatalf("report: %+v", rep)
	}
	if msg := rep.Skipped[0].Err; strings.Contains(msg, "\n") || !strings.Contains(msg, `"bad\xff\n.txt"`) {
		t.Errorf("refusal %q does not name the file quoted on one line", msg)
	}
	if d := DisplayName(rep.Skipped[0].Path); strings.Contains(d, "\n") || strings.Contains(d, "\xff") {
		t.Errorf("DisplayName = %q", d)
	}
}

// Filters that select nothing say so in the report.
func TestUploadWarnsWhenFiltersSelectNothing(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("z"), 0o644)
	f, _ := NewFilterRules([]Rule{{Exclude: true, Pattern: "*"}, {Pattern: "*.txtt"}})
	up, _ := NewUploader(nil, "bkt", UploadOptions{DryRun: true, Walk: WalkOptions{Filter: f}}, nil)
	rep, err := up.Copy(context.Background(), root, Location{Bucket: "bkt"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "selected none") {
		t.Fatalf("warnings: %q", rep.Warnings)
	}
}

// After a resume, the rate counts only the bytes this run sent: parts an
// earlier run had sent took none of this run's time.
func TestReportRateLeavesOutResumedBytes(t *testing.T) {
	st := &Stats{}
	st.BytesDone.Store(100e6)
	st.BytesResumed.Store(90e6)
	r := &Report{Started: time.Now().Add(-10 * time.Second)}
	r.finish(st)
	if r.MBps > 1.01 || r.MBps < 0.9 {
		t.Fatalf("MBps = %.2f after sending 10 MB in 10 s (90 MB resumed)", r.MBps)
	}
}
