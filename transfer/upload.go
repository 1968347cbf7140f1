package transfer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/airlift-io/airlift/checksum"
	"github.com/airlift-io/airlift/internal/outcome"
	"github.com/airlift-io/airlift/internal/s3client"
	"github.com/airlift-io/airlift/internal/state"
)

// UploadOptions shape an upload run. Zero values take the defaults noted.
type UploadOptions struct {
	// Sizing: Concurrency 0 makes the files in flight adaptive (see
	// inflight.go), from AutoConcurrencyStart up to AutoConcurrencyMax.
	Sizing
	// MultipartFiles caps how many large files are read at once; their
	// parts share PartConcurrency. 0: 4.
	MultipartFiles int

	StorageClass string
	// ClassRules set each object's storage class from its source file's
	// age (the first that matches; else StorageClass). Now is the clock
	// they read (nil: time.Now), for tests.
	ClassRules  []ClassRule
	Now         func() time.Time
	SSE         string // "", "AES256" or "aws:kms"
	SSEKMSKeyID string
	ContentType string // "" guesses from the extension

	Walk WalkOptions
	// Source opens the entries jobs name; nil: local files, by path.
	Source Source
	// Hash makes an S3 source whose objects the destination's server
	// could copy by itself stream them instead, so that their BLAKE3 is
	// computed (see Bucket.ServerSide).
	Hash     bool
	DryRun   bool
	Manifest bool // write a run manifest under PREFIX/.airlift/manifests/
	// Stop, when closed, starts no new file (a graceful stop: files
	// already being sent finish; ctx still cancels everything).
	Stop <-chan struct{}
	// Batch, when set, sends small files of a directory as tar archives
	// a Snowball Edge expands on import (--auto-extract).
	Batch *BatchOptions
	// Pack, when set, packs a folder's files into WebDataset tar shards
	// with an index (see PackOptions) instead of an object per file.
	Pack *PackOptions

	// TrustDoneSince (ns since the epoch): journal records of finished
	// files written before it do not make the engine skip a file. A copy
	// sets it to the start of the run it continues; 0 trusts every record.
	TrustDoneSince int64

	// OnFile, when set, is called once for every file sent (or, in a dry
	// run, that would be sent), from the goroutine that sent it.
	OnFile func(FileResult)

	// Journal, when set, makes the run resumable (see Journal): files it
	// records as done are skipped, unfinished multipart uploads are
	// continued, and an interrupted run keeps its uploads open for the
	// next one instead of aborting them.
	Journal Journal
	// StopGrace is how long requests already in flight may finish after
	// ctx is cancelled; 0: DefaultStopGrace.
	StopGrace time.Duration
}

// DefaultMaxMemory is the default buffer budget: with the runtime and the
// SDK it keeps the process under 256 MiB resident.
const DefaultMaxMemory = 160 << 20

// FileResult describes one file that reached its object.
type FileResult struct {
	Path   string
	Key    string
	Size   int64
	BLAKE3 string
	ETag   string
	Parts  int // 0 for a single PUT
	Files  int // files inside, for an auto-extract archive; else 0
	Entry  Entry
	DryRun bool

	meta map[string]string // the job's extra metadata
	// AlreadyDone: the journal says an earlier run wrote this object from
	// this very file; nothing was sent.
	AlreadyDone bool
}

// Job is one file to send under Key.
type Job struct {
	Entry Entry
	Key   string
	// Metadata is added to the object's user metadata.
	Metadata map[string]string
	// Files is how many source files the job carries (an archive); 0 = 1.
	Files int
	// Done, when set, is called once the job has been sent or has failed.
	Done func()

	// open, when set, produces the job's bytes instead of the source (a
	// shard built from many files); sent, when set, is told of the object
	// once it is there (also when an earlier run sent it), and its error
	// fails the job.
	open func(context.Context) (Reader, error)
	sent func(context.Context, FileResult) error
}

// Uploader sends local files to one bucket.
type Uploader struct {
	api    S3API
	bucket string
	o      UploadOptions
	pool   *Pool
	Stats  *Stats

	parts    chan partJob
	mpSlots  chan struct{}
	reqCtx   context.Context // requests run under it; see stopContext
	report   *Report
	manifest *manifestSink
	tagWarn  sync.Once
	classNow time.Time // the clock ClassRules read: the run's start
	fixed    int       // files in flight the user fixed; 0: adaptive
	inflight *inflight

	serverCopies, noBLAKE3 atomic.Int64 // objects copied by the server, and of those, without a BLAKE3
}

// NewUploader checks o and returns an uploader for bucket.
func NewUploader(api S3API, bucket string, o UploadOptions, st *Stats) (*Uploader, error) {
	fixed := o.Concurrency // 0: adaptive
	if err := o.normalize(AutoConcurrencyStart, DefaultUploadParts); err != nil {
		return nil, err
	}
	if o.MultipartFiles <= 0 {
		o.MultipartFiles = 4
	}
	if o.StopGrace <= 0 {
		o.StopGrace = DefaultStopGrace
	}
	if o.SSEKMSKeyID != "" && o.SSE != string(types.ServerSideEncryptionAwsKms) {
		return nil, outcome.BadOption("SSEKMSKeyID", "a KMS key id needs {SSE} aws:kms")
	}
	if o.SSE != "" && !validEnum(o.SSE, types.ServerSideEncryption("").Values()) {
		return nil, outcome.BadOption("SSE", "unknown server-side encryption %q (want AES256 or aws:kms)", o.SSE)
	}
	if o.StorageClass != "" && !ValidStorageClass(o.StorageClass) {
		return nil, outcome.BadOption("StorageClass", "unknown storage class %q", o.StorageClass)
	}
	if o.Batch != nil {
		if err := o.Batch.check(); err != nil {
			return nil, err
		}
	}
	if o.Pack != nil {
		if o.Batch != nil {
			return nil, outcome.BadOption("Pack", "packing into shards and Snowball auto-extract archives exclude each other")
		}
		p := *o.Pack
		if err := p.check(); err != nil {
			return nil, err
		}
		o.Pack = &p
	}
	if st == nil {
		st = &Stats{}
	}
	if o.Source == nil {
		o.Source = localFiles{}
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	return &Uploader{api: api, bucket: bucket, o: o, pool: NewPool(o.MaxMemory), Stats: st, classNow: now(), fixed: fixed}, nil
}

// ValidStorageClass reports whether S3 knows the storage class s.
func ValidStorageClass(s string) bool { return validEnum(s, types.StorageClass("").Values()) }

func validEnum[T ~string](s string, vals []T) bool {
	for _, v := range vals {
		if string(v) == s {
			return true
		}
	}
	return false
}

// CheckBucket makes one request to prove the bucket exists and the
// credentials may use it, so a run that cannot work stops before it
// writes anything.
func CheckBucket(ctx context.Context, api S3API, bucket string) error {
	_, err := api.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return nil
	}
	if err := classify(err); IsFatal(err) {
		return err
	}
	if canceled(err) {
		return err
	}
	re := responseError(err)
	if re != nil && re.HTTPStatusCode() >= 300 && re.HTTPStatusCode() < 400 {
		// S3 redirects to a bucket's region and says which region in
		// x-amz-bucket-region; a web server that is not S3 redirects too
		// (python -m http.server answers 301), and no region helps then.
		h := re.Response.Header
		if r := h.Get("x-amz-bucket-region"); r != "" {
			return &FatalError{Reason: fmt.Sprintf("bucket %q is in region %s (set the region to it)", bucket, r), Err: err}
		}
		where := ""
		if loc := h.Get("Location"); loc != "" {
			where = " to " + loc
		}
		return &FatalError{Reason: fmt.Sprintf("the endpoint did not answer as S3 does (HTTP %d %s%s); is the endpoint URL that of an S3 server?",
			re.HTTPStatusCode(), http.StatusText(re.HTTPStatusCode()), where), Err: err}
	}
	switch APIErrorCode(err) {
	case "NotFound", "NoSuchBucket":
		return missingBucket(ctx, api, bucket, err)
	case "Forbidden", "403":
		return &FatalError{Reason: fmt.Sprintf("access to bucket %q denied (check the credentials)", bucket), Err: err}
	}
	return &FatalError{Reason: "cannot reach the endpoint", Err: err}
}

// credentialCodes are the answers of servers that do not know the access
// key or cannot check the signature (XAdminUserNotFound is versitygw's).
var credentialCodes = map[string]bool{
	"InvalidAccessKeyId": true, "SignatureDoesNotMatch": true, "XAdminUserNotFound": true,
	"AccessDenied": true, "InvalidToken": true, "ExpiredToken": true,
}

// missingBucket tells a missing bucket from refused credentials after
// HeadBucket said 404: some servers answer 404 to a HEAD from a key they
// do not know, and a HEAD has no body to say why. One listing of at most
// one key does have a body.
func missingBucket(ctx context.Context, api S3API, bucket string, headErr error) error {
	_, err := api.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), MaxKeys: aws.Int32(1)})
	code := APIErrorCode(err)
	switch {
	case err == nil:
		return nil // the bucket answers a listing: it is there
	case canceled(err):
		return err
	case code == "NoSuchBucket":
		return &FatalError{Reason: fmt.Sprintf("bucket %q does not exist", bucket), Err: err}
	case credentialCodes[code]:
		return &FatalError{Reason: "the endpoint refused the credentials", Err: err}
	}
	return &FatalError{Reason: fmt.Sprintf("bucket %q does not exist, or the endpoint refused the credentials (it answers both with 404)", bucket), Err: headErr}
}

// NewRunID returns a sortable, unique run identifier.
func NewRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// Copy sends the file or tree at src to dst. It returns the report, and an
// error only when the run as a whole could not proceed (a *FatalError, the
// source missing, or ctx cancelled); files that fail are in the report.
func (u *Uploader) Copy(ctx context.Context, src string, dst Location) (*Report, error) {
	f, err := NewFolder(src, u.o.Walk)
	if err != nil {
		return nil, err
	}
	return u.CopyFrom(ctx, f, dst)
}

// CopyFrom sends every entry of src to dst, as Copy does for a folder.
func (u *Uploader) CopyFrom(ctx context.Context, src Source, dst Location) (*Report, error) {
	u.o.Source = src
	marks, resumable := u.o.Journal.(RunMarks)
	var err error
	if resumable && !u.o.DryRun {
		if u.o.TrustDoneSince, err = openCopyRun(marks, src.String()); err != nil {
			return nil, journalErr(err)
		}
	}
	if err := u.o.Walk.Filter.Resolve(ctx, src.Walk); err != nil {
		return nil, err
	}
	var rep *Report
	f, folder := src.(*Folder)
	switch {
	case folder && f.Tree() && u.o.Batch != nil:
		rep, err = u.copyBatched(ctx, f.Root, dst)
	case u.o.Pack != nil:
		if !folder || !f.Tree() {
			return nil, outcome.BadOption("Pack", "packing needs a local folder as the source")
		}
		rep, err = u.copyTree(ctx, src, dst, func(runID string) (Sink, error) { return newPackSink(u, *u.o.Pack, dst, runID) })
		if err == nil && rep.Failed == 0 && !u.o.DryRun && u.o.Pack.CompactBelow > 0 {
			err = u.compactAfter(ctx, rep, dst)
		}
	default:
		rep, err = u.copyTree(ctx, src, dst, func(string) (Sink, error) { return objectSink{u}, nil })
	}
	if rc, ok := src.(interface{ RetriesMade() int64 }); ok && rep != nil {
		rep.Retries += rc.RetriesMade() // the source's client retries apart
	}
	// A sample or a slice is a part of the source's copy, not all of
	// it: the run stays open, so that the next copy of the source (a
	// larger sample, the whole) continues it and sends only the rest.
	if resumable && !u.o.DryRun && err == nil && rep != nil && rep.Failed == 0 && rep.Selection == nil {
		// Finished: the next copy of this source starts afresh.
		if cerr := marks.SetMeta(copyRunKey(src.String()), ""); cerr != nil {
			rep.Warn("closing the run in the journal: " + cerr.Error())
		}
	}
	// The run's last records, and its close, in one commit.
	return rep, u.flushJournal(err)
}

// flushJournal commits what a run left queued in the journal, once the
// caller has queued all it will (a copy's close with its records: one
// fsync, not two). A failure to commit is the run's error unless it
// already has one.
func (u *Uploader) flushJournal(err error) error {
	if u.o.Journal != nil {
		if ferr := u.o.Journal.Flush(); ferr != nil && (err == nil || canceled(err)) {
			return journalErr(ferr)
		}
	}
	return err
}

// copyTree sends src through the sink newSink makes for the run: the
// layout decides the jobs, the one pipeline (Run) sends them.
func (u *Uploader) copyTree(ctx context.Context, src Source, dst Location, newSink func(runID string) (Sink, error)) (*Report, error) {
	var sink Sink
	defer func() {
		if d, ok := sink.(interface{ discard() }); ok {
			d.discard()
		}
	}()
	rep, err := u.run(ctx, src.String(), dst, func(runID string) error {
		var err error
		sink, err = newSink(runID)
		return err
	}, func(ctx context.Context, send func(Job) error) error {
		return sink.Feed(ctx, src, dst, send)
	})
	if err == nil && rep != nil {
		err = sink.Finish(ctx, rep)
	}
	return rep, err
}

// Run sends the jobs that feed yields. feed runs in its own goroutine and
// must stop when ctx is done; send blocks while the engine is busy.
func (u *Uploader) Run(ctx context.Context, src string, dst Location, feed func(context.Context, func(Job) error) error) (*Report, error) {
	rep, err := u.run(ctx, src, dst, nil, feed)
	return rep, u.flushJournal(err)
}

// run is Run with a hook told the run's id before anything is sent, and
// without the journal's last commit, which its caller makes.
func (u *Uploader) run(ctx context.Context, src string, dst Location, started func(runID string) error, feed func(context.Context, func(Job) error) error) (*Report, error) {
	u.report = &Report{Source: src, Dest: dst.String(), RunID: NewRunID(), Started: time.Now(), DryRun: u.o.DryRun, Failures: []Problem{},
		Selection: u.o.Walk.Filter.Selection()}
	rep := u.report
	if started != nil {
		if err := started(rep.RunID); err != nil {
			return nil, err
		}
	}
	if w := dst.Warning(); w != "" {
		rep.Warn(w)
	}
	if u.Stats.Retries == nil {
		u.Stats.Retries = new(atomic.Int64)
	}
	if u.o.Manifest && !u.o.DryRun {
		m, err := newManifestSink(rep.RunID, src, dst)
		if err != nil {
			return nil, err
		}
		u.manifest = m
		defer m.discard()
	}

	u.parts = make(chan partJob)
	u.mpSlots = make(chan struct{}, u.o.MultipartFiles)
	var partWG sync.WaitGroup
	for i := 0; i < u.o.PartConcurrency; i++ {
		partWG.Add(1)
		go func() {
			defer partWG.Done()
			for pj := range u.parts {
				u.sendPart(pj)
			}
		}()
	}

	g, gctx := errgroup.WithContext(ctx)
	finished := make(chan struct{})
	reqCtx, stopReqs := stopContext(ctx, gctx, u.o.StopGrace, finished)
	defer stopReqs()
	u.reqCtx = reqCtx
	jobs := make(chan Job, 256)
	g.Go(func() error {
		defer close(jobs)
		err := feed(gctx, func(j Job) error {
			if j.Entry.Skip != "" {
				u.Stats.FilesSkipped.Add(1)
				rep.skip(Problem{Path: j.Entry.Path, Err: j.Entry.Skip, Refused: j.Entry.Refused})
				return nil
			}
			if j.Entry.Err != nil {
				u.Stats.FilesFailed.Add(1)
				rep.fail(Problem{Path: j.Entry.Path, Key: j.Key, Err: j.Entry.Err.Error()})
				return nil
			}
			return send(gctx, jobs, j)
		})
		u.Stats.WalkDone.Store(true)
		return err
	})
	u.inflight = newInflight(u.fixed, nil, u.Stats.Retries.Load)
	for i := 0; i < u.inflight.capacity(); i++ {
		g.Go(func() error {
			for j := range jobs {
				if err := gctx.Err(); err != nil {
					return err
				}
				if stopped(u.o.Stop) {
					if j.Done != nil {
						j.Done() // not sent: a feed waiting on it goes on, to stop
					}
					continue // drain what the feed queued; it stops too
				}
				if err := u.inflight.acquire(gctx); err != nil {
					return err
				}
				err := u.one(gctx, j)
				u.inflight.release(workOf(j.Entry.Size))
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	err := g.Wait()
	close(u.parts)
	partWG.Wait()
	close(finished)

	rep.PeakBuffer = u.pool.Peak()
	rep.InFlight = &InFlight{Adaptive: u.fixed == 0, Final: u.inflight.Limit(), Peak: u.inflight.Peak()}
	if w := selectedNoneWarning(u.o.Walk.Filter); w != "" {
		rep.Warn(w)
	}
	rep.CopiedInServer, rep.NoBLAKE3 = u.serverCopies.Load(), u.noBLAKE3.Load()
	if u.manifest != nil && u.manifest.w.Len() > 0 {
		// Written even after a failure, for what did complete; with a
		// fresh context, since ctx may be the reason we stopped.
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		key, merr := u.manifest.upload(mctx, u.api, dst)
		cancel()
		if merr != nil {
			rep.Warn("run manifest not written: " + merr.Error())
		} else {
			rep.Manifest = "s3://" + dst.Bucket + "/" + key
		}
	}
	rep.finish(u.Stats)
	if err != nil {
		return rep, err
	}
	return rep, ctx.Err()
}

// one sends a single file. It returns an error only when the run must
// stop; a failure of this file alone goes into the report.
func (u *Uploader) one(ctx context.Context, j Job) error {
	if j.Done != nil {
		defer j.Done()
	}
	res, err := u.upload(ctx, j)
	if err == nil && j.sent != nil && !res.DryRun {
		err = j.sent(ctx, res)
	}
	if err == nil && res.AlreadyDone {
		u.Stats.FilesSkipped.Add(1)
		u.Stats.BytesSkipped.Add(res.Size)
		return nil
	}
	if err == nil {
		u.Stats.FilesDone.Add(int64(max(j.Files, 1)))
		u.Stats.BytesDone.Add(res.Size)
		u.report.stored(u.classOf(res), res.Size)
		if u.manifest != nil {
			u.manifest.add(checksum.ManifestEntry{Key: res.Key, Size: res.Size, BLAKE3: res.BLAKE3, ETag: res.ETag, Parts: res.Parts, MTime: j.Entry.ModTime.UnixNano()})
		}
		if u.o.OnFile != nil {
			u.o.OnFile(res)
		}
		return nil
	}
	if ctx.Err() != nil && canceled(err) {
		return ctx.Err() // interrupted: not this file's fault
	}
	err = classify(err)
	if IsFatal(err) {
		return err
	}
	u.Stats.FilesFailed.Add(int64(max(j.Files, 1)))
	u.report.fail(problemOf(j.Entry.Path, j.Key, err))
	return nil
}

func (u *Uploader) upload(ctx context.Context, j Job) (FileResult, error) {
	res := FileResult{Path: j.Entry.Path, Key: j.Key, Entry: j.Entry, Size: j.Entry.Size, Files: j.Files, meta: j.Metadata}
	if u.o.DryRun {
		res.DryRun = true
		return res, nil
	}
	open := j.open
	if open == nil {
		open = func(ctx context.Context) (Reader, error) { return u.o.Source.Open(ctx, j.Entry) }
	}
	f, err := open(ctx)
	if err != nil {
		return res, err
	}
	defer f.Close()
	e := f.Stat()
	res.Size = e.Size
	plan, err := PlanParts(e.Size, u.o.PartSize)
	if err != nil {
		return res, err
	}
	id := idOfEntry(e)
	var rp *resumePoint
	if u.o.Journal != nil {
		done, p, err := u.fromJournal(ctx, f, res.Key, id, &plan)
		if err != nil || done {
			res.AlreadyDone = done
			return res, err
		}
		rp = p
	}
	if sc, ok := f.(serverCopier); ok && sc.inServer(u.o.Hash) {
		return u.copyInServer(ctx, sc, id, res)
	}
	if !plan.Multipart {
		return u.putSingle(ctx, f, id, res)
	}
	select {
	case u.mpSlots <- struct{}{}:
	case <-ctx.Done():
		return res, ctx.Err()
	}
	defer func() { <-u.mpSlots }()
	return u.putMultipart(ctx, f, plan, id, rp, res)
}

func (u *Uploader) putSingle(ctx context.Context, f Reader, id fileID, res FileResult) (FileResult, error) {
	size := int(res.Size)
	var buf []byte
	if size > 0 {
		var err error
		if buf, err = u.pool.Get(ctx, size); err != nil {
			return res, err
		}
		defer u.pool.Put(buf)
		if s, ok := f.(streamReader); ok {
			n, err := readStream(ctx, s, buf)
			if err != nil {
				return res, err
			}
			buf, size, res.Size = buf[:n], n, int64(n)
		} else if err := f.ReadAt(ctx, buf, 0); err != nil {
			return res, err
		}
	}
	if err := f.Unchanged(); err != nil {
		return res, err
	}
	res.BLAKE3 = checksum.Sum(buf)
	b := newBody(buf, &u.Stats.BytesSent)
	in := &s3.PutObjectInput{
		Bucket:         aws.String(u.bucket),
		Key:            aws.String(res.Key),
		Body:           b,
		ContentLength:  aws.Int64(int64(size)),
		ChecksumCRC32C: aws.String(checksum.CRC32C(buf)),
		Metadata:       map[string]string{checksum.MetaKey: res.BLAKE3},
	}
	for k, v := range res.meta {
		in.Metadata[k] = v
	}
	u.objectAttrs(res, &in.ContentType, &in.StorageClass, &in.ServerSideEncryption, &in.SSEKMSKeyId)
	out, err := u.api.PutObject(u.reqCtx, in)
	if err != nil {
		b.rollback()
		return res, wrapf(err, "PutObject %s", res.Key)
	}
	res.ETag = aws.ToString(out.ETag)
	if u.o.Journal != nil {
		r := id.record(state.Done)
		r.BLAKE3, r.ETag = res.BLAKE3, res.ETag
		if err := u.o.Journal.Put(res.Key, r); err != nil {
			return res, journalErr(err)
		}
	}
	return res, nil
}

// readStream reads all of a stream into buf, which its bound fits.
func readStream(ctx context.Context, s streamReader, buf []byte) (int, error) {
	n, err := s.ReadNext(ctx, buf)
	if err != nil || n < len(buf) {
		return n, err
	}
	var one [1]byte
	if m, err := s.ReadNext(ctx, one[:]); err != nil {
		return 0, err
	} else if m > 0 {
		return 0, pastBound(s.Stat())
	}
	return n, nil
}

// pastBound is the error of a stream that produced more than the bound it
// was planned on (its Stat's size).
func pastBound(e Entry) error {
	return fmt.Errorf("%s: produced more than its bound of %d bytes", e.Rel, e.Size)
}

// objectAttrs fills the attributes every new object gets.
func (u *Uploader) objectAttrs(res FileResult, ct **string, sc *types.StorageClass, sse *types.ServerSideEncryption, kms **string) {
	key := res.Key
	if u.o.ContentType != "" {
		*ct = aws.String(u.o.ContentType)
	} else if t := mime.TypeByExtension(path.Ext(key)); t != "" {
		*ct = aws.String(t)
	}
	*sc = types.StorageClass(u.o.StorageClass)
	if len(u.o.ClassRules) > 0 {
		*sc = types.StorageClass(u.classOf(res))
	}
	*sse = types.ServerSideEncryption(u.o.SSE)
	if u.o.SSEKMSKeyID != "" {
		*kms = aws.String(u.o.SSEKMSKeyID)
	}
}

// mpUpload is one multipart upload in progress.
type mpUpload struct {
	key, id string
	cancel  context.CancelCauseFunc
	wg      sync.WaitGroup

	mu    sync.Mutex
	parts []types.CompletedPart
	err   error
}

func (m *mpUpload) fail(err error) {
	m.record(err)
	m.cancel(err)
}

// record keeps the upload's first error without cancelling the parts in
// flight.
func (m *mpUpload) record(err error) {
	m.mu.Lock()
	if m.err == nil {
		m.err = err
	}
	m.mu.Unlock()
}

type partJob struct {
	ctx context.Context
	up  *mpUpload
	num int32
	buf []byte
	crc string
}

func (u *Uploader) sendPart(pj partJob) {
	defer pj.up.wg.Done()
	defer u.pool.Put(pj.buf)
	if pj.ctx.Err() != nil {
		return
	}
	b := newBody(pj.buf, &u.Stats.BytesSent)
	out, err := u.api.UploadPart(pj.ctx, &s3.UploadPartInput{
		Bucket:         aws.String(u.bucket),
		Key:            aws.String(pj.up.key),
		UploadId:       aws.String(pj.up.id),
		PartNumber:     aws.Int32(pj.num),
		Body:           b,
		ContentLength:  aws.Int64(int64(len(pj.buf))),
		ChecksumCRC32C: aws.String(pj.crc),
	})
	if err != nil {
		b.rollback()
		pj.up.fail(wrapf(err, "UploadPart %s part %d", pj.up.key, pj.num))
		return
	}
	pj.up.mu.Lock()
	pj.up.parts[pj.num-1] = types.CompletedPart{PartNumber: aws.Int32(pj.num), ETag: out.ETag, ChecksumCRC32C: aws.String(pj.crc)}
	pj.up.mu.Unlock()
	if u.o.Journal != nil {
		p := state.Part{Number: pj.num, Size: int64(len(pj.buf)), ETag: aws.ToString(out.ETag), CRC32C: pj.crc}
		if err := u.o.Journal.PutPart(pj.up.key, p); err != nil {
			pj.up.fail(journalErr(err))
		}
	}
}

// putMultipart sends f as a multipart upload, or continues the one rp
// names. It composes the stages of a multipart file: create (with its
// journal intent), read and hash every part while sending those the
// server does not hold, complete (with recovery of a lost response), and
// keep the upload for the next run or abort it.
func (u *Uploader) putMultipart(ctx context.Context, f Reader, plan PartPlan, id fileID, rp *resumePoint, res FileResult) (FileResult, error) {
	uploadID := ""
	if rp != nil {
		uploadID = rp.uploadID
	} else {
		var err error
		if uploadID, err = u.createUpload(ctx, res, plan, id); err != nil {
			return res, err
		}
	}
	fctx, cancel := context.WithCancelCause(u.reqCtx)
	defer cancel(nil)
	up := &mpUpload{key: res.Key, id: uploadID, cancel: cancel, parts: make([]types.CompletedPart, plan.Count)}
	sum := u.sendParts(ctx, fctx, f, &plan, rp, up)
	if up.err == nil {
		res.BLAKE3, res.Size = sum, plan.Size
		if done, ok, err := u.completeUpload(f, plan, id, up, res); ok {
			return done, err
		}
	}
	return res, u.keepOrAbort(ctx, up)
}

// createUpload starts the multipart upload of res. With a journal, the
// intent is durable before the upload exists and its id before any part
// is sent, so a crash never leaves an upload nobody owns.
func (u *Uploader) createUpload(ctx context.Context, res FileResult, plan PartPlan, id fileID) (string, error) {
	j := u.o.Journal
	in := &s3.CreateMultipartUploadInput{
		Bucket:            aws.String(u.bucket),
		Key:               aws.String(res.Key),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
		Metadata:          res.meta,
	}
	u.objectAttrs(res, &in.ContentType, &in.StorageClass, &in.ServerSideEncryption, &in.SSEKMSKeyId)
	if j != nil {
		// An intent without an upload id: if we die between Create and
		// the record below, the next run finds the upload by key and
		// time and aborts it (see fromJournal).
		if err := putFlushed(j, res.Key, id.record(state.Uploading)); err != nil {
			return "", journalErr(err)
		}
	}
	retriesBefore := u.Stats.Retries.Load()
	since := time.Now()
	cr, err := u.api.CreateMultipartUpload(ctx, in)
	if err != nil {
		return "", wrapf(err, "CreateMultipartUpload %s", res.Key)
	}
	uploadID := aws.ToString(cr.UploadId)
	if j == nil {
		return uploadID, nil
	}
	if u.Stats.Retries.Load() != retriesBefore {
		// A retried Create may have created an upload whose response
		// was lost: nobody would ever complete or abort it.
		if err := u.abortOthers(ctx, res.Key, uploadID, since); err != nil {
			u.report.Warn(err.Error())
		}
	}
	r := id.record(state.Uploading)
	r.UploadID, r.PartSize = uploadID, plan.PartSize
	if err := putFlushed(j, res.Key, r); err != nil {
		_ = u.abort(ctx, &mpUpload{key: res.Key, id: uploadID})
		return "", journalErr(err)
	}
	return uploadID, nil
}

func putFlushed(j Journal, key string, r state.Record) error {
	if err := j.Put(key, r); err != nil {
		return err
	}
	return j.Flush()
}

// sendParts reads every part of f into pooled buffers (as many at once as
// the source reads ahead), hashes the parts in order, and hands those the
// server does not already hold to the part senders. It returns the file's
// BLAKE3; up.err is set when the upload cannot complete (after ctx is
// cancelled no more parts are sent; those in flight finish). A stream's
// plan is planned on its bound: it comes back with the stream's real size
// and part count (its last part is the first one short of PartSize).
func (u *Uploader) sendParts(ctx, fctx context.Context, f Reader, plan *PartPlan, rp *resumePoint, up *mpUpload) string {
	h := checksum.NewHasher()
	var readErr error
	var read int64
	interrupted := false
	rd := newPartReader(ctx, fctx, u.pool, f, *plan)
	stream := rd.stream != nil
	i, last := 0, false // parts read; a stream's part short of PartSize is its last
	for ; (stream || i < plan.Count) && !last && readErr == nil && !interrupted; i++ {
		if ctx.Err() != nil {
			interrupted = true
			break
		}
		num := int32(i + 1)
		buf, err := rd.next()
		if stream && errors.Is(err, io.EOF) {
			break // the last part was a full one
		}
		if err == nil && i >= plan.Count {
			u.pool.Put(buf)
			err = pastBound(f.Stat())
		}
		if err != nil {
			switch {
			case ctx.Err() != nil:
				interrupted = true
			case fctx.Err() != nil:
				readErr = context.Cause(fctx)
			default:
				readErr = err
			}
			break
		}
		n := int64(len(buf))
		read += n
		last = stream && n < plan.PartSize
		h.Write(buf)
		crc := checksum.CRC32C(buf)
		if cp, ok := rp.reuse(num, n, crc); ok {
			// An earlier run sent this part: it was read only to hash it.
			up.parts[i] = cp
			u.pool.Put(buf)
			u.Stats.BytesResumed.Add(n)
			continue
		}
		up.wg.Add(1)
		select {
		case u.parts <- partJob{ctx: fctx, up: up, num: num, buf: buf, crc: crc}:
		case <-fctx.Done():
			up.wg.Done()
			u.pool.Put(buf)
			readErr = context.Cause(fctx)
		case <-ctx.Done():
			up.wg.Done()
			u.pool.Put(buf)
			interrupted = true
		}
	}
	rd.close()
	if stream && !interrupted && readErr == nil {
		plan.Size, plan.Count = read, i
		up.mu.Lock()
		up.parts = up.parts[:i] // no part past the stream's last was sent
		up.mu.Unlock()
	}
	if !interrupted && readErr == nil && read != plan.Size {
		readErr = fmt.Errorf("read %d bytes of %d: %w", read, plan.Size, ErrChanged)
	}
	if !interrupted && readErr == nil {
		readErr = f.Unchanged()
	}
	if readErr != nil {
		// The parts already on their way finish (they are few, at most
		// the parts in flight): a part cancelled mid-body can still be
		// stored by the server after the abort that follows, and bring
		// the upload back.
		up.record(readErr)
	} else if interrupted && u.o.Journal == nil {
		up.fail(ctx.Err()) // nothing will resume it: stop its parts now
	}
	up.wg.Wait()
	if up.err == nil && fctx.Err() != nil {
		up.err = context.Cause(fctx)
	}
	if up.err == nil && interrupted {
		up.err = ctx.Err()
	}
	return h.Hex()
}

// partReader reads a file's parts in order, keeping up to the source's
// ReadAhead of them in flight. The first read in flight waits for memory;
// the others take only what the budget has free at once, so that reads
// holding buffers never wait for memory that other such reads hold.
type partReader struct {
	ctx     context.Context
	stop    context.CancelFunc
	pool    *Pool
	f       Reader
	plan    PartPlan
	ahead   int
	started int
	queue   []*pendingRead
	stream  streamReader // f, when it is one
}

type pendingRead struct {
	buf  []byte
	err  error
	done chan struct{}
}

// newPartReader reads until the run is interrupted (ctx) or the upload
// fails (fctx).
func newPartReader(ctx, fctx context.Context, pool *Pool, f Reader, plan PartPlan) *partReader {
	rctx, stop := context.WithCancel(ctx)
	context.AfterFunc(fctx, stop)
	s, _ := f.(streamReader)
	return &partReader{ctx: rctx, stop: stop, pool: pool, f: f, plan: plan, ahead: max(f.ReadAhead(), 1), stream: s}
}

// next returns the next part's bytes, in a buffer the caller owns; a
// stream's parts are read one at a time, since each follows the one
// before, and a stream with no more bytes gives io.EOF.
func (r *partReader) next() ([]byte, error) {
	if r.stream != nil {
		buf, err := r.pool.Get(r.ctx, int(r.plan.PartSize))
		if err != nil {
			return nil, err
		}
		n, err := r.stream.ReadNext(r.ctx, buf)
		if err == nil && n == 0 {
			err = io.EOF
		}
		if err != nil {
			r.pool.Put(buf)
			return nil, err
		}
		return buf[:n], nil
	}
	for len(r.queue) < r.ahead && r.started < r.plan.Count {
		off, n := r.plan.Part(r.started)
		var buf []byte
		if len(r.queue) == 0 {
			b, err := r.pool.Get(r.ctx, int(n))
			if err != nil {
				return nil, err
			}
			buf = b
		} else if buf = r.pool.TryGet(int(n)); buf == nil {
			break
		}
		p := &pendingRead{buf: buf, done: make(chan struct{})}
		if r.ahead == 1 {
			p.err = r.f.ReadAt(r.ctx, buf, off)
			close(p.done)
		} else {
			go func() {
				defer close(p.done)
				p.err = r.f.ReadAt(r.ctx, buf, off)
			}()
		}
		r.queue = append(r.queue, p)
		r.started++
	}
	p := r.queue[0]
	r.queue = r.queue[1:]
	<-p.done
	if p.err != nil {
		r.pool.Put(p.buf)
		return nil, p.err
	}
	return p.buf, nil
}

// close stops the reads still in flight and returns their buffers.
func (r *partReader) close() {
	r.stop()
	for _, p := range r.queue {
		<-p.done
		r.pool.Put(p.buf)
	}
	r.queue = nil
}

// completeUpload makes the parts the object. A retried Complete whose
// first attempt succeeded (its response was lost) finds the object made
// of our parts and counts as completed. ok says the object is there (err
// is then only about recording it); otherwise up.err says why not.
func (u *Uploader) completeUpload(f Reader, plan PartPlan, id fileID, up *mpUpload, res FileResult) (_ FileResult, ok bool, err error) {
	out, err := u.api.CompleteMultipartUpload(s3client.WithPatience(u.reqCtx, completePatience(plan.Size)), &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(u.bucket),
		Key:             aws.String(res.Key),
		UploadId:        aws.String(up.id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: up.parts},
	})
	switch {
	case err == nil:
		etag := aws.ToString(out.ETag)
		if up.err = u.verifyStored(u.reqCtx, res.Key, plan.Size, etag); up.err == nil {
			res, err = u.completed(res, plan, id, up.id, etag)
			return res, true, err
		}
	case APIErrorCode(err) == "NoSuchUpload":
		up.err = wrapf(err, "CompleteMultipartUpload %s", res.Key)
		if etag, done := u.completedAlready(u.reqCtx, f, plan, res.Key); done {
			res, err = u.completed(res, plan, id, up.id, etag)
			return res, true, err
		}
	default:
		up.err = wrapf(err, "CompleteMultipartUpload %s", res.Key)
	}
	return res, false, up.err
}

// keepOrAbort ends an upload that did not complete: kept for the next run
// when a journal owns it and the failure may pass (an interruption, a
// network fault), else aborted so that its parts are not billed. It
// returns the file's error.
func (u *Uploader) keepOrAbort(ctx context.Context, up *mpUpload) error {
	j := u.o.Journal
	if j != nil && keepForResume(up.err) {
		if canceled(up.err) && ctx.Err() != nil {
			return up.err
		}
		return fmt.Errorf("%w (upload %s kept: run the same command again to continue it)", up.err, up.id)
	}
	if aerr := u.abort(ctx, up); aerr != nil {
		if j != nil {
			_ = j.Delete(up.key) // the ledger keeps the upload for cleanup
		}
		return fmt.Errorf("%w; %v", up.err, aerr)
	}
	if j != nil {
		err := j.Delete(up.key)
		if err == nil {
			err = j.EndUpload(up.id)
		}
		if err != nil {
			return journalErr(err)
		}
	}
	return up.err
}

// completePatience is how much longer than the idle timeout
// CompleteMultipartUpload may stay silent: servers that assemble the
// object before answering need time in proportion to its size (50 MiB/s
// is slow even for disks). A hung connection is still given up on, and
// the Complete retried, after the idle timeout plus this.
func completePatience(size int64) time.Duration {
	return time.Duration(size/(50<<20)) * time.Second
}

// completed finishes a file whose multipart upload became its object.
func (u *Uploader) completed(res FileResult, plan PartPlan, id fileID, uploadID, etag string) (FileResult, error) {
	res.ETag = etag
	res.Parts = plan.Count
	u.tag(u.reqCtx, res)
	if j := u.o.Journal; j != nil {
		r := id.record(state.Done)
		r.BLAKE3, r.ETag = res.BLAKE3, res.ETag
		err := j.Put(res.Key, r)
		if err == nil {
			err = j.EndUpload(uploadID)
		}
		if err != nil {
			return res, journalErr(err)
		}
	}
	return res, nil
}

// abort cancels a multipart upload with a context of its own: the run's
// may be the reason we are aborting. Parts left behind are billed, so a
// failed abort is reported with the upload id.
func (u *Uploader) abort(ctx context.Context, up *mpUpload) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for attempt := 1; ; attempt++ {
		_, err := u.api.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(u.bucket), Key: aws.String(up.key), UploadId: aws.String(up.id),
		})
		if err != nil && APIErrorCode(err) != "NoSuchUpload" { // gone already: nothing is billed
			msg := fmt.Sprintf("aborting multipart upload %s of %s failed (run 'airlift cleanup' to remove it): %v", up.id, up.key, err)
			u.report.Warn(msg)
			return errors.New(msg)
		}
		// A part the server was still receiving when the abort came (its
		// request was cancelled, not finished) can be stored after it and
		// bring the upload back; S3 documents this, and versitygw does it.
		// So ask whether the upload is gone, and abort again while it is
		// not, a little later each time.
		if attempt == 3 || !u.uploadExists(actx, up) {
			return nil
		}
		select {
		case <-time.After(time.Duration(attempt) * 250 * time.Millisecond):
		case <-actx.Done():
			return nil
		}
	}
}

// uploadExists says whether the multipart upload is still there after an
// abort (false when that cannot be told: the abort was accepted).
func (u *Uploader) uploadExists(ctx context.Context, up *mpUpload) bool {
	_, err := u.api.ListParts(ctx, &s3.ListPartsInput{
		Bucket: aws.String(u.bucket), Key: aws.String(up.key), UploadId: aws.String(up.id), MaxParts: aws.Int32(1),
	})
	return err == nil
}

// tag records a multipart object's BLAKE3 as an object tag, so that any
// later run can read it from the bucket alone.
func (u *Uploader) tag(ctx context.Context, res FileResult) {
	_, err := u.api.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
		Bucket:  aws.String(u.bucket),
		Key:     aws.String(res.Key),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String(checksum.TagKey), Value: aws.String(res.BLAKE3)}}},
	})
	if err != nil {
		u.tagWarn.Do(func() {
			u.report.Warn(fmt.Sprintf("the target did not accept object tags (%v); BLAKE3 of multipart objects is kept only in the run manifest (--manifest)", err))
		})
	}
}

func readErrOf(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("shrank while being read: %w", ErrChanged)
	}
	return unwrapPathError(err)
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

func (u *Uploader) SetAPI(api S3API) { u.api = api }

// classOf is the storage class res is stored in. Ages are taken at the
// run's start, so that a file's class does not depend on when in the run
// it is sent.
func (u *Uploader) classOf(res FileResult) string {
	return ClassOf(u.o.ClassRules, u.o.StorageClass, res.Entry, u.classNow)
}
