package transfer

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// ListOptions say how to list a prefix.
type ListOptions struct {
	// V1 lists with ListObjects (v1) instead of ListObjectsV2: the S3
	// adapter of a Snowball Edge knows only v1 and no continuation
	// tokens. Set it from s3client.Client.ListV1.
	V1        bool
	Delimiter string
	MaxKeys   int32 // per request; 0 = the server's default (1000)
}

// ListObjects calls fn for every object under prefix, in key order, with
// whichever listing API the target speaks. Commands that list (sync,
// verify, cleanup, ...) should use it rather than calling the client, so
// that every listing works on every target profile.
//
// With V1 the first request carries no marker; a device answers it in
// full. Should a server still truncate, the listing continues from
// NextMarker (or the last key), v1's own way, never with v2 tokens (see
// WithListV1).
func ListObjects(ctx context.Context, api S3API, bucket, prefix string, o ListOptions, fn func(types.Object) error) error {
	var maxKeys *int32
	if o.MaxKeys > 0 {
		maxKeys = aws.Int32(o.MaxKeys)
	}
	var delim *string
	if o.Delimiter != "" {
		delim = aws.String(o.Delimiter)
	}
	if o.V1 {
		api = WithListV1(api)
	}
	p := s3.NewListObjectsV2Paginator(api, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: delim, MaxKeys: maxKeys})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return wrapf(err, "ListObjectsV2 s3://%s/%s", bucket, prefix)
		}
		for _, obj := range out.Contents {
			if err := fn(obj); err != nil {
				return err
			}
		}
	}
	return nil
}
