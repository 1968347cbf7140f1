// Package state is airlift's one embedded state store: per destination
// (endpoint, bucket, prefix) a single bbolt file under the state directory
// that remembers, for every object key, which local file it came from, in
// which state it is (uploading or done), and the parts of a multipart
// upload in progress. Copy uses it as a resume journal; sync uses the same
// records, in key order, as its manifest of what the destination holds.
//
// Why bbolt: pure Go (no cgo, one static binary), one file, ACID
// transactions with a single writer, and ordered keys with cursors, which
// is what a sorted walk needs to compare against. SQLite through a pure-Go
// driver would add a large translated C library and SQL for what is a
// sorted key/value map.
//
// A store is used by one process at a time: Open takes an exclusive lock
// (flock on a ".lock" file that holds the owner's PID) and fails at once,
// naming the PID, when another process holds it. Writes are batched: Put,
// PutPart and Delete queue a change that a background flusher commits in
// one transaction every BatchSize changes or BatchDelay, and Flush and
// Close commit what is queued. A crash loses at most the last batch, which
// costs a resumed run some re-sent bytes, never correctness: the journal
// is a hint that resume checks against the server (ListParts) and the
// source file (size, mtime, inode).
package state

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"golang.org/x/sys/unix"
)

// SchemaVersion is the layout this code writes. A store written by a newer
// airlift is refused rather than misread; one of schema 1 (JSON records)
// is converted when opened.
const SchemaVersion = 2

var (
	bMeta    = []byte("meta")    // "schema" -> decimal version, "dest" -> JSON Dest
	bRecords = []byte("records") // object key -> Record, encoded as in codec.go
	bRoots   = []byte("roots")   // big-endian root id -> source folder (see codec.go)
	bParts   = []byte("parts")   // object key -> nested bucket: big-endian part number -> JSON Part
	bUploads = []byte("uploads") // upload id -> JSON Upload: multipart uploads this store started and has not seen end

	bObjectsV1 = []byte("objects") // schema 1: object key -> JSON Record
)

// recordFill is the fill percent of the records bucket's pages. Records
// mostly arrive in key order (a walk is sorted), for which bbolt's
// default of one half leaves every page half empty: the file, and what a
// full pass maps into memory, would double.
const recordFill = 0.9

// Dest names the destination a store belongs to. Endpoint is "" for AWS.
type Dest struct {
	Endpoint string `json:"endpoint"`
	Bucket   string `json:"bucket"`
	Prefix   string `json:"prefix"`
}

// Status of one object key.
type Status string

const (
	// Uploading: a multipart upload was created and may hold parts.
	Uploading Status = "uploading"
	// Done: the object was written from the file described.
	Done Status = "done"
)

// Record is what the store knows about one object key.
type Record struct {
	Path     string `json:"path"`            // source file
	Size     int64  `json:"size"`            // bytes
	MTime    int64  `json:"mtime"`           // modification time, ns since the epoch
	Inode    uint64 `json:"inode,omitempty"` // with Dev, the file's identity
	Dev      uint64 `json:"dev,omitempty"`
	Ctime    int64  `json:"ctime,omitempty"`  // status change time, ns
	BLAKE3   string `json:"blake3,omitempty"` // of the whole file, once known
	ETag     string `json:"etag,omitempty"`
	Status   Status `json:"status"`
	UploadID string `json:"upload_id,omitempty"` // while Uploading
	PartSize int64  `json:"part_size,omitempty"` // while Uploading
	Updated  int64  `json:"updated,omitempty"`   // ns; set by Put
}

// Part is one part of a multipart upload that the server acknowledged.
type Part struct {
	Number int32  `json:"n"`
	Size   int64  `json:"size"`
	ETag   string `json:"etag"`
	CRC32C string `json:"crc32c,omitempty"`
}

// Upload is a multipart upload this store started and has not seen
// completed or aborted: what cleanup may abort when no record owns it.
type Upload struct {
	ID      string `json:"id"`
	Key     string `json:"key"`
	Started int64  `json:"started"` // ns
}

// Options tune a store. Zero values take the defaults noted.
type Options struct {
	BatchSize  int           // changes per transaction; 0: 2000
	BatchDelay time.Duration // longest a change waits to be committed; 0: 250ms
}

// Store is an open state store. Its methods are safe for concurrent use.
type Store struct {
	path string
	db   *bolt.DB
	lock *os.File
	o    Options

	mu      sync.Mutex
	queue   []op
	pending map[string]*Record // queued record changes (nil: deleted), newest wins
	err     error              // sticky: the first failed commit
	kick    chan struct{}
	done    chan struct{}
	stopped chan struct{}
	// pendingMeta and inflightMeta are pending and inflight for SetMeta's
	// values ("": removed).
	pendingMeta, inflightMeta map[string]string

	flushMu  sync.Mutex         // one commit at a time
	inflight map[string]*Record // changes being committed, visible to Get meanwhile
	closed   bool

	rootIDs  map[string]uint64        // under flushMu
	rootList atomic.Pointer[[]string] // by id; copied on write
}

type opKind int

const (
	opPut opKind = iota
	opPart
	opDelete
	opEndUpload
	opMeta
)

type op struct {
	kind opKind
	key  string
	rec  Record
	part Part
	meta string // opMeta's value
}

// LockedError says another process holds the store.
type LockedError struct {
	Path string
	PID  int // 0 when unknown
}

func (e *LockedError) Error() string {
	who := "another airlift process"
	if e.PID > 0 {
		who = fmt.Sprintf("airlift process %d", e.PID)
	}
	return fmt.Sprintf("state store %s is in use by %s; wait for it to finish or stop it (or use another --state-dir)", e.Path, who)
}

// CorruptError says the store cannot be read. It is never answered with a
// fresh store: that would re-upload, or in a sync, delete.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("state store %s is unreadable (%v); move it aside to start with an empty journal (completed files are then checked or sent again), or point --state-dir elsewhere", e.Path, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// DefaultDir is $XDG_STATE_HOME/airlift, else ~/.local/state/airlift.
func DefaultDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "airlift"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no state directory: %w (set --state-dir)", err)
	}
	return filepath.Join(home, ".local", "state", "airlift"), nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// FileName is the store's file name for d under the state directory: the
// bucket (for people listing the directory) and a hash of the whole
// destination (so two prefixes or endpoints never share a store).
func FileName(d Dest) string {
	h := sha256.Sum256([]byte(d.Endpoint + "\x00" + d.Bucket + "\x00" + d.Prefix))
	return unsafeName.ReplaceAllString(d.Bucket, "_") + "-" + hex.EncodeToString(h[:8]) + ".db"
}

// Open opens (creating when absent) the store for d under dir and locks
// it for this process.
func Open(dir string, d Dest, o Options) (*Store, error) {
	if o.BatchSize <= 0 {
		o.BatchSize = 2000
	}
	if o.BatchDelay <= 0 {
		o.BatchDelay = 250 * time.Millisecond
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName(d))
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	if err := migrate(path); err != nil {
		lock.Close()
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, boltOptions)
	if err != nil {
		lock.Close()
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, &LockedError{Path: path}
		}
		if os.IsPermission(err) {
			return nil, fmt.Errorf("state store %s: %w", path, err)
		}
		return nil, &CorruptError{Path: path, Err: err}
	}
	// bbolt creates the file with the mode we ask for, but an existing
	// file keeps whatever it has; the journal names every file and key.
	_ = os.Chmod(path, 0o600)
	s := &Store{path: path, db: db, lock: lock, o: o, pending: map[string]*Record{}, pendingMeta: map[string]string{},
		kick: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	if err := s.initSchema(d); err != nil {
		db.Close()
		lock.Close()
		var ce *CorruptError
		if errors.As(err, &ce) {
			ce.Path = path
		}
		return nil, err
	}
	go s.flusher()
	return s, nil
}

// boltOptions: the free list is written with each commit (a page or two:
// the store is written compact and mostly appended to). Without it
// (NoFreelistSync) every open rebuilds the list by reading every page of
// the file, which for a million records is a second of work and the
// whole store resident in memory before a sync has read one record.
var boltOptions = &bolt.Options{Timeout: 200 * time.Millisecond, FreelistType: bolt.FreelistMapType}

// lockFile takes an exclusive, non-blocking flock on path and writes our
// PID into it. The kernel drops the lock when the process dies, so a
// SIGKILLed run never leaves a stale lock behind.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			b := make([]byte, 32)
			n, _ := f.ReadAt(b, 0)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
			return nil, &LockedError{Path: strings.TrimSuffix(path, ".lock"), PID: pid}
		}
		return nil, fmt.Errorf("state lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

func (s *Store) initSchema(d Dest) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		if meta == nil {
			if tx.Bucket(bObjectsV1) != nil || tx.Bucket(bRecords) != nil {
				return &CorruptError{Err: errors.New("records without a schema version")}
			}
			var err error
			if meta, err = tx.CreateBucket(bMeta); err != nil {
				return err
			}
			dj, _ := json.Marshal(d)
			if err := meta.Put([]byte("schema"), []byte(strconv.Itoa(SchemaVersion))); err != nil {
				return err
			}
			if err := meta.Put([]byte("dest"), dj); err != nil {
				return err
			}
		}
		v, err := strconv.Atoi(string(meta.Get([]byte("schema"))))
		if err != nil {
			return &CorruptError{Err: fmt.Errorf("bad schema version %q", meta.Get([]byte("schema")))}
		}
		if v > SchemaVersion {
			return fmt.Errorf("state store was written by a newer airlift (schema %d, this airlift knows %d); upgrade airlift or use another --state-dir", v, SchemaVersion)
		}
		var got Dest
		if err := json.Unmarshal(meta.Get([]byte("dest")), &got); err != nil {
			return &CorruptError{Err: fmt.Errorf("bad destination record: %w", err)}
		}
		if got != d {
			return fmt.Errorf("state store belongs to %s/%s/%s, not this destination", got.Endpoint, got.Bucket, got.Prefix)
		}
		for _, b := range [][]byte{bRecords, bRoots, bParts, bUploads} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := s.loadRoots(tx); err != nil {
			return err
		}
		if v < SchemaVersion {
			return &CorruptError{Err: fmt.Errorf("schema %d was not converted", v)}
		}
		return nil
	})
}

// loadRoots reads the roots table.
func (s *Store) loadRoots(tx *bolt.Tx) error {
	s.rootIDs = map[string]uint64{}
	list := []string{""}
	err := tx.Bucket(bRoots).ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return &CorruptError{Err: fmt.Errorf("bad root id %x", k)}
		}
		id := binary.BigEndian.Uint64(k)
		if id == 0 || id > maxRoots+1 {
			return &CorruptError{Err: fmt.Errorf("bad root id %d", id)}
		}
		for uint64(len(list)) <= id {
			list = append(list, "")
		}
		list[id] = string(v)
		s.rootIDs[string(v)] = id
		return nil
	})
	s.rootList.Store(&list)
	return err
}

// rootIDFunc returns the encoder's lookup of a folder's id, adding new
// folders to the table in tx. The table a reader sees grows before the
// transaction commits, so that no committed record refers to an id a
// reader does not know; an id of a transaction that failed is never
// used (the store takes no write after a failed commit).
func (s *Store) rootIDFunc(tx *bolt.Tx) func(string) (uint64, bool) {
	return func(root string) (uint64, bool) {
		if id, ok := s.rootIDs[root]; ok {
			return id, true
		}
		cur := *s.rootList.Load()
		if len(cur) > maxRoots {
			return 0, false
		}
		id := uint64(len(cur))
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], id)
		if err := tx.Bucket(bRoots).Put(k[:], []byte(root)); err != nil {
			return 0, false
		}
		next := append(append(make([]string, 0, len(cur)+1), cur...), root)
		s.rootList.Store(&next)
		s.rootIDs[root] = id
		return id, true
	}
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// Get returns the record for key, including changes not yet committed.
func (s *Store) Get(key string) (Record, bool, error) {
	s.mu.Lock()
	if r, ok := s.pending[key]; ok {
		s.mu.Unlock()
		if r == nil {
			return Record{}, false, nil
		}
		return *r, true, nil
	}
	if r, ok := s.inflight[key]; ok {
		s.mu.Unlock()
		if r == nil {
			return Record{}, false, nil
		}
		return *r, true, nil
	}
	s.mu.Unlock()
	var rec Record
	var found bool
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bRecords).Get([]byte(key))
		if v == nil {
			return nil
		}
		found = true
		var err error
		rec, err = s.decodeRecord(v, key, *s.rootList.Load())
		return err
	})
	return rec, found, err
}

// Put queues rec as the record for key. A Done record drops the key's
// parts; an Uploading record with an UploadID enters the uploads ledger
// (see Uploads) until EndUpload.
func (s *Store) Put(key string, rec Record) error {
	rec.Updated = time.Now().UnixNano()
	r := rec
	return s.enqueue(op{kind: opPut, key: key, rec: rec}, key, &r)
}

// PutPart queues one acknowledged part of key's multipart upload.
func (s *Store) PutPart(key string, p Part) error {
	return s.enqueue(op{kind: opPart, key: key, part: p}, "", nil)
}

// Delete queues the removal of key's record and parts.
func (s *Store) Delete(key string) error {
	return s.enqueue(op{kind: opDelete, key: key}, key, nil)
}

// EndUpload queues the removal of a multipart upload from the ledger: it
// was completed or aborted and holds no billed parts any more.
func (s *Store) EndUpload(uploadID string) error {
	return s.enqueue(op{kind: opEndUpload, key: uploadID}, "", nil)
}

func (s *Store) enqueue(o op, key string, rec *Record) error {
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	if s.closed {
		s.mu.Unlock()
		return errors.New("state store is closed")
	}
	s.queue = append(s.queue, o)
	if key != "" {
		s.pending[key] = rec
	}
	if o.kind == opMeta {
		s.pendingMeta[o.key] = o.meta
	}
	full := len(s.queue) >= s.o.BatchSize
	s.mu.Unlock()
	if full {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

func (s *Store) flusher() {
	defer close(s.stopped)
	t := time.NewTicker(s.o.BatchDelay)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		case <-s.kick:
		}
		_ = s.Flush()
	}
}

// Flush commits every queued change in one transaction and returns the
// first commit error the store has met (the store stops accepting changes
// after one: a journal with holes would mislead the next run).
func (s *Store) Flush() error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	if s.err != nil || len(s.queue) == 0 {
		err := s.err
		s.mu.Unlock()
		return err
	}
	ops := s.queue
	s.queue = nil
	s.inflight, s.inflightMeta = s.pending, s.pendingMeta
	s.pending, s.pendingMeta = map[string]*Record{}, map[string]string{}
	s.mu.Unlock()

	err := s.db.Update(func(tx *bolt.Tx) error { return s.apply(tx, ops) })

	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight, s.inflightMeta = nil, nil
	if err != nil {
		s.err = fmt.Errorf("writing state store %s: %w", s.path, err)
		return s.err
	}
	return nil
}

func (s *Store) apply(tx *bolt.Tx, ops []op) error {
	objs, parts, ups := tx.Bucket(bRecords), tx.Bucket(bParts), tx.Bucket(bUploads)
	objs.FillPercent = recordFill
	rootID := s.rootIDFunc(tx)
	for _, o := range ops {
		k := []byte(o.key)
		switch o.kind {
		case opPut:
			// bbolt keeps the slice until commit: one per record.
			v := encodeRecord(nil, o.key, &o.rec, rootID)
			if err := objs.Put(k, v); err != nil {
				return err
			}
			if o.rec.Status == Done {
				if err := deleteNested(parts, k); err != nil {
					return err
				}
			}
			if o.rec.Status == Uploading && o.rec.UploadID != "" {
				u, _ := json.Marshal(Upload{ID: o.rec.UploadID, Key: o.key, Started: o.rec.Updated})
				if err := ups.Put([]byte(o.rec.UploadID), u); err != nil {
					return err
				}
			}
		case opPart:
			pb, err := parts.CreateBucketIfNotExists(k)
			if err != nil {
				return err
			}
			v, err := json.Marshal(o.part)
			if err != nil {
				return err
			}
			var n [4]byte
			binary.BigEndian.PutUint32(n[:], uint32(o.part.Number))
			if err := pb.Put(n[:], v); err != nil {
				return err
			}
		case opDelete:
			if err := objs.Delete(k); err != nil {
				return err
			}
			if err := deleteNested(parts, k); err != nil {
				return err
			}
		case opEndUpload:
			if err := ups.Delete(k); err != nil {
				return err
			}
		case opMeta:
			mk := []byte("user:" + o.key)
			if o.meta == "" {
				if err := tx.Bucket(bMeta).Delete(mk); err != nil {
					return err
				}
			} else if err := tx.Bucket(bMeta).Put(mk, []byte(o.meta)); err != nil {
				return err
			}
		}
	}
	return nil
}

func deleteNested(b *bolt.Bucket, k []byte) error {
	if b.Bucket(k) == nil {
		return nil
	}
	return b.DeleteBucket(k)
}

// view runs fn in a read transaction, turning a panic from a damaged
// file into a CorruptError.
func (s *Store) view(fn func(*bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &CorruptError{Path: s.path, Err: fmt.Errorf("%v", r)}
		}
	}()
	return s.db.View(fn)
}

// decodeRecord decodes the record stored for key, as a CorruptError
// when it cannot.
func (s *Store) decodeRecord(v []byte, key string, rootList []string) (Record, error) {
	r, err := decodeRecord(v, key, rootList)
	if err != nil {
		return r, s.corrupt(key, err)
	}
	return r, nil
}

func (s *Store) corrupt(key string, err error) error {
	return &CorruptError{Path: s.path, Err: fmt.Errorf("record %q: %w", key, err)}
}

func decode(v []byte, into any, key string) error {
	if err := json.Unmarshal(v, into); err != nil {
		return &CorruptError{Err: fmt.Errorf("record %q: %w", key, err)}
	}
	return nil
}

// Parts returns the parts recorded for key, by number.
func (s *Store) Parts(key string) ([]Part, error) {
	if err := s.Flush(); err != nil {
		return nil, err
	}
	var out []Part
	err := s.view(func(tx *bolt.Tx) error {
		pb := tx.Bucket(bParts).Bucket([]byte(key))
		if pb == nil {
			return nil
		}
		return pb.ForEach(func(_, v []byte) error {
			var p Part
			if err := decode(v, &p, key); err != nil {
				return err
			}
			out = append(out, p)
			return nil
		})
	})
	return out, err
}

// Iterate calls fn for every record with key >= from, in byte order of
// the key (the order S3 lists keys in), after committing queued changes.
// fn must not call the store's write methods; it stops the iteration by
// returning an error, which Iterate returns.
func (s *Store) Iterate(from string, fn func(key string, r Record) error) error {
	if err := s.Flush(); err != nil {
		return err
	}
	return s.view(func(tx *bolt.Tx) error {
		rootList := *s.rootList.Load()
		c := tx.Bucket(bRecords).Cursor()
		n := 0
		defer func() {
			if n >= releaseAfter {
				releaseMapped(s.db, tx)
			}
		}()
		for k, v := c.Seek([]byte(from)); k != nil; k, v = c.Next() {
			n++
			key, r, err := decodeEntry(k, v, rootList)
			if err != nil {
				return s.corrupt(key, err)
			}
			if err := fn(key, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// releaseAfter is how many records an iteration reads before it gives
// back the pages of the file it mapped in.
const releaseAfter = 1024

// releaseMapped drops the pages of db's memory map from the process's
// resident set (madvise MADV_DONTNEED). A pass over a million records
// would otherwise keep the whole store resident, counted in the process's
// RSS, for as long as it runs. The mapping is read-only and shared: the
// pages stay in the page cache and a later read maps them back. tx must
// be open: it keeps bbolt from remapping the file meanwhile.
func releaseMapped(db *bolt.DB, tx *bolt.Tx) {
	data, n := db.Info().Data, uintptr(tx.Size())
	if data == 0 || n == 0 {
		return
	}
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, data, n, unix.MADV_DONTNEED)
}

// Uploads returns the multipart uploads this store started and has not
// seen end, each with whether a record still owns it (the record for its
// key is Uploading with that upload id: a later run will resume it).
func (s *Store) Uploads() (owned, orphaned []Upload, err error) {
	if err := s.Flush(); err != nil {
		return nil, nil, err
	}
	err = s.view(func(tx *bolt.Tx) error {
		objs := tx.Bucket(bRecords)
		rootList := *s.rootList.Load()
		return tx.Bucket(bUploads).ForEach(func(k, v []byte) error {
			var u Upload
			if err := decode(v, &u, string(k)); err != nil {
				return err
			}
			var r Record
			var err error = errShort
			if rv := objs.Get([]byte(u.Key)); rv != nil {
				r, err = decodeRecord(rv, u.Key, rootList)
			}
			if err == nil && r.Status == Uploading && r.UploadID == u.ID {
				owned = append(owned, u)
			} else {
				orphaned = append(orphaned, u)
			}
			return nil
		})
	})
	return owned, orphaned, err
}

// Close commits queued changes, closes the file and releases the lock.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.done)
	<-s.stopped
	ferr := s.Flush()
	cerr := s.db.Close()
	_ = unix.Flock(int(s.lock.Fd()), unix.LOCK_UN)
	s.lock.Close()
	if ferr != nil {
		return ferr
	}
	return cerr
}

// Same reports whether a record describes the file with the given
// identity: same size, modification time and inode. The device number is
// recorded but not compared (NFS and some volume managers renumber devices
// across remounts; with the path, size and mtime, the inode is enough).
// ctime is not compared either: restoring permissions or adding a hard
// link changes it without changing a byte.
func (r Record) Same(size, mtime int64, inode uint64) bool {
	return r.Size == size && r.MTime == mtime && r.Inode == inode
}

// Meta returns a named value kept beside the records ("" when unset),
// including one set but not yet committed.
func (s *Store) Meta(name string) (string, error) {
	s.mu.Lock()
	if v, ok := s.pendingMeta[name]; ok {
		s.mu.Unlock()
		return v, nil
	}
	if v, ok := s.inflightMeta[name]; ok {
		s.mu.Unlock()
		return v, nil
	}
	s.mu.Unlock()
	var v string
	err := s.view(func(tx *bolt.Tx) error {
		v = string(tx.Bucket(bMeta).Get([]byte("user:" + name)))
		return nil
	})
	return v, err
}

// SetMeta queues setting (or, with value "", removing) a named value. It
// is committed as Put's changes are, in the order of the calls: durable no
// later than any change queued after it. Marks that say how to read the
// records (a run's start, a shard's sums) need no more than that, and
// were a commit (an fsync) each when they were written at once: 4-60 ms
// here before a copy's first request.
func (s *Store) SetMeta(name, value string) error {
	return s.enqueue(op{kind: opMeta, key: name, meta: value}, "", nil)
}
