package ui

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/airlift-io/airlift/bench"
	"github.com/airlift-io/airlift/internal/units"
)

// BenchProgress shows each bench step as it starts: Set it from
// bench.Options.Progress.
func BenchProgress(p *Progress) func(bench.Step) {
	return func(s bench.Step) {
		sn := Snapshot{Label: s.Name, Done: int64(s.Done), Total: int64(s.Total), Phase: s.Name}
		if s.Done < s.Total {
			sn.Log = fmt.Sprintf("bench [%d/%d] %s", s.Done+1, s.Total, s.Name)
		}
		p.Set(sn)
	}
}

// BenchFiles are the files a bench run wrote besides its report.
type BenchFiles struct{ Chart, Profile string }

func mbps(b float64) string { return fmt.Sprintf("%.1f MB/s", b/1e6) }

func ms(s float64) string { return fmt.Sprintf("%.1f ms", s*1000) }

func RenderBench(w io.Writer, r *bench.Result, f BenchFiles) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Target:\t%s (run %s, %d CPUs)\n", r.Target, r.RunID, r.NumCPU)
	fmt.Fprintf(tw, "BLAKE3:\t%s per core\n", mbps(r.Blake3.BytesPerSec))
	fmt.Fprintf(tw, "zstd:\t%s per core (text-like data)\n", mbps(r.Zstd.BytesPerSec))
	if r.Source != nil {
		fmt.Fprintf(tw, "Source read:\t%s (%s from %d files; cached data reads faster)\n", mbps(r.Source.BytesPerSec), units.FormatBytes(r.Source.Bytes), r.Source.Files)
	}
	s := r.Small
	fmt.Fprintf(tw, "%d KiB PUTs:\t%.0f/s at %d in flight (%d PUTs, %d errors)\n", s.Size>>10, s.PutsPerSec, s.Concurrency, s.Puts, s.Errors)
	fmt.Fprintf(tw, "PUT latency:\tp50 %s  p95 %s  p99 %s\n", ms(s.Put.P50), ms(s.Put.P95), ms(s.Put.P99))
	fmt.Fprintf(tw, "HEAD latency:\tp50 %s  p95 %s  p99 %s\n", ms(s.Head.P50), ms(s.Head.P95), ms(s.Head.P99))
	tw.Flush()
	fmt.Fprintln(w)
	rows := [][]string{{"Concurrency", "Part size", "Throughput", "Parts", "Errors"}}
	for _, c := range r.Grid {
		rows = append(rows, []string{strconv.Itoa(c.Concurrency), units.FormatBytes(c.PartSize), mbps(c.BytesPerSec), strconv.FormatInt(c.Parts, 10), strconv.FormatInt(c.Errors, 10)})
	}
	textTable(w, rows)
	rc := r.Recommend
	fmt.Fprintf(w, "\nRecommended: --part-concurrency %d --part-size %s --max-memory %s (%s: %s)\n",
		rc.Concurrency, flagBytes(rc.PartSize), flagBytes(rc.MaxMemory), mbps(rc.BytesPerSec), rc.Reason)
	fmt.Fprintf(w, "Cleaned up: %d objects, %d multipart uploads under %s\n", r.Cleanup.Objects, r.Cleanup.Uploads, r.Prefix)
	if f.Chart != "" {
		fmt.Fprintf(w, "Chart: %s\n", f.Chart)
	}
	if f.Profile != "" {
		fmt.Fprintf(w, "Profile: %s (airlift plan/copy --bench-profile %s)\n", f.Profile, f.Profile)
	}
}

// flagBytes writes a size the way a flag takes it ("8MiB"), so the
// recommendation can be pasted.
func flagBytes(n int64) string {
	switch {
	case n > 0 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n > 0 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return strconv.FormatInt(n, 10)
}
