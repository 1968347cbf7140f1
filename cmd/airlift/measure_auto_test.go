package main

// The cost of copy --via auto on the S set (not part of make test):
//
//	AIRLIFT_MEASURE=1 AIRLIFT_E2E_NORACE=1 go test -count=1 -v -timeout 30m \
//	    -run 'TestMeasureAutoOverhead' ./cmd/airlift
//
// Copies of the same tree to fresh prefixes, --via auto and --via network
// taking turns to go first, so that drift in the machine's load and a
// server still flushing the previous run hit both alike.

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/airlift-io/airlift/internal/s3test"
)

func TestMeasureAutoOverhead(t *testing.T) {
	measureOnly(t)
	n, rounds := envInt("MEASURE_FILES", 20000), envInt("MEASURE_ROUNDS", 3)
	files := map[string]int{}
	for i := range n {
		files[fmt.Sprintf("d%02d/f%05d", i%100, i)] = 16 << 10
	}
	src := tree(t, files)
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "measure")
	times := map[string][]float64{}
	for i := range rounds {
		order := []string{"auto", "network"}
		if i%2 == 1 { // the run after another may meet the server still flushing: take turns
			order = []string{"network", "auto"}
		}
		for _, via := range order {
			start := time.Now()
			r := airlift(t, srv, "copy", src, fmt.Sprintf("s3://measure/%s-%d", via, i), "--via", via, "-q", "--no-journal")
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			times[via] = append(times[via], time.Since(start).Seconds())
		}
	}
	med := func(v []float64) float64 { sort.Float64s(v); return v[len(v)/2] }
	a, nw := med(times["auto"]), med(times["network"])
	t.Logf("S set (%d x 16 KiB), %d rounds: --via auto median %.2fs %v, --via network median %.2fs %v: auto adds %+.1f%%",
		n, rounds, a, times["auto"], nw, times["network"], (a/nw-1)*100)
}
