package transfer

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"path"
	"strconv"
	"strings"

	"github.com/airlift-io/airlift/internal/outcome"
)

// Subset picks files by a hash of their relative path, so that the same
// subset comes out on every run and every machine, whatever the walk
// order: a sample (a fraction) for a test migration, or slice K of N for
// N hosts. Both read the same hash as a number u in [0, 1): a file is in
// the sample when u < Fraction (so a larger fraction holds a smaller
// one's files), and in slice floor(u*N) (so N slices partition the tree).
// The zero Subset holds every file.
type Subset struct {
	Fraction float64 // 0 = no sampling; else in (0, 1]
	// ByDir hashes the file's folder instead of its path, so that a
	// folder (a class of a labelled dataset) is sampled or sliced whole.
	ByDir bool
	K, N  int // slice K of N; N = 0: no slicing
}

// Holds reports whether the file at rel (slash-separated, relative to the
// source root) is in the subset.
func (s Subset) Holds(rel string) bool {
	if s.Fraction == 0 && s.N == 0 {
		return true
	}
	h := s.hash(rel)
	if s.Fraction > 0 && s.Fraction < 1 && float64(h>>11)/(1<<53) >= s.Fraction {
		return false
	}
	if s.N > 0 {
		// floor(u*N) without floating point: the high word of h*N.
		if slice, _ := bits.Mul64(h, uint64(s.N)); int(slice) != s.K {
			return false
		}
	}
	return true
}

// hash is the first 8 bytes of SHA-256 of the path (or its folder):
// fixed by the standard, the same on every platform and Go version.
func (s Subset) hash(rel string) uint64 {
	key := rel
	if s.ByDir {
		if key = path.Dir(rel); key == "." {
			key = ""
		}
	}
	sum := sha256.Sum256([]byte(key))
	return binary.BigEndian.Uint64(sum[:8])
}

// ParseSampleFraction parses a sample given as a percentage ("5%",
// "0.5%") or a fraction ("0.05") into a fraction in (0, 1].
func ParseSampleFraction(s string) (float64, error) {
	v, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) {
		return 0, fmt.Errorf("sample %q: want a percentage such as 5%% or a fraction such as 0.05", s)
	}
	if pct {
		f /= 100
	}
	if f <= 0 || f > 1 {
		return 0, fmt.Errorf("sample %q: want more than 0%% and at most 100%%", s)
	}
	return f, nil
}

// ParseSlice parses "K/N" with 0 <= K < N.
func ParseSlice(s string) (k, n int, err error) {
	ks, ns, ok := strings.Cut(s, "/")
	k, kerr := strconv.Atoi(ks)
	n, nerr := strconv.Atoi(ns)
	if !ok || kerr != nil || nerr != nil || n < 1 || k < 0 || k >= n {
		return 0, 0, fmt.Errorf("slice %q: want K/N with 0 <= K < N, e.g. 0/4", s)
	}
	return k, n, nil
}

// Selection says which subset of the source a run took, for its report;
// nil when it took every file its rules select.
type Selection struct {
	// Sample is the fraction of files held: the one given, or for
	// SampleFiles the one the count came to.
	Sample      float64 `json:"sample,omitempty"`
	SampleFiles int     `json:"sample_files,omitempty"`
	By          string  `json:"sample_by,omitempty"` // "file" or "dir"
	Slice       string  `json:"slice,omitempty"`     // "K/N"
}

// SetSubset makes f also require that a file be in s, after its rules.
// count > 0 asks instead for the count files (or whole folders, with
// ByDir, until they hold count files) of smallest hash: Resolve must
// then see the source's names before any file is matched.
func (f *Filter) SetSubset(s Subset, count int) {
	f.subset, f.count, f.resolved = s, count, count == 0
}

// Selection reports the subset f holds (nil: none).
func (f *Filter) Selection() *Selection {
	if f == nil || f.subset.Fraction == 0 && f.subset.N == 0 && f.count == 0 {
		return nil
	}
	sel := &Selection{Sample: f.subset.Fraction, SampleFiles: f.count}
	if sel.Sample > 0 || sel.SampleFiles > 0 {
		sel.By = "file"
		if f.subset.ByDir {
			sel.By = "dir"
		}
	}
	if f.subset.N > 0 {
		sel.Slice = fmt.Sprintf("%d/%d", f.subset.K, f.subset.N)
	}
	return sel
}

// Resolve turns a sample of a count of files into a fraction, from one
// pass over the names walk yields (through f's rules, so the count is of
// the files the run would otherwise take): the fraction just above the
// count-th smallest hash. The pass costs what a walk or a listing of the
// source costs, and memory for count hashes; the run that follows is
// then the same as for a sample given as a fraction, so that a sample of
// 10000 files holds the files of one of 1000, and a later full copy
// finds them sent. Without a count, or once resolved, Resolve does
// nothing. It must not run while f is matching for anyone else.
func (f *Filter) Resolve(ctx context.Context, walk func(context.Context, func(Entry) error) error) error {
	if f == nil || f.resolved {
		return nil
	}
	h := &hashHeap{}
	err := walk(ctx, func(e Entry) error {
		if e.Err != nil || e.Skip != "" || IsOwnPath(e.Rel) {
			return nil
		}
		v := f.subset.hash(e.Rel) >> 11
		switch {
		case h.Len() < f.count:
			heap.Push(h, v)
		case v < (*h)[0]:
			(*h)[0] = v
			heap.Fix(h, 0)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("choosing the sample of %d files: %w", f.count, err)
	}
	f.subset.Fraction = 1
	if h.Len() == f.count {
		f.subset.Fraction = float64((*h)[0]+1) / (1 << 53) // exact: an integer up to 2^53 over a power of two
	}
	f.resolved = true
	f.asked.Store(0)
	f.selected.Store(0)
	return nil
}

// hashHeap is a max-heap of 53-bit hashes: the count smallest seen.
type hashHeap []uint64

func (h hashHeap) Len() int           { return len(h) }
func (h hashHeap) Less(i, j int) bool { return h[i] > h[j] }
func (h hashHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hashHeap) Push(x any)        { *h = append(*h, x.(uint64)) }
func (h *hashHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}

// ParseSubset reads a subset as the command line gives it: sample a
// percentage ("5%"), a fraction or a count of files ("10000"; count is
// then set and the fraction is found by a pass over the names), by
// "file" or "dir", and slice "K/N". Empty strings take nothing away.
func ParseSubset(sample, by, slice string) (sub Subset, count int, err error) {
	switch by {
	case "", "file":
	case "dir":
		sub.ByDir = true
	default:
		return sub, 0, outcome.BadOption("SampleBy", "%q: want file or dir", by)
	}
	if sample != "" {
		if n, aerr := strconv.Atoi(strings.TrimSpace(sample)); aerr == nil {
			if n < 1 {
				return sub, 0, outcome.BadOption("Sample", "%q: want a percentage such as 5%% or a count of at least 1 file", sample)
			}
			count = n
		} else if sub.Fraction, err = ParseSampleFraction(sample); err != nil {
			return sub, 0, outcome.BadOption("Sample", "%v", err)
		}
	}
	if slice != "" {
		if sub.K, sub.N, err = ParseSlice(slice); err != nil {
			return sub, 0, outcome.BadOption("Slice", "%v", err)
		}
	}
	return sub, count, nil
}
