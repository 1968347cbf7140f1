package transfer

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/airlift-io/airlift/checksum"
)

// Object is one object found under a prefix.
type Object struct {
	Key  string
	Rel  string // Key below the prefix, as listed (not yet checked as a path)
	Size int64
	ETag string // as listed, quotes removed
	// Modified is when the object was written (LastModified).
	Modified time.Time
	// StorageClass is as listed ("" when the listing gave none).
	StorageClass string
}

// Multipart reports whether the ETag is that of a multipart object
// ("<md5 of part md5s>-<parts>"), whose BLAKE3 airlift keeps in a tag.
func (o Object) Multipart() bool { return strings.Contains(o.ETag, "-") }

// FolderPrefix is the listing prefix for a location used as a folder:
// "data" lists "data/..." and not "database/...".
func FolderPrefix(l Location) string {
	if l.Prefix == "" || strings.HasSuffix(l.Prefix, "/") {
		return l.Prefix
	}
	return l.Prefix + "/"
}

func trimETag(s string) string { return strings.Trim(s, `"`) }

// ListFolder streams every object below loc (as a folder) to fn in key
// order, leaving out airlift's own .airlift/ folders. Keys are asked for
// URL-encoded, so that a key XML cannot carry (a control character, say)
// still arrives intact.
func ListFolder(ctx context.Context, api S3API, loc Location, fn func(Object) error) error {
	prefix := FolderPrefix(loc)
	in := &s3.ListObjectsV2Input{Bucket: aws.String(loc.Bucket), Prefix: aws.String(prefix), EncodingType: types.EncodingTypeUrl}
	for {
		out, err := api.ListObjectsV2(ctx, in)
		if err != nil {
			return wrapf(err, "listing %s", loc)
		}
		for _, o := range out.Contents {
			key := aws.ToString(o.Key)
			if out.EncodingType == types.EncodingTypeUrl {
				if key, err = url.QueryUnescape(key); err != nil {
					return fmt.Errorf("listing %s: undecodable key %q: %w", loc, aws.ToString(o.Key), err)
				}
			}
			if !strings.HasPrefix(key, prefix) {
				return fmt.Errorf("listing %s: the server returned key %q, outside the prefix", loc, key)
			}
			if IsOwnPath(key[len(prefix):]) {
				continue
			}
			if err := fn(Object{Key: key, Rel: key[len(prefix):], Size: aws.ToInt64(o.Size), ETag: trimETag(aws.ToString(o.ETag)), Modified: aws.ToTime(o.LastModified),
				StorageClass: string(o.StorageClass)}); err != nil {
				return err
			}
		}
		if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextContinuationToken) == "" {
			return nil
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

// IsOwnPath reports whether rel lies in a .airlift/ folder (at any depth:
// a prefix above the one a run wrote to still holds that run's
// manifests), which is airlift's bookkeeping, not data.
func IsOwnPath(rel string) bool {
	return strings.HasPrefix(rel, ".airlift/") || strings.Contains(rel, "/.airlift/")
}

// Manifests is what the run manifests under a prefix say about objects,
// by key. An entry vouches for an object only while the object's ETag is
// the one the entry recorded.
type Manifests struct {
	byKey map[string]checksum.ManifestEntry
	Files int // manifests read
}

// Lookup returns the BLAKE3 a manifest recorded for o, if one vouches for
// it.
func (m *Manifests) Lookup(o Object) (string, bool) {
	if m == nil {
		return "", false
	}
	e, ok := m.byKey[o.Key]
	if !ok || o.ETag == "" || trimETag(e.ETag) != o.ETag || e.Size != o.Size || !checksum.Valid(e.BLAKE3) {
		return "", false
	}
	return e.BLAKE3, true
}

// MTime returns the source file's modification time a manifest recorded
// for o, if one vouches for it.
func (m *Manifests) MTime(o Object) (time.Time, bool) {
	if _, ok := m.Lookup(o); !ok || m.byKey[o.Key].MTime == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, m.byKey[o.Key].MTime), true
}

// LoadManifests reads every run manifest under loc. Later runs (manifest
// names sort by run id, which starts with the time) override earlier
// ones. A manifest that cannot be read is skipped with a warning: the
// objects it covered fall back to their metadata and tags.
func LoadManifests(ctx context.Context, api S3API, loc Location, warn func(string)) (*Manifests, error) {
	own, err := listOwn(ctx, api, loc)
	if err != nil {
		return nil, err
	}
	return loadManifests(ctx, api, loc, own.manifests, warn)
}

// ownObjects are the keys in airlift's own folder below a prefix: run
// manifests and pack indexes, found with one listing, so that a download
// or verify learns of both for the price of one request.
type ownObjects struct{ manifests, indexes []string }

func listOwn(ctx context.Context, api S3API, loc Location) (ownObjects, error) {
	var own ownObjects
	prefix := FolderPrefix(loc) + ".airlift/"
	in := &s3.ListObjectsV2Input{Bucket: aws.String(loc.Bucket), Prefix: aws.String(prefix)}
	for {
		out, err := api.ListObjectsV2(ctx, in)
		if err != nil {
			return own, wrapf(err, "listing s3://%s/%s", loc.Bucket, prefix)
		}
		for _, o := range out.Contents {
			k := aws.ToString(o.Key)
			rest := strings.TrimPrefix(k, FolderPrefix(loc))
			switch {
			case !strings.HasSuffix(k, ".jsonl.zst"):
			case strings.HasPrefix(rest, ManifestDir):
				own.manifests = append(own.manifests, k)
			case strings.HasPrefix(rest, IndexFolder) && !strings.Contains(rest[len(IndexFolder):], "/"):
				own.indexes = append(own.indexes, k)
			}
		}
		if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextContinuationToken) == "" {
			break
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	return own, nil
}

// loadManifests reads the manifests keys names.
func loadManifests(ctx context.Context, api S3API, loc Location, keys []string, warn func(string)) (*Manifests, error) {
	sort.Strings(keys)
	m := &Manifests{byKey: map[string]checksum.ManifestEntry{}}
	for _, k := range keys {
		out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(k)})
		if err != nil {
			if IsFatal(classify(err)) || canceled(err) {
				return nil, wrapf(err, "reading manifest %s", k)
			}
			warn(fmt.Sprintf("manifest s3://%s/%s not read: %v", loc.Bucket, k, err))
			continue
		}
		entries := map[string]checksum.ManifestEntry{}
		_, err = checksum.ReadManifest(out.Body, func(e checksum.ManifestEntry) error {
			entries[e.Key] = e
			return nil
		})
		out.Body.Close()
		if err != nil {
			warn(fmt.Sprintf("manifest s3://%s/%s not used: %v", loc.Bucket, k, err))
			continue
		}
		for key, e := range entries {
			m.byKey[key] = e
		}
		m.Files++
	}
	return m, nil
}

// RecordedBLAKE3 returns the BLAKE3 stored with o at upload, and where it
// was found ("manifest", "metadata", "tag"), or "" when none was stored.
// It costs no request when a manifest vouches for o, else one: a
// GetObjectTagging for a multipart object, a HeadObject for the rest.
func RecordedBLAKE3(ctx context.Context, api S3API, bucket string, o Object, m *Manifests) (sum, from string, err error) {
	if s, ok := m.Lookup(o); ok {
		return s, "manifest", nil
	}
	if o.Multipart() {
		out, err := api.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(o.Key)})
		if err != nil {
			return "", "", wrapf(err, "GetObjectTagging %s", o.Key)
		}
		for _, t := range out.TagSet {
			if aws.ToString(t.Key) == checksum.TagKey && checksum.Valid(aws.ToString(t.Value)) {
				return aws.ToString(t.Value), "tag", nil
			}
		}
		return "", "", nil
	}
	out, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.Key), IfMatch: etagHeader(o.ETag)})
	if err != nil {
		return "", "", wrapf(err, "HeadObject %s", o.Key)
	}
	if s := out.Metadata[checksum.MetaKey]; checksum.Valid(s) {
		return s, "metadata", nil
	}
	return "", "", nil
}

// etagHeader quotes an ETag for If-Match; nil when there is none.
func etagHeader(etag string) *string {
	if etag == "" {
		return nil
	}
	return aws.String(`"` + etag + `"`)
}
