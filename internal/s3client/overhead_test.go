package s3client

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
)

// answer200 is an in-process HTTP peer that reads the body and answers
// as S3 does to a PutObject. It isolates the client's own cost per
// request (middleware, signing, allocation) from the network and server.
type answer200 struct{}

func (answer200) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	h := http.Header{}
	h.Set("ETag", `"0123456789abcdef0123456789abcdef"`)
	h.Set("X-Amz-Request-Id", "R")
	return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(strings.NewReader("")), ContentLength: 0, Request: r}, nil
}

var body16k = bytes.Repeat([]byte("x"), 16<<10)

// BenchmarkPutObjectOverhead measures the client-side CPU of one small
// PutObject as airlift sends it (16 KiB, CRC32C, BLAKE3 metadata), through
// the SDK's middleware stack and through the lean path, against an
// in-process peer so that only the client's own work is timed.
func BenchmarkPutObjectOverhead(b *testing.B) {
	b.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	b.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	c, err := New(context.Background(), Options{EndpointURL: "http://127.0.0.1:9", Region: "us-east-1"})
	if err != nil {
		b.Fatal(err)
	}
	o := c.S3.Options()
	o.HTTPClient = answer200{}
	sdk := s3.New(o)
	// The other way issue #12 weighed: the SDK with every middleware taken
	// out that airlift's small PUTs do not need (ARN and Object Lambda
	// handling, input validation, the SDK's own checksum setup, recursion
	// detection, interceptors, logging, the 200-error check of Copy and
	// Complete). What is left (endpoint resolution, user agent, retry,
	// signing, deserialization) is what the lean path also does.
	to := o.Copy()
	to.APIOptions = append(to.APIOptions, func(st *middleware.Stack) error {
		for _, id := range []string{"AWSChecksum:SetupInputContext", "S3Shared:ARNLookup", "OperationInputValidation"} {
			st.Initialize.Remove(id)
		}
		for _, id := range []string{"S3:ProcessARNResource", "S3:ObjectLambdaEndpoint", "isExpressUserAgent"} {
			st.Serialize.Remove(id)
		}
		for _, id := range []string{"RecursionDetection", "AWSChecksum:RequestMetricsTracking"} {
			st.Build.Remove(id)
		}
		for _, id := range []string{"AWSChecksum:ComputeInputPayloadChecksum", "addInputChecksumTrailer", "InterceptBeforeRetryLoop", "InterceptAttempt"} {
			st.Finalize.Remove(id)
		}
		for _, id := range []string{"RequestResponseLogger", "S3:ProcessResponseFor200Error"} {
			st.Deserialize.Remove(id)
		}
		return nil
	})
	trimmed := s3.New(to)
	for _, tc := range []struct {
		name string
		api  *API
	}{
		{"sdk", &API{Client: sdk}},
		{"sdk-trimmed", &API{Client: trimmed}},
		{"lean", &API{Client: sdk, lean: newLeanPut(sdk, new(atomic.Int64), len(o.APIOptions))}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, err := tc.api.PutObject(context.Background(), &s3.PutObjectInput{
					Bucket:         aws.String("bench"),
					Key:            aws.String("S/d001/f000123.bin"),
					Body:           BytesBody(body16k),
					ContentLength:  aws.Int64(int64(len(body16k))),
					ChecksumCRC32C: aws.String("UmSRbA=="),
					ContentType:    aws.String("application/octet-stream"),
					Metadata:       map[string]string{"blake3": "7884279a80978589141a701c949ed457cd8938ceab36653898156243ee7a85ff"},
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
