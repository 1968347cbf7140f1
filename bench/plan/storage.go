package plan

import (
	"fmt"
	"sort"

	"github.com/airlift-io/airlift/internal/units"
)

// gib is the GB S3 bills storage by: 2^30 bytes.
const gib = 1 << 30

// ClassBill is one storage class's share of the monthly storage bill.
type ClassBill struct {
	Class   string `json:"class"`
	Objects int64  `json:"objects"`
	Bytes   int64  `json:"bytes"`
	// BillableBytes are billed at the class's rate: each object counted
	// as at least the class's minimum billable size, plus its per-object
	// overhead. StandardBytes are billed at STANDARD's rate (the
	// per-object metadata of GLACIER and DEEP_ARCHIVE).
	BillableBytes int64 `json:"billable_bytes"`
	StandardBytes int64 `json:"standard_overhead_bytes,omitempty"`
	// Undersized objects are under the class's minimum billable size,
	// each billed as that size.
	Undersized int64 `json:"undersized_objects,omitempty"`
	// Monitored objects pay INTELLIGENT_TIERING's monitoring fee.
	Monitored       int64   `json:"monitored_objects,omitempty"`
	PricePerGBMonth float64 `json:"price_per_gb_month"`
	MonthlyUSD      float64 `json:"monthly_usd"`
	MinDays         float64 `json:"min_storage_days,omitempty"`
	// Priced is false when the config has no price for the class: its
	// MonthlyUSD is 0 and left out of the total.
	Priced bool `json:"priced"`
}

// StorageBill is what keeping the scanned files in S3 costs a month, in
// the storage classes they would be stored in.
type StorageBill struct {
	Classes    []ClassBill `json:"classes"`
	MonthlyUSD float64     `json:"monthly_usd"`
	// Exact is false when a class's minimum size falls inside a bucket of
	// the size histogram, so that it could not be applied file by file
	// (never with the shipped figures, which are powers of two).
	Exact bool     `json:"exact"`
	Notes []string `json:"notes,omitempty"`
}

// classOrder lists the classes the config prices, warmest first: the
// order the bill shows them in (others follow by name).
var classOrder = []string{"STANDARD", "INTELLIGENT_TIERING", "STANDARD_IA", "ONEZONE_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"}

// Bill prices a month of storage of what s found, per storage class
// (Scan.StorageClasses), from the per-object sizes the scan's histograms
// keep: objects under a class's minimum billable size are billed as that
// size, GLACIER and DEEP_ARCHIVE objects carry their metadata overhead,
// INTELLIGENT_TIERING objects large enough to be monitored pay the
// monitoring fee (all are priced at its Frequent Access rate, where every
// object starts). Minimum storage durations are noted, not billed: they
// cost only when objects leave early.
func Bill(cfg *Config, s *Scan) *StorageBill {
	prices := cfg.StoragePrices()
	std := cfg.Storage.Standard.PerGBMonth.Value
	b := &StorageBill{Exact: true, Classes: []ClassBill{}}
	for _, class := range billOrder(s.StorageClasses) {
		sh := s.StorageClasses[class]
		cb := ClassBill{Class: class, Objects: sh.Objects, Bytes: sh.Bytes, BillableBytes: sh.Bytes}
		p, ok := prices[class]
		if !ok {
			b.Notes = append(b.Notes, fmt.Sprintf("%s: no price in the config; %s left out of the total", class, units.FormatBytes(sh.Bytes)))
			b.Classes = append(b.Classes, cb)
			continue
		}
		cb.Priced, cb.PricePerGBMonth, cb.MinDays = true, p.PerGBMonth.Value, p.MinDays.Value
		if minSize := int64(p.MinObjectBytes.Value); minSize > 0 {
			var exact bool
			cb.BillableBytes, cb.Undersized, exact = atLeast(&sh.sizes, minSize)
			b.Exact = b.Exact && exact
			if cb.Undersized > 0 {
				b.Notes = append(b.Notes, fmt.Sprintf("%s: %d object(s) under %s are billed as %s each (%s billed for %s of data)",
					class, cb.Undersized, units.FormatBytes(minSize), units.FormatBytes(minSize), units.FormatBytes(cb.BillableBytes), units.FormatBytes(sh.Bytes)))
			}
		}
		cb.BillableBytes += sh.Objects * int64(p.OverheadBytes.Value)
		cb.StandardBytes = sh.Objects * int64(p.StandardOverheadBytes.Value)
		if p.MonitoringPer1000.Value > 0 {
			_, small, exact := atLeast(&sh.sizes, int64(p.MonitoredMinBytes.Value))
			b.Exact = b.Exact && exact
			cb.Monitored = sh.Objects - small
		}
		cb.MonthlyUSD = float64(cb.BillableBytes)/gib*cb.PricePerGBMonth + float64(cb.StandardBytes)/gib*std +
			float64(cb.Monitored)/1000*p.MonitoringPer1000.Value
		if cb.MinDays > 0 {
			b.Notes = append(b.Notes, fmt.Sprintf("%s: objects deleted, overwritten or moved within %.0f days are billed for %.0f days",
				class, cb.MinDays, cb.MinDays))
		}
		b.MonthlyUSD += cb.MonthlyUSD
		b.Classes = append(b.Classes, cb)
	}
	return b
}

// atLeast sums max(size, minSize) over the objects of a size histogram and
// counts those under it. A bucket entirely below or above minSize is
// exact; one that minSize falls inside (not a power of two) is taken at its
// mean size, and exact is false.
func atLeast(sizes *[65]Bucket, minSize int64) (billable, under int64, exact bool) {
	exact = true
	for i, bk := range sizes {
		if bk.Files == 0 {
			continue
		}
		lo, hi := bucketBounds(i)
		switch {
		case minSize <= 0 || lo >= minSize:
			billable += bk.Bytes
		case hi <= minSize: // every size in [lo, hi) is under minSize; hi is 0 for empty files
			billable += bk.Files * minSize
			under += bk.Files
		default:
			exact = false
			if bk.Bytes < bk.Files*minSize {
				billable += bk.Files * minSize
				under += bk.Files
			} else {
				billable += bk.Bytes
			}
		}
	}
	return billable, under, exact
}

func billOrder(m map[string]ClassShare) []string {
	rank := map[string]int{}
	for i, c := range classOrder {
		rank[c] = i + 1
	}
	out := make([]string, 0, len(m))
	for c := range m {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		ri, rj := rank[out[i]], rank[out[j]]
		switch {
		case ri > 0 && rj > 0:
			return ri < rj
		case ri > 0 || rj > 0:
			return ri > 0
		}
		return out[i] < out[j]
	})
	return out
}
