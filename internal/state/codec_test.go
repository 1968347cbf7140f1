package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestRecordEncodingRoundTrip(t *testing.T) {
	b3 := strings.Repeat("af", 32)
	cases := []struct {
		name string
		key  string
		rec  Record
	}{
		{"empty", "k", Record{}},
		{"done, path under a folder", "p/d/f", Record{Path: "/src/d/f", Size: 16384, MTime: 1700000000123456789, Ctime: 1700000000123456789, Inode: 99, Dev: 2049, Status: Done, BLAKE3: b3, ETag: "d41d8cd98f00b204e9800998ecf8427e", Updated: 1800000000000000000}},
		{"whole key is the path's end", "f", Record{Path: "/a/f", Status: Done}},
		{"path shares nothing with key", "p/x", Record{Path: "/src/y", Status: Done}},
		{"path shares a partial name only", "p/af", Record{Path: "/src/xaf", Status: Done}},
		{"relative path", "a/b", Record{Path: "b", Status: Done}},
		{"uploading", "big", Record{Path: "/src/big", Size: 10 << 20, MTime: 123, Inode: 7, Status: Uploading, UploadID: "u1~/+=", PartSize: 5 << 20}},
		{"multipart etag", "k", Record{ETag: "0123456789abcdef0123456789abcdef-12", Status: Done}},
		{"quoted, upper-case and odd etags", "k", Record{ETag: `"ABC"`, BLAKE3: "ABCDEF", Status: Done}},
		{"etag with a bad part count", "k", Record{ETag: "abcd-01", Status: Done}},
		{"etag ending in a dash", "k", Record{ETag: "abcd-", Status: Done}},
		{"other status", "k", Record{Status: Status("weird")}},
		{"negative and old times", "k", Record{MTime: -5, Ctime: 1 << 62, Updated: -1 << 62, Size: -1}},
	}
	s := &Store{rootIDs: map[string]uint64{}}
	list := []string{""}
	s.rootList.Store(&list)
	rootID := func(root string) (uint64, bool) {
		if id, ok := s.rootIDs[root]; ok {
			return id, true
		}
		l := append(*s.rootList.Load(), root)
		s.rootList.Store(&l)
		s.rootIDs[root] = uint64(len(l) - 1)
		return uint64(len(l) - 1), true
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := encodeRecord(nil, c.key, &c.rec, rootID)
			got, err := decodeRecord(v, c.key, *s.rootList.Load())
			if err != nil {
				t.Fatal(err)
			}
			if got != c.rec {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got, c.rec)
			}
			// As Iterate decodes: key and record from one buffer, and
			// the stored bytes may change after (bbolt reuses them).
			k := []byte(c.key)
			key, got, err := decodeEntry(k, v, *s.rootList.Load())
			clear(k)
			clear(v)
			if err != nil || key != c.key || got != c.rec {
				t.Fatalf("decodeEntry: %q %+v %v, want %q %+v", key, got, err, c.key, c.rec)
			}
			v = encodeRecord(nil, c.key, &c.rec, rootID)
			for i := 1; i < len(v); i++ {
				if _, err := decodeRecord(v[:i], c.key, *s.rootList.Load()); err == nil {
					t.Fatalf("a record cut to %d of %d bytes decoded", i, len(v))
				}
			}
		})
	}
	if want := []string{"", "/src/", "/a/"}; fmt.Sprint(*s.rootList.Load()) != fmt.Sprint(want) {
		t.Errorf("roots %q, want %q", *s.rootList.Load(), want)
	}
	j, _ := json.Marshal(cases[1].rec)
	v := encodeRecord(nil, cases[1].key, &cases[1].rec, rootID)
	t.Logf("a finished file: %d bytes (JSON: %d)", len(v), len(j))
	if len(v) > 90 {
		t.Errorf("a finished file takes %d bytes", len(v))
	}
}

// A store of schema 1 (JSON records) is converted when opened, paths and
// all, and reads as before.
func TestSchema1Migrated(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	path := s.Path()
	s.Close()
	recs := map[string]Record{
		"p/a/1": {Path: "/src/a/1", Size: 3, MTime: 5, Inode: 9, Status: Done, BLAKE3: strings.Repeat("0f", 32), ETag: "abc", Updated: 7},
		"p/big": {Path: "/elsewhere/big.bin", Size: 1 << 30, Status: Uploading, UploadID: "up1", PartSize: 8 << 20, Updated: 8},
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bRecords); err != nil {
			return err
		}
		if err := tx.DeleteBucket(bRoots); err != nil {
			return err
		}
		b, err := tx.CreateBucket(bObjectsV1)
		if err != nil {
			return err
		}
		for k, r := range recs {
			v, _ := json.Marshal(r)
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		u, _ := json.Marshal(Upload{ID: "up1", Key: "p/big", Started: 8})
		if err := tx.Bucket(bUploads).Put([]byte("up1"), u); err != nil {
			return err
		}
		return tx.Bucket(bMeta).Put([]byte("schema"), []byte("1"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	s = open(t, dir)
	if _, err := os.Stat(path + ".converting"); !os.IsNotExist(err) {
		t.Errorf("conversion file left behind: %v", err)
	}
	n := 0
	err = s.Iterate("", func(k string, r Record) error {
		n++
		if r != recs[k] {
			t.Errorf("%s: %+v, want %+v", k, r, recs[k])
		}
		return nil
	})
	if err != nil || n != len(recs) {
		t.Fatalf("iterated %d records: %v", n, err)
	}
	owned, orphaned, err := s.Uploads()
	if err != nil || len(owned) != 1 || len(orphaned) != 0 {
		t.Fatalf("uploads after migration: %v %v %v", owned, orphaned, err)
	}
	s.Close()

	db, err = bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		if v, _ := strconv.Atoi(string(tx.Bucket(bMeta).Get([]byte("schema")))); v != SchemaVersion {
			t.Errorf("schema %d after migration", v)
		}
		if tx.Bucket(bObjectsV1) != nil {
			t.Error("the schema 1 bucket is still there")
		}
		return nil
	})
}

// A record that does not decode is a CorruptError naming the store,
// never a record read as empty.
func TestBadRecordIsCorrupt(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	if err := s.Put("k", Record{Status: Done}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(s.Path(), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bRecords).Put([]byte("k"), []byte(`{"status":"done"}`)) })
	db.Close()
	s = open(t, dir)
	defer s.Close()
	_, _, err = s.Get("k")
	var ce *CorruptError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), s.Path()) {
		t.Fatalf("Get of a bad record: %v", err)
	}
	if err := s.Iterate("", func(string, Record) error { return nil }); !errors.As(err, &ce) {
		t.Fatalf("Iterate over a bad record: %v", err)
	}
}

// A schema 1 store with a record that does not parse is refused, and
// left as it was: never converted into a store that lacks the record.
func TestSchema1BadRecordRefused(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	path := s.Path()
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucket(bObjectsV1)
		_ = b.Put([]byte("p/a"), []byte(`{"status":"done"}`))
		_ = b.Put([]byte("p/b"), []byte(`{"status":`))
		return tx.Bucket(bMeta).Put([]byte("schema"), []byte("1"))
	})
	db.Close()
	before, _ := os.ReadFile(path)
	_, err = Open(dir, dest, Options{})
	var ce *CorruptError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"p/b"`) {
		t.Fatalf("Open of a bad schema 1 store: %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("the schema 1 store was changed")
	}
	if _, err := os.Stat(path + ".converting"); !os.IsNotExist(err) {
		t.Errorf("conversion file left behind: %v", err)
	}
}

// An iteration gives back the pages it mapped in; what it, and anything
// after it, reads must be unaffected.
func TestIterateAfterReleasingPages(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	const n = 3 * releaseAfter
	for i := 0; i < n; i++ {
		if err := s.Put(fmt.Sprintf("p/d/%06d", i), Record{Path: fmt.Sprintf("/src/d/%06d", i), Size: int64(i), Status: Done, BLAKE3: strings.Repeat("ab", 32)}); err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 3; round++ {
		i := 0
		err := s.Iterate("p/", func(k string, r Record) error {
			if k != fmt.Sprintf("p/d/%06d", i) || r.Size != int64(i) || r.Path != "/src/d/"+k[4:] || r.BLAKE3 != strings.Repeat("ab", 32) {
				return fmt.Errorf("record %d: %s %+v", i, k, r)
			}
			i++
			return nil
		})
		if err != nil || i != n {
			t.Fatalf("round %d: %d records, %v", round, i, err)
		}
		if r, ok, err := s.Get("p/d/000007"); err != nil || !ok || r.Size != 7 {
			t.Fatalf("Get after an iteration: %+v %v %v", r, ok, err)
		}
	}
}
