package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

var dest = Dest{Endpoint: "http://127.0.0.1:1", Bucket: "b", Prefix: "p/"}

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, dest, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTripAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	up := Record{Path: "/src/big", Size: 10 << 20, MTime: 123, Inode: 7, Status: Uploading, UploadID: "u1", PartSize: 5 << 20}
	if err := s.Put("big", up); err != nil {
		t.Fatal(err)
	}
	// Visible before any commit.
	if r, ok, err := s.Get("big"); err != nil || !ok || r.UploadID != "u1" {
		t.Fatalf("Get before flush = %+v %v %v", r, ok, err)
	}
	for i := int32(1); i <= 2; i++ {
		if err := s.PutPart("big", Part{Number: i, Size: 5 << 20, ETag: fmt.Sprintf("e%d", i), CRC32C: "c"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put("small", Record{Path: "/src/small", Size: 1, Status: Done, ETag: "x", BLAKE3: "h"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("store mode %v, want 0600", fi.Mode().Perm())
	}

	s = open(t, dir)
	defer s.Close()
	r, ok, err := s.Get("big")
	if err != nil || !ok || r.Status != Uploading || r.UploadID != "u1" || !r.Same(10<<20, 123, 7) {
		t.Fatalf("after reopen: %+v %v %v", r, ok, err)
	}
	parts, err := s.Parts("big")
	if err != nil || len(parts) != 2 || parts[1].ETag != "e2" {
		t.Fatalf("parts = %+v, %v", parts, err)
	}
	owned, orphaned, err := s.Uploads()
	if err != nil || len(owned) != 1 || len(orphaned) != 0 || owned[0].ID != "u1" {
		t.Fatalf("uploads = %+v %+v %v", owned, orphaned, err)
	}

	// Completing drops the parts; a restart with a new upload orphans the old one.
	if err := s.Put("big", Record{Status: Done, ETag: "m"}); err != nil {
		t.Fatal(err)
	}
	if parts, _ := s.Parts("big"); len(parts) != 0 {
		t.Errorf("parts after Done: %+v", parts)
	}
	if _, orphaned, _ := s.Uploads(); len(orphaned) != 1 {
		t.Errorf("u1 should be orphaned until EndUpload: %+v", orphaned)
	}
	if err := s.EndUpload("u1"); err != nil {
		t.Fatal(err)
	}
	if o1, o2, _ := s.Uploads(); len(o1)+len(o2) != 0 {
		t.Errorf("uploads after EndUpload: %+v %+v", o1, o2)
	}
	if err := s.Delete("small"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get("small"); ok {
		t.Error("deleted record still visible")
	}
}

func TestIterateInKeyOrder(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	keys := []string{"b/2", "a", "b/10", "b", "c", "a/x"}
	for _, k := range keys {
		if err := s.Put(k, Record{Status: Done}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := s.Iterate("a/", func(k string, _ Record) error { got = append(got, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := "a/x b b/10 b/2 c"; strings.Join(got, " ") != want {
		t.Errorf("Iterate = %q, want %q", strings.Join(got, " "), want)
	}
}

func TestSecondOpenNamesHolder(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	_, err := Open(dir, dest, Options{})
	var le *LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() {
		t.Fatalf("second Open: %v, want LockedError with our PID", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Errorf("message does not name the PID: %v", err)
	}
	// Another destination is another store: no conflict.
	other, err := Open(dir, Dest{Bucket: "b", Prefix: "q/"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
}

func TestCorruptStoreIsLoud(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, FileName(dest))
	if err := os.WriteFile(p, []byte(strings.Repeat("not a bolt file ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, dest, Options{})
	var ce *CorruptError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "move it aside") {
		t.Fatalf("Open of garbage: %v", err)
	}
	if b, _ := os.ReadFile(p); !strings.HasPrefix(string(b), "not a bolt") {
		t.Error("the corrupt file was overwritten")
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	path := s.Path()
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put([]byte("schema"), []byte("99")) })
	db.Close()
	if _, err := Open(dir, dest, Options{}); err == nil || !strings.Contains(err.Error(), "newer airlift") {
		t.Fatalf("Open of schema 99: %v", err)
	}
}

func TestBatchingCommitsOnSize(t *testing.T) {
	s, err := Open(t.TempDir(), dest, Options{BatchSize: 10, BatchDelay: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 10000; i++ {
		if err := s.Put(fmt.Sprintf("k%05d", i), Record{Status: Done, Size: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	_ = s.Iterate("", func(string, Record) error { n++; return nil })
	if n != 10000 {
		t.Fatalf("%d records, want 10000", n)
	}
}

func BenchmarkPut(b *testing.B) {
	s, err := Open(b.TempDir(), dest, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < b.N; i++ {
		_ = s.Put(fmt.Sprintf("dir/file-%08d", i), Record{Path: "/x/y", Size: 16384, MTime: 1, Inode: 2, Status: Done, ETag: "\"abc\"", BLAKE3: strings.Repeat("a", 64)})
	}
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPerFile is what the journal costs a copy per small file: one
// lookup that misses, then one record written.
func BenchmarkPerFile(b *testing.B) {
	s, err := Open(b.TempDir(), dest, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rec := Record{Path: "/data/set/dir/file", Size: 16384, MTime: 1, Inode: 2, Status: Done, ETag: "\"abc\"", BLAKE3: strings.Repeat("a", 64)}
	for i := 0; i < b.N; i++ {
		k := fmt.Sprintf("dir/file-%08d", i)
		if _, _, err := s.Get(k); err != nil {
			b.Fatal(err)
		}
		_ = s.Put(k, rec)
	}
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
}

// TestMetaCommitsWithTheRecords: a mark set with SetMeta reads back at
// once, is committed by the same commit as the changes queued with it
// (never after a change queued later), and stays across a reopen; one set
// to "" is removed.
func TestMetaCommitsWithTheRecords(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, dest, Options{BatchSize: 1 << 30, BatchDelay: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	committed := func(name string) string {
		var v string
		_ = s.db.View(func(tx *bolt.Tx) error { v = string(tx.Bucket(bMeta).Get([]byte("user:" + name))); return nil })
		return v
	}
	for _, kv := range [][2]string{{"run", "1"}, {"sums", "abc"}, {"gone", "x"}} {
		if err := s.SetMeta(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put("k", Record{Status: Done, Size: 1}); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Meta("run"); v != "1" || committed("run") != "" {
		t.Fatalf("before a commit: Meta %q, committed %q; want 1 and nothing", v, committed("run"))
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if committed("run") != "1" || committed("sums") != "abc" {
		t.Fatalf("after the commit of the record queued after them: run %q, sums %q", committed("run"), committed("sums"))
	}
	if err := s.SetMeta("gone", ""); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Meta("gone"); v != "" {
		t.Fatalf("removed mark reads %q", v)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	defer s.Close()
	for name, want := range map[string]string{"run": "1", "sums": "abc", "gone": ""} {
		if v, err := s.Meta(name); err != nil || v != want {
			t.Errorf("after reopening, %s = %q (%v), want %q", name, v, err, want)
		}
	}
}
