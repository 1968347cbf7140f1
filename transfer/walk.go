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
}

// Walk streams the files under root to fn in key order: byte order of
// Rel, the order S3 lists keys in, so that a sync can compare a walk with
// sorted state in one pass. A directory that cannot be read is passed to fn
// as an Entry with Err, and the walk goes on. The walk stops at the first
// error fn returns, or when ctx is done. A root that does not exist or
// cannot be read is returned as an error: nothing can be sent.
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
	w := &walker{ctx: ctx, o: o, fn: fn, onPath: map[[2]uint64]bool{}}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		w.onPath[[2]uint64{uint64(st.Dev), st.Ino}] = true
	}
	return w.dir(root, "")
}

type walker struct {
	ctx    context.Context
	o      WalkOptions
	fn     func(Entry) error
	onPath map[[2]uint64]bool // directories on the current path, for loop detection
}

type dirItem struct {
	name  string
	key   string // name, with "/" appended for directories: sorts as S3 keys do
	isDir bool
	info  fs.FileInfo
	err   error
	skip  string
}

func (w *walker) dir(osPath, rel string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	items, err := w.list(osPath)
	if err != nil {
		return w.fn(Entry{Path: osPath, Rel: rel, Err: fmt.Errorf("cannot read directory: %w", unwrapPathError(err))})
	}
	slices.SortFunc(items, func(a, b dirItem) int { return strings.Compare(a.key, b.key) })
	for _, it := range items {
		childPath := join(osPath, it.name)
		childRel := it.name
		if rel != "" {
			childRel = rel + "/" + it.name
		}
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
			id, loop := w.loop(it.info)
			if loop {
				if err := w.fn(Entry{Path: childPath, Rel: childRel, Skip: "symbolic link loop (directory already on the path)"}); err != nil {
					return err
				}
				continue
			}
			w.onPath[id] = true
			err := w.dir(childPath, childRel)
			delete(w.onPath, id)
			if err != nil {
				return err
			}
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
			e = FileEntry(childPath, childRel, it.info)
		}
		if err := w.fn(e); err != nil {
			return err
		}
	}
	return nil
}

// list reads a directory and stats its entries (not following symbolic
// links unless asked to). The stats are made relative to the open
// directory (fstatat), which spares the kernel resolving the whole path
// again for each file: on a tree of small files the stats are most of a
// no-change sync's work.
func (w *walker) list(osPath string) ([]dirItem, error) {
	d, err := os.Open(osPath)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	des, err := d.ReadDir(-1)
	if err != nil && len(des) == 0 {
		return nil, err
	}
	fd := int(d.Fd())
	items := make([]dirItem, 0, len(des))
	for _, de := range des {
		it := dirItem{name: de.Name()}
		info, ierr := lstatAt(fd, it.name)
		switch {
		case ierr != nil:
			it.err = ierr
		case info.Mode()&fs.ModeSymlink != 0:
			if !w.o.FollowSymlinks {
				it.skip = "symbolic link (use --follow-symlinks to follow)"
				break
			}
			tinfo, serr := os.Stat(join(osPath, it.name))
			if errors.Is(serr, syscall.ELOOP) {
				it.skip = "symbolic link loop (the links lead back to themselves)"
				break
			}
			if serr != nil {
				it.err = fmt.Errorf("broken symbolic link: %w", unwrapPathError(serr))
				break
			}
			info = tinfo
		}
		it.info = info
		if it.err == nil && it.skip == "" && info.IsDir() {
			it.isDir = true
		}
		it.key = it.name
		if it.isDir {
			it.key += "/"
		}
		items = append(items, it)
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
