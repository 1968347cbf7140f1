package transfer

import (
	"archive/tar"
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// tarHeader renders the header archive/tar writes for e. Times go in
// whole seconds, so the header stays ustar unless the name needs PAX; the
// index keeps the nanoseconds.
//
// Every member's header is rendered twice (when the walk plans the shard,
// for its length, and when the shard is read: keeping them would cost 512
// bytes a member in every shard planned ahead). archive/tar takes 3.6-5 µs
// and 10 allocations a header here (format checks, a Writer, a Buffer, a
// PAX map: BenchmarkTarHeader); ustarHeader writes the same 512 bytes for
// the headers of nearly every file in about 1 µs and one allocation, and
// TestUSTARHeaderIsArchiveTar and FuzzUSTARHeader hold it to archive/tar
// byte for byte.
func tarHeader(e Entry) ([]byte, error) {
	mt := e.ModTime.Truncate(time.Second)
	if b, ok := ustarHeader(e.Rel, e.Size, int64(e.Mode.Perm()), mt.Unix()); ok {
		return b, nil
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	h := &tar.Header{Typeflag: tar.TypeReg, Name: e.Rel, Size: e.Size, Mode: int64(e.Mode.Perm()), ModTime: mt}
	if err := tw.WriteHeader(h); err != nil {
		return nil, fmt.Errorf("tar header: %w", err)
	}
	return b.Bytes(), nil
}

// tarHeaderLen is len(tarHeader(e)), without rendering the header when it
// is a plain ustar one: the walk plans shards by it, for every file.
func tarHeaderLen(e Entry) (int64, error) {
	if ustarFits(e.Rel, e.Size, int64(e.Mode.Perm()), e.ModTime.Unix()) {
		return 512, nil
	}
	b, err := tarHeader(e)
	return int64(len(b)), err
}

// ustarFits says whether ustarHeader renders these fields: an ASCII name
// of at most 100 bytes (longer ones archive/tar splits, or gives a PAX
// header), numbers that fit their octal fields.
func ustarFits(name string, size, mode, mtime int64) bool {
	const max11 = 1<<33 - 1 // 11 octal digits
	if name == "" || len(name) > 100 || name[len(name)-1] == '/' ||
		size < 0 || size > max11 || mode < 0 || mode > 1<<21-1 || mtime < 0 || mtime > max11 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == 0 || c >= 0x80 {
			return false
		}
	}
	return true
}

// ustarHeader is the ustar header archive/tar writes for a regular file of
// these fields (mtime in seconds, no owner), when the fields need nothing
// else (ustarFits); ok is false otherwise.
func ustarHeader(name string, size, mode, mtime int64) (_ []byte, ok bool) {
	if !ustarFits(name, size, mode, mtime) {
		return nil, false
	}
	b := make([]byte, 512)
	copy(b, name)
	octal(b[100:108], mode)
	octal(b[108:116], 0) // uid
	octal(b[116:124], 0) // gid
	octal(b[124:136], size)
	octal(b[136:148], mtime)
	b[156] = tar.TypeReg
	copy(b[257:265], "ustar\x0000")
	octal(b[329:337], 0) // devmajor
	octal(b[337:345], 0) // devminor
	// The checksum counts its own field as spaces; it is written as six
	// digits, a NUL and a space.
	sum := int64(8 * ' ')
	for i, c := range b {
		if i < 148 || i >= 156 {
			sum += int64(c)
		}
	}
	octal(b[148:155], sum)
	b[155] = ' '
	return b, true
}

// octal writes x (not negative) in field as archive/tar does: zero-padded
// octal digits filling all but the last byte, which is NUL.
func octal(field []byte, x int64) {
	field[len(field)-1] = 0
	for i := len(field) - 2; i >= 0; i-- {
		field[i] = byte('0' + x&7)
		x >>= 3
	}
}

// readMember reads part of a member's file, and fails with ErrChanged
// when the file is no longer the size or age the walk saw. It makes four
// system calls (open, fstat, pread, close) and no *os.File: os.Open adds
// an fstat and an fcntl (to decide on the poller) and an allocation with
// a cleanup, which for the small files a shard holds cost as much as the
// read itself.
func readMember(e Entry, p []byte, off int64) error {
	fd, err := retryEINTR(func() (int, error) { return unix.Open(e.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0) })
	if err != nil {
		return err
	}
	return readOpen(fd, e.Size, e.ModTime.UnixNano(), p, off)
}

// readOpen reads from fd, the open file of a member of size bytes last
// modified at mtime (ns), and closes it.
func readOpen(fd int, size, mtime int64, p []byte, off int64) error {
	defer unix.Close(fd)
	var st unix.Stat_t
	if _, err := retryEINTR(func() (int, error) { return 0, unix.Fstat(fd, &st) }); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("no longer a regular file: %w", ErrChanged)
	}
	if st.Size != size || st.Mtim.Nano() != mtime {
		return fmt.Errorf("changed since the walk: %w", ErrChanged)
	}
	for len(p) > 0 {
		n, err := retryEINTR(func() (int, error) { return unix.Pread(fd, p, off) })
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("shrank while being read: %w", ErrChanged)
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// folderFD opens the files of members in their folder, which it keeps
// open while the members that follow are in it too: the kernel then
// looks up one name for each file, not every folder of its path from the
// root (for 20,000 files in 200 folders, the lookups were most of what
// their opens cost). Members come in key order, so a folder's files come
// together.
type folderFD struct {
	root string
	dir  string // folder of fd, below root (slash-separated)
	fd   int    // -1: none open
}

func newFolderFD(root string) *folderFD { return &folderFD{root: root, fd: -1} }

// open opens the file at rel below root.
func (d *folderFD) open(rel string) (int, error) {
	dir, name := "", rel
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		dir, name = rel[:i], rel[i+1:]
	}
	if d.fd < 0 || dir != d.dir {
		d.close()
		fd, err := retryEINTR(func() (int, error) {
			return unix.Open(filepath.Join(d.root, filepath.FromSlash(dir)), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		})
		if err != nil {
			return -1, err
		}
		d.fd, d.dir = fd, dir
	}
	return retryEINTR(func() (int, error) { return unix.Openat(d.fd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0) })
}

func (d *folderFD) close() {
	if d.fd >= 0 {
		unix.Close(d.fd)
		d.fd = -1
	}
}

// retryEINTR calls fn again while it is interrupted by a signal.
func retryEINTR(fn func() (int, error)) (int, error) {
	for {
		n, err := fn()
		if err != unix.EINTR {
			return n, err
		}
	}
}
