package bench

import (
	"context"
	"testing"
	"time"

	"github.com/airlift-io/airlift/internal/s3test"
	"github.com/airlift-io/airlift/transfer"
)

// The probe measures a rate and leaves nothing behind.
func TestProbeAgainstVersitygw(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(t, "probe")
	cli := srv.Client(t)
	rate, err := Probe(context.Background(), cli.S3, transfer.Location{Bucket: "probe", Prefix: "data"}, 200*time.Millisecond, 2)
	if err != nil {
		t.Fatal(err)
	}
	finitePositive(t, "probe rate", rate)
	bucketEmpty(t, cli.S3, "probe")
}
