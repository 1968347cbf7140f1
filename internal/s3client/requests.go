package s3client

import (
	"maps"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
)

// RequestCounts counts the requests a client's server answered, by S3
// operation (PutObject, UploadPart, ...), every attempt of a retried one
// included: what S3 bills per request, and what shows whether a layout
// (one object per file, or packed shards) pays per file or per byte.
type RequestCounts struct {
	mu sync.Mutex
	n  map[string]int64
}

func (c *RequestCounts) add(op string) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int64{}
	}
	c.n[op]++
	c.mu.Unlock()
}

// Snapshot returns the counts so far (nil before the first answer).
func (c *RequestCounts) Snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

// countingClient counts each request that got a response (an error
// status included; a request that never reached the server is not
// billed). The operation is the one the SDK's middleware stack (or the
// lean path, see leanPut.put) names in the request's context.
type countingClient struct {
	aws.HTTPClient
	counts *RequestCounts
}

func (c countingClient) Do(r *http.Request) (*http.Response, error) {
	resp, err := c.HTTPClient.Do(r)
	if err == nil {
		op := awsmiddleware.GetOperationName(r.Context())
		if op == "" {
			op = "Other"
		}
		c.counts.add(op)
	}
	return resp, err
}
