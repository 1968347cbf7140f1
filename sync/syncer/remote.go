package syncer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/airlift-io/airlift/checksum"
	"github.com/airlift-io/airlift/transfer"
)

// remoteObj is one object of the bucket listing.
type remoteObj struct {
	key  string
	size int64
	etag string
}

// remoteCursor pages through ListObjectsV2 under a prefix, in key order,
// leaving out airlift's own manifests.
type remoteCursor struct {
	ctx    context.Context
	api    transfer.S3API
	bucket string
	prefix string
	skip   string // the manifest folder
	buf    []remoteObj
	i      int
	token  *string
	done   bool
	err    error
	pages  int
}

func newRemoteCursor(ctx context.Context, api transfer.S3API, dst transfer.Location, scope string) *remoteCursor {
	return &remoteCursor{ctx: ctx, api: api, bucket: dst.Bucket, prefix: scope, skip: transfer.ManifestPrefix(dst)}
}

func (c *remoteCursor) fill() {
	c.buf, c.i = c.buf[:0], 0
	for len(c.buf) == 0 && !c.done && c.err == nil {
		out, err := c.api.ListObjectsV2(c.ctx, &s3.ListObjectsV2Input{
			Bucket: aws.String(c.bucket), Prefix: aws.String(c.prefix), ContinuationToken: c.token,
		})
		if err != nil {
			c.err = fmt.Errorf("listing s3://%s/%s: %w", c.bucket, c.prefix, err)
			return
		}
		c.pages++
		for _, o := range out.Contents {
			k := aws.ToString(o.Key)
			if strings.HasPrefix(k, c.skip) {
				continue
			}
			c.buf = append(c.buf, remoteObj{key: k, size: aws.ToInt64(o.Size), etag: normETag(aws.ToString(o.ETag))})
		}
		c.token = out.NextContinuationToken
		if !aws.ToBool(out.IsTruncated) || c.token == nil {
			c.done = true
		}
	}
}

// Peek returns the next object, if any; a nil cursor (no listing) is
// empty. After the last one, c.err says whether the listing completed.
func (c *remoteCursor) Peek() (string, remoteObj, bool) {
	if c == nil {
		return "", remoteObj{}, false
	}
	if c.i >= len(c.buf) {
		c.fill()
		if c.i >= len(c.buf) {
			return "", remoteObj{}, false
		}
	}
	return c.buf[c.i].key, c.buf[c.i], true
}

func (c *remoteCursor) Next() { c.i++ }

var _ transfer.Cursor[remoteObj] = (*remoteCursor)(nil)

func normETag(s string) string { return strings.Trim(s, `"`) }

// manifestIndex is what earlier runs' manifests say about objects: key to
// size, BLAKE3 and the ETag the entry vouches for.
type manifestIndex map[string]checksum.ManifestEntry

// loadManifests reads every manifest under the destination. It is used
// only when adopting, where it saves a request per object.
func loadManifests(ctx context.Context, api transfer.S3API, dst transfer.Location) (manifestIndex, error) {
	idx := manifestIndex{}
	prefix := transfer.ManifestPrefix(dst)
	var token *string
	for {
		out, err := api.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(dst.Bucket), Prefix: aws.String(prefix), ContinuationToken: token})
		if err != nil {
			return nil, fmt.Errorf("listing manifests: %w", err)
		}
		for _, o := range out.Contents {
			g, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(dst.Bucket), Key: o.Key})
			if err != nil {
				return nil, fmt.Errorf("reading manifest %s: %w", aws.ToString(o.Key), err)
			}
			_, err = checksum.ReadManifest(g.Body, func(e checksum.ManifestEntry) error {
				e.ETag = normETag(e.ETag)
				idx[e.Key] = e
				return nil
			})
			g.Body.Close()
			if err != nil {
				return nil, fmt.Errorf("reading manifest %s: %w", aws.ToString(o.Key), err)
			}
		}
		token = out.NextContinuationToken
		if !aws.ToBool(out.IsTruncated) || token == nil {
			return idx, nil
		}
	}
}

// remoteBLAKE3 finds the BLAKE3 the bucket holds for an object: from a
// manifest entry pinned to its ETag, its metadata, or its tag; with deep,
// by reading it back. It returns "" when none is known.
func (s *Syncer) remoteBLAKE3(ctx context.Context, r remoteObj) (string, error) {
	if e, ok := s.manifests[r.key]; ok && e.ETag == r.etag && e.Size == r.size && checksum.Valid(e.BLAKE3) {
		return e.BLAKE3, nil
	}
	b := aws.String(s.o.Dest.Bucket)
	h, err := s.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String(r.key)})
	if err != nil {
		return "", fmt.Errorf("HeadObject %s: %w", r.key, err)
	}
	if v := h.Metadata[checksum.MetaKey]; checksum.Valid(v) {
		return v, nil
	}
	if t, err := s.api.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String(r.key)}); err == nil {
		for _, tag := range t.TagSet {
			if aws.ToString(tag.Key) == checksum.TagKey && checksum.Valid(aws.ToString(tag.Value)) {
				return aws.ToString(tag.Value), nil
			}
		}
	}
	if s.o.Adopt != AdoptDeep {
		return "", nil
	}
	g, err := s.api.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String(r.key)})
	if err != nil {
		return "", fmt.Errorf("GetObject %s: %w", r.key, err)
	}
	defer g.Body.Close()
	sum, n, err := checksum.SumReader(g.Body)
	if err != nil {
		return "", fmt.Errorf("reading back %s: %w", r.key, err)
	}
	if n != r.size {
		return "", fmt.Errorf("reading back %s: got %d bytes of %d", r.key, n, r.size)
	}
	return sum, nil
}

// hashFile returns the BLAKE3 of the file at p, reading it with buf.
func hashFile(p string, buf []byte) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", 0, err
	}
	defer f.Close()
	h := checksum.NewHasher()
	n, err := io.CopyBuffer(h, f, buf)
	if err != nil {
		return "", n, err
	}
	return h.Hex(), n, nil
}
