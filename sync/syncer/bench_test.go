package syncer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/airlift-io/airlift/internal/state"
	"github.com/airlift-io/airlift/transfer"
)

// BenchmarkNoChange measures a pass over a tree whose state says every
// file is unchanged: the walk, the state iteration and the merge, no
// request. SYNC_BENCH_FILES sets the size (default 20,000).
func BenchmarkNoChange(b *testing.B) {
	n := 20000
	if v := os.Getenv("SYNC_BENCH_FILES"); v != "" {
		fmt.Sscan(v, &n)
	}
	src := b.TempDir()
	for i := 0; i < n; i++ {
		d := filepath.Join(src, fmt.Sprintf("d%04d", i/1000))
		if i%1000 == 0 {
			os.MkdirAll(d, 0o755)
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%07d", i)), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	st, err := state.Open(b.TempDir(), state.Dest{Bucket: "b", Prefix: "p"}, state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	dst := transfer.Location{Bucket: "b", Prefix: "p"}
	err = transfer.Walk(context.Background(), src, transfer.WalkOptions{}, func(e transfer.Entry) error {
		k, _ := transfer.KeyFor(dst, e.Rel, true)
		return st.Put(k, recordOf(&e, "", ""))
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	defer func() {
		syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
		cpu := time.Duration(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())
		b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	}()
	for i := 0; i < b.N; i++ {
		rep, err := New(nil, st, Options{Source: src, Dest: dst, MaxDelete: -1}).Run(context.Background())
		if err != nil || rep.Skipped != int64(n) {
			b.Fatalf("%v %+v", err, rep)
		}
	}
}
