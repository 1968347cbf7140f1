package transfer

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/klauspost/compress/zstd"

	"github.com/airlift-io/airlift/checksum"
	"github.com/airlift-io/airlift/internal/outcome"
)

// packFixture writes files (rel -> content) under a temporary folder and
// returns their walked entries, in key order.
func packFixture(t *testing.T, files map[string]string) (string, []Entry) {
	t.Helper()
	root := t.TempDir()
	for rel, body := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o640); err != nil {
			t.Fatal(err)
		}
		mt := time.Unix(1_700_000_000, 123_456_789)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	var es []Entry
	if err := Walk(context.Background(), root, WalkOptions{}, func(e Entry) error { es = append(es, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return root, es
}

// TestShardReaderIsArchiveTar holds the planned shard to archive/tar: the
// bytes a shardReader produces, read in parts of any size, are the bytes
// tar.Writer writes for the same files; tar.Reader finds every member at
// the offset the layout (and so the index) gives; and each member's BLAKE3
// is taken on the way.
func TestShardReaderIsArchiveTar(t *testing.T) {
	files := map[string]string{
		"a/x.jpg":  strings.Repeat("j", 1000),
		"a/x.json": `{"label":1}`,
		"a/y.jpg":  strings.Repeat("k", 512),
		"empty":    "",
		strings.Repeat("long-name/", 15) + "z.txt": "needs a PAX header",
		"数据/café.txt":                              "non-ASCII name",
	}
	// Enough small files that whole runs of them go to readWhole's
	// goroutines: some empty, some ending on a block, most not; in
	// folders of a few files each, which a run opens its files in.
	for i := range 5 * wholeRunMin {
		files[fmt.Sprintf("many/d%d/f%03d.bin", i/7, i)] = strings.Repeat(string(rune('a'+i%26)), i*i*37%1500)
	}
	root, es := packFixture(t, files)
	l := &shardLayout{name: "shard-000000.tar", root: root}
	for _, e := range es {
		hdr, err := tarHeader(e)
		if err != nil {
			t.Fatal(err)
		}
		l.add(e, int64(len(hdr)))
	}
	l.seal()

	want := archiveTar(t, es, files)
	if l.size != int64(want.Len()) {
		t.Fatalf("planned %d bytes, archive/tar wrote %d", l.size, want.Len())
	}
	for _, chunk := range []int{1, 100, 512, 777, 4096, 20_000, 50_000, int(l.size)} {
		r := newShardReader(l)
		var told [][]string
		r.onHashed = func(sums []string) { told = append(told, sums) }
		got := readChunks(t, r, l.size, chunk, false)
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("chunks of %d: the shard differs from what archive/tar writes", chunk)
		}
		for i, m := range l.members {
			if r.sums[i] != checksum.Sum([]byte(files[m.rel])) {
				t.Errorf("chunks of %d: %s: BLAKE3 %q", chunk, m.rel, r.sums[i])
			}
		}
		// Told once, with every sum, as soon as the last member was
		// hashed: before the trailer (the last 1,024 bytes) was read.
		if len(told) != 1 || !slices.Equal(told[0], r.sums) {
			t.Errorf("chunks of %d: told %d times of the sums, want once", chunk, len(told))
		}
		// Read back to front (as no upload does), the bytes are the same,
		// and a member hashed out of order is left for shardSent to hash
		// from its file, never given a wrong sum.
		r = newShardReader(l)
		r.onHashed = func(sums []string) {
			if slices.Contains(sums, "") {
				t.Errorf("chunks of %d, back to front: told of sums before all were known", chunk)
			}
		}
		if got := readChunks(t, r, l.size, chunk, true); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("chunks of %d, back to front: the shard differs from what archive/tar writes", chunk)
		}
		for i, m := range l.members {
			if s := r.sums[i]; s != "" && s != checksum.Sum([]byte(files[m.rel])) {
				t.Errorf("chunks of %d, back to front: %s: BLAKE3 %q", chunk, m.rel, s)
			}
		}
	}
	cr := &countingReader{r: bytes.NewReader(want.Bytes())}
	tr := tar.NewReader(cr)
	for i := 0; ; i++ {
		h, err := tr.Next()
		if err == io.EOF {
			if i != len(l.members) {
				t.Fatalf("tar has %d members, layout %d", i, len(l.members))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if m := l.members[i]; h.Name != m.rel || cr.n != m.data() {
			t.Errorf("member %d: tar has %q at %d, layout %q at %d", i, h.Name, cr.n, m.rel, m.data())
		}
	}
}

// TestShardIdentity: a shard's identity in the journal is the digest an
// earlier airlift wrote with fmt ("%s\x00%d\x00%d\x00%d\x00%d\x00" of each
// member's rel, size, mtime, inode and mode), so that a run continues the
// shards a run of that version sent; its mtime is the newest member's.
func TestShardIdentity(t *testing.T) {
	for _, c := range []struct {
		name    string
		members []shardMember
	}{
		{"none", nil},
		{"one", []shardMember{{rel: "a/x.jpg", size: 1000, mtime: 1_700_000_000_123_456_789, ino: 42, mode: 0o644}}},
		{"many", []shardMember{
			{rel: "a", size: 0, mtime: 5, ino: 1<<64 - 1, mode: 0o777},
			{rel: "数据/café.txt", size: 1 << 40, mtime: 9, ino: 7, mode: 0o600},
			{rel: "c", size: 3, mtime: 7, ino: 0, mode: 0},
		}},
		{"before 1970", []shardMember{{rel: "old", size: 1, mtime: -86_400_000_000_000, ino: 3, mode: 0o644}, {rel: "older", size: 1, mtime: -172_800_000_000_000, ino: 4, mode: 0o644}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := &shardLayout{name: "shard-000003.tar", root: "/data", members: c.members}
			l.seal()
			h := fnv.New64a()
			var mt time.Time
			for _, m := range c.members {
				fmt.Fprintf(h, "%s\x00%d\x00%d\x00%d\x00%d\x00", m.rel, m.size, m.mtime, m.ino, m.mode)
				if tm := time.Unix(0, m.mtime); tm.After(mt) {
					mt = tm
				}
			}
			got := l.entry()
			if got.Inode != h.Sum64()|1 || !got.ModTime.Equal(mt) || got.Size != l.size || got.Path != "/data#shard-000003.tar" {
				t.Errorf("entry %+v; want inode %d, mtime %v, size %d", got, h.Sum64()|1, mt, l.size)
			}
		})
	}
}

// readChunks reads a shard of size bytes from r in chunks of n, first to
// last or last to first, and returns its bytes in order.
func readChunks(t *testing.T, r *shardReader, size int64, n int, backwards bool) []byte {
	t.Helper()
	got := make([]byte, size)
	var offs []int64
	for off := int64(0); off < size; off += int64(n) {
		offs = append(offs, off)
	}
	if backwards {
		slices.Reverse(offs)
	}
	for _, off := range offs {
		if err := r.ReadAt(context.Background(), got[off:min(off+int64(n), size)], off); err != nil {
			t.Fatalf("chunk %d at %d: %v", n, off, err)
		}
	}
	return got
}

// archiveTar is what archive/tar writes for the walked entries es.
func archiveTar(t *testing.T, es []Entry, files map[string]string) *bytes.Buffer {
	t.Helper()
	var want bytes.Buffer
	tw := tar.NewWriter(&want)
	for _, e := range es {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: e.Rel, Size: e.Size, Mode: int64(e.Mode.Perm()), ModTime: e.ModTime.Truncate(time.Second)}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(tw, files[e.Rel])
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &want
}

// TestCompressedShard: a .tar.zst shard decompresses (as one stream) into
// exactly the tar archive/tar writes; each member's frame, fetched alone,
// decompresses into its header and data (at ZSkip); the shard comes out
// the same bytes however it is read, and fits the bound its upload is
// planned on.
func TestCompressedShard(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	noise := make([]byte, 300<<10) // does not compress: zstd stores it as it is
	rng.Read(noise)
	files := map[string]string{
		"a/x.json": strings.Repeat(`{"label": 1, "text": "compressible"}`, 5000),
		"a/y.txt":  strings.Repeat("lorem ipsum ", 20000),
		"b/noise":  string(noise),
		"empty":    "",
		strings.Repeat("long-name/", 15) + "z.txt": "needs a PAX header",
	}
	root, es := packFixture(t, files)
	l := zlayout(root, es)
	want := archiveTar(t, es, files)
	var first []byte
	for _, chunk := range []int{1, 1000, 4096, 100 << 10, int(l.planSize())} {
		r := newZshardReader(l)
		var got []byte
		p := make([]byte, chunk)
		for {
			n, err := r.ReadNext(context.Background(), p)
			if err != nil {
				t.Fatalf("chunks of %d: %v", chunk, err)
			}
			got = append(got, p[:n]...)
			if n < chunk {
				break
			}
		}
		if n, _ := r.ReadNext(context.Background(), p); n != 0 {
			t.Fatalf("chunks of %d: %d bytes past the end", chunk, n)
		}
		r.Close()
		if first == nil {
			first = got
			if int64(len(got)) >= int64(want.Len())-int64(len(noise))/2 || int64(len(got)) > l.planSize() {
				t.Errorf("compressed shard is %d bytes for a %d-byte tar (bound %d)", len(got), want.Len(), l.planSize())
			}
		} else if !bytes.Equal(got, first) {
			t.Fatalf("chunks of %d: other bytes than the first time (a resumed shard would not match its parts)", chunk)
		}
		if l.zsize != int64(len(got)) {
			t.Errorf("zsize %d, produced %d", l.zsize, len(got))
		}
		zr, _ := zstd.NewReader(bytes.NewReader(got))
		tarBytes, err := io.ReadAll(zr)
		zr.Close()
		if err != nil || !bytes.Equal(tarBytes, want.Bytes()) {
			t.Fatalf("chunks of %d: decompressed shard differs from the tar (%v)", chunk, err)
		}
		for i, m := range l.members {
			if r.sums[i] != checksum.Sum([]byte(files[m.rel])) {
				t.Errorf("%s: BLAKE3 %q", m.rel, r.sums[i])
			}
			zr, _ := zstd.NewReader(bytes.NewReader(got[m.zstart : m.zstart+m.zsize]))
			frame, err := io.ReadAll(zr)
			zr.Close()
			if err != nil || !bytes.Equal(frame[m.hdrLen:m.hdrLen+m.size], []byte(files[m.rel])) {
				t.Errorf("%s: its frame alone does not hold its data (%v)", m.rel, err)
			}
		}
	}
	if err := newZshardReader(l).ReadAt(context.Background(), make([]byte, 10), 0); err == nil {
		t.Error("a compressed shard was read at an offset")
	}
}

// zlayout is the compressed shard of the walked entries es below root.
func zlayout(root string, es []Entry) *shardLayout {
	l := &shardLayout{name: "shard-000000.tar.zst", root: root, compressed: true}
	for _, e := range es {
		hdr, _ := tarHeader(e)
		l.add(e, int64(len(hdr)))
	}
	l.seal()
	return l
}

// TestCompressedShardChangedFile: a member that changed since the walk
// fails the shard, naming the file.
func TestCompressedShardChangedFile(t *testing.T) {
	root, es := packFixture(t, map[string]string{"a.txt": "one", "b.txt": "two"})
	l := zlayout(root, es)
	if err := os.WriteFile(filepath.Join(root, "b.txt"), []byte("TWO!"), 0o640); err != nil {
		t.Fatal(err)
	}
	err := l.produce(context.Background())
	if !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), "b.txt") {
		t.Fatalf("got %v, want ErrChanged naming b.txt", err)
	}
}

// TestShardReaderChangedFile: a member rewritten after the walk fails
// the read as changed, so the shard is not completed with other bytes.
func TestShardReaderChangedFile(t *testing.T) {
	t.Run("alone", func(t *testing.T) { shardReaderChangedFile(t, 0) })
	t.Run("among many", func(t *testing.T) { shardReaderChangedFile(t, 4*wholeRunMin) })
}

// shardReaderChangedFile: b.txt, among n other files read whole at once.
func shardReaderChangedFile(t *testing.T, n int) {
	files := map[string]string{"a.txt": "one", "b.txt": "two"}
	for i := range n {
		files[fmt.Sprintf("c%03d.txt", i)] = "more"
	}
	root, es := packFixture(t, files)
	l := &shardLayout{name: "s", root: root}
	for _, e := range es {
		hdr, _ := tarHeader(e)
		l.add(e, int64(len(hdr)))
	}
	l.seal()
	if err := os.WriteFile(filepath.Join(root, "b.txt"), []byte("TWO!"), 0o640); err != nil {
		t.Fatal(err)
	}
	err := newShardReader(l).ReadAt(context.Background(), make([]byte, l.size), 0)
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("got %v, want ErrChanged", err)
	}
}

func TestSampleKey(t *testing.T) {
	for _, c := range []struct{ rel, want string }{
		{"a/x.jpg", "a/x"},
		{"a/x.seg.png", "a/x"},
		{"a.b/x.json", "a.b/x"},
		{"noext", "noext"},
		{"d/.hidden", "d/"},
	} {
		if got := sampleKey(c.rel); got != c.want {
			t.Errorf("sampleKey(%q) = %q, want %q", c.rel, got, c.want)
		}
	}
	// sameSample is sampleKey's equality, without the keys; among them
	// names whose keys a careless comparison would mix up.
	rels := []string{"a/x.jpg", "a/x.json", "a/x", "a/xy.jpg", "ax.jpg", "a/x/y.jpg", "a.x/y", "a/.h", "a/.g", "b/x.jpg", "", "x.tar", "x"}
	for _, a := range rels {
		for _, b := range rels {
			if got, want := sameSample(a, b), sampleKey(a) == sampleKey(b); got != want {
				t.Errorf("sameSample(%q, %q) = %v, want %v", a, b, got, want)
			}
		}
	}
}

// TestPackFeedCuts: shards are cut at the size or count, never inside a
// sample, and a file larger than a shard goes as an object of its own.
func TestPackFeedCuts(t *testing.T) {
	files := map[string]string{"big.bin": strings.Repeat("b", MinShardSize)}
	for _, s := range []string{"s1", "s2", "s3", "s4", "s5"} {
		files["d/"+s+".jpg"] = strings.Repeat("x", 300<<10)
		files["d/"+s+".json"] = "{}"
	}
	root, _ := packFixture(t, files)
	cases := []struct {
		name   string
		o      PackOptions
		shards [][]string
	}{
		{"size", PackOptions{ShardSize: MinShardSize}, [][]string{
			{"d/s1.jpg", "d/s1.json", "d/s2.jpg", "d/s2.json", "d/s3.jpg", "d/s3.json"},
			{"d/s4.jpg", "d/s4.json", "d/s5.jpg", "d/s5.json"}}},
		// Compressed shards are cut by their tar's size too: the same
		// samples, however well they compress (these very well).
		{"size, compressed", PackOptions{ShardSize: MinShardSize, Compress: true}, [][]string{
			{"d/s1.jpg", "d/s1.json", "d/s2.jpg", "d/s2.json", "d/s3.jpg", "d/s3.json"},
			{"d/s4.jpg", "d/s4.json", "d/s5.jpg", "d/s5.json"}}},
		{"count, samples kept whole", PackOptions{ShardSize: DefaultShardSize, ShardCount: 3}, [][]string{
			{"big.bin", "d/s1.jpg", "d/s1.json"},
			{"d/s2.jpg", "d/s2.json", "d/s3.jpg", "d/s3.json"},
			{"d/s4.jpg", "d/s4.json", "d/s5.jpg", "d/s5.json"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := NewUploader(nil, "bkt", UploadOptions{Pack: &c.o}, nil)
			if err != nil {
				t.Fatal(err)
			}
			s, err := newPackSink(u, *u.o.Pack, Location{Bucket: "bkt", Prefix: "ds"}, "run")
			if err != nil {
				t.Fatal(err)
			}
			src, _ := NewFolder(root, WalkOptions{})
			var shards [][]string
			var plain []string
			err = s.Feed(context.Background(), src, Location{Bucket: "bkt", Prefix: "ds"}, func(j Job) error {
				if j.open == nil {
					plain = append(plain, j.Key)
					return nil
				}
				r, _ := j.open(context.Background())
				sr, ok := r.(*shardReader)
				if zr, z := r.(*zshardReader); z {
					sr, ok = zr.shardReader, c.o.Compress
				}
				if !ok {
					t.Fatalf("shard reader %T", r)
				}
				var names []string
				for _, m := range sr.l.members {
					names = append(names, m.rel)
				}
				if want := "ds/" + shardName(len(shards), c.o.Compress); j.Key != want {
					t.Errorf("shard key %s, want %s", j.Key, want)
				}
				shards = append(shards, names)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			sort := func(ss [][]string) string {
				var b strings.Builder
				for _, s := range ss {
					b.WriteString(strings.Join(s, ",") + "\n")
				}
				return b.String()
			}
			if sort(shards) != sort(c.shards) {
				t.Errorf("shards:\n%s\nwant:\n%s", sort(shards), sort(c.shards))
			}
			if c.o.ShardSize == MinShardSize && strings.Join(plain, ",") != "ds/big.bin" {
				t.Errorf("plain objects %v, want ds/big.bin", plain)
			}
		})
	}
}

// indexFile encodes an index of members (then lines) into a file and
// opens it as readers do.
func indexFile(t testing.TB, h IndexHeader, members Members, lines string) *PackIndex {
	t.Helper()
	p := filepath.Join(t.TempDir(), "index.jsonl.zst")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := (&PackIndex{Header: h}).Encode(f, members, bytes.NewReader(LinesFrame([]byte(lines)))); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	x, err := OpenIndex(context.Background(), func(context.Context) (io.ReadCloser, error) { return os.Open(p) })
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestIndexRoundTrip(t *testing.T) {
	h := IndexHeader{Format: IndexFormat, RunID: "r", Shards: []ShardInfo{{URL: "shard-000000.tar", Samples: 1, Size: 3072, Members: 1}}}
	a := IndexMember{Path: "a.txt", Shard: "shard-000000.tar", Offset: 512, Size: 3, MTimeNS: 5, Mode: 0o644, BLAKE3: "ab"}
	b := IndexMember{Path: "b.txt", Shard: "shard-000000.tar", Offset: 1536, Size: 3, BLAKE3: "cd", State: MemberSuperseded}
	c := IndexMember{Path: "b.txt", Shard: "shard-000001.tar", Offset: 512, Size: 4, BLAKE3: "ef"}
	line, _ := json.Marshal(c)
	x := indexFile(t, h, func(yield func(IndexMember) error) error {
		if err := yield(a); err != nil {
			return err
		}
		return yield(b)
	}, string(line)+"\n")
	if x.Header.RunID != "r" || len(x.Header.Shards) != 1 {
		t.Fatalf("header: %+v", x.Header)
	}
	for _, scan := range []struct {
		name string
		fn   func(context.Context, func(IndexMember) error) error
		want []IndexMember
	}{{"Scan", x.Scan, []IndexMember{a, b, c}}, {"ScanLive", x.ScanLive, []IndexMember{a, c}}} {
		var got []IndexMember
		if err := scan.fn(context.Background(), func(m IndexMember) error { got = append(got, m); return nil }); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(scan.want) {
			t.Errorf("%s: %+v, want %+v", scan.name, got, scan.want)
		}
	}
}

// bigIndex is an index of n members in shards of perShard, generated as
// it is written (never held).
func bigIndex(t testing.TB, n, perShard int) *PackIndex {
	return indexFile(t, IndexHeader{Format: IndexFormat, RunID: "big"}, func(yield func(IndexMember) error) error {
		for i := 0; i < n; i++ {
			m := IndexMember{Path: fmt.Sprintf("class%03d/img_%08d.jpg", i%1000, i), Shard: shardName(i/perShard, false),
				Offset: int64(i%perShard)*17408 + 512, Size: 16384, MTimeNS: 1_700_000_000_000_000_000 + int64(i), Mode: 0o644,
				BLAKE3: checksum.Sum([]byte(strconv.Itoa(i)))}
			if err := yield(m); err != nil {
				return err
			}
		}
		return nil
	}, "")
}

// heapGrowth runs fn and returns how far the live heap (what a collection
// leaves: what is held, not garbage waiting for the collector) grew above
// where it was before, sampled whenever fn calls sample.
func heapGrowth(fn func(sample func())) uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	sample := func() {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	fn(sample)
	return peak - base
}

// TestIndexReadStreams: the readers of an index of 200,000 members hold a
// few of them at a time, not all: scanning it, and reading its shards as a
// download does (each shard's run of members, at most conc runs at once),
// grow the heap by a fraction of what holding the members takes (measured
// alongside, the same way).
func TestIndexReadStreams(t *testing.T) {
	const n, perShard = 200_000, 1000
	x := bigIndex(t, n, perShard)
	var all []IndexMember
	held := heapGrowth(func(sample func()) {
		_ = x.Scan(context.Background(), func(m IndexMember) error {
			all = append(all, m)
			if len(all)%20_000 == 0 {
				sample()
			}
			return nil
		})
	})
	if len(all) != n {
		t.Fatalf("scanned %d members, want %d", len(all), n)
	}
	all = nil
	count := 0
	scanned := heapGrowth(func(sample func()) {
		_ = x.ScanLive(context.Background(), func(m IndexMember) error {
			if count++; count%20_000 == 0 {
				sample()
			}
			return nil
		})
	})
	var failed atomic.Int64
	read := heapGrowth(func(sample func()) {
		err := readPacked(context.Background(), getFails{}, "bkt", "ds/", x, 4, func(IndexMember) (bool, error) { return true, nil },
			func(IndexMember, io.Reader) error { return errors.New("not read") },
			func(IndexMember, error) {
				if failed.Add(1)%20_000 == 0 {
					sample()
				}
			})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("heap growth: holding %d members %d KiB; scanning %d KiB; reading shards %d KiB", n, held>>10, scanned>>10, read>>10)
	if count != n || failed.Load() != n {
		t.Fatalf("scanned %d, read %d members; want %d", count, failed.Load(), n)
	}
	for what, grew := range map[string]uint64{"scanning": scanned, "reading shards": read} {
		if grew > held/3 || grew > 16<<20 {
			t.Errorf("%s the index grew the heap by %d KiB; holding every member takes %d KiB", what, grew>>10, held>>10)
		}
	}
}

// getFails fails every GET, so that readPacked hands every member to fail.
type getFails struct{ S3API }

func (getFails) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, errors.New("no such shard")
}

// listOnly answers ListObjectsV2 with fixed keys; nothing else is called.
type listOnly struct {
	S3API
	keys []string
}

func (l listOnly) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	out := &s3.ListObjectsV2Output{}
	for _, k := range l.keys {
		if strings.HasPrefix(k, aws.ToString(in.Prefix)) {
			out.Contents = append(out.Contents, types.Object{Key: aws.String(k)})
		}
	}
	return out, nil
}

// TestIndexKeySortsLast: a new index's name sorts (without its
// extension, as loadPackIndex compares them) after every index there, also when its run started in the same second as the newest one
// (run ids have whole seconds, then a random suffix).
func TestIndexKeySortsLast(t *testing.T) {
	for _, c := range []struct {
		name     string
		existing []string
		runID    string
		want     string
	}{
		{"first", nil, "20261201T041046Z-275b1327", "ds/.airlift/index/20261201T041046Z-275b1327.jsonl.zst"},
		{"a later second", []string{"ds/.airlift/index/20261201T041045Z-ffffffff.jsonl.zst"}, "20261201T041046Z-275b1327",
			"ds/.airlift/index/20261201T041046Z-275b1327.jsonl.zst"},
		{"the same second, a lower suffix", []string{"ds/.airlift/index/20261201T041046Z-a9c7ba5d.jsonl.zst"}, "20261201T041046Z-275b1327",
			"ds/.airlift/index/20261201T041046Z-a9c7ba5d.275b1327.jsonl.zst"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := indexKey(context.Background(), listOnly{keys: c.existing}, "bkt", "ds/", c.runID)
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
			for _, k := range c.existing {
				if strings.TrimSuffix(got, ".jsonl.zst") <= strings.TrimSuffix(k, ".jsonl.zst") {
					t.Errorf("%q does not sort after %q", got, k)
				}
			}
		})
	}
}

func TestPackOptionsCheck(t *testing.T) {
	for _, c := range []struct {
		name string
		o    PackOptions
		bad  string // the option named in the error; "" for none
	}{
		{"defaults", PackOptions{}, ""},
		{"compact below all", PackOptions{CompactBelow: 1}, ""},
		{"compact below half", PackOptions{CompactBelow: 0.5}, ""},
		{"compact below more than all", PackOptions{CompactBelow: 1.5}, "CompactBelow"},
		{"compact below a negative share", PackOptions{CompactBelow: -0.1}, "CompactBelow"},
		{"shard too small", PackOptions{ShardSize: 1 << 10}, "ShardSize"},
		{"negative count", PackOptions{ShardCount: -1}, "ShardCount"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.o.check()
			var oe *outcome.OptionError
			switch {
			case c.bad == "" && err != nil:
				t.Fatalf("check: %v", err)
			case c.bad != "" && (!errors.As(err, &oe) || oe.Option != c.bad):
				t.Fatalf("check: %v, want an error naming %s", err, c.bad)
			}
		})
	}
}

// TestShardSentIndexesWithoutMeta: a compressed shard an earlier run sent
// but whose frames' places it did not record (it died first) is indexed
// by producing it again: the index lines carry the places and BLAKE3s a
// send would have found.
func TestShardSentIndexesWithoutMeta(t *testing.T) {
	files := map[string]string{"a.txt": strings.Repeat("alpha ", 3000), "b.txt": strings.Repeat("beta ", 5000), "c/d.json": `{"x":1}`}
	root, es := packFixture(t, files)
	layout := func() *shardLayout {
		l := zlayout(root, es)
		l.key = "ds/" + l.name
		return l
	}
	sent := layout()
	if err := sent.produce(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := testSink(t, PackOptions{Compress: true})
	if err := s.shardSent(context.Background(), layout(), FileResult{AlreadyDone: true}); err != nil {
		t.Fatal(err)
	}
	lines := sinkLines(t, s)
	if len(lines) != len(sent.members) {
		t.Fatalf("%d lines, want %d", len(lines), len(sent.members))
	}
	for i, m := range sent.members {
		im := lines[i]
		if im.Path != m.rel || im.ZOffset != m.zstart || im.ZSize != m.zsize || im.ZSize == 0 || im.BLAKE3 != checksum.Sum([]byte(files[m.rel])) {
			t.Errorf("line %d: %+v; want %s at %d+%d", i, im, m.rel, m.zstart, m.zsize)
		}
	}
	if len(s.shards) != 1 || s.shards[0].Size != sent.zsize {
		t.Errorf("shards %+v, want one of %d bytes", s.shards, sent.zsize)
	}
}

// TestShardMetaRestore: the frame sizes the journal keeps give back every
// frame's place and the shard's size; meta of another shape is refused.
// testSink is a pack sink of o for s3://bkt/ds, with no client.
func testSink(t *testing.T, o PackOptions) *packSink {
	t.Helper()
	u, err := NewUploader(nil, "bkt", UploadOptions{Pack: &o}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newPackSink(u, *u.o.Pack, Location{Bucket: "bkt", Prefix: "ds"}, "run")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.discard)
	return s
}

// sinkLines are the index lines a pack sink holds so far, read from its
// frames as the index is.
func sinkLines(t *testing.T, s *packSink) []IndexMember {
	t.Helper()
	if err := s.flushPending(); err != nil {
		t.Fatal(err)
	}
	if s.lines == nil {
		return nil
	}
	b, err := os.ReadFile(s.lines.Name())
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var ims []IndexMember
	dec := json.NewDecoder(zr)
	for dec.More() {
		var im IndexMember
		if err := dec.Decode(&im); err != nil {
			t.Fatal(err)
		}
		ims = append(ims, im)
	}
	return ims
}

// TestShardSentUsesPrepared: a shard read in order is indexed by the work
// prepared while its upload completed, into the same lines the slow path
// writes; a shard whose members were not all hashed on the way, and a
// compaction's, are indexed without it.
func TestShardSentUsesPrepared(t *testing.T) {
	files := map[string]string{"a/x.jpg": "jpeg", "a/x.json": "{}", "b.txt": strings.Repeat("b", 700), "e": ""}
	for i := range 3 * wholeRunMin {
		files[fmt.Sprintf("many/%03d", i)] = strings.Repeat("m", i*31)
	}
	root, es := packFixture(t, files)
	for _, c := range []struct {
		name              string
		backwards, repack bool
		prepared          bool
	}{
		{name: "in order", prepared: true},
		{name: "back to front", backwards: true},
		{name: "compaction", repack: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := &shardLayout{name: "shard-000007.tar", key: "ds/shard-000007.tar", root: root}
			for _, e := range es {
				hdr, _ := tarHeader(e)
				l.add(e, int64(len(hdr)))
			}
			l.seal()
			s := testSink(t, PackOptions{})
			if c.repack {
				s.o.from = map[string]IndexMember{}
				for _, e := range es {
					s.o.from[e.Rel] = IndexMember{BLAKE3: checksum.Sum([]byte(files[e.Rel]))}
				}
			}
			f, err := s.shardJob(l).open(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			readChunks(t, f.(*shardReader), l.size, 4096, c.backwards)
			if (l.prep != nil) != c.prepared {
				t.Fatalf("prepared: %v, want %v", l.prep != nil, c.prepared)
			}
			if err := s.shardSent(context.Background(), l, FileResult{BLAKE3: "b3-of-shard"}); err != nil {
				t.Fatal(err)
			}
			lines := sinkLines(t, s)
			if len(lines) != len(l.members) {
				t.Fatalf("%d lines, want %d", len(lines), len(l.members))
			}
			for i, m := range l.members {
				want := IndexMember{Path: m.rel, Shard: l.name, Offset: m.data(), Size: m.size, MTimeNS: m.mtime,
					Mode: uint32(m.mode), BLAKE3: checksum.Sum([]byte(files[m.rel]))}
				if lines[i] != want {
					t.Errorf("line %d: %+v\nwant %+v", i, lines[i], want)
				}
			}
			if len(s.shards) != 1 || s.shards[0].BLAKE3 != "b3-of-shard" || s.shards[0].Members != len(l.members) {
				t.Errorf("shards %+v", s.shards)
			}
		})
	}
}

func TestShardMetaRestore(t *testing.T) {
	root, es := packFixture(t, map[string]string{"a.txt": strings.Repeat("a", 9000), "b.txt": "b", "c.txt": ""})
	layout := func() *shardLayout { return zlayout(root, es) }
	sent := layout()
	if err := sent.produce(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := layout()
	if !(&shardMeta{Z: sent.frames()}).restore(got) {
		t.Fatal("meta of the shard refused")
	}
	for i, m := range sent.members {
		if g := got.members[i]; g.zstart != m.zstart || g.zsize != m.zsize {
			t.Errorf("%s: frame at %d+%d, want %d+%d", m.rel, g.zstart, g.zsize, m.zstart, m.zsize)
		}
	}
	if got.zsize != sent.zsize {
		t.Errorf("zsize %d, want %d", got.zsize, sent.zsize)
	}
	if (&shardMeta{Z: sent.frames()[1:]}).restore(layout()) {
		t.Error("meta with a frame missing was taken")
	}
}
