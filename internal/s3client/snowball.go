package s3client

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// refuseAWSChunked stops, before it is sent, any request whose body the
// SDK has wrapped in aws-chunked encoding: a Snowball Edge's S3 adapter
// does not decode it. airlift sends precomputed checksums as headers
// with UNSIGNED-PAYLOAD, so this never fires today; it turns a future SDK
// default into a clear error instead of objects the device mangles.
func refuseAWSChunked(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("airliftRefuseAWSChunked",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if req, ok := in.Request.(*smithyhttp.Request); ok {
				if strings.Contains(req.Header.Get("Content-Encoding"), "aws-chunked") || req.Header.Get("X-Amz-Decoded-Content-Length") != "" {
					return middleware.FinalizeOutput{}, middleware.Metadata{},
						fmt.Errorf("snowball-edge profile: the SDK would send %s %s with aws-chunked encoding, which the device does not accept", req.Method, req.URL.Path)
				}
			}
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}
