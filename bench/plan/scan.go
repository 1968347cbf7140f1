package plan

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"

	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/transfer"
)

// ScanOptions shape a scan.
type ScanOptions struct {
	// Workers read directories in parallel; 0 means 4 x GOMAXPROCS (the
	// work is mostly waiting on the file system).
	Workers int
	// PartSize is the multipart part size the request count assumes.
	PartSize int64
	// SmallFile is the size below which a file counts as request-bound.
	SmallFile int64
	// SampleBytes bounds how much file content the compressibility sample
	// reads (0: 256 MiB; negative: no sample).
	SampleBytes int64
	// Counters, when set, are updated as the scan goes, for progress.
	Counters *ScanCounters
	// Filter, when set, selects the files scanned (a --sample or --slice
	// of the tree): the plan is then the estimate for those files. A
	// sample of a count of files costs one more pass over the names
	// (Filter.Resolve) before the scan.
	Filter *transfer.Filter
	// ClassRules and Class give each file the storage class copy would
	// store it in (transfer.ClassOf: the first rule that matches, else
	// Class, else STANDARD), so the plan counts and prices each class.
	// Now is the rules' clock (zero: the scan's start).
	ClassRules []transfer.ClassRule
	Class      string
	Now        time.Time
}

// ScanCounters let the CLI show progress of a running scan.
type ScanCounters struct {
	Files, Bytes, Dirs, SampledBytes atomic.Int64
}

// Bucket is one bar of the size histogram: files with Lo <= size < Hi
// (the first bucket holds empty files: Lo = Hi = 0).
type Bucket struct {
	Lo    int64 `json:"lo"`
	Hi    int64 `json:"hi"`
	Files int64 `json:"files"`
	Bytes int64 `json:"bytes"`
}

// ExtStat is what the scan learned about one file extension.
type ExtStat struct {
	Ext          string  `json:"ext"`
	Files        int64   `json:"files"`
	Bytes        int64   `json:"bytes"`
	SampledFiles int64   `json:"sampled_files"`
	SampledBytes int64   `json:"sampled_bytes"`
	Ratio        float64 `json:"zstd_ratio,omitempty"` // compressed/original over the sample; 0 when unsampled
}

// Scan is a summary of a tree; it holds no per-file data.
type Scan struct {
	Root           string    `json:"root"`
	Files          int64     `json:"files"`
	Dirs           int64     `json:"dirs"`
	Bytes          int64     `json:"bytes"`
	Requests       int64     `json:"requests"`
	MultipartFiles int64     `json:"multipart_files"`
	PartSize       int64     `json:"part_size"`
	SmallLimit     int64     `json:"small_limit"`
	SmallFiles     int64     `json:"small_files"`
	SmallBytes     int64     `json:"small_bytes"`
	Largest        string    `json:"largest"`
	LargestSize    int64     `json:"largest_size"`
	Histogram      []Bucket  `json:"histogram"`
	Skipped        int64     `json:"skipped"` // symlinks, devices, sockets
	Errors         []string  `json:"errors,omitempty"`
	SampledFiles   int64     `json:"sampled_files"`
	SampledBytes   int64     `json:"sampled_bytes"`
	Ratio          float64   `json:"zstd_ratio"` // estimated compressed/original, bytes-weighted
	ByExt          []ExtStat `json:"by_ext"`
	Seconds        float64   `json:"seconds"`
	// Selection is the sample or slice scanned; the figures are its own.
	Selection *transfer.Selection `json:"subset,omitempty"`
	// StorageClasses counts the files per storage class they would be
	// stored in (see ScanOptions.ClassRules).
	StorageClasses map[string]ClassShare `json:"storage_classes"`
	// AtimeBeforeMtime counts the files last accessed before they were
	// last modified (by more than a minute): files never read since they
	// were rewritten, or, when they are
	// many, a file system mounted noatime (or relatime, whose atime moves
	// at most once a day) whose atimes say little about use. 0 for an
	// object-store source, which has no atime.
	AtimeBeforeMtime int64 `json:"atime_before_mtime"`
	// AtimeWarning says so when they are a notable share of the files.
	AtimeWarning string `json:"atime_warning,omitempty"`
}

// ClassShare is the files a scan would store in one storage class.
type ClassShare struct {
	transfer.ClassCount
	// sizes is their size histogram (as Scan.Histogram's, by index), so
	// that the bill applies a class's minimum billable object size per
	// object: exactly, for a minimum that is a power of two.
	sizes [65]Bucket
}

func (c *ClassShare) add(size int64) {
	c.Objects++
	c.Bytes += size
	b := &c.sizes[sizeBucket(size)]
	b.Files++
	b.Bytes += size
}

// sizeBucket is the histogram index of size: 0 for empty files, else i
// for 2^(i-1) <= size < 2^i.
func sizeBucket(size int64) int {
	if size <= 0 {
		return 0
	}
	return bits.Len64(uint64(size))
}

// bucketBounds are the sizes histogram index i holds: lo <= size < hi
// (both 0 for index 0, the empty files).
func bucketBounds(i int) (lo, hi int64) {
	switch {
	case i == 0:
		return 0, 0
	case i >= 63: // no int64 size reaches 2^63
		return 1 << 62, math.MaxInt64
	}
	return 1 << (i - 1), 1 << i
}

// atimeSlack is how much older than its mtime a file's atime must be to
// count: creating a file sets its atime, the writes that follow only its
// mtime, so a file written and not read since has an atime a little
// before its mtime on any mount.
const atimeSlack = time.Minute

// atimeNotable is the share of files with an atime before their mtime
// above which the plan warns that atime rules may misjudge.
const atimeNotable = 0.1

func (s *Scan) warnAtime() {
	if s.Files == 0 || float64(s.AtimeBeforeMtime)/float64(s.Files) < atimeNotable {
		return
	}
	s.AtimeWarning = fmt.Sprintf("%d of %d files (%.0f%%) were last read over a minute before they were last modified: "+
		"not read since rewritten, or the file system is mounted noatime (or relatime) and atimes say little; "+
		"an atime>AGE storage class rule may send data still in use to a cold class",
		s.AtimeBeforeMtime, s.Files, 100*float64(s.AtimeBeforeMtime)/float64(s.Files))
}

// Dataset is the part of the scan the estimator uses.
func (s *Scan) Dataset() Dataset {
	return Dataset{Bytes: s.Bytes, Files: s.Files, Dirs: s.Dirs, Requests: s.Requests}
}

// Share returns the fraction of files and of bytes under SmallLimit.
func (s *Scan) Share() (files, bytes float64) {
	if s.Files > 0 {
		files = float64(s.SmallFiles) / float64(s.Files)
	}
	if s.Bytes > 0 {
		bytes = float64(s.SmallBytes) / float64(s.Bytes)
	}
	return files, bytes
}

const (
	maxExts       = 512 // distinct extensions kept per worker; the rest go to "(other)"
	maxErrors     = 20
	sampleFiles   = 2048
	minSampleRead = 64 << 10
)

// tally is one worker's share of the scan, merged at the end so the hot
// path takes no locks.
type tally struct {
	files, dirs, bytes, reqs, mp, small, smallB, skipped int64
	atimeOld                                             int64
	largest                                              string
	largestSize                                          int64
	hist                                                 [65]Bucket
	ext                                                  map[string]*ExtStat
	classes                                              map[string]*ClassShare
	sample                                               sampleHeap
	errs                                                 []string
}

func newTally() *tally {
	return &tally{ext: map[string]*ExtStat{}, classes: map[string]*ClassShare{}}
}

// ScanTree walks root with a bounded pool of workers over directories
// (depth first, so the queue stays small) and then reads a deterministic,
// size-weighted sample of file content to estimate compressibility.
func ScanTree(ctx context.Context, root string, o ScanOptions) (*Scan, error) {
	start := time.Now()
	if err := o.check(); err != nil {
		return nil, err
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, outcome.Usagef("source %s: %v", root, transfer.UnwrapPathError(err))
	}
	k := o.fill(start)
	err = o.Filter.Resolve(ctx, func(ctx context.Context, fn func(transfer.Entry) error) error {
		return transfer.Walk(ctx, root, transfer.WalkOptions{Filter: o.Filter}, fn)
	})
	if err != nil {
		return nil, err
	}

	var tallies []*tally
	if !fi.IsDir() {
		t := newTally()
		if o.Filter.Match(filepath.Base(root)) {
			t.file(transfer.FileEntry(root, filepath.Base(root), fi), o, k)
		}
		tallies = append(tallies, t)
	} else {
		q := &dirQueue{dirs: []string{""}, pending: 1}
		q.cond = sync.NewCond(&q.mu)
		stop := context.AfterFunc(ctx, q.close)
		defer stop()
		var wg sync.WaitGroup
		for range o.Workers {
			t := newTally()
			tallies = append(tallies, t)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					rel, ok := q.pop()
					if !ok {
						return
					}
					t.dir(root, rel, q, o, k)
					q.done()
				}
			}()
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}

	s := merge(tallies, k)
	s.Root, s.PartSize, s.SmallLimit, s.Selection = root, o.PartSize, o.SmallFile, o.Filter.Selection()
	if k > 0 {
		read := func(_ context.Context, it sampleItem, p []byte, off int64) (int, error) {
			path := filepath.Join(root, filepath.FromSlash(it.rel))
			if !fi.IsDir() {
				path = root
			}
			f, err := os.Open(path)
			if err != nil {
				return 0, err
			}
			defer f.Close()
			n, err := f.ReadAt(p, off)
			if err == io.EOF {
				err = nil
			}
			return n, err
		}
		if err := sampleCompression(ctx, read, s, tallies, k, o); err != nil {
			return nil, err
		}
	}
	s.Seconds = time.Since(start).Seconds()
	return s, nil
}

// ScanSource is ScanTree over a Source's entries (an S3 listing): the
// same histogram, small-object share and request counts, from the
// listing alone; folders are counted where the key's parent changes; the
// compressibility sample is read with ranged reads of the sampled
// entries.
func ScanSource(ctx context.Context, src transfer.Source, o ScanOptions) (*Scan, error) {
	start := time.Now()
	if err := o.check(); err != nil {
		return nil, err
	}
	k := o.fill(start)
	t := newTally()
	entries := map[string]transfer.Entry{} // of the sampled entries, by Rel
	lastDir := ""
	if src.Tree() { // the root, as ScanTree counts it
		t.dirs++
		o.Counters.Dirs.Add(1)
	}
	// The source's walk matches its own filter, which should be o's.
	if err := o.Filter.Resolve(ctx, src.Walk); err != nil {
		return nil, err
	}
	err := src.Walk(ctx, func(e transfer.Entry) error {
		if e.Err != nil || e.Skip != "" {
			t.skipped++
			return nil
		}
		if dir := folderOf(e.Rel); dir != lastDir {
			n := newFolders(lastDir, dir)
			t.dirs += n
			o.Counters.Dirs.Add(n)
			lastDir = dir
		}
		t.file(e, o, k)
		if k > 0 && e.Size > 0 {
			entries[e.Rel] = e
			if len(entries) > 4*k { // keep only what the sample still holds
				keep := map[string]transfer.Entry{}
				for _, it := range t.sample {
					keep[it.rel] = entries[it.rel]
				}
				entries = keep
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s := merge([]*tally{t}, k)
	s.Root, s.PartSize, s.SmallLimit, s.Selection = src.String(), o.PartSize, o.SmallFile, o.Filter.Selection()
	if k > 0 {
		read := func(ctx context.Context, it sampleItem, p []byte, off int64) (int, error) {
			r, err := src.Open(ctx, entries[it.rel])
			if err != nil {
				return 0, err
			}
			defer r.Close()
			if err := r.ReadAt(ctx, p, off); err != nil {
				return 0, err
			}
			return len(p), nil
		}
		if err := sampleCompression(ctx, read, s, []*tally{t}, k, o); err != nil {
			return nil, err
		}
	}
	s.Seconds = time.Since(start).Seconds()
	return s, nil
}

// folderOf is the folder rel is in ("" at the top).
func folderOf(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return ""
}

// newFolders counts the folders of dir (itself and those above it, the
// top aside) that prev, the folder of the entry before, is not in. A
// walk in key order lists each folder's entries together, so summed over
// a walk these count every folder that holds a file, at any depth, once.
func newFolders(prev, dir string) int64 {
	if dir == "" || strings.HasPrefix(prev+"/", dir+"/") {
		return 0 // the top, prev, or a folder above prev
	}
	common := 0 // dir[:common] are folders prev is in too
	if prev != "" && strings.HasPrefix(dir, prev+"/") {
		common = len(prev) + 1
	} else {
		for i := 0; i < min(len(dir), len(prev)) && dir[i] == prev[i]; i++ {
			if dir[i] == '/' {
				common = i + 1
			}
		}
	}
	return int64(strings.Count(dir[common:], "/") + 1)
}

// check refuses options no scan can honour.
func (o *ScanOptions) check() error {
	if o.Class != "" && !transfer.ValidStorageClass(o.Class) {
		return outcome.BadOption("StorageClass", "unknown storage class %q", o.Class)
	}
	return nil
}

// fill sets the defaults and returns how many files the sample takes.
func (o *ScanOptions) fill(now time.Time) int {
	if o.Now.IsZero() {
		o.Now = now
	}
	if o.PartSize <= 0 {
		o.PartSize = transfer.DefaultPartSize
	}
	if o.SmallFile <= 0 {
		o.SmallFile = 1 << 20
	}
	if o.SampleBytes == 0 {
		o.SampleBytes = 256 << 20
	}
	if o.Workers <= 0 {
		o.Workers = 4 * runtime.GOMAXPROCS(0)
	}
	if o.Counters == nil {
		o.Counters = &ScanCounters{}
	}
	k := sampleFiles
	if o.SampleBytes > 0 && o.SampleBytes/minSampleRead < int64(k) {
		k = int(max(o.SampleBytes/minSampleRead, 1))
	}
	if o.SampleBytes < 0 {
		k = 0
	}
	return k
}

// dirQueue is a LIFO of directories still to read (relative paths) and
// a count of directories queued or being read: the walk ends when that
// count reaches zero.
type dirQueue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	dirs    []string
	pending int
	closed  bool
}

func (q *dirQueue) push(rel string) {
	q.mu.Lock()
	q.dirs = append(q.dirs, rel)
	q.pending++
	q.mu.Unlock()
	q.cond.Signal()
}

func (q *dirQueue) pop() (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.dirs) == 0 && q.pending > 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed || len(q.dirs) == 0 {
		return "", false
	}
	rel := q.dirs[len(q.dirs)-1]
	q.dirs = q.dirs[:len(q.dirs)-1]
	return rel, true
}

func (q *dirQueue) done() {
	q.mu.Lock()
	q.pending--
	if q.pending == 0 {
		q.cond.Broadcast()
	}
	q.mu.Unlock()
}

func (q *dirQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

func (t *tally) errorf(format string, a ...any) {
	if len(t.errs) < maxErrors {
		t.errs = append(t.errs, fmt.Sprintf(format, a...))
	}
}

// dir reads one directory in batches, so a directory of a million entries
// never sits in memory at once.
func (t *tally) dir(root, rel string, q *dirQueue, o ScanOptions, k int) {
	p := filepath.Join(root, filepath.FromSlash(rel))
	f, err := os.Open(p)
	if err != nil {
		t.errorf("%s: %v", p, transfer.UnwrapPathError(err))
		return
	}
	defer f.Close()
	t.dirs++
	o.Counters.Dirs.Add(1)
	for {
		ents, err := f.ReadDir(1024)
		for _, de := range ents {
			crel := de.Name()
			if rel != "" {
				crel = rel + "/" + crel
			}
			switch typ := de.Type(); {
			case typ.IsDir():
				q.push(crel)
			case typ.IsRegular():
				if !o.Filter.Match(crel) {
					continue
				}
				info, ierr := de.Info()
				if ierr != nil {
					if !errors.Is(ierr, fs.ErrNotExist) {
						t.errorf("%s: %v", crel, transfer.UnwrapPathError(ierr))
					}
					continue
				}
				t.file(transfer.FileEntry(filepath.Join(p, de.Name()), crel, info), o, k)
			default:
				t.skipped++
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			t.errorf("%s: %v", p, transfer.UnwrapPathError(err))
			return
		}
	}
}

func (t *tally) file(e transfer.Entry, o ScanOptions, k int) {
	rel, size := e.Rel, e.Size
	t.files++
	t.bytes += size
	o.Counters.Files.Add(1)
	o.Counters.Bytes.Add(size)
	if pp, err := transfer.PlanParts(size, o.PartSize); err != nil {
		t.errorf("%s: %v", rel, err)
	} else if pp.Multipart {
		t.mp++
		t.reqs += int64(pp.Count) + 2
	} else {
		t.reqs++
	}
	if size < o.SmallFile {
		t.small++
		t.smallB += size
	}
	if size > t.largestSize || t.largest == "" || size == t.largestSize && rel < t.largest {
		t.largest, t.largestSize = rel, size
	}
	b := sizeBucket(size)
	t.hist[b].Files++
	t.hist[b].Bytes += size
	class := transfer.ClassOf(o.ClassRules, o.Class, e, o.Now)
	cs := t.classes[class]
	if cs == nil {
		cs = &ClassShare{}
		t.classes[class] = cs
	}
	cs.add(size)
	if e.Atime != 0 && e.Atime < e.ModTime.Add(-atimeSlack).UnixNano() {
		t.atimeOld++
	}
	ext := extOf(rel)
	es := t.ext[ext]
	if es == nil {
		if len(t.ext) >= maxExts {
			ext = "(other)"
			es = t.ext[ext]
		}
		if es == nil {
			es = &ExtStat{Ext: ext}
			t.ext[ext] = es
		}
	}
	es.Files++
	es.Bytes += size
	if k > 0 && size > 0 {
		t.sample.offer(sampleItem{key: sampleKey(rel, size), rel: rel, size: size, ext: ext}, k)
	}
}

func extOf(rel string) string {
	e := strings.ToLower(filepath.Ext(rel))
	if e == "" || len(e) > 16 {
		return "(none)"
	}
	return e
}

// sampleKey is the file's rank in a size-weighted sample without
// replacement (Efraimidis-Spirakis): -ln(u)/size with u drawn from a hash
// of the path, so the same tree always yields the same sample, whatever
// order the parallel walk visits it in, and big files (most of the bytes)
// are the likeliest to be read.
func sampleKey(rel string, size int64) float64 {
	h := fnv.New64a()
	h.Write([]byte(rel))
	u := (float64(h.Sum64()>>11) + 0.5) / (1 << 53)
	return -math.Log(u) / float64(size)
}

type sampleItem struct {
	key  float64
	rel  string
	size int64
	ext  string
}

// sampleHeap keeps the k smallest keys: a max-heap on key.
type sampleHeap []sampleItem

func (h sampleHeap) Len() int { return len(h) }
func (h sampleHeap) Less(i, j int) bool {
	if h[i].key != h[j].key {
		return h[i].key > h[j].key
	}
	return h[i].rel > h[j].rel
}
func (h sampleHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *sampleHeap) Push(x any)   { *h = append(*h, x.(sampleItem)) }
func (h *sampleHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (h *sampleHeap) offer(it sampleItem, k int) {
	if h.Len() < k {
		heap.Push(h, it)
		return
	}
	top := (*h)[0]
	if it.key < top.key || it.key == top.key && it.rel < top.rel {
		(*h)[0] = it
		heap.Fix(h, 0)
	}
}

func merge(ts []*tally, k int) *Scan {
	s := &Scan{StorageClasses: map[string]ClassShare{}}
	var hist [65]Bucket
	ext := map[string]*ExtStat{}
	for _, t := range ts {
		s.Files += t.files
		s.Dirs += t.dirs
		s.Bytes += t.bytes
		s.Requests += t.reqs
		s.MultipartFiles += t.mp
		s.SmallFiles += t.small
		s.SmallBytes += t.smallB
		s.Skipped += t.skipped
		s.AtimeBeforeMtime += t.atimeOld
		for class, cs := range t.classes {
			m := s.StorageClasses[class]
			m.Objects += cs.Objects
			m.Bytes += cs.Bytes
			for i, b := range cs.sizes {
				m.sizes[i].Files += b.Files
				m.sizes[i].Bytes += b.Bytes
			}
			s.StorageClasses[class] = m
		}
		if t.largest != "" && (t.largestSize > s.LargestSize || s.Largest == "" || t.largestSize == s.LargestSize && t.largest < s.Largest) {
			s.Largest, s.LargestSize = t.largest, t.largestSize
		}
		for i := range t.hist {
			hist[i].Files += t.hist[i].Files
			hist[i].Bytes += t.hist[i].Bytes
		}
		for name, es := range t.ext {
			m := ext[name]
			if m == nil {
				m = &ExtStat{Ext: name}
				ext[name] = m
			}
			m.Files += es.Files
			m.Bytes += es.Bytes
		}
		for _, e := range t.errs {
			if len(s.Errors) < maxErrors {
				s.Errors = append(s.Errors, e)
			}
		}
	}
	sort.Strings(s.Errors)
	lo, hi := -1, -1
	for i := range hist {
		if hist[i].Files > 0 {
			if lo < 0 {
				lo = i
			}
			hi = i
		}
	}
	for i := max(lo, 0); i <= hi; i++ {
		b := hist[i]
		b.Lo, b.Hi = bucketBounds(i)
		s.Histogram = append(s.Histogram, b)
	}
	s.warnAtime()
	for _, es := range ext {
		s.ByExt = append(s.ByExt, *es)
	}
	sort.Slice(s.ByExt, func(i, j int) bool {
		if s.ByExt[i].Bytes != s.ByExt[j].Bytes {
			return s.ByExt[i].Bytes > s.ByExt[j].Bytes
		}
		return s.ByExt[i].Ext < s.ByExt[j].Ext
	})
	return s
}

// sampleCompression merges the workers' samples into the global k
// smallest keys, reads a slice from the middle of each sampled file and
// compresses it with zstd. Since the sample is size-weighted, the plain
// mean of the per-file ratios estimates the bytes-weighted ratio.
func sampleCompression(ctx context.Context, read func(context.Context, sampleItem, []byte, int64) (int, error), s *Scan, ts []*tally, k int, o ScanOptions) error {
	var all sampleHeap
	for _, t := range ts {
		for _, it := range t.sample {
			all.offer(it, k)
		}
	}
	items := []sampleItem(all)
	if len(items) == 0 {
		return nil
	}
	sort.Slice(items, func(i, j int) bool { return items[i].rel < items[j].rel })
	per := max(o.SampleBytes/int64(len(items)), minSampleRead)
	type result struct {
		ratio float64
		n     int64
		ok    bool
	}
	res := make([]result, len(items))
	g, ctx := errgroup.WithContext(ctx)
	idx := make(chan int)
	g.Go(func() error {
		defer close(idx)
		for i := range items {
			select {
			case idx <- i:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	for range min(runtime.GOMAXPROCS(0), len(items)) {
		g.Go(func() error {
			enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
			if err != nil {
				return err
			}
			defer enc.Close()
			buf := make([]byte, per)
			var out []byte
			for i := range idx {
				it := items[i]
				n := min(per, it.size)
				m, err := read(ctx, it, buf[:n], (it.size-n)/2)
				if m == 0 || err != nil {
					continue // gone since the walk: not part of the sample
				}
				out = enc.EncodeAll(buf[:m], out[:0])
				res[i] = result{ratio: math.Min(float64(len(out))/float64(m), 1), n: int64(m), ok: true}
				o.Counters.SampledBytes.Add(int64(m))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	byExt := map[string]*ExtStat{}
	for i := range s.ByExt {
		byExt[s.ByExt[i].Ext] = &s.ByExt[i]
	}
	var sum float64
	for i, r := range res {
		if !r.ok {
			continue
		}
		s.SampledFiles++
		s.SampledBytes += r.n
		sum += r.ratio
		if es := byExt[items[i].ext]; es != nil {
			es.SampledFiles++
			es.SampledBytes += r.n
			es.Ratio += r.ratio // summed here, averaged below
		}
	}
	if s.SampledFiles > 0 {
		s.Ratio = sum / float64(s.SampledFiles)
	}
	for i := range s.ByExt {
		if s.ByExt[i].SampledFiles > 0 {
			s.ByExt[i].Ratio /= float64(s.ByExt[i].SampledFiles)
		}
	}
	return nil
}
