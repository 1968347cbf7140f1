package s3test

import (
	"net/url"
	"strings"
)

// Operation names the S3 API operation a recorded path-style request is
// (as the S3 API reference names them), from its method, path and query
// alone, the way S3 tells them apart; "" when it is none airlift makes.
// Bucket and Key are the request's, unescaped.
func (r Request) Operation() (op, bucket, key string) {
	p, err := url.PathUnescape(r.Path)
	if err != nil {
		p = r.Path
	}
	bucket, key, _ = strings.Cut(strings.TrimPrefix(p, "/"), "/")
	q := r.Query
	copySource := r.Header.Get("X-Amz-Copy-Source") != ""
	switch {
	case key == "" && r.Method == "HEAD":
		op = "HeadBucket"
	case key == "" && r.Method == "GET" && q.Has("uploads"):
		op = "ListMultipartUploads"
	case key == "" && r.Method == "GET" && q.Has("location"):
		op = "GetBucketLocation"
	case key == "" && r.Method == "GET" && q.Get("list-type") == "2":
		op = "ListObjectsV2"
	case key == "" && r.Method == "GET":
		op = "ListObjects"
	case key == "" && r.Method == "POST" && q.Has("delete"):
		op = "DeleteObjects"
	case key == "" && r.Method == "PUT":
		op = "CreateBucket"
	case r.Method == "HEAD":
		op = "HeadObject"
	case r.Method == "GET" && q.Has("tagging"):
		op = "GetObjectTagging"
	case r.Method == "GET" && q.Has("uploadId"):
		op = "ListParts"
	case r.Method == "GET":
		op = "GetObject"
	case r.Method == "PUT" && q.Has("tagging"):
		op = "PutObjectTagging"
	case r.Method == "PUT" && q.Has("uploadId") && copySource:
		op = "UploadPartCopy"
	case r.Method == "PUT" && q.Has("uploadId"):
		op = "UploadPart"
	case r.Method == "PUT" && copySource:
		op = "CopyObject"
	case r.Method == "PUT":
		op = "PutObject"
	case r.Method == "POST" && q.Has("uploads"):
		op = "CreateMultipartUpload"
	case r.Method == "POST" && q.Has("uploadId"):
		op = "CompleteMultipartUpload"
	case r.Method == "DELETE" && q.Has("uploadId"):
		op = "AbortMultipartUpload"
	case r.Method == "DELETE":
		op = "DeleteObject"
	}
	return op, bucket, key
}
