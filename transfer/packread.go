package transfer

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"

	"github.com/airlift-io/airlift/checksum"
	"github.com/airlift-io/airlift/internal/outcome"
)

// packedParts groups an index's members by where their bytes are: each
// shard's members in offset order, then the files sent as objects.
type packedParts struct {
	shards []string
	by     map[string][]IndexMember // "" holds the plain objects
}

func partsOf(x *PackIndex) packedParts {
	p := packedParts{by: map[string][]IndexMember{}}
	for _, m := range x.Members {
		if _, ok := p.by[m.Shard]; !ok && m.Shard != "" {
			p.shards = append(p.shards, m.Shard)
		}
		p.by[m.Shard] = append(p.by[m.Shard], m)
	}
	sort.Strings(p.shards)
	for _, ms := range p.by {
		sort.Slice(ms, func(i, j int) bool { return ms[i].Offset < ms[j].Offset })
	}
	return p
}

// readPacked streams every shard (one GET each, read as a tar stream) and
// every plain object of x, in parallel up to conc, and calls fn with each
// member and a reader of its bytes. A shard or object that cannot be read
// fails its members through fail; fn's error stops the run.
func readPacked(ctx context.Context, api S3API, bucket, base string, x *PackIndex, conc int,
	fn func(m IndexMember, r io.Reader) error, fail func(m IndexMember, err error)) error {
	p := partsOf(x)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(conc, 1))
	for _, name := range p.shards {
		ms := p.by[name]
		g.Go(func() error {
			return readShard(gctx, api, bucket, base+name, ms, fn, fail)
		})
	}
	for _, m := range p.by[""] {
		g.Go(func() error {
			out, err := api.GetObject(gctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(base + m.Object)})
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				fail(m, wrapf(err, "GetObject %s", base+m.Object))
				return nil
			}
			defer out.Body.Close()
			return fn(m, out.Body)
		})
	}
	return g.Wait()
}

// readShard reads one shard as a tar stream and hands each member the
// index names to fn; a member missing from the shard, or one the shard
// holds under another name or at another offset, fails.
func readShard(ctx context.Context, api S3API, bucket, key string, ms []IndexMember,
	fn func(m IndexMember, r io.Reader) error, fail func(m IndexMember, err error)) error {
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for _, m := range ms {
			fail(m, wrapf(err, "GetObject %s", key))
		}
		return nil
	}
	defer out.Body.Close()
	var body io.Reader = out.Body
	if strings.HasSuffix(key, ".zst") {
		// The frames decompress as one stream into the tar.
		zr, err := zstd.NewReader(out.Body, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return err
		}
		defer zr.Close()
		body = zr
	}
	cr := &countingReader{r: body}
	tr := tar.NewReader(cr)
	i := 0
	for i < len(ms) {
		h, err := tr.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				err = errors.New("the shard ended before it")
			}
			for _, m := range ms[i:] {
				fail(m, fmt.Errorf("%s: %w", key, err))
			}
			return nil
		}
		m := ms[i]
		if cr.n < m.Offset {
			continue // a member the caller did not ask for
		}
		if h.Name != m.Path || cr.n != m.Offset || h.Size != m.Size {
			for _, m := range ms[i:] {
				fail(m, fmt.Errorf("%s holds %q (%d bytes at %d) where the index puts %q (%d bytes at %d); the shard does not match the index", key, h.Name, h.Size, cr.n, m.Path, m.Size, m.Offset))
			}
			return nil
		}
		if err := fn(m, tr); err != nil {
			return err
		}
		i++
	}
	return nil
}

// countingReader counts the bytes read through it: the offset in the
// shard of the member archive/tar is positioned at.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// unpack restores a packed dataset into dst: each shard is read once as a
// tar stream, each member written to a temporary name (through an
// os.Root, as every download is), checked against the size and BLAKE3 the
// index recorded, given its mode and mtime, and renamed into place.
func (d *Downloader) unpack(ctx context.Context, rep *Report, x *PackIndex, src Location, dst string) (*Report, error) {
	rep.Index = "s3://" + src.Bucket + "/" + x.Key
	rep.Shards = len(x.Header.Shards)
	claims := newPathClaims()
	var wanted []IndexMember
	for _, m := range x.Live() {
		if !d.o.Filter.Match(m.Path) {
			continue
		}
		rel, _, err := KeyToPath(m.Path)
		if err == nil {
			err = claims.claim(rel, m.Path, false)
		}
		if err != nil {
			d.Stats.FilesFailed.Add(1)
			rep.fail(Problem{Path: m.Path, Err: err.Error()})
			continue
		}
		d.Stats.FilesFound.Add(1)
		d.Stats.BytesFound.Add(m.Size)
		wanted = append(wanted, m)
	}
	d.Stats.WalkDone.Store(true)
	if len(wanted) == 0 && rep.Failed == 0 && !d.o.AllowEmpty {
		rep.Warn("no member of the packed dataset " + src.String() + " matched; nothing was created")
		rep.finish(d.Stats)
		return rep, ErrNothingMatched
	}
	if d.o.DryRun {
		for _, m := range wanted {
			if d.o.OnFile != nil {
				d.o.OnFile(FileResult{Path: filepath.Join(dst, filepath.FromSlash(m.Path)), Key: m.Path, Size: m.Size, DryRun: true})
			}
		}
		rep.finish(d.Stats)
		return rep, nil
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, outcome.As(outcome.Usage, fmt.Errorf("destination %s: %w", dst, unwrapPathError(err)))
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return nil, outcome.As(outcome.Usage, fmt.Errorf("destination %s: %w", dst, unwrapPathError(err)))
	}
	defer root.Close()
	sub := *x
	sub.Members = wanted
	fail := func(m IndexMember, err error) {
		d.Stats.FilesFailed.Add(1)
		rep.fail(problemOf(filepath.Join(dst, filepath.FromSlash(m.Path)), m.Path, err))
	}
	err = readPacked(ctx, d.api, src.Bucket, FolderPrefix(src), &sub, d.o.Concurrency, func(m IndexMember, r io.Reader) error {
		err := d.writeMember(ctx, root, m, r)
		switch {
		case err == nil:
			d.Stats.FilesDone.Add(1)
			d.Stats.BytesDone.Add(m.Size)
			if d.o.OnFile != nil {
				d.o.OnFile(FileResult{Path: filepath.Join(dst, filepath.FromSlash(m.Path)), Key: m.Path, Size: m.Size, BLAKE3: m.BLAKE3})
			}
		case errors.Is(err, errUpToDate):
			d.Stats.FilesSkipped.Add(1)
			d.Stats.BytesSkipped.Add(m.Size)
		case ctx.Err() != nil:
			return ctx.Err()
		case diskFull(err):
			return &FatalError{Reason: "writing " + m.Path, Err: err}
		default:
			fail(m, err)
		}
		return nil
	}, fail)
	rep.PeakBuffer = d.pool.Peak()
	rep.finish(d.Stats)
	if err != nil {
		return rep, classify(err)
	}
	return rep, ctx.Err()
}

// writeMember writes one member from r (positioned at its data).
func (d *Downloader) writeMember(ctx context.Context, root *os.Root, m IndexMember, r io.Reader) error {
	dir := path.Dir(m.Path)
	if dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("making folder %s: %w", dir, unwrapPathError(err))
		}
	}
	if _, err := root.Lstat(m.Path); err == nil {
		sum, err := hashLocal(root, m.Path)
		switch {
		case err != nil:
			return err
		case sum == m.BLAKE3:
			return errUpToDate
		case !d.o.Overwrite:
			return errDiffers
		}
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(dir, tmpPrefix+strconv.Itoa(os.Getpid())+"-"+hex.EncodeToString(rnd[:])+".tmp")
	f, err := root.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating a temporary file in %s: %w", dir, unwrapPathError(err))
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			_ = root.Remove(tmp)
		}
	}()
	buf, err := d.pool.Get(ctx, 256<<10)
	if err != nil {
		return err
	}
	defer d.pool.Put(buf)
	h := checksum.NewHasher()
	n, err := io.CopyBuffer(io.MultiWriter(f, h, sentCounter{&d.Stats.BytesSent}), io.LimitReader(r, m.Size), buf)
	if err != nil {
		return err
	}
	if n != m.Size {
		return fmt.Errorf("read %d bytes, the index records %d", n, m.Size)
	}
	if got := h.Hex(); got != m.BLAKE3 {
		return fmt.Errorf("BLAKE3 of the bytes read is %s, but the index recorded %s; not written", got, m.BLAKE3)
	}
	if err := f.Chmod(os.FileMode(m.Mode).Perm()); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	done = true
	if err := root.Rename(tmp, m.Path); err != nil {
		_ = root.Remove(tmp)
		return fmt.Errorf("renaming into place: %w", UnwrapPathError(err))
	}
	mt := time.Unix(0, m.MTimeNS)
	return root.Chtimes(m.Path, mt, mt)
}

// sentCounter counts bytes into a Stats counter, for progress.
type sentCounter struct{ n *atomic.Int64 }

func (c sentCounter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }

// verifyPacked compares the tree at src with a packed dataset: by size,
// then by BLAKE3, taken from the index (fast) or from the shards read back
// (deep).
func verifyPacked(ctx context.Context, api S3API, src Source, remote Location, x *PackIndex, o VerifyOptions, rep *VerifyReport, st *Stats) error {
	live := x.Live()
	byPath := make(map[string]IndexMember, len(live))
	for _, m := range live {
		if o.Walk.Filter.Match(m.Path) {
			byPath[m.Path] = m
		}
	}
	rep.Objects = int64(len(byPath))
	remoteSums := map[string]string{}
	if o.Deep {
		var mu = &rep.mu
		sub := *x
		sub.Members = live
		err := readPacked(ctx, api, remote.Bucket, FolderPrefix(remote), &sub, o.Concurrency, func(m IndexMember, r io.Reader) error {
			h := checksum.NewHasher()
			n, err := io.Copy(io.MultiWriter(h, sentCounter{&st.BytesSent}), io.LimitReader(r, m.Size))
			if err != nil {
				return err
			}
			if n == m.Size {
				mu.Lock()
				remoteSums[m.Path] = h.Hex()
				mu.Unlock()
			}
			return nil
		}, func(m IndexMember, err error) {
			rep.add(Difference{Kind: CompareFailed, Rel: m.Path, Key: m.Shard + m.Object, Detail: err.Error()})
		})
		if err != nil {
			return err
		}
		rep.ReadBytes = st.BytesSent.Load()
	}
	seen := map[string]bool{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(o.Concurrency, 1))
	var equal, equalBytes atomic.Int64
	err := src.Walk(gctx, func(e Entry) error {
		if e.Skip != "" || IsOwnPath(e.Rel) {
			return nil
		}
		rep.LocalFiles++
		m, ok := byPath[e.Rel]
		seen[e.Rel] = true
		d := Difference{Rel: e.Rel, Path: e.Path, Key: m.Shard + m.Object}
		switch {
		case !ok:
			d.Kind, d.Local = MissingRemote, strconv.FormatInt(e.Size, 10)
		case e.Err != nil:
			d.Kind, d.Detail = CompareFailed, e.Err.Error()
		case e.Size != m.Size:
			d.Kind, d.Local, d.Remote = SizeDiffers, strconv.FormatInt(e.Size, 10), strconv.FormatInt(m.Size, 10)
		}
		if d.Kind != "" {
			rep.add(d)
			return nil
		}
		want, from := m.BLAKE3, "index"
		if o.Deep {
			if want, ok = remoteSums[m.Path]; !ok {
				return nil // reported when its shard was read
			}
			from = ""
		}
		st.FilesFound.Add(1)
		st.BytesFound.Add(e.Size)
		g.Go(func() error {
			local, err := hashFile(e.Path)
			switch {
			case err != nil:
				d.Kind, d.Detail = CompareFailed, err.Error()
			case local != want:
				d.Kind, d.Local, d.Remote = HashDiffers, local, want
			}
			if from != "" {
				rep.mu.Lock()
				rep.HashSources[from]++
				rep.mu.Unlock()
			}
			if d.Kind != "" {
				st.FilesFailed.Add(1)
				rep.add(d)
				return nil
			}
			equal.Add(1)
			equalBytes.Add(e.Size)
			st.FilesDone.Add(1)
			st.BytesDone.Add(e.Size)
			return nil
		})
		return nil
	})
	if werr := g.Wait(); err == nil {
		err = werr
	}
	st.WalkDone.Store(true)
	if err != nil {
		return err
	}
	for p, m := range byPath {
		if !seen[p] {
			rep.add(Difference{Kind: MissingLocal, Rel: p, Key: m.Shard + m.Object, Remote: strconv.FormatInt(m.Size, 10)})
		}
	}
	rep.Equal, rep.EqualBytes = equal.Load(), equalBytes.Load()
	return nil
}

// ErrNotPacked says no packed dataset holds the path cat was given.
var ErrNotPacked = errors.New("no packed dataset (.airlift/index/) found above this path")

// Cat writes the member at loc (bucket/dataset-prefix/path-in-dataset) to
// w with one ranged GET through the index of the nearest packed dataset
// above it, and checks its BLAKE3 once written; a mismatch is an error
// (the bytes have gone out by then: w is a stream).
func Cat(ctx context.Context, api S3API, loc Location, w io.Writer) (IndexMember, error) {
	p := strings.Trim(loc.Prefix, "/")
	for i := len(p); i > 0; i = strings.LastIndexByte(p[:i], '/') {
		base, rel := p[:i], ""
		if i < len(p) {
			rel = p[i+1:]
		}
		if rel == "" {
			continue
		}
		x, err := LoadPackIndex(ctx, api, Location{Bucket: loc.Bucket, Prefix: base})
		if err != nil {
			return IndexMember{}, err
		}
		if x == nil {
			continue
		}
		return catMember(ctx, api, loc.Bucket, base+"/", x, rel, w)
	}
	x, err := LoadPackIndex(ctx, api, Location{Bucket: loc.Bucket})
	if err == nil && x == nil {
		err = fmt.Errorf("%s: %w", loc, ErrNotPacked)
	}
	if err != nil {
		return IndexMember{}, err
	}
	return catMember(ctx, api, loc.Bucket, "", x, p, w)
}

func catMember(ctx context.Context, api S3API, bucket, base string, x *PackIndex, rel string, w io.Writer) (IndexMember, error) {
	i := slicesIndex(x.Members, rel)
	if i < 0 {
		return IndexMember{}, fmt.Errorf("%s is not in the packed dataset s3://%s/%s (index %s)", rel, bucket, base, path.Base(x.Key))
	}
	m := x.Members[i]
	h := checksum.NewHasher()
	if m.ZSize > 0 {
		// One frame of a compressed shard: fetched whole, decompressed,
		// the member's data cut out of it.
		key := base + m.Shard
		out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
			Range: aws.String(fmt.Sprintf("bytes=%d-%d", m.ZOffset, m.ZOffset+m.ZSize-1))})
		if err != nil {
			return m, wrapf(err, "GetObject %s", key)
		}
		defer out.Body.Close()
		zr, err := zstd.NewReader(out.Body, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return m, err
		}
		defer zr.Close()
		if _, err := io.CopyN(io.Discard, zr, m.ZSkip); err != nil {
			return m, fmt.Errorf("frame of %s in %s: %w", rel, key, err)
		}
		if n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(zr, m.Size)); err != nil || n != m.Size {
			return m, fmt.Errorf("frame of %s in %s: %d of %d bytes: %v", rel, key, n, m.Size, err)
		}
	} else if m.Size > 0 {
		in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(base + m.Shard + m.Object)}
		if m.Shard != "" {
			in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", m.Offset, m.Offset+m.Size-1))
		}
		out, err := api.GetObject(ctx, in)
		if err != nil {
			return m, wrapf(err, "GetObject %s", aws.ToString(in.Key))
		}
		defer out.Body.Close()
		n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(out.Body, m.Size))
		if err != nil {
			return m, err
		}
		if n != m.Size {
			return m, fmt.Errorf("read %d bytes of %s, the index records %d", n, rel, m.Size)
		}
	}
	if got := h.Hex(); got != m.BLAKE3 {
		return m, fmt.Errorf("BLAKE3 of %s read is %s, the index recorded %s", rel, got, m.BLAKE3)
	}
	return m, nil
}

func slicesIndex(ms []IndexMember, rel string) int {
	for i := range ms {
		if ms[i].Path == rel && ms[i].State == "" {
			return i
		}
	}
	return -1
}
