package transfer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"
)

// Entry is one file the walk found. Rel is its slash-separated path below
// the source root (the base name when the source is a single file). Err,
// when set, says why this file cannot be sent; Skip, when set, says why it
// is passed over without being a failure (a symlink not followed, a loop).
// Refused marks a Skip that is airlift's rule rather than the user's
// choice (a name S3 cannot store): it is reported as refused, but it is
// not a failed read, so it does not hold back a sync's deletions.
type Entry struct {
	Path    string
	Rel     string
	Size    int64
	ModTime time.Time
	Mode    fs.FileMode
	Dev     uint64
	Inode   uint64
	Ctime   int64 // nanoseconds
	Atime   int64 // nanoseconds; 0: unknown (an object-store entry)
	Err     error
	Skip    string
	Refused bool
	// ETag is set for an object-store entry: with Size, its identity
	// (Inode then holds a digest of it; see idOfEntry).
	ETag string
}

// WalkOptions shape a walk.
type WalkOptions struct {
	FollowSymlinks bool
	Filter         *Filter
	// Readers is how many goroutines read folders ahead of the walk
	// (0: defaultReaders). The walk's order does not depend on it.
	Readers int
}

// defaultReaders read folders ahead of the walk. On a local disk a
// folder's reading is the kernel's work on a core (getdents, one fstatat
// per entry), and two readers beside the walk keep two cores busy; on a
// network filer each stat waits for a round trip, and more readers would
// hide more of it, at a folder's listing in memory each.
const defaultReaders = 4

// readAhead is how many subfolders of each folder on the walk's path are
// read before the walk reaches them; with the readers it bounds the
// listings held in memory to readAhead per level of the path.
const readAhead = 4

// Walk streams the files under root to fn in key order: byte order of
// Rel, the order S3 lists keys in, so that a sync can compare a walk with
// sorted state in one pass. A directory that cannot be read is passed to fn
// as an Entry with Err, and the walk goes on. The walk stops at the first
// error fn returns, or when ctx is done. A root that does not exist or
// cannot be read is returned as an error: nothing can be sent.
//
// Folders are read (listed, their entries stat'ed and sorted) by a few
// goroutines ahead of the walk, which visits them in key order and calls
// fn from one goroutine: on a tree of small files the reading is most of
// a pass, and it then runs beside the caller's work on each entry.
func Walk(ctx context.Context, root string, o WalkOptions, fn func(Entry) error) error {
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("source %s: %w", root, unwrapPathError(err))
	}
	if !fi.IsDir() {
		e := FileEntry(root, filepath.Base(root), fi)
		if o.Filter.Match(e.Rel) {
			return fn(e)
		}
		return nil
	}
	if _, err := os.ReadDir(root); err != nil {
		return fmt.Errorf("source %s: %w", root, unwrapPathError(err))
	}
	if o.Readers <= 0 {
		o.Readers = defaultReaders
	}
	w := &walker{ctx: ctx, o: o, fn: fn, onPath: map[[2]uint64]bool{}, relAt: len(join(root, ""))}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		w.onPath[[2]uint64{uint64(st.Dev), st.Ino}] = true
	}
	w.ahead = newReadQueue()
	var readers sync.WaitGroup
	for range o.Readers {
		readers.Go(func() {
			for l := w.ahead.next(); l != nil; l = w.ahead.next() {
				w.read(l)
			}
		})
	}
	defer func() {
		w.ahead.close()
		readers.Wait()
	}()
	return w.dir(&listing{osPath: root, done: make(chan struct{})})
}

type walker struct {
	ctx    context.Context
	o      WalkOptions
	fn     func(Entry) error
	onPath map[[2]uint64]bool // directories on the current path, for loop detection
	ahead  *readQueue
	relAt  int // where Rel begins in a Path: after the root and its separator
}

// child is the path and Rel of name in the folder osPath. Rel is the
// tail of the path (the separator is "/" on the systems this walk
// builds for), so that both cost one allocation.
func (w *walker) child(osPath, name string) (path, rel string) {
	path = join(osPath, name)
	return path, path[w.relAt:]
}

type dirItem struct {
	name  string
	key   string // name, with "/" appended for directories: sorts as S3 keys do
	isDir bool
	info  statInfo // held here, not behind an fs.FileInfo: one allocation less per file
	err   error
	skip  string
}

// listing is one folder's items in key order, read by whichever comes
// first: a reader ahead of the walk, or the walk when it gets there.
type listing struct {
	osPath, rel string
	key         string        // rel with "/" appended: the folder's place in the walk
	taken       atomic.Bool   // a reader or the walk is reading it
	done        chan struct{} // closed once items and err are set
	items       []dirItem
	err         error
}

// read lists l, unless another goroutine took it first.
func (w *walker) read(l *listing) {
	if !l.taken.CompareAndSwap(false, true) {
		return
	}
	l.items, l.err = w.list(l.osPath)
	close(l.done)
}

// items waits for l's items, reading them here when no reader has begun:
// the walk never waits for a listing queued behind others.
func (w *walker) items(l *listing) ([]dirItem, error) {
	w.read(l)
	select {
	case <-l.done:
		return l.items, l.err
	case <-w.ctx.Done():
		return nil, w.ctx.Err()
	}
}

// subfolder reports whether the walk descends into it: a folder with a
// name S3 can store, not already on the path. The walk asks it of each
// item twice, when it queues the folder's reading and when it gets
// there, with the same path both times.
func (w *walker) subfolder(it *dirItem) bool {
	if !it.isDir || !utf8.ValidString(it.name) {
		return false
	}
	_, loop := w.loop(&it.info)
	return !loop
}

func (w *walker) dir(l *listing) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	osPath, rel := l.osPath, l.rel
	items, err := w.items(l)
	if err != nil {
		if ctxErr := w.ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return w.fn(Entry{Path: osPath, Rel: rel, Err: fmt.Errorf("cannot read directory: %w", unwrapPathError(err))})
	}
	// The subfolders' listings, queued readAhead ahead of the walk.
	var queued []*listing
	scan := 0
	fill := func() {
		for ; scan < len(items) && len(queued) < readAhead; scan++ {
			if it := &items[scan]; w.subfolder(it) {
				sub := &listing{done: make(chan struct{})}
				sub.osPath, sub.rel = w.child(osPath, it.name)
				sub.key = sub.rel + "/"
				queued = append(queued, sub)
				w.ahead.add(sub)
			}
		}
	}
	fill()
	for i := range items {
		it := &items[i]
		childPath, childRel := w.child(osPath, it.name)
		if !utf8.ValidString(it.name) {
			// Filters see the name's bytes, so such a file can be
			// excluded; one that is not is refused, by rule.
			if !w.o.Filter.Match(childRel) {
				continue
			}
			what := "file"
			if it.isDir {
				what = "folder (nothing below it is sent)"
			}
			if err := w.fn(Entry{Path: childPath, Rel: childRel, Refused: true, Skip: NotUTF8(it.name, what)}); err != nil {
				return err
			}
			continue
		}
		if it.isDir {
			if !w.subfolder(it) {
				if err := w.fn(Entry{Path: childPath, Rel: childRel, Skip: "symbolic link loop (directory already on the path)"}); err != nil {
					return err
				}
				continue
			}
			sub := queued[0]
			queued = queued[1:]
			id, _ := w.loop(&it.info)
			w.onPath[id] = true
			err := w.dir(sub)
			delete(w.onPath, id)
			if err != nil {
				return err
			}
			fill()
			continue
		}
		if !w.o.Filter.Match(childRel) {
			continue
		}
		var e Entry
		switch {
		case it.err != nil:
			e = Entry{Path: childPath, Rel: childRel, Err: it.err}
		case it.skip != "":
			e = Entry{Path: childPath, Rel: childRel, Skip: it.skip}
		default:
			e = FileEntry(childPath, childRel, &it.info)
		}
		if err := w.fn(e); err != nil {
			return err
		}
	}
	return nil
}

// readQueue holds the folders to read ahead of the walk; readers take
// the one the walk will reach first (the smallest key: the walk visits
// folders in key order), so that the walk rarely waits.
type readQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	q      []*listing // a min-heap by key
	closed bool
}

func newReadQueue() *readQueue {
	r := &readQueue{}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func (r *readQueue) add(l *listing) {
	r.mu.Lock()
	r.q = append(r.q, l)
	heapUp(r.q, len(r.q)-1)
	r.mu.Unlock()
	r.cond.Signal()
}

// next returns the next folder to read, waiting for one; nil once closed.
func (r *readQueue) next() *listing {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.q) == 0 && !r.closed {
		r.cond.Wait()
	}
	if r.closed {
		return nil
	}
	l := r.q[0]
	n := len(r.q) - 1
	r.q[0], r.q[n] = r.q[n], nil
	r.q = r.q[:n]
	heapDown(r.q, 0)
	return l
}

func (r *readQueue) close() {
	r.mu.Lock()
	r.closed = true
	r.q = nil
	r.mu.Unlock()
	r.cond.Broadcast()
}

func heapUp(q []*listing, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if q[i].key >= q[p].key {
			return
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
}

func heapDown(q []*listing, i int) {
	for {
		c := 2*i + 1
		if c >= len(q) {
			return
		}
		if c+1 < len(q) && q[c+1].key < q[c].key {
			c++
		}
		if q[c].key >= q[i].key {
			return
		}
		q[i], q[c] = q[c], q[i]
		i = c
	}
}

// list reads a directory and stats its entries (not following symbolic
// links unless asked to), in key order. The stats are made relative to
// the open directory (fstatat), which spares the kernel resolving the
// whole path again for each file: on a tree of small files the stats are
// most of a no-change sync's work.
func (w *walker) list(osPath string) ([]dirItem, error) {
	d, err := os.Open(osPath)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil && len(names) == 0 {
		return nil, err
	}
	// Sorting the names, not the items, moves 16 bytes a swap instead of
	// an item's 200; the few folders whose key ("name/") sorts otherwise
	// than their name (before "name.txt", say) are put right after.
	slices.Sort(names)
	fd := int(d.Fd())
	items := make([]dirItem, len(names))
	for i, name := range names {
		it := &items[i]
		it.name, it.key = name, name
		ierr := lstatAt(fd, name, &it.info)
		switch {
		case ierr != nil:
			it.err = ierr
		case it.info.Mode()&fs.ModeSymlink != 0:
			if !w.o.FollowSymlinks {
				it.skip = "symbolic link (use --follow-symlinks to follow)"
				break
			}
			target, serr := os.Stat(join(osPath, name))
			if errors.Is(serr, syscall.ELOOP) {
				it.skip = "symbolic link loop (the links lead back to themselves)"
				break
			}
			if serr != nil {
				it.err = fmt.Errorf("broken symbolic link: %w", unwrapPathError(serr))
				break
			}
			it.info = statInfo{name: name, mode: target.Mode(), st: *target.Sys().(*syscall.Stat_t)}
		}
		if it.err == nil && it.skip == "" && it.info.IsDir() {
			it.isDir = true
			it.key += "/"
		}
	}
	byKey := func(a, b dirItem) int { return strings.Compare(a.key, b.key) }
	if !slices.IsSortedFunc(items, byKey) {
		slices.SortFunc(items, byKey)
	}
	return items, nil
}

// NotUTF8 is the refusal of a name that is not valid UTF-8: it names the
// file quoted, so that its bytes never reach a terminal raw.
func NotUTF8(name, what string) string {
	return fmt.Sprintf("refused %s %s: its name is not valid UTF-8, and S3 keys must be UTF-8 (rename it, or exclude it)", what, strconv.Quote(name))
}

// join is filepath.Join of a clean directory and a base name, without
// the cleaning, which a walk of many files would pay for each.
func join(dir, name string) string {
	if strings.HasSuffix(dir, string(filepath.Separator)) {
		return dir + name
	}
	return dir + string(filepath.Separator) + name
}

func (w *walker) loop(fi fs.FileInfo) ([2]uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return [2]uint64{}, false
	}
	id := [2]uint64{uint64(st.Dev), st.Ino}
	return id, w.onPath[id]
}

// FileEntry is the Entry of the file at p (rel below the walk's root)
// from its FileInfo: sizes, times (atime and ctime from the stat) and
// identity, as a walk reports them.
func FileEntry(p, rel string, fi fs.FileInfo) Entry {
	e := Entry{Path: p, Rel: rel, Size: fi.Size(), ModTime: fi.ModTime(), Mode: fi.Mode()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		e.Dev, e.Inode = uint64(st.Dev), st.Ino
		e.Ctime = st.Ctim.Sec*1e9 + st.Ctim.Nsec
		e.Atime = st.Atim.Sec*1e9 + st.Atim.Nsec
	}
	if !fi.Mode().IsRegular() {
		e.Err = fmt.Errorf("not a regular file (%s)", fileKind(fi.Mode()))
	}
	return e
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	}
	return strings.TrimSpace(m.Type().String())
}

// unwrapPathError drops the *PathError wrapper whose path the caller names
// itself, so messages do not repeat it.
func unwrapPathError(err error) error { return UnwrapPathError(err) }

// UnwrapPathError drops the operation and path an *fs.PathError or
// *os.LinkError wraps around the cause, for messages that name the file
// themselves.
func UnwrapPathError(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	}
	return err
}
