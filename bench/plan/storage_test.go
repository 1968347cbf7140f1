package plan

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlift-io/airlift/transfer"
)

// scanOf is a scan holding files of the given sizes per storage class.
func scanOf(classes map[string][]int64) *Scan {
	s := &Scan{StorageClasses: map[string]ClassShare{}}
	for class, sizes := range classes {
		sh := s.StorageClasses[class]
		for _, n := range sizes {
			sh.add(n)
		}
		s.StorageClasses[class] = sh
	}
	return s
}

func repeat(n int, size int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = size
	}
	return out
}

func TestBill(t *testing.T) {
	const kib, mib, gb = 1 << 10, 1 << 20, 1 << 30
	cases := []struct {
		name     string
		classes  map[string][]int64
		config   string // overrides, as --config takes them
		billable map[string]int64
		usd      float64
		exact    bool
		note     string // a note the bill must carry
	}{
		{name: "one GiB in STANDARD is its price",
			classes: map[string][]int64{"STANDARD": {gb}}, billable: map[string]int64{"STANDARD": gb},
			usd: 0.023, exact: true},
		{name: "small files in STANDARD_IA are billed as 128 KiB",
			classes:  map[string][]int64{"STANDARD_IA": append(repeat(10, 1000), 0, mib)},
			billable: map[string]int64{"STANDARD_IA": 11*128*kib + mib},
			usd:      float64(11*128*kib+mib) / gb * 0.0125, exact: true,
			note: "STANDARD_IA: 11 object(s) under 128.0 KiB are billed as 128.0 KiB each"},
		{name: "an object of exactly 128 KiB is billed as it is",
			classes:  map[string][]int64{"ONEZONE_IA": {128 * kib, 128*kib - 1}},
			billable: map[string]int64{"ONEZONE_IA": 256 * kib},
			usd:      float64(256*kib) / gb * 0.01, exact: true},
		{name: "GLACIER_IR has the minimum too, GLACIER its overhead instead",
			classes:  map[string][]int64{"GLACIER_IR": {kib}, "GLACIER": {gb, gb}},
			billable: map[string]int64{"GLACIER_IR": 128 * kib, "GLACIER": 2*gb + 2*32*kib},
			usd:      float64(128*kib)/gb*0.004 + float64(2*gb+2*32*kib)/gb*0.0036 + float64(2*8*kib)/gb*0.023, exact: true,
			note: "GLACIER: objects deleted, overwritten or moved within 90 days are billed for 90 days"},
		{name: "DEEP_ARCHIVE: a TiB and its 40 KiB per object",
			classes:  map[string][]int64{"DEEP_ARCHIVE": {1024 * gb}},
			billable: map[string]int64{"DEEP_ARCHIVE": 1024*gb + 32*kib},
			usd:      float64(1024*gb+32*kib)/gb*0.00099 + float64(8*kib)/gb*0.023, exact: true,
			note: "within 180 days"},
		{name: "INTELLIGENT_TIERING monitors objects of 128 KiB and more",
			classes:  map[string][]int64{"INTELLIGENT_TIERING": append(repeat(3, 100*kib), 200*kib, 200*kib, 128*kib)},
			billable: map[string]int64{"INTELLIGENT_TIERING": 3*100*kib + 2*200*kib + 128*kib},
			usd:      float64(3*100*kib+2*200*kib+128*kib)/gb*0.023 + 3.0/1000*0.0025, exact: true},
		{name: "a class without a price is left out of the total",
			classes:  map[string][]int64{"STANDARD": {gb}, "REDUCED_REDUNDANCY": {gb}},
			billable: map[string]int64{"STANDARD": gb, "REDUCED_REDUNDANCY": gb},
			usd:      0.023, exact: true, note: "REDUCED_REDUNDANCY: no price in the config"},
		{name: "a minimum that is no power of two is applied per bucket, not exactly",
			classes: map[string][]int64{"STANDARD_IA": {90 * kib, 110 * kib}},
			config:  `{"storage": {"STANDARD_IA": {"min_object_bytes": {"value": 100000, "unit": "bytes", "source": "test", "date": "2026-12-01"}}}}`,
			// both in [64 KiB, 128 KiB), whose mean (100 KiB) is over the minimum
			billable: map[string]int64{"STANDARD_IA": 200 * kib},
			usd:      float64(200*kib) / gb * 0.0125, exact: false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if c.config != "" {
				var err error
				if cfg, err = parseConfig(cfg, []byte(c.config)); err != nil {
					t.Fatal(err)
				}
			}
			b := Bill(cfg, scanOf(c.classes))
			if len(b.Classes) != len(c.classes) {
				t.Fatalf("classes %+v, want %d", b.Classes, len(c.classes))
			}
			for _, cb := range b.Classes {
				if cb.BillableBytes != c.billable[cb.Class] {
					t.Errorf("%s billable %d, want %d", cb.Class, cb.BillableBytes, c.billable[cb.Class])
				}
			}
			if math.Abs(b.MonthlyUSD-c.usd) > 1e-12 {
				t.Errorf("monthly %.12f USD, want %.12f", b.MonthlyUSD, c.usd)
			}
			if b.Exact != c.exact {
				t.Errorf("exact %v, want %v", b.Exact, c.exact)
			}
			if c.note != "" && !strings.Contains(strings.Join(b.Notes, "\n"), c.note) {
				t.Errorf("notes %q lack %q", b.Notes, c.note)
			}
		})
	}
}

func TestBillOrder(t *testing.T) {
	b := Bill(DefaultConfig(), scanOf(map[string][]int64{"DEEP_ARCHIVE": {1}, "EXPRESS_ONEZONE": {1}, "STANDARD": {1}, "GLACIER_IR": {1}}))
	var got []string
	for _, c := range b.Classes {
		got = append(got, c.Class)
	}
	if strings.Join(got, ",") != "STANDARD,GLACIER_IR,DEEP_ARCHIVE,EXPRESS_ONEZONE" {
		t.Errorf("order %v", got)
	}
}

// The scan gives each file the class copy would (the same rules, the
// first match wins) at the clock it is given, and counts files whose
// atime is before their mtime.
func TestScanStorageClasses(t *testing.T) {
	root := t.TempDir()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	files := []struct {
		rel          string
		size         int
		atime, mtime time.Duration // ago
	}{
		{"fresh.bin", 100, time.Hour, 30 * day},
		{"cold.bin", 200, 200 * day, 200 * day},
		{"sub/cold2.bin", 300, 250 * day, 300 * day},
		{"frozen.bin", 400, 10 * day, 400 * day},
		{"rewritten.bin", 500, 5 * day, 2 * day}, // read before its last write
	}
	for _, f := range files {
		p := filepath.Join(root, f.rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, f.size), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-f.atime), now.Add(-f.mtime)); err != nil {
			t.Fatal(err)
		}
	}
	var rules []transfer.ClassRule
	for _, r := range []string{"atime>180d=GLACIER_IR", "mtime>365d=DEEP_ARCHIVE"} {
		cr, err := transfer.ParseClassRule(r)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, cr)
	}
	s, err := ScanTree(context.Background(), root, ScanOptions{SampleBytes: -1, ClassRules: rules, Class: "STANDARD_IA", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]transfer.ClassCount{"STANDARD_IA": {Objects: 2, Bytes: 600}, "GLACIER_IR": {Objects: 2, Bytes: 500}, "DEEP_ARCHIVE": {Objects: 1, Bytes: 400}}
	if len(s.StorageClasses) != len(want) {
		t.Errorf("classes %+v", s.StorageClasses)
	}
	for class, w := range want {
		if s.StorageClasses[class].ClassCount != w {
			t.Errorf("%s: %+v, want %+v", class, s.StorageClasses[class].ClassCount, w)
		}
	}
	if s.AtimeBeforeMtime != 1 || s.AtimeWarning == "" {
		t.Errorf("atime before mtime %d, warning %q; want 1 and a warning (1 of 5)", s.AtimeBeforeMtime, s.AtimeWarning)
	}
	if _, err := ScanTree(context.Background(), root, ScanOptions{SampleBytes: -1, Class: "COLD"}); err == nil || !strings.Contains(err.Error(), `unknown storage class "COLD"`) {
		t.Errorf("unknown class: %v", err)
	}
}
