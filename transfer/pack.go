package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/airlift-io/airlift/checksum"
	"github.com/airlift-io/airlift/internal/outcome"
	"golang.org/x/sync/errgroup"
)

// Sink is how a run lays its source's entries out under the destination:
// an object per file (objectSink), or members packed into tar shards with
// an index (packSink). Both feed the one upload pipeline (Run): a shard
// is a job like a file, whose bytes a Reader produces while it is sent.
//
// Feed walks src and turns its entries into jobs, in walk order. Finish
// runs once every job has ended, with the run's report, and writes what
// the layout keeps beside its objects (an index); it may add warnings.
type Sink interface {
	Feed(ctx context.Context, src Source, dst Location, send func(Job) error) error
	Finish(ctx context.Context, rep *Report) error
}

// objectSink sends each entry as an object of its own, under its path.
type objectSink struct{ u *Uploader }

func (s objectSink) Feed(ctx context.Context, src Source, dst Location, send func(Job) error) error {
	return src.Walk(ctx, func(e Entry) error {
		s.u.Stats.FilesFound.Add(1)
		s.u.Stats.BytesFound.Add(e.Size)
		key := ""
		if e.Err == nil && e.Skip == "" {
			key, e.Err = KeyFor(dst, e.Rel, src.Tree())
		}
		return send(Job{Entry: e, Key: key})
	})
}

func (objectSink) Finish(context.Context, *Report) error { return nil }

// PackOptions make a copy pack a folder's files into WebDataset tar shards
// (PREFIX/shard-000000.tar, ...) with an index, instead of one object per
// file: small files then cost one request per shard part, not one each.
type PackOptions struct {
	// ShardSize: a shard is cut before it would grow past this (a sample
	// is never split, so a shard may pass it by one sample); files larger
	// than it go as objects of their own. 0: DefaultShardSize; at least
	// MinShardSize.
	ShardSize int64
	// ShardCount caps the files in one shard; 0: no cap.
	ShardCount int
	// Compress writes .tar.zst shards: each member (header, data,
	// padding) is a zstd frame of its own, so the shard decompresses as
	// one stream into the tar, and one member is still one ranged GET
	// (of its frame). Each file is compressed once, as it is sent; the
	// shard is cut by the size of its tar (ShardSize), so a shard holds
	// the same samples compressed or not. Use it for data that compresses
	// (text, JSON), not for JPEGs.
	Compress bool

	// Previous, when set, makes the run a sync of the packed dataset it
	// indexes: files equal to their live member (size, mtime, mode) are
	// skipped, new and changed ones go into new shards numbered after its
	// last, and the new index keeps its members, marking those replaced
	// "superseded" and, with Delete, those whose file is gone "deleted".
	Previous *PackIndex
	Delete   bool
	// CompactBelow, in (0, 1], makes a run compact the dataset once its
	// own index is written (see Uploader.Compact): shards whose live
	// share fell below it are rewritten. 0: no compaction.
	CompactBelow float64

	// A compaction (Uploader.Compact) rewrites the shards in rewrite; from
	// holds the live members it moves, by path.
	rewrite map[string]bool
	from    map[string]IndexMember
}

// Shard sizes: the default suits training loaders (a shard per worker read
// in one stream); the minimum keeps a shard above one part.
const (
	DefaultShardSize = 1 << 30
	MinShardSize     = 1 << 20
)

func (p *PackOptions) check() error {
	if p.ShardSize == 0 {
		p.ShardSize = DefaultShardSize
	}
	if p.ShardSize < MinShardSize {
		return outcome.BadOption("ShardSize", "must be at least 1MiB")
	}
	if p.ShardCount < 0 {
		return outcome.BadOption("ShardCount", "must not be negative")
	}
	if p.CompactBelow < 0 || p.CompactBelow > 1 {
		return outcome.BadOption("CompactBelow", "must be a share in (0, 100%%]")
	}
	return nil
}

// tarTrailer is the two zero blocks that end a tar archive.
const tarTrailer = 1024

// shardMember is one file in a shard: its tar header (a PAX header first
// when the name needs one) at start, its data right after. It keeps only
// what the shard needs of the walked entry, and renders the header again
// when it is read: a 1 GiB shard of small files has tens of thousands.
type shardMember struct {
	rel         string
	size, mtime int64 // mtime in ns
	mode        fs.FileMode
	ino         uint64
	hdrLen      int64
	start       int64
	// In a compressed shard: where the member's frame starts in the
	// object, and its length; known once the frame is made.
	zstart, zsize int64
}

func memberOf(e Entry, hdrLen int64) shardMember {
	return shardMember{rel: e.Rel, size: e.Size, mtime: e.ModTime.UnixNano(), mode: e.Mode.Perm(), ino: e.Inode, hdrLen: hdrLen}
}

// entry is the member as the walk saw it, its file below root.
func (m *shardMember) entry(root string) Entry {
	e := m.fields()
	e.Path = filepath.Join(root, filepath.FromSlash(m.rel))
	return e
}

// fields is the member's entry without its path: what its header holds.
func (m *shardMember) fields() Entry {
	return Entry{Rel: m.rel, Size: m.size, ModTime: time.Unix(0, m.mtime), Mode: m.mode, Inode: m.ino}
}

func (m *shardMember) header() ([]byte, error) { return tarHeader(m.fields()) }

func (m *shardMember) data() int64 { return m.start + m.hdrLen }
func (m *shardMember) end() int64  { return m.data() + padded(m.size) }

func padded(n int64) int64 { return (n + 511) / 512 * 512 }

// shardLayout is a shard planned byte for byte before it is read: the
// headers are rendered by archive/tar and the sizes come from the walk, so
// the shard's size is known when its multipart upload starts, and any
// range of it can be produced on demand (see shardReader). That is what
// lets a shard go through the ordinary upload stages with no local copy.
// A compressed shard is planned as its tar; its frames are made, and
// their sizes learnt, while it is sent (zshardReader).
type shardLayout struct {
	name    string // relative to the prefix: shard-000000.tar
	key     string
	root    string // the source folder, absolute
	members []shardMember
	size    int64 // of the tar
	samples int
	// A compressed shard: its members' frames, then the trailer's, make
	// zsize bytes, known once it has been produced.
	compressed bool
	zsize      int64

	ent *Entry // the shard as the journal sees it, once sealed
	// prep is the index's work on the shard done while its upload
	// completes, once its reader has hashed every member (see prepare).
	prep *shardPrep

	reader *shardReader // the last one opened, for the members' BLAKE3
	// read, when set, reads members' data instead of their files (a
	// compaction reads them from the shards they are in).
	read func(ctx context.Context, m *shardMember, p []byte, off int64) error
}

func shardName(n int, compressed bool) string {
	if compressed {
		return fmt.Sprintf("shard-%06d.tar.zst", n)
	}
	return fmt.Sprintf("shard-%06d.tar", n)
}

// objectSize is the size of the shard's object (a compressed one's, once
// it has been produced).
func (l *shardLayout) objectSize() int64 {
	if l.compressed {
		return l.zsize
	}
	return l.size
}

// planSize is the size the shard's upload is planned on: a compressed
// shard's bound. zstd stores a block that does not compress as it is,
// behind a 3-byte header, one block per 128 KiB at most, and a frame adds
// at most 22 bytes of header and checksum, so no frame passes its input
// by more than 1/1024 and 64 bytes.
func (l *shardLayout) planSize() int64 {
	if l.compressed {
		return l.size + l.size/1024 + 64*int64(len(l.members)+1)
	}
	return l.size
}

// add appends e to the layout.
func (l *shardLayout) add(e Entry, hdrLen int64) {
	if n := len(l.members); n == 0 || !sameSample(l.members[n-1].rel, e.Rel) {
		l.samples++
	}
	m := memberOf(e, hdrLen)
	m.start = l.size
	l.members = append(l.members, m)
	l.size += hdrLen + padded(e.Size)
}

// seal ends the layout with the tar trailer.
func (l *shardLayout) seal() {
	l.size += tarTrailer
	e := l.identify()
	l.ent = &e
}

// sampleKey is what WebDataset groups a sample's files by: the path up to
// the first dot of the file name (x.jpg and x.json are one sample).
func sampleKey(rel string) string {
	dir, base := path.Split(rel)
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	return dir + base
}

// sameSample reports whether a and b have one sampleKey, without making
// either (the walk asks it twice for each file).
func sameSample(a, b string) bool {
	i, j := strings.LastIndexByte(a, '/')+1, strings.LastIndexByte(b, '/')+1
	if a[:i] != b[:j] {
		return false
	}
	a, b = a[i:], b[j:]
	if k := strings.IndexByte(a, '.'); k >= 0 {
		a = a[:k]
	}
	if k := strings.IndexByte(b, '.'); k >= 0 {
		b = b[:k]
	}
	return a == b
}

// entry is the shard as the journal sees it, worked out once when the
// layout is sealed (the engine asks for it more than once, and a 1 GiB
// shard of small files has tens of thousands of members to digest).
func (l *shardLayout) entry() Entry {
	if l.ent != nil {
		return *l.ent
	}
	return l.identify()
}

// identify makes the shard's entry: its identity is a digest of its
// members' identities, so a shard is skipped or continued by the next run
// only when it would be built from the very same files. The digest is of
// "rel NUL size NUL mtime NUL ino NUL mode NUL" for each member, in
// decimal (what fmt's %d wrote when airlift first kept it: journals of
// earlier runs hold it), written with strconv, since fmt took 7 ms for
// 20,000 members.
func (l *shardLayout) identify() Entry {
	h := fnv.New64a()
	var mt int64
	buf := make([]byte, 0, 256)
	for i := range l.members {
		m := &l.members[i]
		buf = append(buf[:0], m.rel...)
		buf = append(strconv.AppendInt(append(buf, 0), m.size, 10), 0)
		buf = append(strconv.AppendInt(buf, m.mtime, 10), 0)
		buf = append(strconv.AppendUint(buf, m.ino, 10), 0)
		buf = append(strconv.AppendUint(buf, uint64(m.mode), 10), 0)
		h.Write(buf)
		if i == 0 || m.mtime > mt {
			mt = m.mtime
		}
	}
	var t time.Time // the newest member's mtime
	if len(l.members) > 0 {
		t = time.Unix(0, mt)
	}
	return Entry{Path: l.root + "#" + l.name, Rel: l.name, Size: l.planSize(), ModTime: t, Mode: 0o644, Inode: h.Sum64() | 1}
}

// shardReader produces a shard's bytes from its members' files, and
// hashes each member's data as it passes in order (the upload stages read
// a shard once, front to back; bytes read out of order are not hashed,
// and the members they belong to are hashed from their files instead).
type shardReader struct {
	l *shardLayout

	mu     sync.Mutex
	cur    int   // member being hashed
	hashed int64 // bytes of it hashed so far
	h      *checksum.Hasher
	sums   []string
	fs     *frameStream // a compressed shard's frame being produced

	// onHashed, when set, is called once, when every member's BLAKE3 is
	// known: the last parts may still be on their way, and the upload is
	// yet to complete (see packSink.prepare).
	onHashed func(sums []string)
}

func newShardReader(l *shardLayout) *shardReader {
	r := &shardReader{l: l, h: checksum.NewHasher(), sums: make([]string, len(l.members))}
	l.reader = r
	return r
}

func (r *shardReader) Stat() Entry    { return r.l.entry() }
func (r *shardReader) ReadAhead() int { return 1 }
func (r *shardReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fs != nil {
		r.fs.close() // a frame left half produced holds its file open
	}
	return nil
}

// Unchanged: every member's file was checked against its walked size and
// mtime when it was opened for each read.
func (r *shardReader) Unchanged() error { return nil }

func (r *shardReader) ReadAt(ctx context.Context, p []byte, off int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if off == 0 {
		r.cur, r.hashed = 0, 0
		r.h.Reset()
	}
	ms := r.l.members
	i := sort.Search(len(ms), func(i int) bool { return ms[i].end() > off })
	for len(p) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if i >= len(ms) { // the trailer
			if off+int64(len(p)) > r.l.size {
				return fmt.Errorf("read past the end of shard %s", r.l.name)
			}
			clear(p)
			return nil
		}
		m := &ms[i]
		if k := r.wholeRun(i, off, int64(len(p))); k > i {
			n := ms[k-1].end() - off
			if err := r.readWhole(ctx, p[:n], i, k); err != nil {
				return err
			}
			p, off, i = p[n:], off+n, k
			continue
		}
		switch {
		case off < m.data():
			hdr, err := m.header()
			if err != nil {
				return err
			}
			n := copy(p, hdr[off-m.start:])
			p, off = p[n:], off+int64(n)
		case off < m.data()+m.size:
			rel := off - m.data()
			n := min(int64(len(p)), m.size-rel)
			if err := r.readData(ctx, m, p[:n], rel); err != nil {
				return err
			}
			r.hash(i, rel, p[:n])
			p, off = p[n:], off+n
		default: // padding
			n := min(int64(len(p)), m.end()-off)
			clear(p[:n])
			p, off = p[n:], off+n
			i++
		}
	}
	return nil
}

// wholeRunMin is the fewest members a read hands to readWhole: below it,
// starting goroutines costs more than the members take to read.
const wholeRunMin = 16

// wholeRun returns k when members [i, k) begin at off and end within the
// n bytes from it, at least wholeRunMin of them, read from their files;
// else i. A part of a shard of small files is almost all such a run.
func (r *shardReader) wholeRun(i int, off, n int64) int {
	ms := r.l.members
	if r.l.read != nil || ms[i].start != off {
		return i
	}
	end := off + n
	k := i + sort.Search(len(ms)-i, func(j int) bool { return ms[i+j].end() > end })
	if k-i < wholeRunMin {
		return i
	}
	return k
}

// readWhole fills p with members [i, k) whole (header, data, padding),
// on up to GOMAXPROCS goroutines, each taking a contiguous share of the
// bytes: a shard of small files is bound by opening and reading them one
// at a time, not by the bytes (20,000 files of 16 KiB: four system calls
// each). Their BLAKE3 come with them when the run continues what was
// hashed in order, as hash does for one member at a time.
func (r *shardReader) readWhole(ctx context.Context, p []byte, i, k int) error {
	ms := r.l.members
	r.skipEmpty()
	hashing := r.cur == i && r.hashed == 0
	base := ms[i].start
	w := min(runtime.GOMAXPROCS(0), maxWholeWorkers, (k-i)/wholeRunMin)
	g, gctx := errgroup.WithContext(ctx)
	lo := i
	for n := range w {
		// A share ends at the first member past its fraction of the bytes.
		hi := k
		if n < w-1 {
			cut := base + int64(len(p))*int64(n+1)/int64(w)
			hi = lo + sort.Search(k-lo, func(j int) bool { return ms[lo+j].start >= cut })
		}
		if from, to := lo, hi; to > from {
			g.Go(func() error { return r.readMembers(gctx, p[ms[from].start-base:], from, to, hashing) })
		}
		lo = hi
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if hashing {
		r.cur = k
		r.skipEmpty()
	}
	return nil
}

// maxWholeWorkers bounds readWhole's goroutines on a large machine: past
// a few, the files' metadata, not the cores, sets the pace.
const maxWholeWorkers = 8

// readMembers writes members [from, to) into p (which begins with the
// first) and, hashing, their BLAKE3 into r.sums.
func (r *shardReader) readMembers(ctx context.Context, p []byte, from, to int, hashing bool) error {
	ms := r.l.members
	var h *checksum.Hasher
	if hashing {
		h = checksum.NewHasher()
	}
	var dir *folderFD
	if r.l.read == nil {
		dir = newFolderFD(r.l.root)
		defer dir.close()
	}
	base := ms[from].start
	for j := from; j < to; j++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		m := &ms[j]
		b := p[m.start-base : m.end()-base]
		hdr, err := m.header()
		if err != nil {
			return err
		}
		copy(b, hdr)
		data := b[m.hdrLen : m.hdrLen+m.size]
		switch {
		case m.size == 0: // as ReadAt: an empty member's file is not opened
		case dir != nil:
			if err := readIn(dir, m, data); err != nil {
				return fmt.Errorf("%s: %w", m.entry(r.l.root).Path, err)
			}
		default:
			if err := r.readData(ctx, m, data, 0); err != nil {
				return err
			}
		}
		clear(b[m.hdrLen+m.size:])
		if hashing {
			h.Reset()
			h.Write(data)
			r.sums[j] = h.Hex()
		}
	}
	return nil
}

// readData reads part of member m's data: from its file, or through the
// layout's read (a compaction reads from the old shard).
func (r *shardReader) readData(ctx context.Context, m *shardMember, p []byte, off int64) error {
	if r.l.read != nil {
		if err := r.l.read(ctx, m, p, off); err != nil {
			return fmt.Errorf("%s: %w", m.rel, err)
		}
		return nil
	}
	e := m.entry(r.l.root)
	if err := readMember(e, p, off); err != nil {
		return fmt.Errorf("%s: %w", e.Path, err)
	}
	return nil
}

// readIn reads all of member m's data from its file, opened in dir.
func readIn(dir *folderFD, m *shardMember, p []byte) error {
	fd, err := dir.open(m.rel)
	if err != nil {
		return err
	}
	return readOpen(fd, m.size, m.mtime, p, 0)
}

// hash feeds member i's data at rel when it continues what was hashed.
func (r *shardReader) hash(i int, rel int64, b []byte) {
	r.skipEmpty()
	if i != r.cur || rel != r.hashed {
		return
	}
	r.h.Write(b)
	r.hashed += int64(len(b))
	if r.hashed == r.l.members[i].size {
		r.sums[i] = r.h.Hex()
		r.h.Reset()
		r.cur, r.hashed = i+1, 0
		r.skipEmpty()
	}
}

func (r *shardReader) skipEmpty() {
	for r.cur < len(r.l.members) && r.l.members[r.cur].size == 0 {
		r.sums[r.cur] = checksum.Sum(nil)
		r.cur++
	}
	if r.cur == len(r.l.members) && r.onHashed != nil {
		r.onHashed(slices.Clone(r.sums))
		r.onHashed = nil
	}
}

// packSink packs a folder's files into shards, and writes the index and
// shards.json once they are all sent.
type packSink struct {
	u     *Uploader
	o     PackOptions
	dst   Location
	base  string // the prefix as a key folder ("" or "a/b/")
	runID string

	mu     sync.Mutex
	shards []ShardInfo
	// lines holds the index's member lines, in the order shards complete,
	// until the header (which lists the shards) can be written before
	// them: a temporary file, so a run of millions of files holds none.
	// It holds them as they go into the index, zstd frames (a shard's
	// lines are compressed while its upload completes, see prepare);
	// pending gathers the lines of plain objects and of shards indexed
	// late until they make a frame.
	lines    *os.File
	pending  bytes.Buffer
	linesErr error

	// For a sync (PackOptions.Previous): the previous live members by
	// path, and what the walk found of each. A map, because the walk
	// comes in key order and the index in upload order; it keeps only
	// what a file is compared by, not the member lines (those are read
	// again from the index when the new one is written).
	live           map[string]previousFile
	kept, replaced int
	moved          int // a compaction's members now in new shards
}

func newPackSink(u *Uploader, o PackOptions, dst Location, runID string) (*packSink, error) {
	k, err := KeyFor(dst, "x", true)
	if err != nil {
		return nil, err
	}
	return &packSink{u: u, o: o, dst: dst, base: strings.TrimSuffix(k, "x"), runID: runID}, nil
}

// packMetaKey names the journal mark holding a sent shard's members, so a
// run that skips the shard (sent by the run it continues) can index it.
func packMetaKey(key string) string { return "pack-shard:" + key }

func (s *packSink) Feed(ctx context.Context, src Source, dst Location, send func(Job) error) (err error) {
	root := src.String()
	if _, local := src.(*Folder); local {
		if root, err = filepath.Abs(root); err != nil {
			return err
		}
	}
	// Shards planned but not yet sent hold their members' entries: a few
	// more than are sent at once keep the senders busy, and the memory
	// flat however large the folder (the job queue would take hundreds).
	ahead := make(chan struct{}, s.u.o.MultipartFiles+1)
	var cur *shardLayout
	n := s.firstShard()
	flush := func() error {
		if cur == nil {
			return nil
		}
		cur.seal()
		j := s.shardJob(cur)
		cur = nil
		select {
		case ahead <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		j.Done = func() { <-ahead }
		return send(j)
	}
	if err := s.loadLive(ctx); err != nil {
		return fmt.Errorf("reading the previous index: %w", err)
	}
	perShard := s.membersGuess(src)
	err = src.Walk(ctx, func(e Entry) error {
		s.u.Stats.FilesFound.Add(1)
		s.u.Stats.BytesFound.Add(e.Size)
		if e.Err != nil || e.Skip != "" {
			return send(Job{Entry: e})
		}
		if s.unchanged(e) {
			s.u.Stats.FilesSkipped.Add(1)
			s.u.Stats.BytesSkipped.Add(e.Size)
			return nil
		}
		var hdrLen int64 // 0: not in a shard
		if e.Size <= s.o.ShardSize-tarTrailer-3*512 {
			hdrLen, e.Err = tarHeaderLen(e)
		}
		if hdrLen == 0 || e.Err != nil {
			// Too large for a shard (or a name tar cannot hold): an
			// object of its own beside the shards.
			key := ""
			if e.Err == nil {
				key, e.Err = KeyFor(dst, e.Rel, true)
			}
			return send(Job{Entry: e, Key: key, sent: s.plainSent(e)})
		}
		size := hdrLen + padded(e.Size)
		if cur != nil {
			full := cur.size+size+tarTrailer > s.o.ShardSize ||
				(s.o.ShardCount > 0 && len(cur.members) >= s.o.ShardCount)
			if full && !sameSample(cur.members[len(cur.members)-1].rel, e.Rel) {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if cur == nil {
			cur = &shardLayout{name: shardName(n, s.o.Compress), root: root, compressed: s.o.Compress,
				members: make([]shardMember, 0, perShard)}
			cur.key = s.base + cur.name
			if s.o.rewrite != nil {
				cur.read = s.readFromShard
			}
			n++
		}
		cur.add(e, hdrLen)
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// membersGuess is how many members a shard will likely hold, from the
// walk the source kept for this run (Folder.KeepWalk), so that a shard's
// members are allocated once, not grown (with copies) as the walk goes:
// 0 when no walk was kept.
func (s *packSink) membersGuess(src Source) int {
	f, ok := src.(*Folder)
	if !ok {
		return 0
	}
	files, bytes := f.Kept()
	n := files
	if bytes > s.o.ShardSize {
		n = int(float64(files)*float64(s.o.ShardSize)/float64(bytes)) + 1
	}
	if s.o.ShardCount > 0 {
		n = min(n, s.o.ShardCount)
	}
	return min(n, files)
}

// firstShard is the number of the run's first shard: after the last one
// the previous index lists, for a sync.
func (s *packSink) firstShard() int {
	n := 0
	if s.o.Previous != nil {
		for _, sh := range s.o.Previous.Header.Shards {
			var k int
			if _, err := fmt.Sscanf(sh.URL, "shard-%06d", &k); err == nil && k >= n {
				n = k + 1
			}
		}
	}
	return n
}

// previousFile is what a sync compares a file with: its live member's
// size, mtime and mode, and what the walk found.
type previousFile struct {
	size, mtime int64
	mode        uint32
	seen        byte // 0: not found (yet), 'k': kept, 'r': replaced
}

// loadLive reads the previous index's live members, for a sync.
func (s *packSink) loadLive(ctx context.Context) error {
	if s.o.Previous == nil || s.o.rewrite != nil || s.live != nil {
		return nil // a copy, or a compaction: every entry is sent
	}
	s.live = map[string]previousFile{}
	return s.o.Previous.ScanLive(ctx, func(m IndexMember) error {
		s.live[m.Path] = previousFile{size: m.Size, mtime: m.MTimeNS, mode: m.Mode}
		return nil
	})
}

// unchanged says, for a sync, whether e is its live member as it was
// (then nothing is sent), and notes it as kept or replaced.
func (s *packSink) unchanged(e Entry) bool {
	p, ok := s.live[e.Rel]
	switch {
	case !ok:
		return false
	case p.size == e.Size && p.mtime == e.ModTime.UnixNano() && os.FileMode(p.mode) == e.Mode.Perm():
		p.seen = 'k'
		s.kept++
	default:
		p.seen = 'r'
		s.replaced++
	}
	s.live[e.Rel] = p
	return p.seen == 'k'
}

// marksChanged says whether the new index marks or drops any line of the
// previous one.
func (s *packSink) marksChanged() bool {
	gone := len(s.live) - s.kept - s.replaced
	return len(s.o.rewrite) > 0 || s.replaced > 0 || (s.o.Delete && gone > 0)
}

// previousLines are the previous index's members as the new index keeps
// them: marked superseded when replaced, deleted when their file is gone
// (with Delete), else as they were; read again from the index, one line
// at a time.
func (s *packSink) previousLines(ctx context.Context) Members {
	if s.o.Previous == nil {
		return nil
	}
	return func(yield func(IndexMember) error) error {
		return s.o.Previous.Scan(ctx, func(m IndexMember) error {
			if s.o.rewrite[m.Shard] {
				return nil // its live members have lines of their own in new shards
			}
			if m.State == "" && s.live != nil {
				switch p, ok := s.live[m.Path]; {
				case ok && p.seen == 'r':
					m.State = MemberSuperseded
				case (!ok || p.seen == 0) && s.o.Delete:
					m.State = MemberDeleted
				}
			}
			return yield(m)
		})
	}
}

// produce makes a compressed shard's bytes once more, only to learn where
// its frames are and its members' BLAKE3.
func (l *shardLayout) produce(ctx context.Context) error {
	r := newZshardReader(l)
	defer r.Close()
	buf := make([]byte, 1<<20)
	for {
		n, err := r.ReadNext(ctx, buf)
		if err != nil {
			return err
		}
		if n < len(buf) {
			return nil
		}
	}
}

// shardJob is the job that sends shard l as one object.
func (s *packSink) shardJob(l *shardLayout) Job {
	return Job{
		Entry: l.entry(),
		Key:   l.key,
		Files: len(l.members),
		open: func(context.Context) (Reader, error) {
			if l.compressed {
				return newZshardReader(l), nil
			}
			r := newShardReader(l)
			if s.o.from == nil && s.o.rewrite == nil { // a compaction checks each member against the index it came from
				r.onHashed = func(sums []string) { l.prep = s.prepare(l, sums) }
			}
			return r, nil
		},
		sent: func(ctx context.Context, res FileResult) error { return s.shardSent(ctx, l, res) },
	}
}

// shardMeta is what the journal keeps of a sent shard for the run that
// continues a run which sent it: its members' BLAKE3 and, compressed,
// the sizes of the frames, members' then the trailer's (learnt only by
// producing it; the frames follow one another, so their places and the
// shard's size follow from them).
type shardMeta struct {
	Sums []string `json:"sums"`
	Z    []int64  `json:"z,omitempty"`
}

// appendJSON appends m as json.Marshal writes it
// (TestShardMetaIsEncodingJSON): 20,000 digests through reflection took
// a third of the time the journal took to keep them.
func (m *shardMeta) appendJSON(b []byte) []byte {
	b = slices.Grow(b, len(m.Sums)*67+len(m.Z)*12+16)
	b = append(b, `{"sums":`...)
	if m.Sums == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range m.Sums {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		b = append(b, ']')
	}
	if len(m.Z) > 0 {
		b = append(b, `,"z":[`...)
		for i, z := range m.Z {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, z, 10)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// restore takes the frames' places from meta m when it fits l.
func (m *shardMeta) restore(l *shardLayout) bool {
	if !l.compressed {
		return true
	}
	if len(m.Z) != len(l.members)+1 {
		return false
	}
	var off int64
	for i, z := range m.Z[:len(l.members)] {
		l.members[i].zstart, l.members[i].zsize = off, z
		off += z
	}
	l.zsize = off + m.Z[len(l.members)]
	return true
}

// frames is the inverse of restore: l's frame sizes, the trailer's last.
func (l *shardLayout) frames() []int64 {
	z := make([]int64, 0, len(l.members)+1)
	var end int64
	for _, m := range l.members {
		z, end = append(z, m.zsize), m.zstart+m.zsize
	}
	return append(z, l.zsize-end)
}

// shardPrep is a shard's index work done ahead: its members' BLAKE3 noted
// in the journal, its index lines compressed into a frame.
type shardPrep struct {
	done  chan struct{}
	frame []byte
	err   error
}

// prepare does, beside the end of the shard's upload, what indexing it
// takes once every member is hashed: the server assembling a large
// object from its parts (CompleteMultipartUpload) keeps the run waiting
// for a while, and this work (tens of milliseconds for 20,000 members)
// would otherwise follow it. The journal may note the sums before the
// shard is complete: they are read only for a shard the journal records
// as done, and a shard sent again notes them again.
func (s *packSink) prepare(l *shardLayout, sums []string) *shardPrep {
	p := &shardPrep{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		if p.err = s.noteSums(l, sums); p.err != nil {
			return
		}
		p.frame = shardFrames(l, sums)
	}()
	return p
}

// noteSums keeps the members' BLAKE3 (and a compressed shard's frames) in
// the journal, for a run that continues this one and finds the shard sent.
func (s *packSink) noteSums(l *shardLayout, sums []string) error {
	marks, _ := s.u.o.Journal.(RunMarks)
	if marks == nil {
		return nil
	}
	m := shardMeta{Sums: sums}
	if l.compressed {
		m.Z = l.frames()
	}
	if err := marks.SetMeta(packMetaKey(l.key), string(m.appendJSON(nil))); err != nil {
		return journalErr(err)
	}
	return nil
}

// members are the shard's index lines.
func (l *shardLayout) indexMembers(sums []string) []IndexMember {
	ims := make([]IndexMember, len(l.members))
	for i := range l.members {
		ims[i] = l.member(i, sums[i])
	}
	return ims
}

// member is the index line of member i, whose BLAKE3 is sum.
func (l *shardLayout) member(i int, sum string) IndexMember {
	m := &l.members[i]
	im := IndexMember{Path: m.rel, Shard: l.name, Offset: m.data(), Size: m.size,
		MTimeNS: m.mtime, Mode: uint32(m.mode), BLAKE3: sum}
	if l.compressed {
		im.ZOffset, im.ZSize, im.ZSkip = m.zstart, m.zsize, m.hdrLen
	}
	return im
}

// shardFrames is the index lines of l's members, whose BLAKE3 are sums,
// compressed: a zstd frame for each linesChunk of lines, made in one
// buffer reused, so that a shard of tens of thousands of members costs a
// chunk of lines at a time, not all of them at once (and fresh pages are
// slow to come by on a VM: the 4 MB of a shard of 20,000 took longer to
// fault in than to write). The frames concatenated are one zstd stream
// of the lines.
func shardFrames(l *shardLayout, sums []string) []byte {
	enc := linesEncoder()
	buf := make([]byte, 0, linesChunk+4<<10)
	var out []byte
	for i := range l.members {
		im := l.member(i, sums[i])
		if buf = AppendLine(buf, &im); len(buf) >= linesChunk {
			out = enc.EncodeAll(buf, out)
			buf = buf[:0]
		}
	}
	if len(buf) > 0 || out == nil {
		out = enc.EncodeAll(buf, out)
	}
	return out
}

// linesChunk is how many bytes of lines shardFrames compresses at once.
const linesChunk = 256 << 10

// shardSent indexes a shard that reached its object: the members' BLAKE3
// come from the reader that produced it, from the journal when an earlier
// run sent it, or else from the files themselves.
func (s *packSink) shardSent(ctx context.Context, l *shardLayout, res FileResult) error {
	if p := l.prep; p != nil && !res.AlreadyDone {
		// Every member was hashed by the reader that sent the shard.
		l.prep = nil
		<-p.done
		if p.err != nil {
			return p.err
		}
		return s.indexed(l, res.BLAKE3, func() error { return s.addFrame(p.frame) })
	}
	sums := make([]string, len(l.members))
	if !res.AlreadyDone && l.reader != nil {
		copy(sums, l.reader.sums)
	}
	marks, _ := s.u.o.Journal.(RunMarks)
	placed := !res.AlreadyDone || !l.compressed
	if res.AlreadyDone && marks != nil {
		if v, err := marks.Meta(packMetaKey(l.key)); err == nil && v != "" {
			var m shardMeta
			if json.Unmarshal([]byte(v), &m) != nil {
				m = shardMeta{} // an older airlift kept only the sums, as a list
				_ = json.Unmarshal([]byte(v), &m.Sums)
			}
			if len(m.Sums) == len(sums) && m.restore(l) {
				sums, placed = m.Sums, true
			}
		}
	}
	if !placed {
		// Sent by a run that died before it noted where the frames are:
		// produce the shard again (nothing is sent) to learn them.
		if err := l.produce(ctx); err != nil {
			return fmt.Errorf("indexing %s: %w", l.name, err)
		}
		copy(sums, l.reader.sums)
	}
	for i, m := range l.members {
		if from, ok := s.o.from[m.rel]; ok {
			// Compacted: the bytes read must be those the index vouched for.
			if sums[i] == "" {
				sums[i] = from.BLAKE3
			} else if sums[i] != from.BLAKE3 {
				return fmt.Errorf("%s read from %s has BLAKE3 %s, the index recorded %s; not compacted", m.rel, from.Shard, sums[i], from.BLAKE3)
			}
		}
		if sums[i] != "" {
			continue
		}
		p := m.entry(l.root).Path
		sum, err := hashFile(p)
		if err != nil {
			return fmt.Errorf("hashing %s for the index: %w", p, err)
		}
		sums[i] = sum
	}
	if !res.AlreadyDone {
		if err := s.noteSums(l, sums); err != nil {
			return err
		}
	}
	ims := l.indexMembers(sums)
	blake3 := res.BLAKE3
	if res.AlreadyDone && s.u.o.Journal != nil {
		if r, ok, err := s.u.o.Journal.Get(l.key); err == nil && ok {
			blake3 = r.BLAKE3
		}
	}
	return s.indexed(l, blake3, func() error { return s.addLines(ims...) })
}

// indexed adds shard l, whose object has BLAKE3 blake3, to the index;
// lines adds its members' lines. Both under mu.
func (s *packSink) indexed(l *shardLayout, blake3 string, lines func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := lines(); err != nil {
		return err
	}
	if s.o.rewrite != nil {
		s.moved += len(l.members)
	}
	s.shards = append(s.shards, ShardInfo{URL: l.name, Samples: l.samples, Size: l.objectSize(), Members: len(l.members), BLAKE3: blake3})
	return nil
}

// plainSent indexes a file sent as an object of its own.
func (s *packSink) plainSent(e Entry) func(context.Context, FileResult) error {
	return func(_ context.Context, res FileResult) error {
		sum := res.BLAKE3
		if sum == "" && s.u.o.Journal != nil {
			if r, ok, err := s.u.o.Journal.Get(res.Key); err == nil && ok {
				sum = r.BLAKE3
			}
		}
		if sum == "" {
			var err error
			if sum, err = hashFile(e.Path); err != nil {
				return fmt.Errorf("hashing %s for the index: %w", e.Path, err)
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.addLines(IndexMember{Path: e.Rel, Object: e.Rel, Size: e.Size,
			MTimeNS: e.ModTime.UnixNano(), Mode: uint32(e.Mode.Perm()), BLAKE3: sum})
	}
}

// pendingFrame is how many bytes of lines pending gathers before they
// are compressed into a frame of their own.
const pendingFrame = 1 << 20

// addLines adds member lines to the index. Called with mu held.
func (s *packSink) addLines(ms ...IndexMember) error {
	if s.linesErr != nil {
		return s.linesErr
	}
	encodeLines(&s.pending, ms)
	if s.pending.Len() >= pendingFrame {
		return s.flushPending()
	}
	return nil
}

// encodeLines appends ms to b as JSON lines (AppendLine), in room made
// once for all of them.
func encodeLines(b *bytes.Buffer, ms []IndexMember) {
	n := 0
	for i := range ms {
		m := &ms[i]
		n += lineFixed + len(m.Path) + len(m.Shard) + len(m.Object) + len(m.BLAKE3) + len(m.State)
	}
	b.Grow(n)
	for i := range ms {
		b.Write(AppendLine(b.AvailableBuffer(), &ms[i]))
	}
}

// lineFixed is about what a line holds besides its strings: the names,
// the quotes and four numbers (more when compressed: one more growth).
const lineFixed = 160

// flushPending compresses the pending lines into a frame. Called with mu
// held.
func (s *packSink) flushPending() error {
	if s.pending.Len() == 0 {
		return s.linesErr
	}
	err := s.addFrame(LinesFrame(s.pending.Bytes()))
	s.pending.Reset()
	return err
}

// addFrame appends a frame of lines to the temporary file. Called with mu
// held.
func (s *packSink) addFrame(frame []byte) error {
	if s.lines == nil && s.linesErr == nil {
		f, err := os.CreateTemp("", "airlift-index-*.jsonl.zst")
		if err != nil {
			s.linesErr = &FatalError{Reason: "cannot keep the index's lines in a temporary file (set TMPDIR)", Err: err}
		}
		s.lines = f
	}
	if s.linesErr != nil {
		return s.linesErr
	}
	if _, err := s.lines.Write(frame); err != nil {
		s.linesErr = &FatalError{Reason: "writing the index's lines to a temporary file", Err: err}
	}
	return s.linesErr
}

// discard removes the temporary file.
func (s *packSink) discard() {
	if s.lines != nil {
		s.lines.Close()
		os.Remove(s.lines.Name())
		s.lines = nil
	}
}

// Finish writes the index and shards.json, only when every file reached
// the bucket: an index that left files out would restore a partial tree
// as if it were whole. The next run of the same command continues and
// writes it.
func (s *packSink) Finish(ctx context.Context, rep *Report) error {
	if rep.DryRun {
		return nil
	}
	if rep.Failed > 0 {
		rep.Warn("index not written: some files failed; run the same command again to finish the packed dataset")
		return nil
	}
	defer s.discard()
	if err := s.flushPending(); err != nil {
		return err
	}
	if s.o.Previous != nil && len(s.shards) == 0 && s.lines == nil && !s.marksChanged() {
		return nil // nothing changed: the index stands
	}
	sort.Slice(s.shards, func(i, j int) bool { return s.shards[i].URL < s.shards[j].URL })
	shards := s.shards
	if s.o.Previous != nil {
		shards = nil
		for _, sh := range s.o.Previous.Header.Shards {
			if !s.o.rewrite[sh.URL] {
				shards = append(shards, sh)
			}
		}
		shards = append(shards, s.shards...)
	}
	idx := &PackIndex{Header: IndexHeader{Format: IndexFormat, RunID: s.runID, Source: rep.Source, Created: time.Now().UTC(),
		ShardSize: s.o.ShardSize, Compress: map[bool]string{true: "zstd", false: "off"}[s.o.Compress], Shards: shards}}
	var lines io.Reader = strings.NewReader("")
	if s.lines != nil {
		if _, err := s.lines.Seek(0, io.SeekStart); err != nil {
			return err
		}
		lines = s.lines
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	key, err := idx.Put(wctx, s.u.api, s.dst.Bucket, s.base, s.previousLines(wctx), lines)
	if err != nil {
		return err
	}
	rep.Index = "s3://" + s.dst.Bucket + "/" + key
	rep.Shards = len(s.shards)
	if len(s.o.rewrite) > 0 {
		c := &CompactionReport{ShardsRewritten: len(s.o.rewrite), ShardsWritten: len(s.shards), MembersMoved: s.moved, Index: rep.Index}
		for _, sh := range s.shards {
			c.BytesRewritten += sh.Size
		}
		rep.Compaction = c
		if s.moved != len(s.o.from) {
			// Never delete a shard whose live members are not all in new
			// shards: its bytes would be lost.
			return fmt.Errorf("compaction moved %d of %d live members; the old shards are kept", s.moved, len(s.o.from))
		}
		// Only now that no index needs them.
		return s.removeShards(wctx, rep)
	}
	return nil
}
