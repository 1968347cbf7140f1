package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlift-io/airlift/bench/plan"
	"github.com/airlift-io/airlift/internal/s3test"
	"github.com/airlift-io/airlift/internal/ui"
)

// planTree writes a tree of known sizes: half the bytes text (zstd
// shrinks it to almost nothing), half random.
func planTree(t *testing.T) string {
	t.Helper()
	root := tree(t, map[string]int{
		"rand/a.bin": 256 << 10, "rand/b.bin": 256 << 10, "rand/c.bin": 256 << 10, "rand/d.bin": 256 << 10,
		"big/shard.bin": 10 << 20,
	})
	line := []byte("id,label,text\n1,cat,the quick brown fox\n")
	for _, n := range []string{"a", "b", "c", "d"} {
		b := make([]byte, 256<<10)
		for i := range b {
			b[i] = line[i%len(line)]
		}
		if err := os.WriteFile(filepath.Join(root, "text-"+n+".csv"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestPlanE2E(t *testing.T) {
	root := planTree(t)
	t.Run("plan SRC --json", func(t *testing.T) {
		r := airlift(t, nil, "plan", root, "--json", "--deadline", "1d", "--change-rate", "50GiB/day")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var out ui.PlanJSON
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		s := out.Scan
		if s.Files != 9 || s.Bytes != 12<<20 || s.LargestSize != 10<<20 || s.MultipartFiles != 1 || s.Requests != 8+4 {
			t.Errorf("scan %+v", s)
		}
		if s.SmallFiles != 8 || s.SmallBytes != 2<<20 {
			t.Errorf("small files %d bytes %d, want 8 and 2 MiB", s.SmallFiles, s.SmallBytes)
		}
		ext := map[string]plan.ExtStat{}
		for _, e := range s.ByExt {
			ext[e.Ext] = e
		}
		if ext[".csv"].Ratio > 0.05 || ext[".bin"].Ratio < 0.98 || ext[".csv"].Files != 4 {
			t.Errorf("by extension: %+v", s.ByExt)
		}
		e := out.Estimate
		if e.Recommended != plan.RouteNetwork || e.Sync == nil || e.Band != plan.BandNetwork {
			t.Errorf("estimate %+v", e)
		}
	})
	t.Run("plan SRC --markdown", func(t *testing.T) {
		r := airlift(t, nil, "plan", root, "--markdown", "--existing-snowball-customer")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		for _, want := range []string{"# Migration plan", "**Recommendation:**", "| Route | Time |", "Snowball Edge Storage Optimized 210 TB", "## By extension"} {
			mustContain(t, "markdown", r.stdout, want)
		}
	})
	t.Run("plan --print-config", func(t *testing.T) {
		r := airlift(t, nil, "plan", "--print-config")
		var m map[string]map[string]plan.Figure
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &m) != nil || m["datasync"]["basic_price_per_gb"].Value != 0.0125 {
			t.Fatalf("exit %d: %s", r.code, r.stdout)
		}
	})
	for _, c := range []struct {
		name string
		args []string
	}{
		{"plan --bandwidth fast", []string{"plan", root, "--bandwidth", "fast"}},
		{"plan --utilization 1.5", []string{"plan", root, "--utilization", "1.5"}},
		{"plan --deadline soon", []string{"plan", root, "--deadline", "soon"}},
		{"plan --change-rate 5GiB", []string{"plan", root, "--change-rate", "5GiB"}},
		{"plan missing", []string{"plan", filepath.Join(root, "nope")}},
		{"plan --config missing.json", []string{"plan", root, "--config", filepath.Join(root, "missing.json")}},
		{"plan --json --markdown", []string{"plan", root, "--json", "--markdown"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := airlift(t, nil, c.args...)
			if r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q: want 2 and one line", r.code, r.stderr)
			}
		})
	}
}

func TestBenchE2E(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bench")
	dir := t.TempDir()
	chart, prof := filepath.Join(dir, "grid.svg"), filepath.Join(dir, "profile.json")
	r := airlift(t, srv, "bench", "s3://bench/team/data", "--concurrency", "1,2", "--part-sizes", "5MiB,8MiB",
		"--cell-time", "300ms", "--cell-bytes", "16MiB", "--cpu-time", "50ms", "--small-time", "200ms", "--small-concurrency", "4",
		"--source", planTree(t), "--chart", chart, "--save", prof)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"BLAKE3:", "PUT latency:", "HEAD latency:", "Source read:", "Recommended: --part-concurrency", "Cleaned up:"} {
		mustContain(t, "stdout", r.stdout, want)
	}
	mustContain(t, "stderr (progress)", r.stderr, "bench [1/")
	out := srv.AWS(t, "s3api", "list-objects-v2", "--bucket", "bench")
	if strings.Contains(out, "Key") {
		t.Errorf("objects left behind: %s", out)
	}
	out = srv.AWS(t, "s3api", "list-multipart-uploads", "--bucket", "bench")
	if strings.Contains(out, "UploadId") {
		t.Errorf("uploads left behind: %s", out)
	}
	b, err := os.ReadFile(chart)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, new(struct{ XMLName xml.Name })); err != nil {
		t.Errorf("chart is not XML: %v", err)
	}
	if n := strings.Count(string(b), `class="series"`); n != 2 {
		t.Errorf("chart has %d series, want 2", n)
	}

	// The profile drives plan and copy.
	r = airlift(t, nil, "plan", planTree(t), "--bench-profile", prof, "--json")
	if r.code != 0 {
		t.Fatalf("plan with profile: exit %d: %s", r.code, r.stderr)
	}
	var po ui.PlanJSON
	if err := json.Unmarshal([]byte(r.stdout), &po); err != nil || !strings.HasPrefix(po.Estimate.Link.From, "bench profile") || po.Estimate.Link.PutsPerSec <= 0 {
		t.Errorf("plan did not use the profile: %v %+v", err, po.Estimate.Link)
	}
	if r := airlift(t, nil, "plan", planTree(t), "--bench-profile", prof, "--bandwidth", "1Gbps"); r.code != 2 {
		t.Errorf("--bandwidth with --bench-profile: exit %d, want 2", r.code)
	}
	src := tree(t, map[string]int{"x/y.bin": 12 << 20})
	if r := airlift(t, srv, "copy", src, "s3://bench/copied", "--bench-profile", prof, "-q"); r.code != 0 {
		t.Errorf("copy --bench-profile: exit %d: %s", r.code, r.stderr)
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"bench not-s3", []string{"bench", "bucket/prefix"}},
		{"bench --part-sizes 1MiB", []string{"bench", "s3://b/p", "--part-sizes", "1MiB"}},
		{"bench --concurrency 0", []string{"bench", "s3://b/p", "--concurrency", "0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if r := airlift(t, nil, c.args...); r.code != 2 {
				t.Errorf("exit %d, want 2: %s", r.code, r.stderr)
			}
		})
	}
}
