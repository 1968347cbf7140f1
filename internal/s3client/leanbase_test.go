package s3client

import (
	"context"
	"testing"
)

// The lean path sends where the SDK's endpoint rules say, resolved once
// per bucket: virtual-hosted on AWS, path-style on custom endpoints, the
// accelerate host with --accelerate; and leaves to the SDK what it cannot
// sign with plain SigV4.
func TestLeanPutBase(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	for _, tc := range []struct {
		name   string
		o      Options
		bucket string
		lean   bool
		host   string
		path   string
		region string
	}{
		{"aws virtual-hosted", Options{Region: "us-west-2"}, "my-bucket", true, "my-bucket.s3.us-west-2.amazonaws.com", "", "us-west-2"},
		{"aws dotted bucket goes path-style over https", Options{Region: "eu-west-1"}, "my.dotted.bucket", true, "s3.eu-west-1.amazonaws.com", "/my.dotted.bucket", "eu-west-1"},
		{"accelerate", Options{Region: "us-east-1", Accelerate: true}, "fast-bucket", true, "fast-bucket.s3-accelerate.amazonaws.com", "", "us-east-1"},
		{"custom endpoint path-style", Options{Region: "us-east-1", EndpointURL: "http://127.0.0.1:7070"}, "bench", true, "127.0.0.1:7070", "/bench", "us-east-1"},
		{"snowball edge", Options{Region: "snow", EndpointURL: "https://127.0.0.1:8443", Target: ProfileSnowballEdge}, "import", true, "127.0.0.1:8443", "/import", "snow"},
		{"s3 express directory bucket", Options{Region: "us-east-1"}, "data--use1-az4--x-s3", false, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(context.Background(), tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if c.lean == nil {
				t.Fatal("no lean path")
			}
			b := c.lean.base(context.Background(), tc.bucket)
			if b.lean != tc.lean || b.host != tc.host || b.path != tc.path || b.signRegion != tc.region {
				t.Errorf("got lean=%v host=%q path=%q region=%q, want %v %q %q %q", b.lean, b.host, b.path, b.signRegion, tc.lean, tc.host, tc.path, tc.region)
			}
			if b.lean && (b.signName != "s3" || (tc.o.EndpointURL == "" && b.scheme != "https")) {
				t.Errorf("signing name %q, scheme %q", b.signName, b.scheme)
			}
		})
	}
}
