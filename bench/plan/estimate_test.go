package plan

import (
	"math"
	"strings"
	"testing"
	"time"
)

func route(t *testing.T, e *Estimate, name string) Route {
	t.Helper()
	for _, r := range e.Routes {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no route %s in %+v", name, e.Routes)
	return Route{}
}

// AWS's online-versus-offline table: 100 TB over a 1 Gbps link at 80%
// takes about 12 days, over 100 Mbps about 120 days.
func TestEstimateMatchesAWSTable(t *testing.T) {
	cfg := DefaultConfig()
	const tb = 1e12
	// 100 TB as 1 GB files: requests matter but little.
	d := Dataset{Bytes: 100 * tb, Files: 100_000, Dirs: 100, Requests: 100_000 * (120 + 2)}
	for _, c := range []struct {
		name string
		bps  float64
		days float64
	}{
		{"1Gbps", 1e9 / 8, 12},
		{"100Mbps", 100e6 / 8, 120},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := EstimateRoutes(cfg, d, Link{BytesPerSec: c.bps, Utilization: 0.8, RequestLatency: 0.03, Concurrency: 64}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := route(t, e, RouteNetwork).Seconds / day
			if math.Abs(got-c.days)/c.days > 0.10 {
				t.Errorf("network route: %.1f days, want %.0f within 10%%", got, c.days)
			}
		})
	}
}

func TestEstimateRoutes(t *testing.T) {
	cfg := DefaultConfig()
	gbit := 1e9 / 8.0
	link := Link{BytesPerSec: gbit, Utilization: 0.8, RequestLatency: 0.03, Concurrency: 64}
	mbit100 := Link{BytesPerSec: 100e6 / 8, Utilization: 0.8, RequestLatency: 0.03, Concurrency: 64}
	gbit10 := Link{BytesPerSec: 10 * gbit, Utilization: 0.8, RequestLatency: 0.03, Concurrency: 64}
	for _, c := range []struct {
		name     string
		d        Dataset
		l        Link
		o        Options
		band     string
		want     string
		reasonIn string
	}{
		{"50GB no deadline", Dataset{Bytes: 50e9, Files: 1000, Requests: 1000}, link, Options{}, BandNetwork, RouteNetwork, "within 1.2x"},
		// Band used to decide this one (DataSync in the online band);
		// the figures say the network is as fast and costs only requests.
		{"1TB no deadline", Dataset{Bytes: 1e12, Files: 1000, Requests: 1000}, link, Options{}, BandOnline, RouteNetwork, "against AWS DataSync (Basic) at 2.8 hours"},
		// The example: 161 GB at 100 Mbps, 4.5 hours either way,
		// $0.05 against DataSync's $2.
		{"161GB at 100Mbps", Dataset{Bytes: 161e9, Files: 10_000, Requests: 10_000}, mbit100, Options{}, BandOnline, RouteNetwork, "4.5 hours at 10 MB/s for about $0.05 for 161.0 GB, against AWS DataSync (Basic) at 4.5 hours at 10 MB/s for $2.06"},
		{"150GB at 100Mbps", Dataset{Bytes: 150e9, Files: 3, Requests: 3 * 2000}, mbit100, Options{}, BandOnline, RouteNetwork, "within 1.2x"},
		// With a deadline the plain network copy wins whenever it is fast
		// enough: it costs only the requests.
		{"1TB 1 day", Dataset{Bytes: 1e12, Files: 1000, Requests: 1000}, link, Options{Deadline: 24 * time.Hour}, BandOnline, RouteNetwork, "meets the deadline"},
		// The device round trip beats 5.8 days online by more than 1.2x.
		{"50TB no deadline", Dataset{Bytes: 50e12, Files: 1e6, Requests: 1e6}, link, Options{}, BandPhysical, RouteTerminal, "against Network (airlift copy) at 5.8 days"},
		{"500TB at 1Gbps no deadline", Dataset{Bytes: 500e12, Files: 1e6, Requests: 1e6}, link, Options{}, BandPhysical, RouteTerminal, "against Network (airlift copy) at 57.9 days"},
		{"50TB 4 days", Dataset{Bytes: 50e12, Files: 1e6, Requests: 1e6}, link, Options{Deadline: 96 * time.Hour}, BandPhysical, RouteTerminal, "meets the deadline"},
		{"500TB 1 day nothing fits", Dataset{Bytes: 500e12, Files: 1e6, Requests: 1e6}, link, Options{Deadline: 24 * time.Hour}, BandPhysical, RouteTerminal, "No route meets"},
		{"small files make network slow", Dataset{Bytes: 20e9, Files: 20e6, Requests: 20e6}, Link{BytesPerSec: gbit, Utilization: 0.8, PutsPerSec: 200}, Options{Deadline: 24 * time.Hour}, BandNetwork, RouteDataSyncB, "meets the deadline"},
		{"snowball for existing customers", Dataset{Bytes: 400e12, Files: 1e6, Requests: 1e6}, Link{BytesPerSec: 100e6 / 8, Utilization: 0.8, RequestLatency: 0.03, Concurrency: 64}, Options{Deadline: 30 * 24 * time.Hour, ExistingSnowballCustomer: true}, BandPhysical, RouteSnowball80, "meets the deadline"},
		// One host needs 28 h; four agents fill the 10 Gbps link in 5.6 h.
		{"20TB 10Gbps host 200MB/s 12h 4 agents", Dataset{Bytes: 20e12, Files: 1e5, Requests: 1e5}, gbit10, Options{Deadline: 12 * time.Hour, HostBytesPerSec: 200e6, HostFrom: "--host-throughput", DataSyncAgents: 4},
			BandPhysical, RouteDataSyncB, "meets the deadline of 12.0 hours: 5.6 hours at 1 GB/s for about $250.50 for 20.0 TB, against Network (airlift copy) at 27.8 hours at 200 MB/s"},
		// Agents at a measured 250 MB/s each: one cannot make it, four can.
		{"20TB 10Gbps 12h 1 slow agent", Dataset{Bytes: 20e12, Files: 1e5, Requests: 1e5}, gbit10, Options{Deadline: 12 * time.Hour, HostBytesPerSec: 200e6, DataSyncAgents: 1, DataSyncThroughput: 250e6},
			BandPhysical, RouteDataSyncB, "No route meets"},
		{"20TB 10Gbps 12h 4 slow agents", Dataset{Bytes: 20e12, Files: 1e5, Requests: 1e5}, gbit10, Options{Deadline: 12 * time.Hour, HostBytesPerSec: 200e6, DataSyncAgents: 4, DataSyncThroughput: 250e6},
			BandPhysical, RouteDataSyncB, "5.6 hours at 1 GB/s"},
		// Without the host's rate the link is all the estimator knows: the
		// network copy is as fast as the agents, and cheaper.
		{"20TB 10Gbps 12h host unknown", Dataset{Bytes: 20e12, Files: 1e5, Requests: 1e5}, gbit10, Options{Deadline: 12 * time.Hour, DataSyncAgents: 4},
			BandPhysical, RouteNetwork, "meets the deadline"},
		// A slow host with no deadline: DataSync is 10x faster, beyond 1.2x.
		{"1TB 10Gbps host 100MB/s", Dataset{Bytes: 1e12, Files: 1000, Requests: 1000}, gbit10, Options{HostBytesPerSec: 100e6, HostFrom: "bench profile"},
			BandOnline, RouteDataSyncB, "against Network (airlift copy) at 2.8 hours at 100 MB/s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := EstimateRoutes(cfg, c.d, c.l, c.o)
			if err != nil {
				t.Fatal(err)
			}
			if e.Band != c.band {
				t.Errorf("band %s, want %s", e.Band, c.band)
			}
			if e.Recommended != c.want {
				t.Errorf("recommended %s, want %s (%s)\n%+v", e.Recommended, c.want, e.Reason, e.Routes)
			}
			if !strings.Contains(e.Reason, c.reasonIn) || strings.Count(e.Reason, ". ") > 0 {
				t.Errorf("reason %q: want one sentence containing %q", e.Reason, c.reasonIn)
			}
			for _, r := range e.Routes {
				if !(r.Seconds > 0) || math.IsInf(r.Seconds, 0) || r.CostUSD < 0 {
					t.Errorf("%s: seconds %v cost %v", r.Name, r.Seconds, r.CostUSD)
				}
				if strings.HasPrefix(r.Name, "snowball") && !c.o.ExistingSnowballCustomer {
					t.Errorf("snowball offered to a new customer")
				}
			}
		})
	}
}

func TestDataSyncPricesAndLimits(t *testing.T) {
	cfg := DefaultConfig()
	d := Dataset{Bytes: 1e12, Files: 120e6, Dirs: 1e6}
	e, err := EstimateRoutes(cfg, d, Link{BytesPerSec: 10e9 / 8, Utilization: 1, RequestLatency: 0.03, Concurrency: 64}, Options{DataSyncThroughput: 100e6})
	if err != nil {
		t.Fatal(err)
	}
	b, en := route(t, e, RouteDataSyncB), route(t, e, RouteDataSyncE)
	if want := 1000 * 0.0125; math.Abs(b.CostUSD-want) > 1e-6 {
		t.Errorf("basic cost %v, want %v", b.CostUSD, want)
	}
	if want := 1000*0.015 + 0.55; math.Abs(en.CostUSD-want) > 1e-6 {
		t.Errorf("enhanced cost %v, want %v", en.CostUSD, want)
	}
	if b.Executions != 3 || !strings.Contains(strings.Join(b.Notes, " "), "split into 3") {
		t.Errorf("basic executions %d notes %v, want 3 for 121M items", b.Executions, b.Notes)
	}
	// The task cap, not the 10 Gbps link, sets the time, after each of
	// the three executions has started.
	if want := 1e12/100e6 + 3*120; math.Abs(b.Seconds-want) > 1 {
		t.Errorf("datasync time %v, want %v", b.Seconds, want)
	}
}

func TestAccelerationSpeedup(t *testing.T) {
	cfg := DefaultConfig()
	d := Dataset{Bytes: 1e12, Files: 1, Requests: 1}
	l := Link{BytesPerSec: 1e8, Utilization: 1, RequestLatency: 0.03, Concurrency: 1}
	e0, _ := EstimateRoutes(cfg, d, l, Options{})
	e2, _ := EstimateRoutes(cfg, d, l, Options{AccelerationSpeedup: 2})
	n, a0, a2 := route(t, e0, RouteNetwork), route(t, e0, RouteAcceleration), route(t, e2, RouteAcceleration)
	if a0.Seconds != n.Seconds {
		t.Errorf("no speed-up claimed by default: %v vs %v", a0.Seconds, n.Seconds)
	}
	if math.Abs(a2.Seconds-n.Seconds/2) > 1e-6 {
		t.Errorf("speed-up 2: %v, want %v", a2.Seconds, n.Seconds/2)
	}
	if want := 1000 * 0.04; math.Abs(a0.CostUSD-n.CostUSD-want) > 1e-6 {
		t.Errorf("acceleration surcharge %v, want %v", a0.CostUSD-n.CostUSD, want)
	}
}

func TestChangeRate(t *testing.T) {
	cfg := DefaultConfig()
	d := Dataset{Bytes: 1e12, Files: 1000, Requests: 1000}
	gib := float64(1 << 30)
	for _, c := range []struct {
		name   string
		bps    float64
		change float64
		warn   string
	}{
		{"fits", 1e9 / 8, 50 * gib, ""},
		{"exceeds", 1e6 / 8, 50 * gib, "exceeds what the link carries"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := EstimateRoutes(cfg, d, Link{BytesPerSec: c.bps, Utilization: 0.8, RequestLatency: 0.03, Concurrency: 64}, Options{ChangeBytesPerDay: c.change})
			if err != nil {
				t.Fatal(err)
			}
			s := e.Sync
			if s == nil {
				t.Fatal("no sync sizing")
			}
			if want := c.change / (c.bps * 0.8); math.Abs(s.DailySeconds-want) > 1e-6 {
				t.Errorf("daily %v, want %v", s.DailySeconds, want)
			}
			if c.warn == "" && (s.Warning != "" || math.IsInf(s.CatchUpSeconds, 0)) {
				t.Errorf("unexpected warning %q catch-up %v", s.Warning, s.CatchUpSeconds)
			}
			if c.warn != "" && (!strings.Contains(s.Warning, c.warn) || !math.IsInf(s.CatchUpSeconds, 1)) {
				t.Errorf("warning %q, want %q", s.Warning, c.warn)
			}
		})
	}
}

func TestConfigOverrideAndValidation(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := dir + "/" + name
		if err := osWriteFile(p, s); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := LoadConfig(write("ok.json", `{"datasync": {"basic_price_per_gb": {"value": 0.02, "unit": "USD/GB", "source": "negotiated", "date": "2026-11-01"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.DataSync.BasicPricePerGB.Value != 0.02 || c.DataSync.EnhancedPricePerGB.Value != 0.015 {
		t.Errorf("override not merged over defaults: %+v", c.DataSync)
	}
	for name, body := range map[string]string{
		"unknown.json":  `{"datasync": {"basic_price": {"value": 1}}}`,
		"negative.json": `{"s3": {"put_price_per_1000": {"value": -1}}}`,
		"zero.json":     `{"terminal": {"ports": {"value": 0}}}`,
		"storage.json":  `{"storage": {"GLACIER": {"price_per_gb_month": {"value": -1}}}}`,
		"syntax.json":   `{`,
	} {
		if _, err := LoadConfig(write(name, body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Every figure carries a source and a date (a storage class's figure
	// the class does not have is absent: zero).
	for _, f := range allFigures(DefaultConfig()) {
		if f != (Figure{}) && (f.Source == "" || f.Date == "") {
			t.Errorf("figure without source or date: %+v", f)
		}
	}
}

// AWS's size band decides only between routes the figures cannot tell
// apart: with acceleration free and no faster, it ties with the network
// route, and the band picks.
func TestBandBreaksTiesOnly(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Acceleration.PricePerGB.Value = 0
	l := Link{BytesPerSec: 1e9 / 8, Utilization: 0.8, RequestLatency: 0.03, Concurrency: 64}
	for _, c := range []struct {
		name  string
		bytes float64
		want  string
		tie   bool
	}{
		{"network band", 50e9, RouteNetwork, true},
		{"online band", 1e12, RouteAcceleration, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := EstimateRoutes(cfg, Dataset{Bytes: int64(c.bytes), Files: 10, Requests: 10}, l, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if e.Recommended != c.want || strings.Contains(e.Reason, "a tie on cost went to the route of AWS's") != c.tie {
				t.Errorf("recommended %s (%s), want %s", e.Recommended, e.Reason, c.want)
			}
		})
	}
	// At the shipped price the tie is gone and the band does not matter.
	e, _ := EstimateRoutes(DefaultConfig(), Dataset{Bytes: 1e12, Files: 10, Requests: 10}, l, Options{})
	if e.Recommended != RouteNetwork || strings.Contains(e.Reason, "tie") {
		t.Errorf("recommended %s (%s), want network without a tie", e.Recommended, e.Reason)
	}
}

// N hosts divide the network route's time (each its slice's bytes and
// requests) until the shared uplink is the limit.
func TestHosts(t *testing.T) {
	cfg := DefaultConfig()
	l := Link{BytesPerSec: 1e8, Utilization: 1, RequestLatency: 0.01, Concurrency: 1} // 100 requests/s per host
	small := Dataset{Bytes: 1e9, Files: 1e6, Requests: 1e6}                           // request-bound: 10 s of bytes, 10,000 s of requests
	one := route(t, mustEstimate(t, cfg, small, l, Options{}), RouteNetwork).Seconds
	four := route(t, mustEstimate(t, cfg, small, l, Options{Hosts: 4}), RouteNetwork).Seconds
	if math.Abs(four-one/4) > 1e-6 {
		t.Errorf("4 hosts, request-bound: %v s, want %v", four, one/4)
	}
	// Byte-bound, each host as fast as the uplink: more hosts gain nothing.
	big := Dataset{Bytes: 1e12, Files: 1, Requests: 1}
	if got := route(t, mustEstimate(t, cfg, big, l, Options{Hosts: 8}), RouteNetwork).Seconds; math.Abs(got-1e4) > 1e-6 {
		t.Errorf("8 hosts on a shared 100 MB/s uplink: %v s, want 10000", got)
	}
	// A 400 MB/s uplink: 8 hosts of 100 MB/s are capped at it.
	e := mustEstimate(t, cfg, big, l, Options{Hosts: 8, UplinkBytesPerSec: 4e8})
	if got := route(t, e, RouteNetwork).Seconds; math.Abs(got-2500) > 1e-6 {
		t.Errorf("8 hosts under a 400 MB/s uplink: %v s, want 2500", got)
	}
	if e.Hosts != 8 {
		t.Errorf("Estimate.Hosts = %d", e.Hosts)
	}
}

func mustEstimate(t *testing.T, cfg *Config, d Dataset, l Link, o Options) *Estimate {
	t.Helper()
	e, err := EstimateRoutes(cfg, d, l, o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestAdvisePack(t *testing.T) {
	cfg, err := LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	small := &Scan{Files: 20000, Bytes: 20000 * 16 << 10, Requests: 20000, PartSize: 8 << 20,
		Histogram: []Bucket{{Lo: 8 << 10, Hi: 16 << 10, Files: 20000, Bytes: 20000 * 16 << 10}}}
	large := &Scan{Files: 3, Bytes: 3 << 30, Requests: 3 * 131, PartSize: 8 << 20,
		Histogram: []Bucket{{Lo: 1 << 30, Hi: 2 << 30, Files: 3, Bytes: 3 << 30}}}
	for _, c := range []struct {
		name         string
		s            *Scan
		shardSize    int64
		want         bool
		shards, reqs int64
	}{
		// 20,000 x 16 KiB plus headers: 328 MiB in one 1 GiB shard of 41
		// parts (create, complete, tag), plus the index and shards.json.
		{"small files, 1 GiB shards", small, 1 << 30, true, 1, 41 + 3 + 2},
		{"small files, 1 MiB shards (one PUT each)", small, 1 << 20, true, 328, 328 + 2},
		{"large files", large, 1 << 30, false, 0, 0},
		{"empty", &Scan{}, 1 << 30, false, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := AdvisePack(cfg, c.s, c.shardSize)
			if (p != nil) != c.want {
				t.Fatalf("advice %+v, want one: %v", p, c.want)
			}
			if p == nil {
				return
			}
			if p.Shards != c.shards || p.PackedRequests != c.reqs || p.Requests != c.s.Requests || !(p.PackedCostUSD < p.CostUSD) {
				t.Errorf("%+v; want %d shards, %d requests", p, c.shards, c.reqs)
			}
		})
	}
}

// TestPackedRoutes: a copy that packs (copy --pack) is estimated on the
// requests of its shards on the routes airlift sends itself, and on the
// files' on the others: 20 million small files that would take DataSync
// to meet a day at 200 PUT/s go over the network once packed.
func TestPackedRoutes(t *testing.T) {
	cfg := DefaultConfig()
	d := Dataset{Bytes: 20e9, Files: 20e6, Requests: 20e6}
	l := Link{BytesPerSec: 1e9 / 8, Utilization: 0.8, PutsPerSec: 200}
	o := Options{Deadline: 24 * time.Hour}
	plain, err := EstimateRoutes(cfg, d, l, o)
	if err != nil {
		t.Fatal(err)
	}
	o.PackedRequests = 2500
	packed, err := EstimateRoutes(cfg, d, l, o)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Recommended != RouteDataSyncB || packed.Recommended != RouteNetwork {
		t.Errorf("recommended %s unpacked and %s packed; want %s and %s", plain.Recommended, packed.Recommended, RouteDataSyncB, RouteNetwork)
	}
	for i, r := range packed.Routes {
		p := plain.Routes[i]
		own := r.Name == RouteNetwork || r.Name == RouteAcceleration
		switch {
		case own && (r.Requests != 2500 || !(r.Seconds < p.Seconds) || !(r.CostUSD < p.CostUSD) || !strings.Contains(strings.Join(r.Notes, ";"), "copy --pack")):
			t.Errorf("%s packed: %+v; unpacked %+v", r.Name, r, p)
		case !own && (r.Requests != d.Requests || r.Seconds != p.Seconds || r.CostUSD != p.CostUSD):
			t.Errorf("%s changed by packing: %+v; unpacked %+v", r.Name, r, p)
		}
	}
}
