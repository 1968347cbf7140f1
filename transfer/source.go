package transfer

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// Source is where a run's bytes come from: a local folder (Folder) or the
// objects below an S3 prefix (Bucket). copy, sync and verify take a
// Source, and the one upload pipeline reads every file through it, so
// that a new kind of source is a new implementation here, never a second
// pipeline.
//
// Walk streams the entries in key order (byte order of Rel, the order S3
// lists keys in), so that a sync can merge them with its sorted state in
// one pass; an entry that cannot be sent carries Err, one passed over
// carries Skip. A root that cannot be read at all is Walk's error.
//
// Open opens an entry Walk yielded. The Reader's Stat is the entry as it
// is now (for a folder, the file's metadata once open), and is what the
// journal records as the entry's identity.
type Source interface {
	String() string
	// Tree says whether entries are named below the destination as a
	// folder (false: a single file, copied as cp copies one).
	Tree() bool
	Walk(ctx context.Context, fn func(Entry) error) error
	Open(ctx context.Context, e Entry) (Reader, error)
}

// Reader reads one opened entry.
//
// ReadAt fills p from offset off, or fails; a failure that says the entry
// is no longer the one opened wraps ErrChanged (a rewritten object, a
// file that shrank), and the upload is then not completed as a mixture of
// old and new bytes. Unchanged, called after the last byte was read, says
// (with ErrChanged) whether the entry changed while it was read.
//
// ReadAhead is how many ranges of one entry are worth reading at once: 1
// for a local disk (the page cache reads ahead), more for an object store,
// where each range is a request with its own latency.
type Reader interface {
	Stat() Entry
	ReadAt(ctx context.Context, p []byte, off int64) error
	Unchanged() error
	ReadAhead() int
	Close() error
}

// A streamReader (a compressed shard) does not know its size until it has
// produced its last byte: its Stat().Size is an upper bound, and its bytes
// are read once, front to back, by ReadNext, which fills p and comes back
// short only at the end. Producing the bytes is the costly part (they are
// compressed as they go), so a stream is never produced twice to learn its
// size first.
type streamReader interface {
	Reader
	ReadNext(ctx context.Context, p []byte) (int, error)
}

// Folder is a local file or folder tree as a Source.
type Folder struct {
	Root    string
	Options WalkOptions
	dir     bool

	mu     sync.Mutex
	keep   int       // entries the next walk keeps for the walk after it (KeepWalk)
	kept   [][]Entry // a walk kept whole, for the next Walk to replay, in blocks of keptBlock
	replay bool      // kept holds a whole walk
	rewalk bool      // the last walk was kept in vain: the next one asks the filter again
}

// MaxKeptWalk is how many entries KeepWalk keeps at most: about 250
// bytes each, 25 MB at most, for a walk of a folder a copy scans to choose its route.
const MaxKeptWalk = 100_000

// keptBlock is the entries of one block of a kept walk: blocks, not one
// growing slice, so that keeping costs no copies of what was kept.
const keptBlock = 1024

// KeepWalk makes the folder's next Walk keep its entries, up to max, so
// that the Walk after it replays them instead of reading the folder
// again: copy --via auto scans the folder to choose its route, and the
// copy then walks what the scan saw (a file changed in between is caught
// as in any walk: every read checks the file against its walked size and
// mtime). A walk longer than max, or one that failed, is not replayed:
// the next Walk reads the folder.
func (s *Folder) KeepWalk(max int) {
	s.mu.Lock()
	s.keep, s.kept, s.replay = max, nil, false
	s.mu.Unlock()
}

// NewFolder returns the Source for the file or folder at root; the root
// must exist.
func NewFolder(root string, o WalkOptions) (*Folder, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", root, unwrapPathError(err))
	}
	return &Folder{Root: root, Options: o, dir: fi.IsDir()}, nil
}

func (s *Folder) String() string { return s.Root }
func (s *Folder) Tree() bool     { return s.dir }

// Kept reports the files and bytes of the walk the next Walk replays
// (0, 0: none).
func (s *Folder) Kept() (files int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.replay {
		return 0, 0
	}
	for _, b := range s.kept {
		files += len(b)
		for _, e := range b {
			bytes += e.Size
		}
	}
	return files, bytes
}

// Walk is Walk over the root, or the replay of the walk KeepWalk kept.
func (s *Folder) Walk(ctx context.Context, fn func(Entry) error) error {
	s.mu.Lock()
	keep, kept, replay, rewalk := s.keep, s.kept, s.replay, s.rewalk
	s.keep, s.kept, s.replay, s.rewalk = 0, nil, false, false
	s.mu.Unlock()
	if replay {
		for _, b := range kept {
			for i, e := range b {
				if err := ctx.Err(); err != nil {
					return err
				}
				b[i] = Entry{} // what the run keeps of it, it keeps itself
				if err := fn(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if rewalk {
		// The filter counted the names of the kept walk: this walk asks
		// it about the same names again, which it must count once.
		s.Options.Filter.forgetCounts()
	}
	if keep <= 0 {
		return Walk(ctx, s.Root, s.Options, fn)
	}
	var rec [][]Entry
	n, whole := 0, true
	err := Walk(ctx, s.Root, s.Options, func(e Entry) error {
		switch {
		case !whole:
		case n == keep:
			rec, whole = nil, false
		default:
			if n%keptBlock == 0 {
				rec = append(rec, make([]Entry, 0, min(keptBlock, keep-n)))
			}
			rec[len(rec)-1] = append(rec[len(rec)-1], e)
			n++
		}
		return fn(e)
	})
	s.mu.Lock()
	if err == nil && whole {
		s.kept, s.replay = rec, true
	} else {
		s.rewalk = true
	}
	s.mu.Unlock()
	return err
}

// Open opens the file e names.
func (s *Folder) Open(_ context.Context, e Entry) (Reader, error) { return openFile(e) }

// localFiles opens entries by their path: the source of a run fed
// entries directly (sync, auto-extract archives).
type localFiles struct{}

func (localFiles) String() string                                  { return "" }
func (localFiles) Tree() bool                                      { return true }
func (localFiles) Walk(context.Context, func(Entry) error) error   { return nil }
func (localFiles) Open(_ context.Context, e Entry) (Reader, error) { return openFile(e) }

// fileReader is an open local file; reads are pread(2), so parts may be
// read in any order.
type fileReader struct {
	f  *os.File
	fi os.FileInfo
	e  Entry
}

func openFile(e Entry) (Reader, error) {
	f, err := openRead(e.Path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("not a regular file (%s)", fileKind(fi.Mode()))
	}
	now := FileEntry(e.Path, e.Rel, fi)
	return &fileReader{f: f, fi: fi, e: now}, nil
}

// openRead opens path for reading as os.Open does, but for the network
// poller (the package's one way to open a source file as an *os.File:
// the uploader, compressed shards, verify's hashes): on Linux os.Open makes the descriptor non-blocking, asks epoll to
// watch it (refused for a regular file) and makes it blocking again, five
// system calls more than the open; os.NewFile asks one. strace of the S set
// (20,000 x 16 KiB) counted 11 calls per file, of which those were 5.
func openRead(path string) (*os.File, error) {
	fd, err := retryEINTR(func() (int, error) { return unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0) })
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

func (r *fileReader) Stat() Entry    { return r.e }
func (r *fileReader) ReadAhead() int { return 1 }
func (r *fileReader) Close() error   { return r.f.Close() }

func (r *fileReader) ReadAt(_ context.Context, p []byte, off int64) error {
	n, err := r.f.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		return fmt.Errorf("shrank while being read: %w", ErrChanged)
	}
	return unwrapPathError(err)
}

// Unchanged checks that the file still has the size and mtime it had when
// opened, and that no byte follows the ones read.
func (r *fileReader) Unchanged() error {
	var one [1]byte
	if n, _ := r.f.ReadAt(one[:], r.fi.Size()); n > 0 {
		return fmt.Errorf("grew while being read: %w", ErrChanged)
	}
	after, err := r.f.Stat()
	if err != nil {
		return err
	}
	if after.Size() != r.fi.Size() || !after.ModTime().Equal(r.fi.ModTime()) {
		return ErrChanged
	}
	return nil
}

// idOfEntry is what the journal records as the identity of an opened
// entry: for a file its absolute path, size, mtime and inode; for an
// object its URL, size, LastModified and (in Inode) a digest of its ETag,
// so that a rewritten object never matches the record of the old one.
func idOfEntry(e Entry) fileID {
	p := e.Path
	if e.ETag == "" {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
	}
	return fileID{path: p, size: e.Size, mtime: e.ModTime.UnixNano(), dev: e.Dev, ino: e.Inode, ctime: e.Ctime}
}

// etagDigest folds an ETag into the 64 bits the journal and the sync
// state keep for a file's inode.
func etagDigest(etag string) uint64 {
	h := fnv.New64a()
	_, _ = io.WriteString(h, etag)
	return h.Sum64() | 1 // never 0: 0 reads as "no identity"
}
