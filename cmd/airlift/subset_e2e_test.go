package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/airlift-io/airlift/internal/s3test"
	"github.com/airlift-io/airlift/transfer"
)

// subsetFiles is a tree of 8 folders of 12 small files.
func subsetFiles() map[string]int {
	files := map[string]int{}
	for d := range 8 {
		for i := range 12 {
			files[fmt.Sprintf("class%d/img%02d.bin", d, i)] = 100 + d*12 + i
		}
	}
	return files
}

// keysUnder lists the keys below prefix/ with the aws CLI, relative to it
// (airlift's own .airlift/ objects left out).
func keysUnder(t *testing.T, srv *s3test.Server, bucket, prefix string) map[string]bool {
	t.Helper()
	out := srv.AWS(t, "s3api", "list-objects-v2", "--bucket", bucket, "--prefix", prefix+"/", "--output", "json")
	var l struct{ Contents []struct{ Key string } }
	if strings.TrimSpace(out) != "" {
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			t.Fatalf("aws list-objects-v2: %v\n%s", err, out)
		}
	}
	keys := map[string]bool{}
	for _, c := range l.Contents {
		rel := strings.TrimPrefix(c.Key, prefix+"/")
		if !strings.HasPrefix(rel, ".airlift/") {
			keys[rel] = true
		}
	}
	return keys
}

// jsonReport runs airlift with --json and decodes the one document.
func jsonReport(t *testing.T, srv *s3test.Server, args ...string) map[string]any {
	t.Helper()
	r := airlift(t, srv, append(args, "--json")...)
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil || r.code != 0 {
		t.Fatalf("%s: exit %d, %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, err, r.stdout, r.stderr)
	}
	return m
}

// Two hosts' runs, --slice 0/2 and 1/2, each with its own state store,
// fill one prefix with exactly the tree, each file sent once; verify
// checks one slice, or (without --slice) the whole.
func TestSlicesPartitionACopy(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	files := subsetFiles()
	src := tree(t, files)
	sent := map[string]int{}
	for k := range 2 {
		slice := fmt.Sprintf("%d/2", k)
		before := keysUnder(t, srv, "bkt", "p")
		rep := jsonReport(t, srv, "copy", src, "s3://bkt/p", "--slice", slice, "--state-dir", t.TempDir(), "-q")
		if sub, _ := rep["subset"].(map[string]any); sub["slice"] != slice {
			t.Errorf("slice %s: report's subset is %v", slice, rep["subset"])
		}
		after := keysUnder(t, srv, "bkt", "p")
		n := 0
		for key := range after {
			if !before[key] {
				sent[key]++
				n++
			}
		}
		if n == 0 || n == len(files) || int64(n) != int64(num(rep, "files")) {
			t.Errorf("slice %s put %d new objects and reported %d files, of %d", slice, n, num(rep, "files"), len(files))
		}
	}
	if !maps.Equal(keysUnder(t, srv, "bkt", "p"), setOf(files)) {
		t.Errorf("the two slices left %v, want exactly the tree", slices.Sorted(maps.Keys(keysUnder(t, srv, "bkt", "p"))))
	}
	for key, n := range sent {
		if n != 1 {
			t.Errorf("%s sent by %d slices", key, n)
		}
	}
	v := jsonReport(t, srv, "verify", src, "s3://bkt/p", "--slice", "1/2", "-q")
	whole := jsonReport(t, srv, "verify", src, "s3://bkt/p", "-q")
	if num(whole, "equal") != len(files) || num(v, "equal") == 0 || num(v, "equal") >= len(files) {
		t.Errorf("verify --slice 1/2 found %d equal, the whole %d, of %d", num(v, "equal"), num(whole, "equal"), len(files))
	}
}

func setOf(files map[string]int) map[string]bool {
	out := map[string]bool{}
	for k := range files {
		out[k] = true
	}
	return out
}

// held is what a sample holds of files, by the engine's own hash.
func held(files map[string]int, s transfer.Subset) map[string]bool {
	out := map[string]bool{}
	for k := range files {
		if s.Holds(k) {
			out[k] = true
		}
	}
	return out
}

// sync --sample 30%, then 60%, then the whole: each run sends only what
// the bucket is missing, and the bucket holds exactly the sample after
// each (the same files on every run).
func TestSampleThenFullSync(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	files := subsetFiles()
	e := newSyncEnv(t, files)
	prev := 0
	for _, c := range []struct {
		flags []string
		want  map[string]bool
	}{
		{[]string{"--sample", "30%"}, held(files, transfer.Subset{Fraction: 0.3})},
		{[]string{"--sample", "30%"}, held(files, transfer.Subset{Fraction: 0.3})}, // again: nothing to send
		{[]string{"--sample", "60%"}, held(files, transfer.Subset{Fraction: 0.6})},
		{nil, setOf(files)},
	} {
		_, rep := e.report(c.flags...)
		if got := keysUnder(t, e.srv, e.bucket, e.prefix); !maps.Equal(got, c.want) {
			t.Fatalf("sync %v: the bucket holds %d objects, want the %d the sample holds", c.flags, len(got), len(c.want))
		}
		if up := num(rep, "uploaded"); up != len(c.want)-prev {
			t.Errorf("sync %v uploaded %d, want only the %d missing", c.flags, up, len(c.want)-prev)
		}
		prev = len(c.want)
	}
}

// copy --sample N takes exactly N files, the same ones every run; a full
// copy after it (the same journal) sends only the rest.
func TestSampleThenFullCopy(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	files := subsetFiles()
	src := tree(t, files)
	state := t.TempDir()

	dry := func() string {
		r := airlift(t, srv, "copy", src, "s3://bkt/p", "--sample", "10", "--dry-run")
		if r.code != 0 {
			t.Fatalf("dry run: exit %d: %s", r.code, r.stderr)
		}
		var lines []string // in the order uploads finish: sorted
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(l, "would upload") {
				lines = append(lines, l)
			}
		}
		slices.Sort(lines)
		return strings.Join(lines, "\n")
	}
	if a, b := dry(), dry(); a != b || strings.Count(a, "would upload") != 10 {
		t.Errorf("two dry runs of --sample 10 differ or hold other than 10 files:\n%s\n%s", a, b)
	}
	rep := jsonReport(t, srv, "copy", src, "s3://bkt/p", "--sample", "10", "--state-dir", state, "-q")
	if sub, _ := rep["subset"].(map[string]any); num(rep, "files") != 10 || sub["sample_files"] != 10.0 {
		t.Errorf("copy --sample 10 copied %d files, subset %v", num(rep, "files"), rep["subset"])
	}
	if got := keysUnder(t, srv, "bkt", "p"); len(got) != 10 {
		t.Errorf("the bucket holds %d objects after --sample 10", len(got))
	}
	full := jsonReport(t, srv, "copy", src, "s3://bkt/p", "--state-dir", state, "-q")
	if num(full, "files") != len(files)-10 || num(full, "files_skipped") != 10 {
		t.Errorf("the full copy after the sample copied %d and skipped %d; want %d and 10", num(full, "files"), num(full, "files_skipped"), len(files)-10)
	}
	if !maps.Equal(keysUnder(t, srv, "bkt", "p"), setOf(files)) {
		t.Error("the bucket does not hold the tree after the full copy")
	}
}

// An s3:// source is sampled through the same filter as a folder.
func TestSampleOfABucketSource(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "bkt")
	files := subsetFiles()
	src := tree(t, files)
	jsonReport(t, srv, "copy", src, "s3://bkt/all", "--no-journal", "-q")
	jsonReport(t, srv, "copy", "s3://bkt/all", "s3://bkt/half", "--sample", "50%", "--sample-by", "dir", "--no-journal", "-q")
	want := held(files, transfer.Subset{Fraction: 0.5, ByDir: true})
	if got := keysUnder(t, srv, "bkt", "half"); !maps.Equal(got, want) || len(want) == 0 {
		t.Errorf("sampled %d objects from the bucket, want %d", len(got), len(want))
	}
	plan := jsonReport(t, srv, "plan", "s3://bkt/all", "--subset", "50%", "--subset-by", "dir", "--sample", "0", "-q")
	if scan, _ := plan["scan"].(map[string]any); num(scan, "files") != len(want) {
		t.Errorf("plan --subset 50%% of the bucket scanned %d files, want %d", num(scan, "files"), len(want))
	}
}

func TestSubsetUsageErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	src := tree(t, map[string]int{"a": 1})
	for _, args := range [][]string{
		{"copy", src, "s3://bkt/p", "--slice", "2/2"},
		{"copy", src, "s3://bkt/p", "--sample", "0%"},
		{"sync", src, "s3://bkt/p", "--sample", "-3"},
		{"verify", src, "s3://bkt/p", "--sample-by", "folder", "--sample", "5%"},
		{"plan", src, "--hosts", "0"},
		{"copy", src, "s3://bkt/p", "--via", "datasync", "--sample", "5%"},
	} {
		r := airlift(t, nil, args...)
		if r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, want 2 with one line\n%s", args, r.code, r.stderr)
		}
	}
}
