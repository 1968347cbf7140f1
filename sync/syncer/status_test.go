package syncer

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// While the first sync runs (it holds the store, no pass has finished),
// status says so and counts what is pending from the source, instead of
// "0 files pending, last pass at year 1".
func TestStatusDuringTheFirstSync(t *testing.T) {
	f := newFixture(t)
	f.write("a.txt", "12345")
	f.write("d/b.txt", "123")
	hist := filepath.Join(t.TempDir(), "x.sync.json") // no pass recorded yet
	st, err := ComputeStatus(context.Background(), StatusOptions{Dest: f.dst, Source: f.src, HistoryPath: hist, RunningPID: 42, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if !st.FirstPass || st.PendingFiles != 2 || st.PendingBytes != 8 || st.RunningPID != 42 {
		t.Errorf("status %+v: want the first pass, 2 files and 8 bytes pending", st)
	}
}

// Without --source, status uses the source of the last sync that
// succeeded, not that of a later one that failed on a mistyped path.
func TestStatusDefaultsToTheLastSuccessfulSource(t *testing.T) {
	f := newFixture(t, "a.txt")
	hist := filepath.Join(t.TempDir(), "x.sync.json")
	var h History
	ok := &Report{Source: f.src, Dest: f.dst.String(), Started: time.Now()}
	h.Record(ok, time.Now())
	typo := &Report{Source: f.src + "-typo", Dest: f.dst.String(), Started: time.Now(), DeleteRefused: "the source root is missing", Failed: 1}
	h.Record(typo, time.Now())
	if err := h.Save(hist); err != nil {
		t.Fatal(err)
	}
	st, err := ComputeStatus(context.Background(), StatusOptions{Dest: f.dst, Store: f.store, HistoryPath: hist, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if st.Source != f.src || st.PendingFiles != 0 {
		t.Errorf("status %+v: want source %s with nothing pending", st, f.src)
	}
}
