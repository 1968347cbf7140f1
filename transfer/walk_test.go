package transfer

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

func walkAll(t *testing.T, root string, o WalkOptions) []Entry {
	t.Helper()
	var out []Entry
	if err := Walk(context.Background(), root, o, func(e Entry) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWalkKeyOrder(t *testing.T) {
	root := t.TempDir()
	// "a.txt" sorts before "a/…" as S3 keys ('.' < '/'), though the
	// directory "a" sorts before the name "a.txt".
	for _, p := range []string{"a/x", "a.txt", "a-b", "b/c/d", "B", "a0"} {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte(p), 0o644)
	}
	var rels []string
	for _, e := range walkAll(t, root, WalkOptions{}) {
		if e.Err != nil {
			t.Fatalf("%s: %v", e.Rel, e.Err)
		}
		rels = append(rels, e.Rel)
	}
	if !sort.StringsAreSorted(rels) {
		t.Fatalf("walk order %v is not key order", rels)
	}
	if len(rels) != 6 {
		t.Fatalf("found %v", rels)
	}
}

func TestWalkSpecialFiles(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "real"), []byte("x"), 0o644)
	os.Mkdir(filepath.Join(root, "dir"), 0o755)
	os.WriteFile(filepath.Join(root, "dir", "f"), []byte("y"), 0o644)
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Symlink("real", filepath.Join(root, "link"))
	os.Symlink("missing", filepath.Join(root, "broken"))
	os.Symlink("..", filepath.Join(root, "dir", "loop"))
	os.WriteFile(filepath.Join(root, "bad\xffname"), []byte("z"), 0o644)

	got := map[string]Entry{}
	for _, e := range walkAll(t, root, WalkOptions{}) {
		got[e.Rel] = e
	}
	if e := got["fifo"]; e.Err == nil || !strings.Contains(e.Err.Error(), "FIFO") {
		t.Errorf("fifo: %+v", e)
	}
	if e := got["link"]; e.Skip == "" {
		t.Errorf("symlink not skipped by default: %+v", e)
	}
	// A name S3 cannot store is refused by rule, named quoted: it is not
	// a failed read.
	if e := got["bad\xffname"]; e.Err != nil || !e.Refused || !strings.Contains(e.Skip, `"bad\xffname"`) || !strings.Contains(e.Skip, "S3 keys must be UTF-8") {
		t.Errorf("invalid UTF-8 name: %+v", e)
	}
	if e := got["real"]; e.Err != nil || e.Size != 1 {
		t.Errorf("real: %+v", e)
	}

	got = map[string]Entry{}
	for _, e := range walkAll(t, root, WalkOptions{FollowSymlinks: true}) {
		got[e.Rel] = e
	}
	if e := got["link"]; e.Err != nil || e.Skip != "" || e.Size != 1 {
		t.Errorf("followed link: %+v", e)
	}
	if e := got["broken"]; e.Err == nil || !strings.Contains(e.Err.Error(), "broken") {
		t.Errorf("broken link: %+v", e)
	}
	if e := got["dir/loop"]; e.Skip == "" || !strings.Contains(e.Skip, "loop") {
		t.Errorf("loop: %+v", e)
	}
}

func TestWalkSingleFileAndMissingRoot(t *testing.T) {
	root := t.TempDir()
	f := filepath.Join(root, "one.bin")
	os.WriteFile(f, []byte("abc"), 0o644)
	es := walkAll(t, f, WalkOptions{})
	if len(es) != 1 || es[0].Rel != "one.bin" || es[0].Size != 3 {
		t.Fatalf("single file walk: %+v", es)
	}
	err := Walk(context.Background(), filepath.Join(root, "nope"), WalkOptions{}, func(Entry) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing root: %v", err)
	}
}

func TestWalkFilter(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"keep.parquet", "skip.tmp", "sub/keep2.parquet", "sub/x.tmp"} {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, nil, 0o644)
	}
	f, _ := NewFilter(nil, []string{"*.tmp"})
	var rels []string
	for _, e := range walkAll(t, root, WalkOptions{Filter: f}) {
		rels = append(rels, e.Rel)
	}
	if strings.Join(rels, ",") != "keep.parquet,sub/keep2.parquet" {
		t.Fatalf("filtered walk = %v", rels)
	}
}

// Filters see names that are not UTF-8 as their bytes, so such a file
// can be excluded like any other.
func TestWalkFilterExcludesNonUTF8Names(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "bad\xff.txt"), []byte("z"), 0o644)
	os.WriteFile(filepath.Join(root, "good.txt"), []byte("z"), 0o644)
	f, err := NewFilterRules([]Rule{{Exclude: true, Pattern: "bad*"}})
	if err != nil {
		t.Fatal(err)
	}
	es := walkAll(t, root, WalkOptions{Filter: f})
	if len(es) != 1 || es[0].Rel != "good.txt" {
		t.Fatalf("walk with --exclude 'bad*': %+v", es)
	}
}

// README: symbolic link loops are skipped, and said to be loops. Links
// that lead to each other (or to themselves) are one.
func TestWalkSymlinkFileCycleIsALoop(t *testing.T) {
	root := t.TempDir()
	os.Symlink("b", filepath.Join(root, "a"))
	os.Symlink("a", filepath.Join(root, "b"))
	os.Symlink("self", filepath.Join(root, "self"))
	es := walkAll(t, root, WalkOptions{FollowSymlinks: true})
	if len(es) != 3 {
		t.Fatalf("walk: %+v", es)
	}
	for _, e := range es {
		if e.Err != nil || !strings.Contains(e.Skip, "loop") {
			t.Errorf("%s: err %v, skip %q; want skipped as a loop", e.Rel, e.Err, e.Skip)
		}
	}
}
