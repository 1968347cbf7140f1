package transfer

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/airlift-io/airlift/checksum"
	"github.com/airlift-io/airlift/internal/s3client"
	"github.com/airlift-io/airlift/internal/state"
)

// Bucket is the objects below an S3 prefix (taken as a folder) as a
// Source: another endpoint with its own credentials (a migration from an
// on-premise store), or another bucket of the destination's endpoint.
// Listing pages feed the pipeline while the listing runs. Every read is a
// ranged GET pinned to the listed ETag with If-Match, so an object
// rewritten during the copy fails with ErrChanged (and ErrObjectChanged)
// instead of being completed from two versions.
type Bucket struct {
	API    S3API // the source's client
	Loc    Location
	Filter *Filter
	// ServerSide says the destination's client reaches the source with
	// the same endpoint and credentials: its server can copy the objects
	// itself (CopyObject, UploadPartCopy), no byte passing through us.
	ServerSide bool
	// CopyLimit is the largest object one CopyObject copies; larger ones
	// are copied as UploadPartCopy parts. 0: 5 GiB, S3's limit.
	CopyLimit int64
	// Retries counts bodies read again after a connection failed part
	// way (the SDK retries a request only until its headers arrive).
	Retries *atomic.Int64
	// ReadAhead is how many ranges of one object are read at once; 0: 4.
	ReadAhead int
}

var _ Source = (*Bucket)(nil)

func (b *Bucket) String() string { return b.Loc.String() }

// RetriesMade is how many requests to the source were retried.
func (b *Bucket) RetriesMade() int64 {
	if b.Retries == nil {
		return 0
	}
	return b.Retries.Load()
}
func (b *Bucket) Tree() bool { return true }

// Walk streams the objects below the prefix in key order. Empty
// "folder/" markers are not files, and airlift's own .airlift/ folders
// are not data (ListFolder leaves them out).
func (b *Bucket) Walk(ctx context.Context, fn func(Entry) error) error {
	return ListFolder(ctx, b.API, b.Loc, func(o Object) error {
		if o.Rel == "" || strings.HasSuffix(o.Rel, "/") && o.Size == 0 || !b.Filter.Match(o.Rel) {
			return nil
		}
		return fn(EntryOf(b.Loc, o))
	})
}

// EntryOf is the entry of a listed object: its URL as the path, its
// LastModified as the mtime, and its ETag (digested into Inode) as its
// identity, so that the journal and the sync state notice a rewritten
// object by the comparison that notices a replaced file.
func EntryOf(loc Location, o Object) Entry {
	return Entry{Path: "s3://" + loc.Bucket + "/" + o.Key, Rel: o.Rel, Size: o.Size, ModTime: o.Modified,
		ETag: o.ETag, Inode: etagDigest(o.ETag)}
}

// Open returns a reader of the object e names, pinned to its listed ETag.
func (b *Bucket) Open(_ context.Context, e Entry) (Reader, error) {
	ahead := b.ReadAhead
	if ahead <= 0 {
		ahead = 4
	}
	return &objectReader{src: b, key: FolderPrefix(b.Loc) + e.Rel, e: e, ahead: ahead}, nil
}

// objectReader reads one source object with ranged GETs.
type objectReader struct {
	src   *Bucket
	key   string
	e     Entry
	ahead int
}

func (r *objectReader) Stat() Entry      { return r.e }
func (r *objectReader) ReadAhead() int   { return r.ahead }
func (r *objectReader) Close() error     { return nil }
func (r *objectReader) Unchanged() error { return nil } // every read was pinned by If-Match

// changedObject is a source object rewritten since it was listed.
type changedObject struct{ key string }

func (e changedObject) Error() string { return e.key + ": " + ErrObjectChanged.Error() }
func (e changedObject) Is(target error) bool {
	return target == ErrChanged || target == ErrObjectChanged
}

// ReadAt fills p with one ranged GET, reading the rest again from where a
// body was cut off (up to bodyAttempts times), still pinned to the ETag.
func (r *objectReader) ReadAt(ctx context.Context, p []byte, off int64) error {
	done := 0
	for attempt := 1; done < len(p); attempt++ {
		start, end := off+int64(done), off+int64(len(p))-1
		in := &s3.GetObjectInput{Bucket: aws.String(r.src.Loc.Bucket), Key: aws.String(r.key), IfMatch: etagHeader(r.e.ETag),
			Range: aws.String(fmt.Sprintf("bytes=%d-%d", start, end))}
		out, err := r.src.API.GetObject(ctx, in)
		if err != nil {
			if c := APIErrorCode(err); c == "PreconditionFailed" || c == "412" {
				return changedObject{r.key}
			}
			return wrapf(err, "GetObject %s", r.key)
		}
		// A server that ignores Range answers with the whole object;
		// its first bytes taken as this range would corrupt the copy.
		if want := fmt.Sprintf("bytes %d-%d/%d", start, end, r.e.Size); aws.ToString(out.ContentRange) != want {
			out.Body.Close()
			return fmt.Errorf("GetObject %s: asked for %s, got Content-Range %q", r.key, want, aws.ToString(out.ContentRange))
		}
		n, rerr := io.ReadFull(out.Body, p[done:])
		out.Body.Close()
		done += n
		if rerr == nil {
			return nil
		}
		if attempt >= bodyAttempts || ctx.Err() != nil {
			return fmt.Errorf("reading %s bytes %d-%d: %w", r.key, start, end, rerr)
		}
		if r.src.Retries != nil {
			r.src.Retries.Add(1)
		}
	}
	return nil
}

// serverCopier is a reader whose object the destination's server can
// copy by itself.
type serverCopier interface {
	Reader
	inServer(hash bool) bool
	copySource() (bucket, key string, limit int64)
}

// inServer: copied by the server unless the user asked for BLAKE3 to be
// computed (--hash).
func (r *objectReader) inServer(hash bool) bool { return r.src.ServerSide && !hash }

func (r *objectReader) copySource() (string, string, int64) {
	limit := r.src.CopyLimit
	if limit <= 0 {
		limit = MaxPartSize
	}
	return r.src.Loc.Bucket, r.key, limit
}

// copySourceHeader is x-amz-copy-source: bucket and key, URL-encoded
// ("+" too, which some servers would read as a space).
func copySourceHeader(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(url.PathEscape(s), "+", "%2B")
	}
	return bucket + "/" + strings.Join(segs, "/")
}

// copyInServer has the destination's server copy the object r reads:
// one CopyObject, or UploadPartCopy parts above the copy limit. The
// object's metadata goes with it, and airlift's BLAKE3 when the source
// holds one (in its metadata, or the tag of a multipart object) is
// written where the copy's own layout keeps it; without one the object is
// counted in the report.
func (u *Uploader) copyInServer(ctx context.Context, r serverCopier, id fileID, res FileResult) (FileResult, error) {
	e := r.Stat()
	bucket, key, limit := r.copySource()
	head, err := u.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), IfMatch: etagHeader(e.ETag)})
	if err != nil {
		if c := APIErrorCode(err); c == "PreconditionFailed" || c == "412" {
			return res, changedObject{key}
		}
		return res, wrapf(err, "HeadObject %s (source)", key)
	}
	meta := map[string]string{}
	for k, v := range head.Metadata {
		meta[k] = v
	}
	for k, v := range res.meta {
		meta[k] = v
	}
	sum, _, err := RecordedBLAKE3(ctx, u.api, bucket, Object{Key: key, Size: e.Size, ETag: e.ETag}, nil)
	if err != nil {
		return res, err
	}
	if checksum.Valid(sum) {
		res.BLAKE3 = sum
	} else {
		delete(meta, checksum.MetaKey)
		u.noBLAKE3.Add(1)
	}
	src := copySourceHeader(bucket, key)
	if e.Size <= limit {
		if res.BLAKE3 != "" {
			meta[checksum.MetaKey] = res.BLAKE3 // single-part copy: verify reads it from metadata
		}
		in := &s3.CopyObjectInput{Bucket: aws.String(u.bucket), Key: aws.String(res.Key), CopySource: aws.String(src),
			CopySourceIfMatch: etagHeader(e.ETag), MetadataDirective: types.MetadataDirectiveReplace, Metadata: meta,
			ContentType: head.ContentType, TaggingDirective: types.TaggingDirectiveReplace}
		var ct *string
		u.objectAttrs(res, &ct, &in.StorageClass, &in.ServerSideEncryption, &in.SSEKMSKeyId)
		if u.o.ContentType != "" || in.ContentType == nil {
			in.ContentType = ct
		}
		out, err := u.api.CopyObject(u.reqCtx, in)
		if err != nil {
			if c := APIErrorCode(err); c == "PreconditionFailed" || c == "412" {
				return res, changedObject{key}
			}
			return res, wrapf(err, "CopyObject %s to %s", key, res.Key)
		}
		if out.CopyObjectResult != nil {
			res.ETag = aws.ToString(out.CopyObjectResult.ETag)
		}
	} else if res, err = u.copyPartsInServer(ctx, src, e, head, meta, res); err != nil {
		return res, err
	}
	u.serverCopies.Add(1)
	u.Stats.BytesSent.Add(e.Size)
	if u.o.Journal != nil {
		rec := id.record(state.Done)
		rec.BLAKE3, rec.ETag = res.BLAKE3, res.ETag
		if err := u.o.Journal.Put(res.Key, rec); err != nil {
			return res, journalErr(err)
		}
	}
	return res, nil
}

// copyPartsInServer copies an object above the CopyObject limit as
// UploadPartCopy parts, one at a time per object (the server does the
// work; objects run in parallel). A failure aborts the upload: a server
// copy is cheap to start again.
func (u *Uploader) copyPartsInServer(ctx context.Context, src string, e Entry, head *s3.HeadObjectOutput, meta map[string]string, res FileResult) (FileResult, error) {
	plan, err := PlanParts(e.Size, u.o.PartSize)
	if err != nil {
		return res, err
	}
	in := &s3.CreateMultipartUploadInput{Bucket: aws.String(u.bucket), Key: aws.String(res.Key), Metadata: meta, ContentType: head.ContentType}
	var ct *string
	u.objectAttrs(res, &ct, &in.StorageClass, &in.ServerSideEncryption, &in.SSEKMSKeyId)
	if u.o.ContentType != "" || in.ContentType == nil {
		in.ContentType = ct
	}
	cr, err := u.api.CreateMultipartUpload(ctx, in)
	if err != nil {
		return res, wrapf(err, "CreateMultipartUpload %s", res.Key)
	}
	up := &mpUpload{key: res.Key, id: aws.ToString(cr.UploadId), parts: make([]types.CompletedPart, plan.Count)}
	fail := func(err error) (FileResult, error) {
		up.err = err
		if aerr := u.abort(ctx, up); aerr != nil {
			return res, fmt.Errorf("%w; %v", err, aerr)
		}
		return res, err
	}
	for i := 0; i < plan.Count; i++ {
		off, n := plan.Part(i)
		out, err := u.api.UploadPartCopy(u.reqCtx, &s3.UploadPartCopyInput{Bucket: aws.String(u.bucket), Key: aws.String(res.Key),
			UploadId: aws.String(up.id), PartNumber: aws.Int32(int32(i + 1)), CopySource: aws.String(src),
			CopySourceIfMatch: etagHeader(e.ETag), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1))})
		if err != nil {
			if c := APIErrorCode(err); c == "PreconditionFailed" || c == "412" {
				return fail(changedObject{res.Key})
			}
			return fail(wrapf(err, "UploadPartCopy %s part %d", res.Key, i+1))
		}
		var etag *string
		if out.CopyPartResult != nil {
			etag = out.CopyPartResult.ETag
		}
		up.parts[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: etag}
	}
	out, err := u.api.CompleteMultipartUpload(s3client.WithPatience(u.reqCtx, completePatience(plan.Size)), &s3.CompleteMultipartUploadInput{Bucket: aws.String(u.bucket),
		Key: aws.String(res.Key), UploadId: aws.String(up.id), MultipartUpload: &types.CompletedMultipartUpload{Parts: up.parts}})
	if err != nil {
		return fail(wrapf(err, "CompleteMultipartUpload %s", res.Key))
	}
	res.ETag, res.Parts = aws.ToString(out.ETag), plan.Count
	if res.BLAKE3 != "" {
		u.tag(u.reqCtx, res) // a multipart object keeps its BLAKE3 in a tag
	}
	return res, nil
}
