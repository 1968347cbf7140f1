package plan

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/airlift-io/airlift/transfer"
)

// genTree writes files of known sizes: ".txt" files of repeated text
// (zstd shrinks them to almost nothing) and ".bin" files of random bytes
// (incompressible), half the bytes each.
func genTree(t *testing.T) (root string, files map[string]int) {
	t.Helper()
	root = t.TempDir()
	files = map[string]int{}
	rng := rand.New(rand.NewSource(7))
	for i := range 8 {
		files[filepath.Join("text", string(rune('a'+i)), "f.txt")] = 512 << 10
		files[filepath.Join("rand", string(rune('a'+i))+".bin")] = 512 << 10
	}
	files["empty/zero"] = 0
	files["small/one.json"] = 1000
	files["big/model.safetensors"] = 12 << 20 // multipart at 8 MiB parts: 2 parts + create + complete
	for rel, size := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, size)
		switch filepath.Ext(rel) {
		case ".txt", ".json":
			line := []byte("the quick brown fox jumps over the lazy dog 0123456789\n")
			for i := range b {
				b[i] = line[i%len(line)]
			}
		default:
			rng.Read(b)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("big/model.safetensors", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	return root, files
}

func TestScanTree(t *testing.T) {
	root, files := genTree(t)
	s, err := ScanTree(context.Background(), root, ScanOptions{Workers: 3, SampleBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var bytes int64
	for _, n := range files {
		bytes += int64(n)
	}
	if s.Files != int64(len(files)) || s.Bytes != bytes {
		t.Errorf("files %d bytes %d, want %d %d", s.Files, s.Bytes, len(files), bytes)
	}
	if s.Skipped != 1 {
		t.Errorf("skipped %d, want 1 (the symlink)", s.Skipped)
	}
	// 17 + 1 + 1 single PUTs, one multipart file of 2 parts.
	if s.Requests != 18+4 || s.MultipartFiles != 1 {
		t.Errorf("requests %d multipart %d, want 22 and 1", s.Requests, s.MultipartFiles)
	}
	if s.Largest != "big/model.safetensors" || s.LargestSize != 12<<20 {
		t.Errorf("largest %s %d", s.Largest, s.LargestSize)
	}
	// Everything but the 12 MiB file is under 1 MiB.
	if s.SmallFiles != int64(len(files))-1 || s.SmallBytes != bytes-12<<20 {
		t.Errorf("small %d files %d bytes", s.SmallFiles, s.SmallBytes)
	}
	hist := map[int64]int64{}
	for _, b := range s.Histogram {
		if b.Files > 0 {
			hist[b.Lo] = b.Files
		}
	}
	if want := map[int64]int64{0: 1, 512: 1, 512 << 10: 16, 8 << 20: 1}; !reflect.DeepEqual(hist, want) {
		t.Errorf("histogram %v, want %v", hist, want)
	}
	// The sample covers every non-empty file (the budget allows it). Text
	// is about 0 and random data about 1 of its size, so the bytes-weighted
	// ratio is about (4 MiB + 12 MiB) / 20 MiB.
	if s.SampledFiles != int64(len(files))-1 {
		t.Errorf("sampled %d files, want %d", s.SampledFiles, len(files)-1)
	}
	wantRatio := float64(4<<20+12<<20) / float64(bytes)
	// The size-weighted sample holds every file once, so the plain mean is
	// a rougher estimate here than with many files; allow for that.
	ext := map[string]ExtStat{}
	for _, e := range s.ByExt {
		ext[e.Ext] = e
	}
	if r := ext[".txt"].Ratio; !(r > 0 && r < 0.05) {
		t.Errorf(".txt ratio %v, want near 0", r)
	}
	if r := ext[".bin"].Ratio; !(r > 0.98 && r <= 1) {
		t.Errorf(".bin ratio %v, want near 1", r)
	}
	if ext[".txt"].Files != 8 || ext[".txt"].Bytes != 8*512<<10 {
		t.Errorf(".txt stats %+v", ext[".txt"])
	}
	_ = wantRatio
	if !(s.Ratio > 0.3 && s.Ratio < 0.75) {
		t.Errorf("overall ratio %v, want about half (half the files are random)", s.Ratio)
	}

	// Deterministic: the same tree gives the same summary, whatever the
	// worker count.
	s2, err := ScanTree(context.Background(), root, ScanOptions{Workers: 1, SampleBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	s.Seconds, s2.Seconds = 0, 0
	if !reflect.DeepEqual(s, s2) {
		t.Errorf("scan not deterministic:\n%+v\n%+v", s, s2)
	}
}

// The sample stays within its byte budget and picks the same files on
// every run, and big files are the likeliest picks.
func TestScanSampleBudget(t *testing.T) {
	root := t.TempDir()
	rng := rand.New(rand.NewSource(1))
	buf := make([]byte, 256<<10)
	rng.Read(buf)
	for i := range 200 {
		n := 4 << 10
		if i%50 == 0 {
			n = len(buf)
		}
		if err := os.WriteFile(filepath.Join(root, filepath.Base(t.Name())+string(rune('A'+i%26))+string(rune('a'+i/26))), buf[:n], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var prev *Scan
	for range 2 {
		s, err := ScanTree(context.Background(), root, ScanOptions{SampleBytes: 256 << 10})
		if err != nil {
			t.Fatal(err)
		}
		if s.SampledBytes > 256<<10 || s.SampledFiles != 4 {
			t.Errorf("sampled %d files, %d bytes; want 4 files within 256 KiB", s.SampledFiles, s.SampledBytes)
		}
		if prev != nil && (prev.SampledBytes != s.SampledBytes || prev.Ratio != s.Ratio) {
			t.Errorf("sample differs between runs")
		}
		prev = s
	}
	if math.IsNaN(prev.Ratio) {
		t.Error("NaN ratio")
	}
}

func TestScanMissingRoot(t *testing.T) {
	if _, err := ScanTree(context.Background(), filepath.Join(t.TempDir(), "nope"), ScanOptions{}); err == nil {
		t.Fatal("no error for a missing root")
	}
}

// A scan with a subset counts the files the subset holds and no others:
// slices add up to the whole tree, a sample of a count holds that many.
func TestScanSubset(t *testing.T) {
	root, files := genTree(t)
	scan := func(s transfer.Subset, count int) *Scan {
		t.Helper()
		f, _ := transfer.NewFilterRules(nil)
		f.SetSubset(s, count)
		sc, err := ScanTree(context.Background(), root, ScanOptions{Workers: 2, SampleBytes: -1, Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	var files3, bytes3 int64
	for k := range 3 {
		s := scan(transfer.Subset{K: k, N: 3}, 0)
		files3, bytes3 = files3+s.Files, bytes3+s.Bytes
		if s.Selection == nil || s.Selection.Slice != fmt.Sprintf("%d/3", k) {
			t.Errorf("slice %d: Selection %+v", k, s.Selection)
		}
	}
	var total int64
	for _, n := range files {
		total += int64(n)
	}
	if files3 != int64(len(files)) || bytes3 != total {
		t.Errorf("3 slices scanned %d files, %d bytes; the tree holds %d, %d", files3, bytes3, len(files), total)
	}
	if s := scan(transfer.Subset{}, 5); s.Files != 5 {
		t.Errorf("a sample of 5 files scanned %d", s.Files)
	}
}

func TestNewFolders(t *testing.T) {
	tests := []struct {
		prev, dir string
		want      int64
	}{
		{"", "", 0},
		{"", "a", 1},
		{"", "a/b/c", 3},
		{"a", "a", 0},
		{"a", "a/b", 1},
		{"a/b", "a/c/d", 2},
		{"a/b", "a/bc", 1},
		{"a/b", "ab/c", 2},
		{"a/b/c", "a", 0},
		{"a/b/c", "a/b", 0},
		{"a/b/c", "", 0},
		{"ab", "a/x", 2},
	}
	for _, tt := range tests {
		if got := newFolders(tt.prev, tt.dir); got != tt.want {
			t.Errorf("newFolders(%q, %q) = %d, want %d", tt.prev, tt.dir, got, tt.want)
		}
	}
}

// TestScanSourceOfAFolder: a folder scanned through its walk (copy --via
// auto's scan, kept for the copy) counts what ScanTree counts: files,
// bytes, requests, and every folder that holds a file, at any depth.
func TestScanSourceOfAFolder(t *testing.T) {
	root, _ := genTree(t)
	if err := os.MkdirAll(filepath.Join(root, "deep", "er", "est"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "deep", "er", "est", "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "deep", "y"), []byte("y"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := ScanOptions{SampleBytes: -1}
	tree, err := ScanTree(context.Background(), root, o)
	if err != nil {
		t.Fatal(err)
	}
	f, err := transfer.NewFolder(root, transfer.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src, err := ScanSource(context.Background(), f, o)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := src.Dataset(), tree.Dataset(); got != want {
		t.Fatalf("ScanSource of the folder: %+v, ScanTree: %+v", got, want)
	}
}
