package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"

	"golang.org/x/sys/unix"
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

// refWalk is what Walk must yield, written as a plain recursion with
// path-based stats and no reading ahead: the walk as it was before
// folders were read by several goroutines, kept as the reference the
// concurrent one is held to, entry for entry and in the same order.
func refWalk(t *testing.T, root string, o WalkOptions) []Entry {
	t.Helper()
	fi, err := os.Stat(root)
	if err != nil {
		t.Fatal(err)
	}
	devIno := func(fi fs.FileInfo) [2]uint64 {
		st := fi.Sys().(*syscall.Stat_t)
		return [2]uint64{uint64(st.Dev), st.Ino}
	}
	onPath := map[[2]uint64]bool{devIno(fi): true}
	var out []Entry
	var visit func(osPath, rel string)
	visit = func(osPath, rel string) {
		des, err := os.ReadDir(osPath)
		var dir *os.Root
		if err == nil {
			dir, err = os.OpenRoot(osPath)
		}
		if err != nil {
			out = append(out, Entry{Path: osPath, Rel: rel, Err: fmt.Errorf("cannot read directory: %w", UnwrapPathError(err))})
			return
		}
		defer dir.Close()
		type child struct {
			name, path, rel, skip string
			fi                    fs.FileInfo
			err                   error
		}
		var kids []child
		for _, de := range des {
			c := child{name: de.Name(), path: filepath.Join(osPath, de.Name()), rel: path.Join(rel, de.Name())}
			c.fi, c.err = dir.Lstat(c.name) // relative: a path too long to open still has entries that stat
			c.err = UnwrapPathError(c.err)
			if c.err == nil && c.fi.Mode()&fs.ModeSymlink != 0 {
				if !o.FollowSymlinks {
					c.skip = "symbolic link (use --follow-symlinks to follow)"
				} else if tfi, serr := os.Stat(c.path); errors.Is(serr, syscall.ELOOP) {
					c.skip = "symbolic link loop (the links lead back to themselves)"
				} else if serr != nil {
					c.err = fmt.Errorf("broken symbolic link: %w", UnwrapPathError(serr))
				} else {
					c.fi = tfi
				}
			}
			kids = append(kids, c)
		}
		isDir := func(c child) bool { return c.err == nil && c.skip == "" && c.fi.IsDir() }
		key := func(c child) string {
			if isDir(c) {
				return c.name + "/"
			}
			return c.name
		}
		sort.Slice(kids, func(i, j int) bool { return key(kids[i]) < key(kids[j]) })
		for _, c := range kids {
			switch {
			case !utf8.ValidString(c.name):
				what := "file"
				if isDir(c) {
					what = "folder (nothing below it is sent)"
				}
				if o.Filter.Match(c.rel) {
					out = append(out, Entry{Path: c.path, Rel: c.rel, Refused: true, Skip: NotUTF8(c.name, what)})
				}
			case isDir(c) && onPath[devIno(c.fi)]:
				out = append(out, Entry{Path: c.path, Rel: c.rel, Skip: "symbolic link loop (directory already on the path)"})
			case isDir(c):
				onPath[devIno(c.fi)] = true
				visit(c.path, c.rel)
				delete(onPath, devIno(c.fi))
			case !o.Filter.Match(c.rel):
			case c.err != nil:
				out = append(out, Entry{Path: c.path, Rel: c.rel, Err: c.err})
			case c.skip != "":
				out = append(out, Entry{Path: c.path, Rel: c.rel, Skip: c.skip})
			default:
				out = append(out, FileEntry(c.path, c.rel, c.fi))
			}
		}
	}
	visit(root, "")
	return out
}

// comparable renders entries for comparison: errors as their text.
func comparable(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		msg := ""
		if e.Err != nil {
			msg = e.Err.Error()
		}
		e.Err = nil
		out[i] = fmt.Sprintf("%q %q size=%d mtime=%d mode=%v dev=%d ino=%d ctime=%d atime=%d skip=%q refused=%v err=%q",
			e.Rel, e.Path, e.Size, e.ModTime.UnixNano(), e.Mode, e.Dev, e.Inode, e.Ctime, e.Atime, e.Skip, e.Refused, msg)
	}
	return out
}

// firstDiff says where got and want part, shortened: paths run long.
func firstDiff(got, want []string) string {
	short := func(s string) string {
		if len(s) > 300 {
			return s[:140] + " … " + s[len(s)-140:]
		}
		return s
	}
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			return fmt.Sprintf("entry %d missing, want %s", i, short(want[i]))
		case i >= len(want):
			return fmt.Sprintf("entry %d extra: %s", i, short(got[i]))
		case got[i] != want[i]:
			return fmt.Sprintf("entry %d\n got %s\nwant %s", i, short(got[i]), short(want[i]))
		}
	}
	return ""
}

// mkTree makes the files (and, for paths ending in "/", folders) given.
func mkTree(t *testing.T, root string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		full := filepath.Join(root, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A folder whose path is longer than PATH_MAX cannot be opened by it
// (ENAMETOOLONG), though its parent lists it: an unreadable folder even
// for root, which chmod cannot make.
func mkTooLong(t *testing.T, root string) {
	t.Helper()
	fd, err := unix.Open(root, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	name := "long-" + strings.Repeat("x", 240)
	for range 18 {
		if err := unix.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, name, unix.O_DIRECTORY|unix.O_RDONLY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	f, err := unix.Openat(fd, "deep-file", unix.O_CREAT|unix.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(f)
	unix.Close(fd)
}

// Walk reads folders on several goroutines ahead of the walk; what it
// yields, and in which order, is the same as the plain recursion's, on
// trees made to trip an ordering or a reading ahead.
func TestWalkMatchesReference(t *testing.T) {
	tricky := []string{
		// Names that sort below "/" (' ', '!', '-', '.', control bytes)
		// come before a folder of the same stem as keys, after it as
		// names.
		"a/x", "a/y/z", "a.txt", "a-b", "a b", "a!", "a\x01", "a0", "a/", "ab/c",
		"d.e/f", "d/e", "d-e/", "d e/f g/h",
		"é/ü", "日本/語.txt", "Z", "_", "~", "caf\u0065\u0301", "café",
		"empty/", "empty/deeper/", "empty/deeper/still/",
	}
	wide := []string{}
	for i := range 60 {
		for j := range i % 4 {
			wide = append(wide, fmt.Sprintf("w%02d/%c/f%d", i, 'a'+j, j))
		}
		if i%7 == 0 {
			wide = append(wide, fmt.Sprintf("w%02d/", i))
		}
	}
	deep := []string{strings.Repeat("d/", 60) + "f", strings.Repeat("d/", 30) + "g", "d/d.x", "d/d!"}

	cases := []struct {
		name  string
		build func(t *testing.T, root string)
		o     WalkOptions
		want  []string // the Rels, when the order is worth spelling out
		fails string   // an entry's error says this
	}{
		{name: "tricky names", build: func(t *testing.T, root string) { mkTree(t, root, tricky...) },
			want: []string{"Z", "_", "a\x01", "a b", "a!", "a-b", "a.txt", "a/x", "a/y/z", "a0", "ab/c",
				"caf\u0065\u0301", "café", "d e/f g/h", "d.e/f", "d/e", "~", "é/ü", "日本/語.txt"}},
		{name: "wide", build: func(t *testing.T, root string) { mkTree(t, root, wide...) }},
		{name: "deep", build: func(t *testing.T, root string) { mkTree(t, root, deep...) }},
		{name: "empty root", build: func(t *testing.T, root string) {}},
		{name: "symlinks not followed", build: mkLinks},
		{name: "symlinks followed", build: mkLinks, o: WalkOptions{FollowSymlinks: true}},
		{name: "names not UTF-8", build: func(t *testing.T, root string) {
			mkTree(t, root, "bad\xff/x", "bad\xfe", "good/x", "bad/x")
		}},
		{name: "special files", build: func(t *testing.T, root string) {
			mkTree(t, root, "p/q")
			if err := syscall.Mkfifo(filepath.Join(root, "p", "fifo"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "folder too long to open", build: func(t *testing.T, root string) {
			mkTree(t, root, "before", "m/z")
			mkTooLong(t, root)
		}, fails: "cannot read directory: file name too long"},
		{name: "unreadable folder", build: func(t *testing.T, root string) {
			if os.Getuid() == 0 {
				t.Skip("root reads any folder (the path too long to open covers an unreadable one)")
			}
			mkTree(t, root, "locked/x", "open/y")
			os.Chmod(filepath.Join(root, "locked"), 0)
			t.Cleanup(func() { os.Chmod(filepath.Join(root, "locked"), 0o755) })
		}, fails: "cannot read directory: permission denied"},
		{name: "filter", build: func(t *testing.T, root string) { mkTree(t, root, tricky...) },
			o: WalkOptions{Filter: mustFilter(t, []string{"*.txt", "a/*", "*/z"}, nil)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			tc.build(t, root)
			want := comparable(refWalk(t, root, tc.o))
			if tc.fails != "" && !slices.ContainsFunc(want, func(e string) bool { return strings.Contains(e, tc.fails) }) {
				t.Fatalf("no entry failed with %q", tc.fails)
			}
			if tc.want != nil {
				var rels []string
				for _, e := range walkAll(t, root, tc.o) {
					rels = append(rels, e.Rel)
				}
				if !slices.Equal(rels, tc.want) {
					t.Errorf("walk order\n got %q\nwant %q", rels, tc.want)
				}
			}
			for _, readers := range []int{1, 2, 8} {
				o := tc.o
				o.Readers = readers
				if d := firstDiff(comparable(walkAll(t, root, o)), want); d != "" {
					t.Errorf("%d readers: walk differs from the reference: %s", readers, d)
				}
			}
			// Rel is cut from Path: a root written with a trailing
			// separator names the same entries.
			if d := firstDiff(comparable(walkAll(t, root+"/", tc.o)), want); d != "" {
				t.Errorf("root %s/: walk differs from the reference: %s", root, d)
			}
		})
	}
}

func mkLinks(t *testing.T, root string) {
	mkTree(t, root, "real", "dir/f", "dir/sub/g", "other/h")
	for link, target := range map[string]string{
		"link": "real", "broken": "missing", "dir/up": "..", "dir/sub/top": "../..",
		"to-other": "other", "other/back-to-dir": "../dir", "self": "self", "x1": "x2", "x2": "x1",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
}

func mustFilter(t *testing.T, include, exclude []string) *Filter {
	t.Helper()
	f, err := NewFilter(include, exclude)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Random trees, walked with several readers, against the reference: the
// shapes a table misses (a folder's read-ahead crossing levels, folders
// of one entry next to wide ones).
func TestWalkMatchesReferenceOnRandomTrees(t *testing.T) {
	alphabet := []string{"a", "b", "-", ".", " ", "!", "0", "é", "Z", "_"}
	for seed := range uint64(12) {
		rng := rand.New(rand.NewPCG(seed, 18))
		root := t.TempDir()
		var paths []string
		var grow func(dir string, depth int)
		grow = func(dir string, depth int) {
			for range rng.IntN(6) {
				name := ""
				for range 1 + rng.IntN(3) {
					name += alphabet[rng.IntN(len(alphabet))]
				}
				p := path.Join(dir, name)
				if depth < 5 && rng.IntN(3) == 0 {
					paths = append(paths, p+"/")
					grow(p, depth+1)
				} else {
					paths = append(paths, p)
				}
			}
		}
		grow("", 0)
		// A name drawn twice, as a file or a folder, keeps the first.
		for _, p := range paths {
			full := filepath.Join(root, strings.TrimSuffix(p, "/"))
			if _, err := os.Lstat(full); err == nil {
				continue
			}
			if fi, err := os.Stat(filepath.Dir(full)); err != nil || !fi.IsDir() {
				continue
			}
			mkTree(t, root, p)
		}
		want := comparable(refWalk(t, root, WalkOptions{}))
		for _, readers := range []int{1, 3} {
			if d := firstDiff(comparable(walkAll(t, root, WalkOptions{Readers: readers})), want); d != "" {
				t.Fatalf("seed %d, %d readers: walk differs from the reference: %s", seed, readers, d)
			}
		}
	}
}

// A walk stopped by its callback ends there; one whose context is done
// ends at the next folder it reaches. Either says why it stopped.
func TestWalkStopsEarly(t *testing.T) {
	root := t.TempDir()
	var paths []string
	for i := range 40 {
		paths = append(paths, fmt.Sprintf("d%02d/f", i), fmt.Sprintf("d%02d/e/g", i))
	}
	mkTree(t, root, paths...)
	stop := errors.New("enough")
	n := 0
	err := Walk(context.Background(), root, WalkOptions{Readers: 4}, func(Entry) error {
		if n++; n == 5 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 5 {
		t.Fatalf("walk stopped by its callback: %v after %d entries", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	err = Walk(ctx, root, WalkOptions{Readers: 4}, func(Entry) error {
		if n++; n == 5 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n >= 80 {
		t.Fatalf("walk stopped by its context: %v after %d entries", err, n)
	}
}

// TestOpenRead: openRead opens what os.Open opens and fails as it fails
// (the same *fs.PathError, so messages and errors.Is stay as they were).
func TestOpenRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("sixteen bytes..."), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
	}{{"a file", p}, {"a folder", dir}, {"missing", filepath.Join(dir, "nope")}, {"under a file", filepath.Join(p, "x")}} {
		t.Run(c.name, func(t *testing.T) {
			want, wantErr := os.Open(c.path)
			got, err := openRead(c.path)
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("openRead: %v; os.Open: %v", err, wantErr)
			}
			if err != nil {
				if err.Error() != wantErr.Error() || UnwrapPathError(err) != UnwrapPathError(wantErr) {
					t.Fatalf("openRead: %v; os.Open: %v", err, wantErr)
				}
				return
			}
			defer want.Close()
			defer got.Close()
			wi, _ := want.Stat()
			gi, _ := got.Stat()
			if !os.SameFile(wi, gi) || got.Name() != c.path {
				t.Fatalf("openRead opened %v (%q), os.Open %v", gi, got.Name(), wi)
			}
			if wi.Mode().IsRegular() {
				a, _ := io.ReadAll(want)
				b, _ := io.ReadAll(got)
				if string(a) != string(b) {
					t.Fatalf("read %q, os.Open read %q", b, a)
				}
			}
		})
	}
}

// TestFolderKeepWalk: the walk after a kept one replays it, without
// reading the folder (a file added in between is not in it), and the
// one after that reads the folder again; a walk longer than the keep is
// not replayed, and the filter counts each name once either way.
func TestFolderKeepWalk(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"a/1.txt", "a/2.txt", "b/3.txt", "c.txt"} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rels := func(f *Folder) []string {
		var got []string
		if err := f.Walk(context.Background(), func(e Entry) error {
			if e.Err == nil && e.Skip == "" {
				got = append(got, e.Rel)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	tests := []struct {
		name          string
		keep          int
		replay, after []string
		askedOnce     int64
	}{
		{"kept", 10, []string{"a/1.txt", "a/2.txt", "b/3.txt", "c.txt"}, []string{"a/1.txt", "a/2.txt", "a/new.txt", "b/3.txt", "c.txt"}, 4},
		{"past the keep", 3, []string{"a/1.txt", "a/2.txt", "a/new.txt", "b/3.txt", "c.txt"}, []string{"a/1.txt", "a/2.txt", "a/new.txt", "b/3.txt", "c.txt"}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer os.Remove(filepath.Join(root, "a", "new.txt"))
			flt, err := NewFilter(nil, []string{"*.none"})
			if err != nil {
				t.Fatal(err)
			}
			f, err := NewFolder(root, WalkOptions{Filter: flt})
			if err != nil {
				t.Fatal(err)
			}
			f.KeepWalk(tt.keep)
			first := rels(f)
			if len(first) != 4 {
				t.Fatalf("first walk: %v", first)
			}
			if err := os.WriteFile(filepath.Join(root, "a", "new.txt"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if got := rels(f); !slices.Equal(got, tt.replay) {
				t.Errorf("second walk: %v, want %v", got, tt.replay)
			}
			if n, _ := flt.SelectedNone(); n != tt.askedOnce {
				t.Errorf("the filter counts %d names after the second walk, want %d", n, tt.askedOnce)
			}
			if got := rels(f); !slices.Equal(got, tt.after) {
				t.Errorf("third walk: %v, want %v", got, tt.after)
			}
		})
	}
}
