package transfer

import (
	"context"
	"crypto/md5" //nolint:gosec // S3's multipart ETag is defined with MD5
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/airlift-io/airlift/internal/state"
)

// Journal is where an upload run records its progress so that a run cut
// short (SIGKILL, power loss, a dropped link) can continue where it
// stopped. *state.Store implements it; the engine never trusts it blindly:
// a done file is skipped only while the source file still has the size,
// mtime and inode recorded, and the parts of an upload in progress are
// re-checked with ListParts and against the local bytes before they are
// reused.
//
// Put, PutPart, Delete and EndUpload may be buffered; Flush makes what
// was written before it durable. An error from any method stops the run:
// a journal with holes would mislead the next one.
type Journal interface {
	Get(key string) (state.Record, bool, error)
	Put(key string, r state.Record) error
	PutPart(key string, p state.Part) error
	Parts(key string) ([]state.Part, error)
	Delete(key string) error
	EndUpload(uploadID string) error
	Flush() error
}

var _ Journal = (*state.Store)(nil)

// RunMarks is the optional ability of a journal to keep named marks. With
// it, Copy applies the resume policy of a copy: a run that did not finish
// is continued by the next copy of the same source (its journal records
// make finished files skip), and a finished run is finished (the next copy
// starts afresh; older records never make a file skip).
//
// SetMeta may be buffered as Put is, provided a mark is durable no later
// than any change written after it: the marks say how to read the records
// (which run they belong to, what a sent shard holds), so each needs to
// outlive a crash only together with the records written after it.
type RunMarks interface {
	Meta(name string) (string, error)
	SetMeta(name, value string) error
}

var _ RunMarks = (*state.Store)(nil)

// copyRunKey names the open-run mark of a copy of src.
func copyRunKey(src string) string {
	if abs, err := filepath.Abs(src); err == nil {
		src = abs
	}
	return "copy-run:" + src
}

// openCopyRun returns the start of the copy run of src that this copy
// continues: the unfinished run's, or now for a new run.
func openCopyRun(m RunMarks, src string) (int64, error) {
	v, err := m.Meta(copyRunKey(src))
	if err != nil {
		return 0, err
	}
	if since, perr := strconv.ParseInt(v, 10, 64); perr == nil && v != "" {
		return since, nil
	}
	since := time.Now().UnixNano()
	return since, m.SetMeta(copyRunKey(src), strconv.FormatInt(since, 10))
}

// DefaultStopGrace is how long in-flight requests may run on after the
// run is interrupted, so that parts already on the wire are kept.
const DefaultStopGrace = 5 * time.Second

// fileID is what identifies the content of a source file between runs
// without reading it.
type fileID struct {
	path        string
	size, mtime int64
	dev, ino    uint64
	ctime       int64
}

func (id fileID) matches(r state.Record) bool {
	return r.Path == id.path && r.Same(id.size, id.mtime, id.ino)
}

func (id fileID) record(st state.Status) state.Record {
	return state.Record{Path: id.path, Size: id.size, MTime: id.mtime, Dev: id.dev, Inode: id.ino, Ctime: id.ctime, Status: st}
}

func journalErr(err error) error {
	return &FatalError{Reason: "state journal", Err: err}
}

// resumePoint is a multipart upload left by an earlier run that this run
// continues.
type resumePoint struct {
	uploadID string
	server   map[int32]types.Part // what ListParts says the server holds
	journal  map[int32]state.Part
}

// reuse says whether part num, whose local bytes have length n and CRC32C
// crc, is already on the server. With a server checksum the bytes are
// compared directly; without one the journal must have recorded the same
// ETag for the part. Anything else is sent again.
func (rp *resumePoint) reuse(num int32, n int64, crc string) (types.CompletedPart, bool) {
	if rp == nil {
		return types.CompletedPart{}, false
	}
	sp, ok := rp.server[num]
	if !ok || aws.ToInt64(sp.Size) != n || sp.ETag == nil {
		return types.CompletedPart{}, false
	}
	if sc := aws.ToString(sp.ChecksumCRC32C); sc != "" {
		if sc != crc {
			return types.CompletedPart{}, false
		}
	} else if jp, ok := rp.journal[num]; !ok || jp.ETag != aws.ToString(sp.ETag) || jp.CRC32C != crc {
		return types.CompletedPart{}, false
	}
	return types.CompletedPart{PartNumber: aws.Int32(num), ETag: sp.ETag, ChecksumCRC32C: aws.String(crc)}, true
}

// fromJournal looks key up before it is sent. done means the object was
// written from this very file and nothing need be sent; rp is an upload
// to continue. A stale upload (the file changed since, or the part size
// did) is aborted here and the user told.
func (u *Uploader) fromJournal(ctx context.Context, f Reader, key string, id fileID, pp *PartPlan) (done bool, rp *resumePoint, err error) {
	plan := *pp
	j := u.o.Journal
	rec, ok, err := j.Get(key)
	if err != nil {
		return false, nil, journalErr(err)
	}
	if !ok {
		return false, nil, nil
	}
	if rec.Status == state.Done {
		// Only what the unfinished run wrote is skipped: once a copy has
		// finished, running it again copies again (sync is the command that
		// skips what it already sent).
		return id.matches(rec) && rec.Updated >= u.o.TrustDoneSince, nil, nil
	}
	if rec.Status != state.Uploading {
		return false, nil, nil
	}
	if rec.UploadID == "" {
		return false, nil, u.abortUnrecorded(ctx, key, rec)
	}
	if id.matches(rec) && plan.Multipart && rec.PartSize != plan.PartSize && u.o.PartSize == 0 {
		// The part size was the default's, and the default for this size
		// of file differs from the one the upload began with (an older
		// airlift): continue it in its own parts rather than send it again.
		if p, err := PlanParts(plan.Size, rec.PartSize); err == nil && p.PartSize == rec.PartSize {
			plan, *pp = p, p
		}
	}
	if !id.matches(rec) || !plan.Multipart || rec.PartSize != plan.PartSize {
		why := "the source file changed since the interrupted run"
		if id.matches(rec) {
			why = "the part size changed since the interrupted run"
		}
		u.report.Warn(fmt.Sprintf("%s: %s; aborted its unfinished upload and started over", key, why))
		if err := u.abort(ctx, &mpUpload{key: key, id: rec.UploadID}); err != nil {
			return false, nil, nil // reported by abort; the ledger keeps it for cleanup
		}
		if err := j.Delete(key); err != nil {
			return false, nil, journalErr(err)
		}
		return false, nil, nil
	}
	server, err := u.listParts(ctx, key, rec.UploadID)
	if err != nil {
		if APIErrorCode(err) == "NoSuchUpload" {
			if err := j.EndUpload(rec.UploadID); err != nil {
				return false, nil, journalErr(err)
			}
			if etag, ok := u.completedAlready(ctx, f, plan, key); ok {
				// Completed by the server just before the earlier run died.
				r := id.record(state.Done)
				r.ETag = etag
				if err := j.Put(key, r); err != nil {
					return false, nil, journalErr(err)
				}
				return true, nil, nil
			}
			u.report.Warn(fmt.Sprintf("%s: its unfinished upload is gone from the server (aborted or expired); starting over", key))
			if err := j.Delete(key); err != nil {
				return false, nil, journalErr(err)
			}
			return false, nil, nil
		}
		return false, nil, err
	}
	jparts, err := j.Parts(key)
	if err != nil {
		return false, nil, journalErr(err)
	}
	rp = &resumePoint{uploadID: rec.UploadID, server: server, journal: map[int32]state.Part{}}
	for _, p := range jparts {
		rp.journal[p.Number] = p
	}
	return false, rp, nil
}

// listParts returns every part the server holds for an upload.
func (u *Uploader) listParts(ctx context.Context, key, uploadID string) (map[int32]types.Part, error) {
	have := map[int32]types.Part{}
	in := &s3.ListPartsInput{Bucket: aws.String(u.bucket), Key: aws.String(key), UploadId: aws.String(uploadID)}
	for {
		out, err := u.api.ListParts(ctx, in)
		if err != nil {
			return nil, wrapf(err, "ListParts %s", key)
		}
		for _, p := range out.Parts {
			have[aws.ToInt32(p.PartNumber)] = p
		}
		if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextPartNumberMarker) == "" {
			return have, nil
		}
		in.PartNumberMarker = out.NextPartNumberMarker
	}
}

// keepForResume says whether a multipart upload that failed with err is
// worth keeping for the next run rather than aborting: it was interrupted
// or met a transient failure, not a changed file or a request the server
// refuses.
func keepForResume(err error) bool {
	if errors.Is(err, ErrChanged) || errors.Is(err, ErrNotStored) || IsFatal(err) {
		return false
	}
	if canceled(err) {
		return true
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		c := re.HTTPStatusCode()
		return c >= 500 || c == http.StatusRequestTimeout || c == http.StatusTooManyRequests
	}
	return APIErrorCode(err) == "" // transport errors: resets, timeouts
}

// stopContext is the context requests run under: it ends at once when the
// run fails, but only grace after ctx is cancelled by the user, so that
// parts already on the wire finish and are journaled.
func stopContext(ctx, gctx context.Context, grace time.Duration, finished <-chan struct{}) (context.Context, context.CancelFunc) {
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		select {
		case <-gctx.Done():
			if ctx.Err() != nil {
				t := time.NewTimer(grace)
				defer t.Stop()
				select {
				case <-t.C:
				case <-finished:
				}
			}
			cancel()
		case <-finished:
		}
	}()
	return dctx, cancel
}

// completedAlready reports whether key already holds exactly the parts of
// f as plan cuts it: same size and the multipart ETag (MD5 of the parts'
// MD5s, "-N") computed from the local bytes. It answers a Complete that
// was retried after its first attempt succeeded, and a run killed between
// the server completing an upload and the journal recording it.
func (u *Uploader) completedAlready(ctx context.Context, f Reader, plan PartPlan, key string) (string, bool) {
	if _, stream := f.(streamReader); !plan.Multipart || stream {
		// A stream's parts are not known without producing it again
		// (compressing a shard twice): it is sent again instead.
		return "", false
	}
	head, err := u.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(u.bucket), Key: aws.String(key)})
	if err != nil || aws.ToInt64(head.ContentLength) != plan.Size {
		return "", false
	}
	etag := aws.ToString(head.ETag)
	if !strings.HasSuffix(strings.Trim(etag, `"`), fmt.Sprintf("-%d", plan.Count)) {
		return "", false
	}
	want, err := multipartETag(ctx, f, plan)
	if err != nil || strings.Trim(etag, `"`) != want {
		return "", false
	}
	return etag, true
}

// multipartETag computes the ETag S3 gives an object made of f's parts.
func multipartETag(ctx context.Context, f Reader, plan PartPlan) (string, error) {
	all := md5.New()
	buf := make([]byte, min(plan.PartSize, 8<<20))
	for i := 0; i < plan.Count; i++ {
		off, n := plan.Part(i)
		h := md5.New()
		for done := int64(0); done < n; {
			b := buf[:min(int64(len(buf)), n-done)]
			if err := f.ReadAt(ctx, b, off+done); err != nil {
				return "", err
			}
			h.Write(b)
			done += int64(len(b))
		}
		all.Write(h.Sum(nil))
	}
	return fmt.Sprintf("%s-%d", hex.EncodeToString(all.Sum(nil)), plan.Count), nil
}

// abortUnrecorded aborts the upload an earlier run may have created for
// key after recording its intent (rec, with no upload id) and before it
// could record the id: an upload of exactly key that started after the
// intent, give or take clock skew.
func (u *Uploader) abortUnrecorded(ctx context.Context, key string, rec state.Record) error {
	if err := u.abortOthers(ctx, key, "", time.Unix(0, rec.Updated)); err != nil {
		return err
	}
	if err := u.o.Journal.Delete(key); err != nil {
		return journalErr(err)
	}
	return nil
}

// abortOthers aborts every upload of exactly key, other than keep, that
// started after since (less five minutes of clock skew).
func (u *Uploader) abortOthers(ctx context.Context, key, keep string, since time.Time) error {
	since = since.Add(-5 * time.Minute)
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(u.bucket), Prefix: aws.String(key)}
	for {
		out, err := u.api.ListMultipartUploads(ctx, in)
		if err != nil {
			return wrapf(err, "ListMultipartUploads %s", key)
		}
		for _, mu := range out.Uploads {
			if aws.ToString(mu.Key) == key && aws.ToString(mu.UploadId) != keep && !aws.ToTime(mu.Initiated).Before(since) {
				_ = u.abort(ctx, &mpUpload{key: key, id: aws.ToString(mu.UploadId)})
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	return nil
}

// ErrNotStored says the server acknowledged an object that is not there
// (or not whole) when asked right after.
var ErrNotStored = errors.New("the server reported the object complete, but it is not there")

// verifyStored asks the server for the object a CompleteMultipartUpload
// just reported, before the file counts as copied: some S3-compatible
// servers answer 200 to a Complete retried while the first attempt still
// runs, and then lose the object when that attempt's connection is gone.
// A HEAD the credentials may not make is not held against the object.
func (u *Uploader) verifyStored(ctx context.Context, key string, size int64, etag string) error {
	head, err := u.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(u.bucket), Key: aws.String(key)})
	if err != nil {
		switch APIErrorCode(err) {
		case "NotFound", "NoSuchKey", "404":
			return fmt.Errorf("%s: %w", key, ErrNotStored)
		case "Forbidden", "403", "AccessDenied":
			return nil
		}
		return wrapf(err, "HeadObject %s after completing it", key)
	}
	if got := aws.ToInt64(head.ContentLength); got != size {
		return fmt.Errorf("%s is %d bytes, not %d: %w", key, got, size, ErrNotStored)
	}
	if got := aws.ToString(head.ETag); etag != "" && got != "" && got != etag {
		return fmt.Errorf("%s has ETag %s, not %s: %w", key, got, etag, ErrNotStored)
	}
	return nil
}
