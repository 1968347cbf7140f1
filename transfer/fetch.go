package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/airlift-io/airlift/checksum"
)

// ErrObjectChanged says an object was overwritten while it was being
// read: its ETag no longer matched, so the bytes read so far belong to an
// older version and are thrown away rather than mixed with newer ones.
var ErrObjectChanged = errors.New("object changed while it was being read (its ETag no longer matches)")

// fetcher reads objects back: small ones with one GET, large ones as
// ranged GETs in parallel (shared by every object in the run), each
// pinned to the listed ETag with If-Match. Bytes are hashed in order and
// handed to a writer as they arrive, so the run's memory is the pool's.
type fetcher struct {
	api      S3API
	bucket   string
	pool     *Pool
	partSize int64
	st       *Stats
	ranges   chan *rangeJob
	wg       sync.WaitGroup
}

// writeError marks a failure of the local writer, as opposed to the read
// from S3: the caller decides whether the disk is the problem.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

func newFetcher(api S3API, bucket string, pool *Pool, partSize int64, conc int, st *Stats) *fetcher {
	f := &fetcher{api: api, bucket: bucket, pool: pool, partSize: partSize, st: st, ranges: make(chan *rangeJob)}
	for i := 0; i < conc; i++ {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for j := range f.ranges {
				f.getRange(j)
			}
		}()
	}
	return f
}

// close stops the range workers; no fetch may be running.
func (f *fetcher) close() {
	close(f.ranges)
	f.wg.Wait()
}

// fetched is what one read of an object yields.
type fetched struct {
	BLAKE3   string // of the bytes read
	Recorded string // BLAKE3 from the object's metadata, if any
}

// fetch reads o whole, writing its bytes to w at their offsets (w may be
// nil: only the hash is wanted).
func (f *fetcher) fetch(ctx context.Context, o Object, w io.WriterAt) (fetched, error) {
	if o.Size <= f.partSize {
		return f.whole(ctx, o, w)
	}
	return f.ranged(ctx, o, w)
}

func (f *fetcher) get(ctx context.Context, o Object, rng string) (*s3.GetObjectOutput, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(f.bucket), Key: aws.String(o.Key), IfMatch: etagHeader(o.ETag)}
	if rng != "" {
		in.Range = aws.String(rng)
	}
	out, err := f.api.GetObject(ctx, in)
	if err != nil {
		if c := APIErrorCode(err); c == "PreconditionFailed" || c == "412" {
			return nil, fmt.Errorf("GetObject %s: %w", o.Key, ErrObjectChanged)
		}
		return nil, wrapf(restoreOf(err, o.Key), "GetObject %s", o.Key)
	}
	return out, nil
}

func (f *fetcher) whole(ctx context.Context, o Object, w io.WriterAt) (fetched, error) {
	out, err := f.get(ctx, o, "")
	if err != nil {
		return fetched{}, err
	}
	defer func() { out.Body.Close() }()
	res := fetched{Recorded: out.Metadata[checksum.MetaKey]}
	if out.ContentLength != nil && *out.ContentLength != o.Size {
		return res, fmt.Errorf("GetObject %s: %d bytes offered, %d listed: %w", o.Key, *out.ContentLength, o.Size, ErrObjectChanged)
	}
	h := checksum.NewHasher()
	var buf []byte
	if o.Size > 0 {
		if buf, err = f.pool.Get(ctx, int(min(o.Size, 1<<20))); err != nil {
			return res, err
		}
		defer f.pool.Put(buf)
	}
	var off int64
	attempts := 1
	for off < o.Size {
		n, rerr := io.ReadFull(out.Body, buf[:min(int64(len(buf)), o.Size-off)])
		if n > 0 {
			h.Write(buf[:n])
			if w != nil {
				if _, werr := w.WriteAt(buf[:n], off); werr != nil {
					return res, &writeError{werr}
				}
			}
			off += int64(n)
			f.st.BytesSent.Add(int64(n))
		}
		if rerr != nil && off < o.Size && attempts < bodyAttempts && ctx.Err() == nil {
			// The SDK retries a request only until its headers arrive; a
			// body cut off later resumes here, from the byte it stopped at,
			// still pinned to the ETag.
			attempts++
			f.retried()
			out.Body.Close()
			more, err := f.get(ctx, o, fmt.Sprintf("bytes=%d-%d", off, o.Size-1))
			if err != nil {
				out.Body = http.NoBody
				return res, err
			}
			out = more
			if want := fmt.Sprintf("bytes %d-%d/%d", off, o.Size-1, o.Size); aws.ToString(out.ContentRange) != want {
				return res, fmt.Errorf("GetObject %s: asked for %s, got Content-Range %q", o.Key, want, aws.ToString(out.ContentRange))
			}
			continue
		}
		if rerr != nil {
			return res, fmt.Errorf("reading %s at byte %d of %d: %w", o.Key, off, o.Size, rerr)
		}
	}
	var one [1]byte
	if n, _ := out.Body.Read(one[:]); n > 0 {
		return res, fmt.Errorf("GetObject %s: more than the %d bytes listed: %w", o.Key, o.Size, ErrObjectChanged)
	}
	res.BLAKE3 = h.Hex()
	return res, nil
}

// rangeJob is one ranged GET; the worker fills buf and closes done, and
// buf then belongs to whoever waits on done.
type rangeJob struct {
	ctx  context.Context
	o    Object
	off  int64
	buf  []byte
	meta string
	err  error
	done chan struct{}
}

// bodyAttempts bounds how often one GET's body is read again after the
// connection failed part way.
const bodyAttempts = 3

func (f *fetcher) retried() {
	if f.st.Retries != nil {
		f.st.Retries.Add(1)
	}
}

func (f *fetcher) getRange(j *rangeJob) {
	defer close(j.done)
	for attempt := 1; ; attempt++ {
		if err := j.ctx.Err(); err != nil {
			j.err = err
			return
		}
		var retry bool
		retry, j.err = f.readRange(j)
		if j.err == nil || !retry || attempt >= bodyAttempts {
			return
		}
		f.retried()
	}
}

// readRange fills j.buf with one ranged GET; retry says whether a failure
// happened while reading the body (which the SDK does not retry).
func (f *fetcher) readRange(j *rangeJob) (retry bool, err error) {
	end := j.off + int64(len(j.buf)) - 1
	out, err := f.get(j.ctx, j.o, fmt.Sprintf("bytes=%d-%d", j.off, end))
	if err != nil {
		return false, err
	}
	defer out.Body.Close()
	// A server that ignores Range answers with the whole object; reading
	// its first bytes as this part would corrupt the file silently.
	want := fmt.Sprintf("bytes %d-%d/%d", j.off, end, j.o.Size)
	if cr := aws.ToString(out.ContentRange); cr != want {
		return false, fmt.Errorf("GetObject %s: asked for %s, got Content-Range %q", j.o.Key, want, cr)
	}
	n, err := io.ReadFull(out.Body, j.buf)
	f.st.BytesSent.Add(int64(n))
	if err != nil {
		f.st.BytesSent.Add(-int64(n)) // read again on retry
		return true, fmt.Errorf("reading %s bytes %d-%d: %w", j.o.Key, j.off, end, err)
	}
	j.meta = out.Metadata[checksum.MetaKey]
	return false, nil
}

// ranged reads a large object as parts in parallel. One goroutine hands
// out the parts in order, each with a buffer from the pool (taken in
// order, so the earliest part never waits behind later ones for memory),
// and queues them in order; this goroutine consumes the queue, hashing and
// writing each part once it is filled, and returns its buffer.
func (f *fetcher) ranged(ctx context.Context, o Object, w io.WriterAt) (fetched, error) {
	n := int((o.Size + f.partSize - 1) / f.partSize)
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	order := make(chan *rangeJob, n)
	go func() {
		defer close(order)
		for i := 0; i < n; i++ {
			off := int64(i) * f.partSize
			buf, err := f.pool.Get(fctx, int(min(f.partSize, o.Size-off)))
			if err != nil {
				cancel(err)
				return
			}
			j := &rangeJob{ctx: fctx, o: o, off: off, buf: buf, done: make(chan struct{})}
			select {
			case f.ranges <- j:
				order <- j
			case <-fctx.Done():
				f.pool.Put(buf)
				return
			}
		}
	}()

	var res fetched
	var err error
	h := checksum.NewHasher()
	got := 0
	for j := range order {
		<-j.done
		if err == nil && j.err != nil {
			err = j.err
		}
		if err == nil {
			if got == 0 {
				res.Recorded = j.meta
			}
			h.Write(j.buf)
			if w != nil {
				if _, werr := w.WriteAt(j.buf, j.off); werr != nil {
					err = &writeError{werr}
				}
			}
			got++
		}
		f.pool.Put(j.buf)
		if err != nil {
			cancel(err) // the rest of the queue drains quickly
		}
	}
	if err == nil && got != n {
		err = context.Cause(fctx)
		if err == nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		return res, err
	}
	res.BLAKE3 = h.Hex()
	return res, nil
}
