package transfer

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"path"
	"strconv"
	"strings"
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
