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

// readPacked reads the live members of x that keep accepts: each shard's
// run of members with one GET (read as a tar stream), each file sent as an
// object of its own with one GET, up to conc at once, and calls fn with
// each member and a reader of its bytes. keep sees the members in the
// index's order, on one goroutine, as the index is read line by line;
// only the members of the shards being read are held (the index keeps a
// shard's lines together, in tar order). A shard or object that cannot
// be read fails its members through fail; an error from keep or fn stops
// the run.
func readPacked(ctx context.Context, api S3API, bucket, base string, x *PackIndex, conc int,
	keep func(m IndexMember) (bool, error), fn func(m IndexMember, r io.Reader) error, fail func(m IndexMember, err error)) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(conc, 1))
	var run []IndexMember // a shard's members, until the next shard's line
	flush := func() {
		if len(run) == 0 {
			return
		}
		ms := run
		run = nil
		// In tar order already, unless the index was written otherwise.
		sort.SliceStable(ms, func(i, j int) bool { return ms[i].Offset < ms[j].Offset })
		g.Go(func() error { return readShard(gctx, api, bucket, base+ms[0].Shard, ms, fn, fail) })
	}
	err := x.ScanLive(gctx, func(m IndexMember) error {
		if ok, err := keep(m); err != nil || !ok {
			return err
		}
		if m.Shard != "" {
			if len(run) > 0 && run[0].Shard != m.Shard {
				flush()
			}
			run = append(run, m)
			return nil
		}
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
		return nil
	})
	if err == nil {
		flush()
	}
	if werr := g.Wait(); werr != nil {
		err = werr // what stopped the readers, rather than the scan they cancelled
	}
	return err
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
	// Every path restored (and its folders) is claimed, since two members
	// may clash (a file where another needs a folder) from anywhere in
	// the index: this map of paths is the one thing a download keeps per
	// member; the members themselves pass as the index is read.
	claims := newPathClaims()
	var root *os.Root
	var rootErr error
	defer func() {
		if root != nil {
			root.Close()
		}
	}()
	matched := 0
	keep := func(m IndexMember) (bool, error) {
		if !d.o.Filter.Match(m.Path) {
			return false, nil
		}
		rel, _, err := KeyToPath(m.Path)
		if err == nil {
			err = claims.claim(rel, m.Path, false)
		}
		if err != nil {
			d.Stats.FilesFailed.Add(1)
			rep.fail(Problem{Path: m.Path, Err: err.Error()})
			return false, nil
		}
		d.Stats.FilesFound.Add(1)
		d.Stats.BytesFound.Add(m.Size)
		matched++
		if d.o.DryRun {
			if d.o.OnFile != nil {
				d.o.OnFile(FileResult{Path: filepath.Join(dst, filepath.FromSlash(m.Path)), Key: m.Path, Size: m.Size, DryRun: true})
			}
			return false, nil
		}
		if root == nil {
			// Made once a member is to be written: a dataset of which
			// nothing matched creates nothing.
			if root, rootErr = openDest(dst); rootErr != nil {
				return false, rootErr
			}
		}
		return true, nil
	}
	fail := func(m IndexMember, err error) {
		d.Stats.FilesFailed.Add(1)
		rep.fail(problemOf(filepath.Join(dst, filepath.FromSlash(m.Path)), m.Path, err))
	}
	err := readPacked(ctx, d.api, src.Bucket, FolderPrefix(src), x, d.o.Concurrency, keep, func(m IndexMember, r io.Reader) error {
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
	d.Stats.WalkDone.Store(true)
	if rootErr != nil {
		return nil, rootErr
	}
	if err == nil && matched == 0 && rep.Failed == 0 && !d.o.AllowEmpty {
		rep.Warn("no member of the packed dataset " + src.String() + " matched; nothing was created")
		rep.finish(d.Stats)
		return rep, ErrNothingMatched
	}
	rep.PeakBuffer = d.pool.Peak()
	rep.finish(d.Stats)
	if err != nil {
		return rep, classify(err)
	}
	return rep, ctx.Err()
}

// openDest makes the download's destination folder and opens it as the
// root every member is written under.
func openDest(dst string) (*os.Root, error) {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, outcome.As(outcome.Usage, fmt.Errorf("destination %s: %w", dst, unwrapPathError(err)))
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return nil, outcome.As(outcome.Usage, fmt.Errorf("destination %s: %w", dst, unwrapPathError(err)))
	}
	return root, nil
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
	// The local walk comes in key order and the index in upload order, so
	// each local file is looked up by path here, and what no local file
	// claimed is reported missing: a map of what a comparison needs
	// (size, BLAKE3, where), not of the member lines.
	type packedFile struct {
		size         int64
		blake3, key  string
		remote, seen bool // deep: read back; a local file has it
	}
	byPath := map[string]*packedFile{}
	err := x.ScanLive(ctx, func(m IndexMember) error {
		if o.Walk.Filter.Match(m.Path) {
			byPath[m.Path] = &packedFile{size: m.Size, blake3: m.BLAKE3, key: m.Shard + m.Object}
		}
		return nil
	})
	if err != nil {
		return err
	}
	rep.Objects = int64(len(byPath))
	if o.Deep {
		// The shards' bytes replace the index's BLAKE3.
		mu := &rep.mu
		err := readPacked(ctx, api, remote.Bucket, FolderPrefix(remote), x, o.Concurrency, func(m IndexMember) (bool, error) {
			return byPath[m.Path] != nil, nil
		}, func(m IndexMember, r io.Reader) error {
			h := checksum.NewHasher()
			n, err := io.Copy(io.MultiWriter(h, sentCounter{&st.BytesSent}), io.LimitReader(r, m.Size))
			if err != nil {
				return err
			}
			if n == m.Size {
				mu.Lock()
				byPath[m.Path].blake3, byPath[m.Path].remote = h.Hex(), true
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
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(o.Concurrency, 1))
	var equal, equalBytes atomic.Int64
	err = src.Walk(gctx, func(e Entry) error {
		if e.Skip != "" || IsOwnPath(e.Rel) {
			return nil
		}
		rep.LocalFiles++
		m, ok := byPath[e.Rel]
		d := Difference{Rel: e.Rel, Path: e.Path}
		if ok {
			m.seen, d.Key = true, m.key
		}
		switch {
		case !ok:
			d.Kind, d.Local = MissingRemote, strconv.FormatInt(e.Size, 10)
		case e.Err != nil:
			d.Kind, d.Detail = CompareFailed, e.Err.Error()
		case e.Size != m.size:
			d.Kind, d.Local, d.Remote = SizeDiffers, strconv.FormatInt(e.Size, 10), strconv.FormatInt(m.size, 10)
		}
		if d.Kind != "" {
			rep.add(d)
			return nil
		}
		want, from := m.blake3, "index"
		if o.Deep {
			if !m.remote {
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
		if !m.seen {
			rep.add(Difference{Kind: MissingLocal, Rel: p, Key: m.key, Remote: strconv.FormatInt(m.size, 10)})
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
	var m IndexMember
	err := x.ScanLive(ctx, func(im IndexMember) error {
		if im.Path != rel {
			return nil
		}
		m = im
		return errFound // read no further
	})
	switch {
	case errors.Is(err, errFound):
	case err != nil:
		return m, err
	default:
		return m, fmt.Errorf("%s is not in the packed dataset s3://%s/%s (index %s)", rel, bucket, base, path.Base(x.Key))
	}
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

// errFound stops a scan of the index once it found what it looked for.
var errFound = errors.New("found")
