package s3client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
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

// SnowballEndpoint checks the endpoint of a Snowball Edge's S3 adapter
// and adds the adapter's port when none is given: 8443 for HTTPS, 8080
// for HTTP. There is no default device, so an empty endpoint is an error.
func SnowballEndpoint(endpoint string) (string, error) {
	if endpoint == "" {
		return "", errors.New("--target-profile snowball-edge needs --endpoint-url https://DEVICE-IP:8443 (the device's S3 adapter)")
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("invalid --endpoint-url %q: want http(s)://host[:port]", endpoint)
	}
	if u.Port() == "" {
		port := "8443"
		if u.Scheme == "http" {
			port = "8080"
		}
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	return u.String(), nil
}
