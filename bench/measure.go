package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/klauspost/compress/zstd"
	"github.com/zeebo/blake3"

	"github.com/airlift-io/airlift/checksum"
	"github.com/airlift-io/airlift/internal/s3client"
	"github.com/airlift-io/airlift/transfer"
)

const block = 1 << 20

// blake3Speed hashes data on one core until d has passed: airlift hashes
// each file on one goroutine, so the per-core rate is what bounds a file.
func blake3Speed(ctx context.Context, data []byte, d time.Duration) Rate {
	h := blake3.New()
	buf := data[:min(len(data), block)]
	var n int64
	start := time.Now()
	for time.Since(start) < d && ctx.Err() == nil {
		for range 16 {
			h.Write(buf)
			n += int64(len(buf))
		}
	}
	_ = h.Sum(nil)
	return rate(n, time.Since(start))
}

// zstdSpeed compresses text-like data on one core: words drawn with a
// Zipf law from a seeded vocabulary, which zstd shrinks about 3:1 as it
// does logs, CSV and JSON. Random bytes would let it skip its match search
// and overstate the speed; random symbols with no repeats understate it.
func zstdSpeed(ctx context.Context, seed int64, d time.Duration) Rate {
	src := textLike(seed, block)
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		return Rate{}
	}
	defer enc.Close()
	var out []byte
	var n int64
	start := time.Now()
	for time.Since(start) < d && ctx.Err() == nil {
		out = enc.EncodeAll(src, out[:0])
		n += int64(len(src))
	}
	return rate(n, time.Since(start))
}

func textLike(seed int64, size int) []byte {
	rng := rand.New(rand.NewSource(seed))
	vocab := make([][]byte, 4096)
	for i := range vocab {
		w := make([]byte, 3+rng.Intn(8))
		for j := range w {
			w[j] = byte('a' + rng.Intn(26))
		}
		vocab[i] = w
	}
	z := rand.NewZipf(rng, 1.1, 1, uint64(len(vocab)-1))
	out := make([]byte, 0, size+16)
	for len(out) < size {
		out = append(out, vocab[z.Uint64()]...)
		if rng.Intn(12) == 0 {
			out = append(out, '\n')
		} else {
			out = append(out, ' ')
		}
	}
	return out[:size]
}

// sourceSpeed reads files under dir in walk order until limit bytes or d
// has passed. A sample read twice comes from the page cache; the first
// run after boot (or after dropping caches) is the honest one.
func sourceSpeed(ctx context.Context, dir string, limit int64, d time.Duration) (Rate, error) {
	buf := make([]byte, block)
	var n, files int64
	start := time.Now()
	errStop := errors.New("stop")
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable parts of the tree are not the point here
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if n >= limit || time.Since(start) >= d {
			return errStop
		}
		if !de.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		files++
		for n < limit && time.Since(start) < d {
			m, err := f.Read(buf)
			n += int64(m)
			if err != nil {
				break
			}
		}
		return nil
	})
	if err != nil && err != errStop {
		return Rate{}, fmt.Errorf("reading --source %s: %w", dir, err)
	}
	r := rate(n, time.Since(start))
	r.Files = files
	return r, nil
}

// Each timed phase stops starting requests when its time is up and lets
// those in flight finish, up to graceFactor times its time: cutting them
// off would drop the slowest requests from the latency percentiles, and an
// UploadPart cut off while the upload is aborted can leave a part behind.
const graceFactor = 3

// uploadCell sends parts of one multipart upload with c workers until
// CellTime or CellBytes, then aborts it. The rate is completed bytes over
// the time to the last completion.
func uploadCell(ctx context.Context, api transfer.S3API, cl *cleaner, o Options, c int, ps int64, part []byte) (Cell, error) {
	cell := Cell{Concurrency: c, PartSize: ps}
	key := fmt.Sprintf("%sgrid-c%d-p%d", cl.prefix, c, ps)
	cu, err := api.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &cl.bucket, Key: &key})
	if err != nil {
		return cell, fmt.Errorf("bench upload c=%d part=%d: %w", c, ps, err)
	}
	cl.track(key, *cu.UploadId)
	hctx, cancel := context.WithTimeout(ctx, graceFactor*o.CellTime)
	defer cancel()
	var reserved, done, parts, errs, nextPart atomic.Int64
	var mu sync.Mutex
	var last time.Time
	start := time.Now()
	stopAt := start.Add(o.CellTime)
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for hctx.Err() == nil && time.Now().Before(stopAt) {
				if reserved.Add(ps) > o.CellBytes {
					return
				}
				pn := int32(nextPart.Add(1))
				if pn > transfer.MaxParts {
					return
				}
				_, err := api.UploadPart(hctx, &s3.UploadPartInput{
					Bucket: &cl.bucket, Key: &key, UploadId: cu.UploadId, PartNumber: aws.Int32(pn),
					Body: bytes.NewReader(part), ContentLength: aws.Int64(ps),
				})
				if err != nil {
					if hctx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				done.Add(ps)
				parts.Add(1)
				mu.Lock()
				last = time.Now()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	cl.abort(key, *cu.UploadId)
	if err := ctx.Err(); err != nil {
		return cell, err
	}
	cell.Bytes, cell.Parts, cell.Errors = done.Load(), parts.Load(), errs.Load()
	if !last.IsZero() {
		r := rate(cell.Bytes, last.Sub(start))
		cell.Seconds, cell.BytesPerSec = r.Seconds, r.BytesPerSec
	}
	if cell.Parts == 0 && cell.Errors > 0 {
		return cell, fmt.Errorf("bench upload c=%d part=%d: every part failed", c, ps)
	}
	return cell, nil
}

// smallPuts writes small objects with SmallConcurrency workers for
// SmallTime and returns their keys, for the HEAD phase and cleanup.
func smallPuts(ctx context.Context, api transfer.S3API, o Options, prefix string, body []byte, s *Small) ([]string, error) {
	s.Size, s.Concurrency = len(body), o.SmallConcurrency
	hctx, cancel := context.WithTimeout(ctx, graceFactor*o.SmallTime)
	defer cancel()
	var next, errs atomic.Int64
	lat := make([][]time.Duration, o.SmallConcurrency)
	keys := make([][]string, o.SmallConcurrency)
	ends := make([]time.Time, o.SmallConcurrency)
	start := time.Now()
	stopAt := start.Add(o.SmallTime)
	// Each object goes as copy sends a small file: from memory, with its
	// CRC32C and BLAKE3 (the same for every object: the body is fixed).
	crc, b3 := checksum.CRC32C(body), checksum.Sum(body)
	var wg sync.WaitGroup
	for w := range o.SmallConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for hctx.Err() == nil && time.Now().Before(stopAt) {
				key := fmt.Sprintf("%ssmall/%08d", prefix, next.Add(1))
				t0 := time.Now()
				_, err := api.PutObject(hctx, &s3.PutObjectInput{
					Bucket: &o.Target.Bucket, Key: &key, Body: s3client.BytesBody(body), ContentLength: aws.Int64(int64(len(body))),
					ChecksumCRC32C: aws.String(crc), Metadata: map[string]string{checksum.MetaKey: b3},
				})
				if err != nil {
					if hctx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				ends[w] = time.Now()
				lat[w] = append(lat[w], ends[w].Sub(t0))
				keys[w] = append(keys[w], key)
			}
		}()
	}
	wg.Wait()
	var all []time.Duration
	var allKeys []string
	var last time.Time
	for w := range lat {
		all = append(all, lat[w]...)
		allKeys = append(allKeys, keys[w]...)
		if ends[w].After(last) {
			last = ends[w]
		}
	}
	s.Puts, s.Errors = int64(len(all)), errs.Load()
	if !last.IsZero() {
		el := last.Sub(start)
		s.Seconds = el.Seconds()
		s.PutsPerSec = float64(s.Puts) / el.Seconds()
	}
	s.Put = percentiles(all)
	if err := ctx.Err(); err != nil {
		return allKeys, err
	}
	if s.Puts == 0 && s.Errors > 0 {
		return allKeys, fmt.Errorf("bench: every small PUT failed")
	}
	return allKeys, nil
}

// heads HEADs the small objects, at the same concurrency, for at most
// SmallTime (letting those in flight finish).
func heads(ctx context.Context, api transfer.S3API, o Options, keys []string, s *Small) error {
	hctx, cancel := context.WithTimeout(ctx, graceFactor*o.SmallTime)
	defer cancel()
	stopAt := time.Now().Add(o.SmallTime)
	var next atomic.Int64
	lat := make([][]time.Duration, o.SmallConcurrency)
	var errs atomic.Int64
	var wg sync.WaitGroup
	for w := range o.SmallConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for hctx.Err() == nil && time.Now().Before(stopAt) {
				i := next.Add(1) - 1
				if i >= int64(len(keys)) {
					return
				}
				t0 := time.Now()
				if _, err := api.HeadObject(hctx, &s3.HeadObjectInput{Bucket: &o.Target.Bucket, Key: &keys[i]}); err != nil {
					if hctx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	s.Head = percentiles(all)
	s.Errors += errs.Load()
	return ctx.Err()
}

// cleaner removes what a run wrote. It aborts the uploads it started by
// id, then lists the run's prefix for anything left (uploads whose abort
// failed, objects) and removes that too, all with a fresh context: the
// run's may already be cancelled, and orphaned parts are billed.
type cleaner struct {
	api     transfer.S3API
	bucket  string
	prefix  string
	mu      sync.Mutex
	open    map[string]string // upload id -> key, not yet aborted
	aborted atomic.Int64
	objects atomic.Int64 // written, for the record
}

func (c *cleaner) track(key, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open == nil {
		c.open = map[string]string{}
	}
	c.open[id] = key
}

func (c *cleaner) abort(key, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &c.bucket, Key: &key, UploadId: &id}); err == nil {
		c.mu.Lock()
		delete(c.open, id)
		c.mu.Unlock()
		c.aborted.Add(1)
	}
}

func (c *cleaner) run() Cleanup {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out Cleanup
	c.mu.Lock()
	open := make(map[string]string, len(c.open))
	for id, k := range c.open {
		open[id] = k
	}
	c.mu.Unlock()
	for id, k := range open {
		c.abort(k, id)
	}
	// Whatever is still listed under the prefix.
	var km, um *string
	for {
		lu, err := c.api.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &c.bucket, Prefix: &c.prefix, KeyMarker: km, UploadIdMarker: um})
		if err != nil {
			out.Errors = append(out.Errors, fmt.Sprintf("listing multipart uploads: %v", err))
			break
		}
		for _, u := range lu.Uploads {
			if _, err := c.api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &c.bucket, Key: u.Key, UploadId: u.UploadId}); err != nil {
				out.Errors = append(out.Errors, fmt.Sprintf("aborting upload of %s: %v", aws.ToString(u.Key), err))
			} else {
				c.aborted.Add(1)
			}
		}
		if !aws.ToBool(lu.IsTruncated) {
			break
		}
		km, um = lu.NextKeyMarker, lu.NextUploadIdMarker
	}
	var token *string
	for {
		lo, err := c.api.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &c.bucket, Prefix: &c.prefix, ContinuationToken: token})
		if err != nil {
			out.Errors = append(out.Errors, fmt.Sprintf("listing objects: %v", err))
			break
		}
		if len(lo.Contents) > 0 {
			ids := make([]types.ObjectIdentifier, 0, len(lo.Contents))
			for _, o := range lo.Contents {
				ids = append(ids, types.ObjectIdentifier{Key: o.Key})
			}
			d, err := c.api.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &c.bucket, Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
			if err != nil {
				out.Errors = append(out.Errors, fmt.Sprintf("deleting objects: %v", err))
				break
			}
			for _, e := range d.Errors {
				out.Errors = append(out.Errors, fmt.Sprintf("deleting %s: %s", aws.ToString(e.Key), aws.ToString(e.Message)))
			}
			out.Objects += int64(len(ids) - len(d.Errors))
		}
		if !aws.ToBool(lo.IsTruncated) {
			break
		}
		token = lo.NextContinuationToken
	}
	out.Uploads = c.aborted.Load()
	return out
}
