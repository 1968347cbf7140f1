package transfer

import (
	"context"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// WithListV1 wraps api for a target that knows only ListObjects (v1), the
// S3 adapter of a Snowball Edge: every ListObjectsV2 call is answered with
// a ListObjects call, a continuation token travelling as the v1 marker.
// Every other call passes through. Code written against ListObjectsV2
// (verify, download, ...) thus works on every target profile unchanged.
func WithListV1(api S3API) S3API { return listV1{api} }

type listV1 struct{ S3API }

func (l listV1) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	marker := in.ContinuationToken
	if marker == nil {
		marker = in.StartAfter
	}
	out, err := l.S3API.ListObjects(ctx, &s3.ListObjectsInput{
		Bucket: in.Bucket, Prefix: in.Prefix, Delimiter: in.Delimiter, MaxKeys: in.MaxKeys,
		EncodingType: in.EncodingType, Marker: marker,
		ExpectedBucketOwner: in.ExpectedBucketOwner, RequestPayer: in.RequestPayer,
	}, opts...)
	if err != nil {
		return nil, err
	}
	res := &s3.ListObjectsV2Output{
		Contents: out.Contents, CommonPrefixes: out.CommonPrefixes, IsTruncated: out.IsTruncated,
		EncodingType: out.EncodingType, Name: out.Name, Prefix: out.Prefix, Delimiter: out.Delimiter,
		MaxKeys: out.MaxKeys, KeyCount: aws.Int32(int32(len(out.Contents) + len(out.CommonPrefixes))),
		StartAfter: in.StartAfter, ContinuationToken: in.ContinuationToken, ResultMetadata: out.ResultMetadata,
	}
	if aws.ToBool(out.IsTruncated) {
		// v1 gives NextMarker only with a delimiter; otherwise the last
		// key is the marker. Both come URL-encoded when the keys do, but a
		// marker is sent as the plain key.
		next := aws.ToString(out.NextMarker)
		if next == "" {
			last := ""
			if n := len(out.Contents); n > 0 {
				last = aws.ToString(out.Contents[n-1].Key)
			}
			if n := len(out.CommonPrefixes); n > 0 && aws.ToString(out.CommonPrefixes[n-1].Prefix) > last {
				last = aws.ToString(out.CommonPrefixes[n-1].Prefix)
			}
			next = last
		}
		if out.EncodingType == types.EncodingTypeUrl {
			if dec, err := url.QueryUnescape(next); err == nil {
				next = dec
			}
		}
		if next != "" && next != aws.ToString(marker) {
			res.NextContinuationToken = aws.String(next)
		} else {
			res.IsTruncated = aws.Bool(false) // no way on; never loop
		}
	}
	return res, nil
}
