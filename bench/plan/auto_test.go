package plan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sparseTree makes n files of size bytes each without writing a byte of
// them: they scan by stat alone and take no disk.
func sparseTree(t *testing.T, n int, size int64) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("shard-%04d.bin", i))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := os.Truncate(p, size); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestResolveFigures(t *testing.T) {
	cfg := DefaultConfig()
	saved := &SavedRate{BytesPerSec: 50e6, Bytes: 1e9, Seconds: 20, When: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	prof := &Profile{UploadBytesPerSec: 80e6, SmallPutsPerSec: 500, SmallConcurrency: 64}
	for _, c := range []struct {
		name          string
		f             Figures
		ok            bool
		linkBps, util float64
		linkFrom      string
		host          float64
		hostFrom      string
	}{
		{"nothing known", Figures{}, false, 0, 0, "", 0, ""},
		{"bandwidth only", Figures{Bandwidth: 12.5e6}, true, 12.5e6, DefaultUtilization, "--bandwidth", 0, ""},
		{"bandwidth and saved rate", Figures{Bandwidth: 1.25e9, Saved: saved}, true, 1.25e9, DefaultUtilization, "--bandwidth", 50e6, "last copy to this endpoint"},
		{"profile over saved", Figures{Profile: prof, ProfileFrom: "p.json", Saved: saved}, true, 80e6, 1, "bench profile p.json", 80e6, "bench profile"},
		{"saved only", Figures{Saved: saved}, true, 50e6, 1, "last copy to this endpoint (1.0 GB in 20.0 s, 2026-11-01)", 50e6, "last copy"},
		{"host flag wins", Figures{Bandwidth: 1.25e9, HostRate: 200e6, Profile: prof, Saved: saved}, true, 1.25e9, DefaultUtilization, "--bandwidth", 200e6, "--host-throughput"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var o Options
			l, ok := c.f.Resolve(cfg, &o)
			if ok != c.ok || l.BytesPerSec != c.linkBps || l.Utilization != c.util || !strings.HasPrefix(l.From, c.linkFrom) {
				t.Errorf("link %+v ok %v, want %v at %v from %q (ok %v)", l, ok, c.linkBps, c.util, c.linkFrom, c.ok)
			}
			if o.HostBytesPerSec != c.host || !strings.HasPrefix(o.HostFrom, c.hostFrom) {
				t.Errorf("host %v from %q, want %v from %q", o.HostBytesPerSec, o.HostFrom, c.host, c.hostFrom)
			}
		})
	}
}

func TestRecordRate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	now := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	if err := RecordRate(dir, "http://a", MinRecordBytes-1, time.Second, now); err != nil {
		t.Fatal(err)
	}
	if r, err := LoadRate(dir, "http://a"); err != nil || r != nil {
		t.Fatalf("a small copy's rate was kept: %+v %v", r, err)
	}
	if err := RecordRate(dir, "http://a", 1e9, 10*time.Second, now); err != nil {
		t.Fatal(err)
	}
	if err := RecordRate(dir, "", 2e9, 10*time.Second, now); err != nil {
		t.Fatal(err)
	}
	a, err := LoadRate(dir, "http://a")
	if err != nil || a == nil || a.BytesPerSec != 1e8 {
		t.Fatalf("endpoint a: %+v %v", a, err)
	}
	if aws, _ := LoadRate(dir, ""); aws == nil || aws.BytesPerSec != 2e8 {
		t.Fatalf("AWS endpoint: %+v", aws)
	}
	if r, _ := LoadRate(dir, "http://other"); r != nil {
		t.Errorf("an endpoint never copied to has a rate: %+v", r)
	}
	if err := os.WriteFile(filepath.Join(dir, ratesFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRate(dir, "http://a"); err == nil || !strings.Contains(err.Error(), ratesFile) {
		t.Errorf("a damaged file: %v", err)
	}
}

func TestDecide(t *testing.T) {
	cfg := DefaultConfig()
	const gb, tb = int64(1e9), int64(1e12)
	noProbe := func(t *testing.T) func(context.Context) (float64, error) {
		return func(context.Context) (float64, error) {
			t.Error("probed the link")
			return 0, errors.New("no probe")
		}
	}
	for _, c := range []struct {
		name     string
		n        int
		size     int64
		f        Figures
		o        Options
		probe    float64 // 0: the probe must not run
		chosen   string
		reasonIn string
		linkFrom string
	}{
		{"small tree costs only the scan", 3, 1 << 20, Figures{}, Options{}, 0, KindNetwork, "cheapest", "assumed"},
		{"150GB at 100Mbps", 3, 50 * gb, Figures{Bandwidth: 100e6 / 8}, Options{}, 0, KindNetwork, "within 1.2x", "--bandwidth"},
		{"150GB unknown link is probed", 3, 50 * gb, Figures{}, Options{}, 100e6 / 8, KindNetwork, "within 1.2x", "3.0 s probe"},
		{"small tree with a deadline is probed", 3, 1 << 20, Figures{}, Options{Deadline: time.Hour}, 100e6, KindNetwork, "meets the deadline", "3.0 s probe"},
		{"20TB 10Gbps host 200MB/s 12h 4 agents", 20, tb, Figures{Bandwidth: 10e9 / 8, HostRate: 200e6}, Options{Deadline: 12 * time.Hour, DataSyncAgents: 4}, 0, KindDataSync, "27.8 hours at 200 MB/s", "--bandwidth"},
		{"500TB at 1Gbps", 50, 10 * tb, Figures{Bandwidth: 1e9 / 8}, Options{}, 0, KindPhysical, "57.9 days", "--bandwidth"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := sparseTree(t, c.n, c.size)
			probe := noProbe(t)
			probes := 0
			if c.probe > 0 {
				probe = func(context.Context) (float64, error) { probes++; return c.probe, nil }
			}
			d, est, err := Decide(context.Background(), root, AutoOptions{Config: cfg, Figures: c.f, Options: c.o, Probe: probe})
			if err != nil {
				t.Fatal(err)
			}
			if d.Chosen != c.chosen || !strings.Contains(d.Reason, c.reasonIn) || !strings.HasPrefix(d.Link.From, c.linkFrom) {
				t.Errorf("chose %s (%s) with link from %q; want %s, %q, %q", d.Chosen, d.Reason, d.Link.From, c.chosen, c.reasonIn, c.linkFrom)
			}
			if d.Dataset.Bytes != int64(c.n)*c.size || len(d.Estimates) != len(est.Routes) || d.Recommended != est.Recommended {
				t.Errorf("decision %+v does not carry the estimate", d)
			}
			if (probes == 1) != (c.probe > 0) || d.Probed != (c.probe > 0) {
				t.Errorf("probed %d times (flag %v)", probes, d.Probed)
			}
		})
	}
	// A probe that fails says how to avoid it.
	_, _, err := Decide(context.Background(), sparseTree(t, 1, 200*gb), AutoOptions{Config: cfg,
		Probe: func(context.Context) (float64, error) { return 0, errors.New("connection refused") }})
	if err == nil || !strings.Contains(err.Error(), "--bandwidth") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("failed probe: %v", err)
	}
}

func TestBacklogWarning(t *testing.T) {
	cfg := DefaultConfig()
	root := sparseTree(t, 1, 150<<30)
	for _, c := range []struct {
		name     string
		deadline time.Duration
		want     string
	}{
		{"no deadline", 0, ""},
		{"deadline met", 5 * time.Hour, ""},
		{"deadline missed", time.Hour, "takes about 4.5 hours at 10 MB/s (link from --bandwidth), longer than --deadline 60 min"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, err := BacklogWarning(context.Background(), root, AutoOptions{Config: cfg, Figures: Figures{Bandwidth: 100e6 / 8},
				Options: Options{Deadline: c.deadline}, Probe: func(context.Context) (float64, error) { t.Error("probed"); return 0, nil }})
			if err != nil || (c.want == "") != (w == "") || !strings.Contains(w, c.want) {
				t.Errorf("warning %q (%v), want %q", w, err, c.want)
			}
		})
	}
}
