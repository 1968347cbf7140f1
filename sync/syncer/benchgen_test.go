package syncer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/airlift-io/airlift/internal/state"
	"github.com/airlift-io/airlift/transfer"
)

// TestGenerateSyncedTree is a benchmark helper, not a test: with
// SYNC_BENCH_GEN=DIR it writes DIR/src with SYNC_BENCH_FILES empty files
// (1,000 per folder) and DIR/state with a store that records them all as
// synced to s3://bench/data on SYNC_BENCH_ENDPOINT, so that the CLI's
// no-change pass can be timed on a million files without first uploading
// a million objects. See scripts/sync-bench.sh.
func TestGenerateSyncedTree(t *testing.T) {
	dir := os.Getenv("SYNC_BENCH_GEN")
	if dir == "" {
		t.Skip("benchmark helper: set SYNC_BENCH_GEN=DIR")
	}
	n, err := strconv.Atoi(os.Getenv("SYNC_BENCH_FILES"))
	if err != nil {
		t.Fatal("set SYNC_BENCH_FILES")
	}
	src := filepath.Join(dir, "src")
	for i := 0; i < n; i++ {
		d := filepath.Join(src, fmt.Sprintf("d%04d", i/1000))
		if i%1000 == 0 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%07d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := state.Open(filepath.Join(dir, "state"), state.Dest{Endpoint: os.Getenv("SYNC_BENCH_ENDPOINT"), Bucket: "bench", Prefix: "data"}, state.Options{BatchSize: 20000})
	if err != nil {
		t.Fatal(err)
	}
	dst := transfer.Location{Bucket: "bench", Prefix: "data"}
	const empty = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262" // BLAKE3 of nothing
	err = transfer.Walk(context.Background(), src, transfer.WalkOptions{}, func(e transfer.Entry) error {
		k, _ := transfer.KeyFor(dst, e.Rel, true)
		return st.Put(k, recordOf(&e, empty, "d41d8cd98f00b204e9800998ecf8427e"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}
