package syncer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlift-io/airlift/internal/state"
	"github.com/airlift-io/airlift/transfer"
)

// fixture is a source tree and a state that records it as synced.
type fixture struct {
	t     *testing.T
	src   string
	store *state.Store
	dst   transfer.Location
}

func newFixture(t *testing.T, files ...string) *fixture {
	t.Helper()
	f := &fixture{t: t, src: t.TempDir(), dst: transfer.Location{Bucket: "b", Prefix: "p"}}
	for _, rel := range files {
		f.write(rel, rel)
	}
	st, err := state.Open(t.TempDir(), state.Dest{Bucket: "b", Prefix: "p"}, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.store = st
	f.record()
	return f
}

func (f *fixture) write(rel, content string) {
	f.t.Helper()
	p := filepath.Join(f.src, filepath.FromSlash(rel))
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// record stores every file of the source as synced (BLAKE3 left empty).
func (f *fixture) record() {
	f.t.Helper()
	err := transfer.Walk(context.Background(), f.src, transfer.WalkOptions{}, func(e transfer.Entry) error {
		k, _ := transfer.KeyFor(f.dst, e.Rel, true)
		return f.store.Put(k, recordOf(&e, "", ""))
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// plan runs a dry run and returns its report and the events, sorted.
func (f *fixture) plan(o Options) (*Report, []string) {
	f.t.Helper()
	var mu sync.Mutex
	var ev []string
	o.Source, o.Dest, o.DryRun = f.src, f.dst, true
	if o.MaxDelete == 0 {
		o.MaxDelete = -1
	}
	o.OnEvent = func(e Event) {
		mu.Lock()
		ev = append(ev, e.Kind+" "+e.Key)
		mu.Unlock()
	}
	rep, err := New(nil, f.store, o).Run(context.Background())
	if err != nil {
		f.t.Fatalf("dry run: %v", err)
	}
	sort.Strings(ev)
	return rep, ev
}

func TestPlanDecisions(t *testing.T) {
	f := newFixture(t, "a", "b/c", "b/d", "e", "f/g")
	f.write("new.txt", "n")                 // new
	f.write("b/c", "longer content")        // changed size
	os.Remove(filepath.Join(f.src, "e"))    // deleted
	os.RemoveAll(filepath.Join(f.src, "f")) // deleted

	rep, ev := f.plan(Options{Delete: true, Force: true})
	want := []string{"delete p/e", "delete p/f/g", "upload p/b/c", "upload p/new.txt"}
	if fmt.Sprint(ev) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", ev, want)
	}
	if rep.New != 1 || rep.Changed != 1 || rep.Skipped != 2 || rep.Tracked != 5 || rep.Deleted != 2 {
		t.Fatalf("report %+v", rep)
	}

	// Without --delete the deletions are only counted.
	rep, ev = f.plan(Options{})
	if rep.DeletePending != 2 || rep.Deleted != 0 || len(ev) != 2 {
		t.Fatalf("no --delete: %+v %v", rep, ev)
	}
}

func TestPlanRefusesDeletions(t *testing.T) {
	cases := []struct {
		name   string
		o      Options
		remove int
		why    string
	}{
		{"over half by default", Options{}, 3, "over half of the 4 tracked"},
		{"half is allowed", Options{}, 2, ""},
		{"force lifts the default", Options{Force: true}, 3, ""},
		{"max-delete count", Options{MaxDelete: 1, Force: true}, 2, "exceed --max-delete 1"},
		{"max-delete percent", Options{MaxDeletePercent: 25}, 2, "over 25% of the 4 tracked"},
		{"empty source", Options{Force: true}, 4, "the source root is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, "a", "b", "c", "d")
			for _, n := range []string{"a", "b", "c", "d"}[:c.remove] {
				os.Remove(filepath.Join(f.src, n))
			}
			c.o.Delete = true
			rep, ev := f.plan(c.o)
			if c.why == "" {
				if rep.DeleteRefused != "" || len(ev) != c.remove {
					t.Fatalf("refused: %q, events %v", rep.DeleteRefused, ev)
				}
				return
			}
			if len(ev) != 0 || !strings.Contains(rep.DeleteRefused, c.why) {
				t.Fatalf("refused %q (want %q), events %v", rep.DeleteRefused, c.why, ev)
			}
		})
	}
}

func TestPlanSettleAndFilter(t *testing.T) {
	f := newFixture(t, "keep.log", "data/x")
	os.Remove(filepath.Join(f.src, "keep.log"))
	f.write("data/fresh", "just written")
	// An injected clock an hour ahead: every file written so far has
	// settled, except the fresh one, whose mtime is set to that clock's
	// now (ctime cannot be set, but it is an hour behind the clock).
	now := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(f.src, "data/fresh"), now, now); err != nil {
		t.Fatal(err)
	}
	filter, _ := transfer.NewFilter(nil, []string{"*.log"})
	rep, ev := f.plan(Options{Delete: true, Force: true, Settle: 250 * time.Millisecond, Now: func() time.Time { return now }, Upload: transfer.UploadOptions{Walk: transfer.WalkOptions{Filter: filter}}})
	// keep.log is excluded: its key is out of scope, never deleted; the
	// fresh file has not settled.
	if len(ev) != 0 || rep.Pending != 1 || rep.PendingBytes != 12 || rep.OldestPending.IsZero() {
		t.Fatalf("%+v %v", rep, ev)
	}
}

func TestPendingCountsWhatARunWouldUpload(t *testing.T) {
	f := newFixture(t, "a", "b")
	f.write("c", "123")
	os.Remove(filepath.Join(f.src, "a"))
	rep, err := New(nil, f.store, Options{Source: f.src, Dest: f.dst, MaxDelete: -1}).Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pending != 1 || rep.PendingBytes != 3 || rep.DeletePending != 1 || rep.OldestPending.IsZero() {
		t.Fatalf("%+v", rep)
	}
}

func TestMissingSourceRoot(t *testing.T) {
	f := newFixture(t, "a")
	o := Options{Source: filepath.Join(f.src, "gone"), Dest: f.dst, Delete: true, Force: true, DryRun: true, MaxDelete: -1}
	rep, err := New(nil, f.store, o).Run(context.Background())
	if !errors.Is(err, ErrSourceMissing) || rep.Deleted != 0 {
		t.Fatalf("err %v, report %+v", err, rep)
	}
}

// The state is read in chunks; a merge across many chunks must see every
// record once, in order.
func TestStateCursorAcrossChunks(t *testing.T) {
	st, err := state.Open(t.TempDir(), state.Dest{Bucket: "b"}, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := 3*stateChunk + 17
	for i := 0; i < n; i++ {
		st.Put(fmt.Sprintf("p/%06d", i), Record{Status: state.Done})
	}
	st.Put("other/x", Record{}) // another prefix: not seen
	st.Put("q", Record{})
	c := newStateCursor(st, "p/")
	defer c.close()
	got := 0
	prev := ""
	for {
		key, _, ok := c.Peek()
		if !ok {
			break
		}
		if key <= prev {
			t.Fatalf("out of order: %q after %q", key, prev)
		}
		prev = key
		got++
		c.Next()
	}
	if err := c.readErr(); err != nil || got != n {
		t.Fatalf("read %d of %d records: %v", got, n, err)
	}
}

// A name airlift refuses by rule (not UTF-8) is reported, but it is not a
// failed read: deletions go ahead.
func TestRefusedNameDoesNotWithholdDeletions(t *testing.T) {
	f := newFixture(t, "a", "b", "c")
	os.Remove(filepath.Join(f.src, "a"))
	f.write("bad\xff.txt", "z")
	rep, ev := f.plan(Options{Delete: true})
	if rep.DeleteRefused != "" || rep.Failed != 0 || len(ev) != 1 || ev[0] != "delete p/a" {
		t.Fatalf("report %+v, events %v", rep, ev)
	}
	found := false
	for _, w := range rep.Warnings {
		found = found || strings.Contains(w, `"bad\xff.txt"`) && strings.Contains(w, "UTF-8")
	}
	if !found {
		t.Errorf("refusal not reported: %q", rep.Warnings)
	}
}

// The refusal's hint must name a step that works: --force does not lift
// "the source root is empty", so it must not be suggested there.
func TestEmptySourceRefusalHintWorks(t *testing.T) {
	f := newFixture(t, "a", "b", "c")
	for _, n := range []string{"a", "b", "c"} {
		os.Remove(filepath.Join(f.src, n))
	}
	rep, _ := f.plan(Options{Delete: true})
	if r := rep.DeleteRefused; r == "" || strings.Contains(r, "--force") || !strings.Contains(r, "aws s3 rm --recursive s3://b/p") {
		t.Fatalf("refusal %q", r)
	}
	rep, _ = f.plan(Options{Delete: true, Force: true})
	if r := rep.DeleteRefused; !strings.Contains(r, "source root is empty") || strings.Contains(r, "--force") {
		t.Fatalf("refusal with --force %q", r)
	}
	// Where --force does lift the refusal, it is still suggested.
	g := newFixture(t, "a", "b", "c")
	os.Remove(filepath.Join(g.src, "a"))
	os.Remove(filepath.Join(g.src, "b"))
	if rep, _ := g.plan(Options{Delete: true}); !strings.Contains(rep.DeleteRefused, "use --force") {
		t.Fatalf("refusal %q lost its --force hint", rep.DeleteRefused)
	}
}
