package transfer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/airlift-io/airlift/checksum"
	"github.com/airlift-io/airlift/internal/outcome"
)

// DownloadOptions shape a download run. Zero values take the defaults
// noted.
type DownloadOptions struct {
	Sizing // PartSize is the ranged-GET size; Concurrency 0: 64
	Filter *Filter
	DryRun bool
	// AllowEmpty makes a source under which nothing matched a success
	// (an empty destination folder is made); without it, such a run
	// creates nothing and returns ErrNothingMatched.
	AllowEmpty bool
	// Overwrite replaces local files that differ from their objects.
	// Without it they are reported and left as they are. Files equal to
	// their objects (size and BLAKE3) are skipped either way.
	Overwrite bool

	// OnFile, when set, is called once for every object written (or, in a
	// dry run, that would be), from the goroutine that wrote it.
	OnFile func(FileResult)
}

// ErrNothingMatched says a download found no object to write: most often
// a mistyped prefix. Nothing was created.
var ErrNothingMatched = errors.New("no object matched")

// errUpToDate says the local file already holds the object's bytes.
var errUpToDate = errors.New("already downloaded")

// Downloader copies the objects under a prefix into a local folder.
type Downloader struct {
	api   S3API
	o     DownloadOptions
	pool  *Pool
	Stats *Stats

	swept     sync.Map     // folders swept for leftover temporary files
	leftovers atomic.Int64 // leftover temporary files removed
}

// NewDownloader checks o and returns a downloader.
func NewDownloader(api S3API, o DownloadOptions, st *Stats) (*Downloader, error) {
	if err := o.normalize(64, DefaultDownloadParts); err != nil {
		return nil, err
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if st == nil {
		st = &Stats{}
	}
	return &Downloader{api: api, o: o, pool: NewPool(o.MaxMemory), Stats: st}, nil
}

func (d *Downloader) SetAPI(api S3API) { d.api = api }

type downloadJob struct {
	obj Object
	rel string // checked local path, slash-separated
}

// Copy downloads every object below src (as a folder) into the folder
// dst, creating it if needed.
//
// dst is opened once as an os.Root, and every file is created, renamed
// and every folder made through it: a destination that is itself a
// symbolic link is followed (the link is resolved once, at the start),
// but no symbolic link found inside it can lead a write outside it. Keys
// that would escape (see KeyToPath), and keys that land on a path another
// key already took, are reported as failures and not written.
//
// Each object is written to a temporary name in its final folder
// (".airlift-dl-PID-*.tmp"), checked against the listed size and the BLAKE3
// recorded at upload (manifest, metadata or tag) where there is one,
// fsynced and renamed into place, and given the source file's mtime from
// the manifest (else the object's LastModified): the final path only ever holds a
// complete, checked file. A disk that is full or failing stops the run
// with an error naming the file; files already completed stay.
func (d *Downloader) Copy(ctx context.Context, src Location, dst string) (*Report, error) {
	rep := &Report{Source: src.String(), Dest: dst, RunID: NewRunID(), Started: time.Now(), DryRun: d.o.DryRun, Failures: []Problem{}}
	if d.Stats.Retries == nil {
		d.Stats.Retries = new(atomic.Int64)
	}
	if w := src.Warning(); w != "" {
		rep.Warn(w)
	}
	// The destination is made when the first object to write is found,
	// so that a prefix under which nothing matches leaves no empty
	// folder behind.
	var root *os.Root
	var rootErr error
	openRoot := func() error {
		if d.o.DryRun || root != nil {
			return nil
		}
		if err := os.MkdirAll(dst, 0o755); err != nil {
			rootErr = outcome.As(outcome.Usage, fmt.Errorf("destination %s: %w", dst, unwrapPathError(err)))
			return rootErr
		}
		r, err := os.OpenRoot(dst)
		if err != nil {
			rootErr = outcome.As(outcome.Usage, fmt.Errorf("destination %s: %w", dst, unwrapPathError(err)))
			return rootErr
		}
		root = r
		return nil
	}
	defer func() {
		if root != nil {
			root.Close()
		}
	}()
	// One listing of .airlift/ finds the run manifests, and the index of
	// a packed dataset, which is restored from its shards through it.
	own, err := listOwn(ctx, d.api, src)
	var x *PackIndex
	if err == nil {
		x, err = loadPackIndex(ctx, d.api, src, own.indexes)
	}
	if err != nil {
		if err = classify(err); !IsFatal(err) && !canceled(err) {
			err = outcome.As(outcome.Usage, err) // nothing could start
		}
		return nil, err
	}
	if x != nil {
		return d.unpack(ctx, rep, x, src, dst)
	}
	var man *Manifests
	if !d.o.DryRun {
		m, err := loadManifests(ctx, d.api, src, own.manifests, rep.Warn)
		if err != nil {
			if err = classify(err); !IsFatal(err) && !canceled(err) {
				err = outcome.As(outcome.Usage, err) // nothing could start
			}
			return nil, err
		}
		man = m
	}
	if err := d.o.Filter.Resolve(ctx, (&Bucket{API: d.api, Loc: src, Filter: d.o.Filter}).Walk); err != nil {
		return nil, classify(err)
	}
	rep.Selection = d.o.Filter.Selection()
	fe := newFetcher(d.api, src.Bucket, d.pool, d.o.PartSize, d.o.PartConcurrency, d.Stats)

	g, gctx := errgroup.WithContext(ctx)
	jobs := make(chan downloadJob, 256)
	claims := newPathClaims()
	matched := 0
	handle := func(o Object) error {
		if o.Rel == "" || !d.o.Filter.Match(o.Rel) {
			return nil // the prefix's own folder marker, or filtered out
		}
		matched++
		if err := openRoot(); err != nil {
			return err
		}
		d.Stats.FilesFound.Add(1)
		d.Stats.BytesFound.Add(o.Size)
		rel, dir, err := KeyToPath(o.Rel)
		// "a/" with content is written as the file "a" (and collides
		// with a key "a"); only an empty one is a folder marker.
		dir = dir && o.Size == 0
		if err == nil {
			err = claims.claim(rel, o.Key, dir)
		}
		if err != nil {
			d.Stats.FilesFailed.Add(1)
			p := ""
			if rel != "" {
				p = filepath.Join(dst, filepath.FromSlash(rel))
			}
			rep.fail(Problem{Path: p, Key: o.Key, Err: err.Error()})
			return nil
		}
		if dir {
			// A folder marker: make the folder, count nothing.
			d.Stats.FilesFound.Add(-1)
			if root != nil {
				if err := root.MkdirAll(rel, 0o755); err != nil {
					d.Stats.FilesFound.Add(1)
					d.Stats.FilesFailed.Add(1)
					rep.fail(Problem{Path: filepath.Join(dst, filepath.FromSlash(rel)), Key: o.Key, Err: unwrapPathError(err).Error()})
				}
			}
			return nil
		}
		return send(gctx, jobs, downloadJob{obj: o, rel: rel})
	}
	g.Go(func() error {
		defer close(jobs)
		defer d.Stats.WalkDone.Store(true)
		listed := 0
		err := ListFolder(gctx, d.api, src, func(o Object) error {
			listed++
			return handle(o)
		})
		if err != nil || listed > 0 || src.Prefix == "" || strings.HasSuffix(src.Prefix, "/") {
			return err
		}
		// Nothing below "prefix/": the URL may name one object, as in
		// `airlift copy s3://bucket/data/file.bin DIR`.
		o, found, err := headObject(gctx, d.api, src.Bucket, src.Prefix)
		if err != nil || !found {
			return err
		}
		return handle(o)
	})
	for i := 0; i < d.o.Concurrency; i++ {
		g.Go(func() error {
			for j := range jobs {
				if err := gctx.Err(); err != nil {
					return err
				}
				if err := d.one(gctx, rep, root, fe, man, src, dst, j); err != nil {
					return err
				}
			}
			return nil
		})
	}
	err = g.Wait()
	fe.close()
	if rootErr != nil {
		return nil, rootErr
	}
	if err == nil && matched == 0 && ctx.Err() == nil {
		if d.o.AllowEmpty {
			err = openRoot()
		} else {
			what := "no object found under " + src.String()
			if !d.o.Filter.Empty() {
				what = "no object under " + src.String() + " matched the filters"
			}
			rep.Warn(what + "; nothing was created")
			err = ErrNothingMatched
		}
	}
	rep.PeakBuffer = d.pool.Peak()
	if w := selectedNoneWarning(d.o.Filter); w != "" {
		rep.Warn(w)
	}
	if n := d.leftovers.Load(); n > 0 {
		rep.Warn(fmt.Sprintf("removed %d temporary file(s) that an interrupted download had left behind", n))
	}
	rep.finish(d.Stats)
	rep.RestoreList.sort()
	if err != nil {
		return rep, classify(err)
	}
	return rep, ctx.Err()
}

// one downloads a single object; it returns an error only when the run
// must stop.
func (d *Downloader) one(ctx context.Context, rep *Report, root *os.Root, fe *fetcher, man *Manifests, src Location, dst string, j downloadJob) error {
	local := filepath.Join(dst, filepath.FromSlash(j.rel))
	res := FileResult{Path: local, Key: j.obj.Key, Size: j.obj.Size, ETag: j.obj.ETag}
	var err error
	if d.o.DryRun {
		res.DryRun = true
	} else {
		res.BLAKE3, err = d.write(ctx, root, fe, man, src, j)
	}
	if errors.Is(err, errUpToDate) {
		d.Stats.FilesSkipped.Add(1)
		d.Stats.BytesSkipped.Add(j.obj.Size)
		return nil
	}
	if err == nil {
		d.Stats.FilesDone.Add(1)
		d.Stats.BytesDone.Add(j.obj.Size)
		if d.o.OnFile != nil {
			d.o.OnFile(res)
		}
		return nil
	}
	if ctx.Err() != nil && canceled(err) {
		return ctx.Err()
	}
	var nr *NeedsRestoreError
	if errors.As(err, &nr) {
		// Not a failure of this object, nor one to repeat for each: it is
		// named once in the report, with what to do.
		rep.RestoreList.add(nr.Key)
		return nil
	}
	// A file that stops the run failed too: the summary must agree
	// with the exit code.
	if diskFull(err) {
		d.Stats.FilesFailed.Add(1)
		rep.fail(problemOf(local, j.obj.Key, err))
		return &FatalError{Reason: "cannot write " + local, Err: unwrapPathError(err)}
	}
	err = classify(err)
	if IsFatal(err) {
		d.Stats.FilesFailed.Add(1)
		rep.fail(problemOf(local, j.obj.Key, err))
		return err
	}
	d.Stats.FilesFailed.Add(1)
	rep.fail(problemOf(local, j.obj.Key, err))
	return nil
}

// diskFull reports write errors that no other file will escape.
func diskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EIO)
}

// tmpPrefix starts the temporary names downloads write to; the PID that
// follows says whose it is.
const tmpPrefix = ".airlift-dl-"

// sweep removes, once per folder and run, the temporary files that a
// download killed before it could clean up (SIGKILL, power loss) left in
// dir: those whose process is gone. A live process's files are never
// touched, even if its PID was reused by something else.
func (d *Downloader) sweep(root *os.Root, dir string) {
	if _, seen := d.swept.LoadOrStore(dir, true); seen {
		return
	}
	f, err := root.Open(dir)
	if err != nil {
		return
	}
	defer f.Close()
	self := os.Getpid()
	for {
		names, err := f.Readdirnames(1024)
		for _, name := range names {
			rest, ok := strings.CutPrefix(name, tmpPrefix)
			if !ok || !strings.HasSuffix(rest, ".tmp") {
				continue
			}
			pidStr, _, ok := strings.Cut(rest, "-")
			pid, perr := strconv.Atoi(pidStr)
			if !ok || perr != nil || pid <= 0 || pid == self || processAlive(pid) {
				continue
			}
			if root.Remove(path.Join(dir, name)) == nil {
				d.leftovers.Add(1)
			}
		}
		if err != nil {
			return
		}
	}
}

// processAlive reports whether pid names a running process (one we may
// not signal is running too).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// write fetches j into a temporary file beside its final path, checks it,
// and renames it into place; on any failure the temporary file is
// removed.
func (d *Downloader) write(ctx context.Context, root *os.Root, fe *fetcher, man *Manifests, src Location, j downloadJob) (sum string, err error) {
	// A file already there may hold the object's bytes, archived or not;
	// else an archived object is passed over before its folder is made.
	have, err := d.existing(ctx, root, man, src, j)
	if err != nil {
		return "", err
	}
	if err := readable(ctx, d.api, src.Bucket, j.obj); err != nil {
		return "", err
	}
	dir := path.Dir(j.rel)
	if dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("making folder %s: %w", dir, unwrapPathError(err))
		}
	}
	d.sweep(root, dir)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(dir, tmpPrefix+strconv.Itoa(os.Getpid())+"-"+hex.EncodeToString(rnd[:])+".tmp")
	f, err := root.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", fmt.Errorf("creating a temporary file in %s: %w", dir, unwrapPathError(err))
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			_ = root.Remove(tmp)
		}
	}()
	got, err := fe.fetch(ctx, j.obj, f)
	if err != nil {
		return "", err
	}
	want, from := "", ""
	if s, ok := man.Lookup(j.obj); ok {
		want, from = s, "the run manifest"
	} else if got.Recorded != "" {
		want, from = got.Recorded, "x-amz-meta-blake3"
	} else if j.obj.Multipart() {
		s, _, terr := RecordedBLAKE3(ctx, d.api, src.Bucket, j.obj, nil)
		if terr != nil && (canceled(terr) || IsFatal(classify(terr))) {
			return "", terr
		}
		want, from = s, "the object tag "+checksum.TagKey
	}
	if want != "" && want != got.BLAKE3 {
		return "", fmt.Errorf("BLAKE3 of the bytes read is %s, but %s recorded %s at upload; not written", got.BLAKE3, from, want)
	}
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if fi.Size() != j.obj.Size {
		return "", fmt.Errorf("wrote %d bytes, the object has %d", fi.Size(), j.obj.Size)
	}
	if have != nil {
		// No BLAKE3 was recorded to compare with before reading: compare
		// what was read.
		if have.sum == got.BLAKE3 {
			return "", errUpToDate
		}
		if !d.o.Overwrite {
			return "", errDiffers
		}
		// Replacing a file keeps its permissions (a read-only file
		// stays read-only).
		if err := f.Chmod(have.mode.Perm()); err != nil {
			return "", err
		}
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("fsync: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	done = true
	if err := root.Rename(tmp, j.rel); err != nil {
		_ = root.Remove(tmp)
		return "", fmt.Errorf("renaming into place: %w", UnwrapPathError(err))
	}
	// The source file's mtime when a manifest recorded it, else the
	// object's, as aws s3 cp does; a later upload or sync compares by it.
	mt, ok := man.MTime(j.obj)
	if !ok {
		mt = j.obj.Modified
	}
	if !mt.IsZero() {
		_ = root.Chtimes(j.rel, time.Now(), mt)
	}
	return got.BLAKE3, nil
}

// errDiffers refuses to replace a local file without Overwrite.
var errDiffers = errors.New("a different file is already there (size or BLAKE3 differ from the object's); not replaced")

// localFile is a file already at a download's path.
type localFile struct {
	sum  string // its BLAKE3; "" until compared
	mode os.FileMode
}

// existing looks at the file already at j's path, if any. It returns
// errUpToDate when the file holds the object's bytes (same size, and the
// BLAKE3 recorded at upload matches the file's), errDiffers when it does
// not and Overwrite is off, and otherwise what the caller must still
// compare after reading the object (nil: nothing is there, or it is to be
// replaced regardless).
func (d *Downloader) existing(ctx context.Context, root *os.Root, man *Manifests, src Location, j downloadJob) (*localFile, error) {
	fi, err := root.Lstat(j.rel)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if !fi.Mode().IsRegular() {
		if d.o.Overwrite {
			return nil, nil
		}
		return nil, fmt.Errorf("a %s is already there; not replaced", fileKind(fi.Mode()))
	}
	if fi.Size() != j.obj.Size {
		if !d.o.Overwrite {
			return nil, errDiffers
		}
		return &localFile{mode: fi.Mode()}, nil
	}
	local, err := hashLocal(root, j.rel)
	if err != nil {
		return nil, fmt.Errorf("reading the file already there: %w", err)
	}
	want, _, err := RecordedBLAKE3(ctx, d.api, src.Bucket, j.obj, man)
	if err != nil && (canceled(err) || IsFatal(classify(err))) {
		return nil, err
	}
	switch {
	case want == "":
		// Nothing recorded to compare with: the object is read and
		// compared instead.
		return &localFile{sum: local, mode: fi.Mode()}, nil
	case want == local:
		return nil, errUpToDate
	case !d.o.Overwrite:
		return nil, errDiffers
	}
	return &localFile{mode: fi.Mode()}, nil
}

func hashLocal(root *os.Root, rel string) (string, error) {
	f, err := root.Open(rel)
	if err != nil {
		return "", unwrapPathError(err)
	}
	defer f.Close()
	h := checksum.NewHasher()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return h.Hex(), nil
}

// headObject finds the single object key, for a source URL that names one.
func headObject(ctx context.Context, api S3API, bucket, key string) (Object, bool, error) {
	out, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		if c := APIErrorCode(err); c == "NotFound" || c == "NoSuchKey" || c == "404" {
			return Object{}, false, nil
		}
		return Object{}, false, wrapf(err, "HeadObject %s", key)
	}
	return Object{Key: key, Rel: path.Base(key), Size: aws.ToInt64(out.ContentLength), ETag: trimETag(aws.ToString(out.ETag)),
		Modified: aws.ToTime(out.LastModified), StorageClass: string(out.StorageClass)}, true, nil
}
