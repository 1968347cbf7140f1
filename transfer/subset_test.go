package transfer

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
)

func subsetTree() []string {
	var rels []string
	for c := 0; c < 40; c++ {
		for i := 0; i < 50; i++ {
			rels = append(rels, fmt.Sprintf("class%02d/img%04d.jpg", c, i))
		}
	}
	return rels
}

// The hash is pinned: a change would pick other files on a machine
// running a newer airlift than its neighbours.
func TestSubsetHashIsPinned(t *testing.T) {
	cases := []struct {
		rel  string
		want uint64
	}{
		{"", 0xe3b0c44298fc1c14}, // SHA-256 of nothing
		{"class00/img0000.jpg", 0x3991eaf6c006e784},
	}
	for _, c := range cases {
		if got := (Subset{}).hash(c.rel); got != c.want {
			t.Errorf("hash(%q) = %#x, want %#x", c.rel, got, c.want)
		}
	}
	if (Subset{ByDir: true}).hash("a/b/c.jpg") != (Subset{}).hash("a/b") {
		t.Error("ByDir does not hash the folder")
	}
	if (Subset{ByDir: true}).hash("top.jpg") != (Subset{}).hash("") {
		t.Error("ByDir: a file at the root is not hashed as the root")
	}
}

func TestSampleIsStableAndNested(t *testing.T) {
	rels := subsetTree()
	for _, byDir := range []bool{false, true} {
		prev := map[string]bool{}
		for _, f := range []float64{0.01, 0.05, 0.1, 0.5, 1} {
			s := Subset{Fraction: f, ByDir: byDir}
			n := 0
			for _, r := range rels {
				in := s.Holds(r)
				if in != s.Holds(r) {
					t.Fatalf("%s: not deterministic", r)
				}
				if prev[r] && !in {
					t.Errorf("byDir=%v: %s is in a smaller sample but not in the %v one", byDir, r, f)
				}
				if in {
					prev[r] = true
					n++
				}
			}
			if f == 1 && n != len(rels) {
				t.Errorf("byDir=%v: 100%% holds %d of %d", byDir, n, len(rels))
			}
			if !byDir && f == 0.1 && (n < 150 || n > 250) {
				t.Errorf("10%% of %d files holds %d", len(rels), n)
			}
		}
	}
	// Whole folders: every file of a folder is in or out together.
	s := Subset{Fraction: 0.2, ByDir: true}
	for _, r := range rels {
		if s.Holds(r) != s.Holds(r[:8]+"img9999.jpg") {
			t.Fatalf("folder of %s split by a directory sample", r)
		}
	}
}

func TestSlicesPartitionTheTree(t *testing.T) {
	rels := subsetTree()
	for _, n := range []int{1, 2, 3, 7, 16} {
		for _, byDir := range []bool{false, true} {
			owner := map[string]int{}
			for k := 0; k < n; k++ {
				s := Subset{K: k, N: n, ByDir: byDir}
				for _, r := range rels {
					if !s.Holds(r) {
						continue
					}
					if o, ok := owner[r]; ok {
						t.Fatalf("N=%d: %s in slices %d and %d", n, r, o, k)
					}
					owner[r] = k
				}
			}
			if len(owner) != len(rels) {
				t.Errorf("N=%d byDir=%v: slices hold %d of %d files", n, byDir, len(owner), len(rels))
			}
		}
	}
}

func TestParseSampleAndSlice(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
		ok   bool
	}{{"5%", 0.05, true}, {"0.5%", 0.005, true}, {"0.25", 0.25, true}, {"100%", 1, true},
		{"0%", 0, false}, {"150%", 0, false}, {"x", 0, false}, {"NaN", 0, false}} {
		got, err := ParseSampleFraction(c.in)
		if (err == nil) != c.ok || c.ok && got != c.want {
			t.Errorf("ParseSampleFraction(%q) = %v, %v", c.in, got, err)
		}
	}
	for _, c := range []struct {
		in   string
		k, n int
		ok   bool
	}{{"0/4", 0, 4, true}, {"3/4", 3, 4, true}, {"4/4", 0, 0, false}, {"-1/4", 0, 0, false}, {"1/0", 0, 0, false}, {"1", 0, 0, false}} {
		k, n, err := ParseSlice(c.in)
		if (err == nil) != c.ok || k != c.k || n != c.n {
			t.Errorf("ParseSlice(%q) = %d, %d, %v", c.in, k, n, err)
		}
	}
}

// walkOf is a walk over rels, in order, through f (as a Source's walk is).
func walkOf(f *Filter, rels []string) func(context.Context, func(Entry) error) error {
	return func(_ context.Context, fn func(Entry) error) error {
		for _, r := range rels {
			if f.Match(r) {
				if err := fn(Entry{Rel: r}); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

func held(f *Filter, rels []string) map[string]bool {
	out := map[string]bool{}
	for _, r := range rels {
		if f.Match(r) {
			out[r] = true
		}
	}
	return out
}

// A sample of a count of files holds exactly that many of the files the
// rules select, the same ones on every run, nested in a larger count,
// and the same files a fraction sample of the same size holds.
func TestSampleOfACount(t *testing.T) {
	rels := subsetTree()
	var prev map[string]bool
	for _, n := range []int{1, 10, 100, 1000, 5000} {
		f, _ := NewFilterRules([]Rule{{Exclude: true, Pattern: "class00/*"}})
		f.SetSubset(Subset{}, n)
		if err := f.Resolve(context.Background(), walkOf(f, rels)); err != nil {
			t.Fatal(err)
		}
		got := held(f, rels)
		want := min(n, len(rels)-50) // the rule leaves class00 out, and the count is of what it selects
		if len(got) != want {
			t.Errorf("sample of %d files holds %d, want %d", n, len(got), want)
		}
		for r := range got {
			if strings.HasPrefix(r, "class00/") {
				t.Errorf("sample holds %s, which the rules exclude", r)
			}
		}
		for r := range prev {
			if !got[r] {
				t.Errorf("%s is in the sample of fewer files but not in that of %d", r, n)
			}
		}
		// Again, as another machine would: the same files.
		g, _ := NewFilterRules([]Rule{{Exclude: true, Pattern: "class00/*"}})
		g.SetSubset(Subset{}, n)
		g.Resolve(context.Background(), walkOf(g, rels))
		if again := held(g, rels); !maps.Equal(got, again) {
			t.Errorf("sample of %d files differs between runs", n)
		}
		if sel := f.Selection(); sel == nil || sel.SampleFiles != n || sel.By != "file" {
			t.Errorf("Selection() = %+v", sel)
		}
		prev = got
	}
}

// By folder, a count takes whole folders until they hold at least that
// many files.
func TestSampleOfACountByDir(t *testing.T) {
	rels := subsetTree() // 40 folders of 50 files
	f, _ := NewFilterRules(nil)
	f.SetSubset(Subset{ByDir: true}, 120)
	if err := f.Resolve(context.Background(), walkOf(f, rels)); err != nil {
		t.Fatal(err)
	}
	got := held(f, rels)
	if len(got) != 150 {
		t.Errorf("holds %d files, want 3 whole folders (150)", len(got))
	}
}

// Until it is resolved, a sample of a count does not narrow a match (the
// pass over the names sees every selected name); the slice and a
// fraction narrow at once.
func TestFilterAppliesTheSubset(t *testing.T) {
	rels := subsetTree()
	f, _ := NewFilterRules(nil)
	f.SetSubset(Subset{K: 1, N: 2}, 0)
	g, _ := NewFilterRules(nil)
	g.SetSubset(Subset{K: 0, N: 2}, 0)
	a, b := held(f, rels), held(g, rels)
	if len(a)+len(b) != len(rels) || len(a) == 0 || len(b) == 0 {
		t.Errorf("slices hold %d + %d of %d", len(a), len(b), len(rels))
	}
	c, _ := NewFilterRules(nil)
	c.SetSubset(Subset{}, 10)
	if len(held(c, rels)) != len(rels) {
		t.Error("an unresolved count narrowed the match")
	}
	if (*Filter)(nil).Selection() != nil || f.Selection().Slice != "1/2" {
		t.Errorf("Selection: %+v", f.Selection())
	}
}
