package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"time"

	"github.com/airlift-io/airlift/transfer"
)

// Probe measures what this host reaches sending to target for about d:
// one upload cell (the grid's measurement) of 8 MiB parts with
// concurrency in flight, written under PREFIX/.airlift-bench/RUN-ID/ and
// removed before it returns. copy --via auto calls it when it knows
// nothing about the link and the dataset is large enough to ask.
func Probe(ctx context.Context, api transfer.S3API, target transfer.Location, d time.Duration, concurrency int) (float64, error) {
	o := Options{Target: target, CellTime: d, Concurrency: []int{max(concurrency, 1)}}
	if err := o.defaults(); err != nil {
		return 0, err
	}
	const ps = 8 << 20
	part := make([]byte, ps)
	rand.New(rand.NewSource(o.Seed)).Read(part)
	cl := &cleaner{api: api, bucket: target.Bucket, prefix: Prefix(target, o.RunID)}
	cell, err := uploadCell(ctx, api, cl, o, o.Concurrency[0], ps, part)
	if c := cl.run(); len(c.Errors) > 0 {
		err = errors.Join(err, fmt.Errorf("cleanup under s3://%s/%s left something behind: %s", target.Bucket, cl.prefix, c.Errors[0]))
	}
	return cell.BytesPerSec, err
}
