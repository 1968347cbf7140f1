package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// migrateBatch is how many records one transaction of the conversion
// writes: bbolt holds a transaction's changes in memory.
const migrateBatch = 50000

// migrate converts the store at path to SchemaVersion when it is of
// schema 1. The conversion writes a new file beside the old one and
// renames it over the old at the end, so that a run killed meanwhile
// leaves the old store as it was (and the next run starts over), and so
// that the converted store is compact: bbolt never gives back the pages
// of deleted records. The old store is opened read-only: opened for
// writing, bbolt would first read all of it to rebuild the free list
// schema 1 did not keep. A store that cannot be opened here is left for
// Open to report.
func migrate(path string) error {
	tmp := path + ".converting"
	_ = os.Remove(tmp) // left by a conversion that was cut off
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: boltOptions.Timeout})
	if err != nil {
		return nil
	}
	v := 0
	err = db.View(func(tx *bolt.Tx) error {
		if m := tx.Bucket(bMeta); m != nil {
			v, _ = strconv.Atoi(string(m.Get([]byte("schema"))))
		}
		return nil
	})
	if err != nil || v != 1 {
		db.Close()
		return nil
	}
	fail := func(err error) error {
		db.Close()
		_ = os.Remove(tmp)
		if os.IsPermission(err) || errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("converting state store %s to schema %d: %w", path, SchemaVersion, err)
		}
		return &CorruptError{Path: path, Err: fmt.Errorf("converting it to schema %d: %w", SchemaVersion, err)}
	}
	_ = os.Remove(tmp)
	nw, err := bolt.Open(tmp, 0o600, boltOptions)
	if err != nil {
		return fail(err)
	}
	s := &Store{rootIDs: map[string]uint64{}}
	list := []string{""}
	s.rootList.Store(&list)
	err = db.View(func(old *bolt.Tx) error {
		err := nw.Update(func(tx *bolt.Tx) error {
			for _, name := range [][]byte{bMeta, bParts, bUploads} {
				dst, err := tx.CreateBucket(name)
				if err != nil {
					return err
				}
				if src := old.Bucket(name); src != nil {
					if err := copyBucket(dst, src); err != nil {
						return err
					}
				}
			}
			if _, err := tx.CreateBucket(bRoots); err != nil {
				return err
			}
			_, err := tx.CreateBucket(bRecords)
			return err
		})
		if err != nil {
			return err
		}
		type kr struct {
			k string
			r Record
		}
		var batch []kr
		write := func() error {
			err := nw.Update(func(tx *bolt.Tx) error {
				recs := tx.Bucket(bRecords)
				recs.FillPercent = recordFill
				rootID := s.rootIDFunc(tx)
				for i := range batch {
					e := &batch[i]
					if err := recs.Put([]byte(e.k), encodeRecord(nil, e.k, &e.r, rootID)); err != nil {
						return err
					}
				}
				return nil
			})
			batch = batch[:0]
			if err != nil {
				return err
			}
			releaseMapped(db, old)
			return nw.View(func(tx *bolt.Tx) error {
				releaseMapped(nw, tx)
				return nil
			})
		}
		if objs := old.Bucket(bObjectsV1); objs != nil {
			c := objs.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				e := kr{k: string(k)}
				if err := json.Unmarshal(v, &e.r); err != nil {
					return fmt.Errorf("record %q: %w", k, err)
				}
				batch = append(batch, e)
				if len(batch) >= migrateBatch {
					if err := write(); err != nil {
						return err
					}
				}
			}
		}
		if err := write(); err != nil {
			return err
		}
		return nw.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bMeta).Put([]byte("schema"), []byte(strconv.Itoa(SchemaVersion)))
		})
	})
	if cerr := nw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	db.Close()
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("converting state store %s to schema %d: %w", path, SchemaVersion, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// copyBucket copies src's keys and nested buckets into dst.
func copyBucket(dst, src *bolt.Bucket) error {
	return src.ForEach(func(k, v []byte) error {
		if v != nil {
			return dst.Put(append([]byte(nil), k...), append([]byte(nil), v...))
		}
		nd, err := dst.CreateBucket(k)
		if err != nil {
			return err
		}
		return copyBucket(nd, src.Bucket(k))
	})
}
